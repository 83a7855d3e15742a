"""Prompt spans as features: span parsing, scoring against plain transformers on every tiny
family (text after and before the image, prefix cache on), the joint and text-only
explanations, their dataset and the three-way reliance split."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import eagle_kit as ek
from eagle_kit.testing.tiny_models import TINY_FAMILIES, native_size
from eagle_kit.text_regions import reliance_split, text_spans

PROMPT = "is there a red cat ?"
ANSWER = "yes the red cat"
# tiny random models are nearly uniform: a removed span moves p by ~1 % relative, so the
# comparison is relative (float32 logits agree to ~1e-6 relative)
RTOL = 1e-4
ATOL = 1e-8


# -- spans -------------------------------------------------------------------------------


def test_words_and_sentences() -> None:
    assert text_spans(PROMPT, "words") == [(0, 2), (3, 8), (9, 10), (11, 14), (15, 18), (19, 20)]
    text = "Describe the cat. Is it big?  Yes!"
    spans = text_spans(text, "sentences")
    assert [text[a:b] for a, b in spans] == ["Describe the cat.", "Is it big?", "Yes!"]
    assert text_spans("it's well-known, ok", "words") == [(0, 4), (5, 15), (15, 16), (17, 19)]


@pytest.mark.parametrize(
    ("spans", "error", "match"),
    [
        ([(0, 30)], ValueError, "outside the prompt"),
        ([(3, 3)], ValueError, "empty"),
        ([(-1, 2)], ValueError, "outside"),
        ([(2, 3)], ValueError, "whitespace"),
        ([(0, 5), (3, 8)], ValueError, "overlap"),
        ([], ValueError, "empty list"),
        ([(0, 1.5)], TypeError, "pair of ints"),
        ("letters", ValueError, "Choose one of: words, sentences"),
        (3, TypeError, "text_regions must be"),
    ],
)
def test_bad_spans_say_what_is_expected(spans, error, match) -> None:
    with pytest.raises(error, match=match):
        text_spans(PROMPT, spans)


def test_reliance_split_adds_up_and_reads_each_input() -> None:
    # image alone lifts p from 0.1 to 0.5, the prompt alone to 0.3, both to 0.9
    image, prompt, prior = reliance_split(
        np.array([0.9]), np.array([0.3]), np.array([0.5]), np.array([0.1])
    )
    assert image[0] == pytest.approx(0.5 * ((0.9 - 0.3) + (0.5 - 0.1)))
    assert prompt[0] == pytest.approx(0.5 * ((0.9 - 0.5) + (0.3 - 0.1)))
    assert prior[0] == pytest.approx(0.1)
    assert image[0] + prompt[0] + prior[0] == pytest.approx(0.9)


# -- scoring against plain transformers on every family ------------------------------------


def _expected_positions(model, chat_ids: list[int], prompt: str) -> list[list[int]]:
    """Word positions found without eagle_kit: the tiny tokenizers are word-level, so the
    prompt's words are one token each and appear as one run in the model's input ids."""
    words = model.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert len(words) == len(prompt.split())
    starts = [
        i for i in range(len(chat_ids) - len(words) + 1) if chat_ids[i : i + len(words)] == words
    ]
    assert starts, "the prompt's tokens are not one run in the input ids"
    return [[starts[-1] + k] for k in range(len(words))]


def _expected_split_positions(model, chat_ids: list[int], parts: list[str]) -> list[list[int]]:
    """As :func:`_expected_positions` for a prompt in several text items: each item's words
    are one run of ids, the runs in order (the last such sequence in the input)."""
    end, found = len(chat_ids), []
    for part in reversed(parts):
        words = model.tokenizer(part, add_special_tokens=False)["input_ids"]
        starts = [i for i in range(end - len(words) + 1) if chat_ids[i : i + len(words)] == words]
        assert starts, f"the words of {part!r} are not one run in the input ids"
        found.insert(0, [[starts[-1] + k] for k in range(len(words))])
        end = starts[-1]
    return [pos for run in found for pos in run]


def _conversation(
    prompt: str, text_first: bool, video: bool = False, split: int | None = None
) -> list[dict]:
    """The user turn: text then media (``text_first``), media then text, or with ``split``
    (a character index of a space) the prompt's two halves around the media."""
    media = {"type": "video" if video else "image"}
    if split is not None:
        first, second = prompt[:split], prompt[split + 1 :]
        content = [{"type": "text", "text": first}, media, {"type": "text", "text": second}]
        return [{"role": "user", "content": content}]
    text = {"type": "text", "text": prompt}
    return [{"role": "user", "content": [text, media] if text_first else [media, text]}]


def _check_family(
    model, family, reference_text, *, text_first: bool, video: bool = False, split=None
):
    h, w = native_size(family)
    rng = np.random.default_rng(7)
    shape = (2, h, w, 3) if video else (h, w, 3)
    media = rng.integers(0, 256, shape, dtype=np.uint8)
    conv = _conversation(PROMPT, text_first, video, split)
    scorer = model.prepare(media, messages=conv, answer=ANSWER)
    feats = scorer.bind_text("words")
    # the mapping, checked independently
    chat = model.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    kw = {"videos": [media], "do_sample_frames": False} if video else {"images": [media]}
    ids = model.processor(text=[chat], return_tensors="pt", **kw)["input_ids"][0].tolist()
    if split is None:
        expected = _expected_positions(model, ids, PROMPT)
    else:
        expected = _expected_split_positions(model, ids, [PROMPT[:split], PROMPT[split + 1 :]])
        assert feats.texts == PROMPT.split()  # offsets index the items joined by a space
    assert [p.tolist() for p in feats.positions] == expected
    for (a, b), pos in zip(feats.spans, feats.positions, strict=True):
        decoded = model.tokenizer.decode([ids[i] for i in pos])
        assert re.sub(r"\s", "", decoded) == re.sub(r"\s", "", PROMPT[a:b])
    pad = model.tokenizer.pad_token_id
    assert feats.baseline_id == (pad if pad is not None else model.tokenizer.unk_token_id)
    # four inputs: all kept, prompt removed, random mixes; image masks on the same rows
    n_text = feats.n_features
    text_keep = np.ones((4, n_text), bool)
    text_keep[1] = False
    text_keep[2] = rng.random(n_text) < 0.5
    text_keep[3] = ~text_keep[2]
    masks = np.ones((4, *shape[:-1]), bool)
    masks[2] = rng.random(shape[:-1]) < 0.5
    masks[3] = False
    fill = np.zeros_like(media)
    got = scorer.score_masks(masks, fill, text_keep=text_keep)
    # removing the prompt moves the probabilities far more than the tolerance
    assert np.max(np.abs(got[0] - got[1]) / got[0]) > 20 * RTOL
    for row in range(4):
        positions = [p for j in np.flatnonzero(~text_keep[row]) for p in expected[j]]
        ref = reference_text(
            model,
            conv,
            np.where(masks[row][..., None], media, fill),
            scorer.answer_ids,
            positions,
            feats.baseline_id,
        )
        np.testing.assert_allclose(
            got[row], ref, rtol=RTOL, atol=ATOL, err_msg=f"{family} row {row}"
        )
    return scorer, feats


@pytest.mark.slow
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_prompt_spans_score_as_plain_transformers(family, text_tiny_model, reference_text) -> None:
    model = text_tiny_model(family)
    _check_family(model, family, reference_text, text_first=False)


@pytest.mark.slow
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_spans_before_the_image_keep_the_prefix_cache_exact(
    family, text_tiny_model, reference_text
) -> None:
    model = text_tiny_model(family)
    scorer, feats = _check_family(model, family, reference_text, text_first=True)
    if scorer._prefix is not None:
        assert scorer._prefix["cut"] <= feats.first_position


@pytest.mark.slow
@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_a_prompt_in_two_text_items_around_the_image(
    family, text_tiny_model, reference_text
) -> None:
    # "is there a" <image> "red cat ?": the words of both items are features, scored as
    # plain transformers scores the input with their tokens replaced
    model = text_tiny_model(family)
    split = PROMPT.index(" red")
    scorer, feats = _check_family(model, family, reference_text, text_first=False, split=split)
    assert scorer.metadata["prompt"] == PROMPT
    chat = scorer.chat_text
    assert chat.rindex("is there a") < chat.rindex("red cat ?")


@pytest.mark.slow
def test_prompt_spans_with_video_frames(text_tiny_model, reference_text) -> None:
    model = text_tiny_model("qwen2_vl")
    _check_family(model, "qwen2_vl", reference_text, text_first=False, video=True)


def test_a_given_baseline_token_is_used(text_tiny_model, reference_text) -> None:
    model = text_tiny_model("llava")
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    scorer = model.prepare(image, prompt=PROMPT, answer=ANSWER)
    feats = scorer.bind_text([(11, 18)], baseline="the")
    the = model.tokenizer("the", add_special_tokens=False)["input_ids"][0]
    assert feats.baseline_id == the and feats.texts == ["red cat"]
    got = scorer.score_masks(
        np.ones((1, 32, 32), bool), np.zeros_like(image), text_keep=np.array([[False]])
    )
    ref = reference_text(
        model,
        _conversation(PROMPT, False),
        image,
        scorer.answer_ids,
        [int(p) for p in feats.positions[0]],
        the,
    )
    np.testing.assert_allclose(got[0], ref, rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match="exactly one token"):
        scorer.bind_text("words", baseline="the red")
    with pytest.raises(ValueError, match="placeholder"):
        scorer.bind_text("words", baseline=model.image_token_id)


# -- explanations ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def joint(text_tiny_model):
    model = text_tiny_model("llava")
    image = np.random.default_rng(5).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    regions = ek.segment(image, 4, "grid")
    expl = ek.explain(
        model,
        image,
        regions=regions,
        text_regions="words",
        prompt=PROMPT,
        answer=ANSWER,
        search="exact",
        progress=False,
    )
    return model, image, expl


def test_joint_explanation_schema(joint) -> None:
    model, image, expl = joint
    d = expl.dataset
    n_img, n_txt = 4, 6
    assert expl.n_regions == n_img + n_txt and expl.n_image_regions == n_img
    assert sorted(expl.order.tolist()) == list(range(n_img + n_txt))
    assert list(d["region_kind"].values) == ["image"] * n_img + ["text"] * n_txt
    assert list(d["region_text"].values) == [""] * n_img + PROMPT.split()
    assert d["region_start"].values.tolist() == [-1] * 4 + [
        a for a, _ in text_spans(PROMPT, "words")
    ]
    assert np.all(d["region_area"].values[n_img:] == 0)
    assert d["feature_fraction"].values.tolist() == pytest.approx(np.arange(11) / 10)
    # area: revealed image area; flat on the steps that add a span
    steps_text = np.isin(expl.order, np.arange(n_img, n_img + n_txt))
    assert np.all(np.diff(d["area"].values)[steps_text] == 0)
    assert d["area"].values[-1] == 1.0
    assert expl.attribution_map().shape == (32, 32)
    assert expl.text_spans == [
        (w, a, b) for w, (a, b) in zip(PROMPT.split(), text_spans(PROMPT, "words"), strict=True)
    ]
    values = expl.region_values()
    np.testing.assert_array_equal(expl.text_values(), values[n_img:])
    np.testing.assert_array_equal(
        expl.text_values(1, kind="gain"), expl.region_values(1, kind="gain")[n_img:]
    )


def test_joint_reliance_split_matches_the_curves_and_plain_transformers(
    joint, reference_text
) -> None:
    model, image, expl = joint
    d = expl.dataset
    ins = d["insertion"].values
    np.testing.assert_allclose(d["p_full"].values, ins[-1], atol=1e-9)
    np.testing.assert_allclose(d["p_neither"].values, ins[0], atol=1e-9)
    total = d["reliance_image"] + d["reliance_prompt"] + d["reliance_prior"]
    np.testing.assert_allclose(total.values, d["p_full"].values, atol=1e-12)
    # p without the prompt spans, computed independently
    scorer = model.prepare(image, prompt=PROMPT, answer=ANSWER)
    positions = _expected_positions(
        model,
        model.processor(text=[scorer.chat_text], images=[image], return_tensors="pt")["input_ids"][
            0
        ].tolist(),
        PROMPT,
    )
    ref = reference_text(
        model,
        _conversation(PROMPT, False),
        image,
        scorer.answer_ids,
        [p for pos in positions for p in pos],
        model.tokenizer.pad_token_id,
    )
    np.testing.assert_allclose(d["p_no_prompt"].values, ref, rtol=RTOL, atol=ATOL)
    ref_no_image = reference_text(
        model, _conversation(PROMPT, False), np.zeros_like(image), scorer.answer_ids, [], 0
    )
    np.testing.assert_allclose(d["p_no_image"].values, ref_no_image, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_joint_explanation_saves_losslessly(joint, tmp_path, suffix) -> None:
    _, _, expl = joint
    back = ek.load_explanation(expl.save(tmp_path / f"joint{suffix}"))
    xr.testing.assert_identical(back.dataset, expl.dataset)
    assert back.text_spans == expl.text_spans


def test_text_only_explanation(text_tiny_model) -> None:
    model = text_tiny_model("llava")
    image = np.random.default_rng(6).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    expl = ek.explain(
        model,
        image,
        regions="none",
        text_regions=[(0, 10), (11, 20)],
        prompt=PROMPT,
        answer=ANSWER,
        search="efficient",
        progress=False,
    )
    d = expl.dataset
    assert expl.n_regions == 2 and expl.n_image_regions == 0
    assert list(d["region_text"].values) == ["is there a", "red cat ?"]
    assert np.all(d["labels"].values == -1)
    np.testing.assert_allclose(d["area"].values, [0, 0.5, 1])
    # the image stays whole: the full input is the curve's end, the prompt-less input its start
    np.testing.assert_allclose(d["p_no_prompt"].values, d["insertion"].values[0], atol=1e-9)
    np.testing.assert_allclose(d["p_full"].values, d["insertion"].values[-1], atol=1e-9)
    with pytest.raises(ValueError, match="no image map"):
        expl.attribution_map()
    assert expl.text_values().shape == (2,)
    with pytest.raises(ValueError, match="only prompt spans"):
        ek.metrics.point_game(expl, box=(0, 0, 8, 8))
    # removing prompt spans leaves every pixel of the image in place
    for k in range(3):
        for mode in ("insertion", "deletion"):
            np.testing.assert_array_equal(expl.masked_image(k, mode), image)


def test_bad_requests_are_refused(text_tiny_model) -> None:
    model = text_tiny_model("llava")
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="leaves no feature"):
        ek.explain(model, image, regions="none", prompt=PROMPT, answer=ANSWER, progress=False)
    with pytest.raises(ValueError, match="'none'"):
        ek.explain(model, image, regions="all", prompt=PROMPT, answer=ANSWER, progress=False)
    with pytest.raises(ValueError, match="only applies with text_regions"):
        ek.explain(model, image, text_baseline=0, prompt=PROMPT, answer=ANSWER, progress=False)
    with pytest.raises(TypeError, match="scores images only"):
        ek.explain(
            lambda x: x.mean(axis=(1, 2, 3))[:, None] / 255,
            image,
            regions=ek.segment(image, 4, "grid"),
            text_regions="words",
            progress=False,
        )
    with pytest.raises(ValueError, match="not in"):
        scorer = model.prepare(image, prompt=PROMPT, answer=ANSWER)
        scorer.metadata["prompt"] = "not the prompt"
        scorer.bind_text("words")
    with pytest.raises(ValueError, match="no prompt spans are bound"):
        model.prepare(image, prompt=PROMPT, answer=ANSWER).score_masks(
            np.ones((1, 32, 32), bool), image, text_keep=np.ones((1, 2), bool)
        )


def test_openai_scorer_refuses_prompt_spans_clearly(text_tiny_model) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
    from openai_server import TinyOpenAIServer

    model = text_tiny_model("llava")
    image = np.random.default_rng(8).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    vocab = model.model.get_output_embeddings().out_features
    with TinyOpenAIServer(model.model, model.processor, name="tiny", flavor="vllm") as url:
        # prompt-logprobs mode explains prompt spans (tests/models/test_api_text.py); the
        # continuation mode cannot score or check an edited prompt's tokens: refused
        api = ek.OpenAIScorer("tiny", base_url=url, mode="continuation", top_logprobs=vocab)
        with pytest.raises(TypeError, match="prompt log-probabilities"):
            ek.explain(
                api,
                image,
                regions=ek.segment(image, 4, "grid"),
                text_regions="words",
                prompt=PROMPT,
                answer=ANSWER,
                progress=False,
            )


@pytest.mark.parametrize("search", ["efficient", "fast"])
def test_every_search_orders_the_union(text_tiny_model, search) -> None:
    model = text_tiny_model("qwen2_vl")
    image = np.random.default_rng(9).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    expl = ek.explain(
        model,
        image,
        regions=ek.segment(image, 4, "grid"),
        text_regions="words",
        prompt=PROMPT,
        answer=ANSWER,
        search=search,
        progress=False,
    )
    d = expl.dataset
    assert sorted(expl.order.tolist()) == list(range(10))
    np.testing.assert_allclose(d["insertion"].values[-1], d["p_full"].values, atol=1e-9)
    np.testing.assert_allclose(d["insertion"].values[0], d["p_neither"].values, atol=1e-9)


def test_unknown_text_baseline_word_warns(text_tiny_model) -> None:
    import warnings

    model = text_tiny_model("llava")
    image = np.zeros((32, 32, 3), np.uint8)
    kw = dict(
        regions="none", text_regions="words", prompt=PROMPT, answer=ANSWER, search="exact",
        progress=False,
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"text_baseline='zzqx' is not in the tokenizer's vocab"):
        expl = ek.explain(model, image, text_baseline="zzqx", **kw)
    tok = model.processor.tokenizer
    assert expl.dataset.attrs["text_baseline_id"] == tok.unk_token_id
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*text_baseline")
        known = ek.explain(model, image, text_baseline="cat", **kw)
    assert known.dataset.attrs["text_baseline_id"] != tok.unk_token_id
