"""Prompt spans with video frames, on every tiny family that takes video: scores of removed
spans (with and without masked frames) equal plain-transformers teacher forcing with the
span tokens replaced; text-only and joint (video regions + spans) explanations, curve by
curve, against the same independent computation; chat templates that put the prompt before
or after the video; frames repeated where a processor groups them in pairs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import eagle_kit as ek
from eagle_kit.testing.tiny_models import VIDEO_FAMILIES, native_size
from eagle_kit.text_regions import text_spans

PROMPT = "is there a red cat ?"
ANSWER = "yes the red cat"
WORDS = PROMPT.split()
# tiny random models are nearly uniform: a removed span moves p by ~1 % relative, so the
# comparison is relative (float32 logits agree to ~1e-6 relative)
RTOL = 1e-4
ATOL = 1e-8


def _frames(family: str, n: int = 2, seed: int = 7) -> np.ndarray:
    h, w = native_size(family)
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _conversation(text_first: bool) -> list[dict]:
    text = {"type": "text", "text": PROMPT}
    video = {"type": "video"}
    return [{"role": "user", "content": [text, video] if text_first else [video, text]}]


def _model_ids(model, conv: list[dict], frames: np.ndarray) -> list[int]:
    """The prompt's input ids as the family's processor makes them (no eagle_kit code)."""
    chat = model.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    enc = model.processor(text=[chat], videos=[frames], do_sample_frames=False, return_tensors="pt")
    return enc["input_ids"][0].tolist()


def _word_positions(model, ids: list[int], prompt: str) -> list[int]:
    """Each prompt word's input position, found without eagle_kit: the tiny tokenizers are
    word-level, so the words are one token each and one run in the input ids — except that a
    word touching the video's expansion without a space (SmolVLM's template glues the prompt
    to the video preamble "You are provided …") merges with it into one unknown token, which
    then stands at that end of the run."""
    tok = model.tokenizer
    words = tok(prompt, add_special_tokens=False)["input_ids"]
    assert len(words) == len(prompt.split())
    n = len(words)
    for lo, hi in ((0, n), (0, n - 1), (1, n)):
        run = words[lo:hi]
        starts = [i for i in range(len(ids) - len(run) + 1) if ids[i : i + len(run)] == run]
        if starts:
            first = starts[-1] - lo
            if (lo, hi) != (0, n):  # the merged word's token is the unknown token
                merged = first + (n - 1 if hi < n else 0)
                assert ids[merged] == tok.unk_token_id, tok.convert_ids_to_tokens(ids[merged])
            return [first + k for k in range(n)]
    raise AssertionError(f"the prompt's tokens are not one run in {tok.convert_ids_to_tokens(ids)}")


def _pad_like_processor(model, frames: np.ndarray) -> np.ndarray:
    """The frames the model is given: the last one repeated to a multiple of the temporal
    patch (Qwen-VL groups frames in pairs)."""
    group = getattr(model.processor.video_processor, "temporal_patch_size", None) or 1
    extra = (-len(frames)) % int(group)
    return np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)]) if extra else frames


def _check_scores(model, family, reference_text, *, text_first: bool, n_frames: int = 2):
    frames = _frames(family, n_frames)
    conv = _conversation(text_first)
    scorer = model.prepare(frames, messages=conv, answer=ANSWER)
    feats = scorer.bind_text("words")
    given = _pad_like_processor(model, frames)
    ids = _model_ids(model, conv, given)
    positions = _word_positions(model, ids, PROMPT)
    assert [p.tolist() for p in feats.positions] == [[p] for p in positions]
    assert feats.texts == WORDS
    # the prefix cache stays on (every video family caches the template's first tokens) and
    # ends before the first span (it cannot cache a span); the reference below has no cache
    assert scorer._prefix is not None and scorer.metadata["prefix_cache"] == 1
    assert scorer._prefix["cut"] <= min(positions)
    rng = np.random.default_rng(11)
    n = feats.n_features
    text_keep = np.ones((5, n), bool)
    text_keep[1] = False
    text_keep[2] = rng.random(n) < 0.5
    text_keep[3] = ~text_keep[2]
    masks = np.ones((5, *frames.shape[:-1]), bool)
    masks[2] = rng.random(frames.shape[:-1]) < 0.5
    masks[3] = ~masks[2]
    masks[4] = False
    fill = np.zeros_like(frames)
    got = scorer.score_masks(masks, fill, text_keep=text_keep)
    scorer.batch_size = 1  # one by one (each row its own cache copy) agrees with batched
    np.testing.assert_allclose(
        scorer.score_masks(masks, fill, text_keep=text_keep), got, rtol=1e-5, atol=1e-9
    )
    # removing the prompt moves the probabilities far more than the tolerance
    assert np.max(np.abs(got[0] - got[1]) / got[0]) > 20 * RTOL
    for row in range(5):
        removed = [positions[j] for j in np.flatnonzero(~text_keep[row])]
        masked = _pad_like_processor(model, np.where(masks[row][..., None], frames, fill))
        want = reference_text(model, conv, masked, scorer.answer_ids, removed, feats.baseline_id)
        np.testing.assert_allclose(
            got[row], want, rtol=RTOL, atol=ATOL, err_msg=f"{family} row {row}"
        )


@pytest.mark.parametrize("text_first", [False, True], ids=["video-first", "text-first"])
@pytest.mark.parametrize("family", VIDEO_FAMILIES)
def test_video_prompt_spans_score_as_plain_transformers(
    family, text_first, text_tiny_model, reference_text
) -> None:
    _check_scores(text_tiny_model(family), family, reference_text, text_first=text_first)


@pytest.mark.parametrize("family", [f for f in VIDEO_FAMILIES if f.startswith("qwen")])
def test_video_prompt_spans_with_an_odd_frame_count(family, text_tiny_model, reference_text):
    """3 frames where the processor groups frames in pairs: the last frame is given twice
    (masked alike), and the spans still map to the right tokens."""
    model = text_tiny_model(family)
    assert model.temporal_patch_size == 2
    with pytest.warns(UserWarning, match="temporal_patch_size"):
        _check_scores(model, family, reference_text, text_first=False, n_frames=3)


def _expected_curve(model, reference_text, expl, conv, span_positions, mode: str) -> np.ndarray:
    """The insertion (first k features kept) or deletion (first k removed) curve, recomputed
    step by step with plain transformers from the explanation's order and label map
    (``span_positions``: per span, its input positions)."""
    d = expl.dataset
    frames = d["image"].values
    labels = d["labels"].values
    n_image = int(expl.n_image_regions)
    answer_ids = d["token_id"].values.tolist()
    baseline = int(d.attrs["text_baseline_id"])
    order = expl.order
    rows = []
    for k in range(len(order) + 1):
        keep = np.zeros(len(order), bool)
        keep[order[:k]] = True
        if mode == "deletion":
            keep = ~keep
        pixel_keep = np.where(labels >= 0, keep[np.clip(labels, 0, None)], True)
        masked = np.where(pixel_keep[..., None], frames, 0).astype(np.uint8)
        removed = [p for j, pos in enumerate(span_positions) if not keep[n_image + j] for p in pos]
        media = _pad_like_processor(model, masked)
        rows.append(reference_text(model, conv, media, answer_ids, removed, baseline))
    return np.stack(rows)


@pytest.mark.parametrize("kind", ["text-only", "joint"])
@pytest.mark.parametrize("family", VIDEO_FAMILIES)
def test_video_explanation_curves_equal_plain_transformers(
    family, kind, text_tiny_model, reference_text
) -> None:
    """``ek.explain`` on 2 frames with ``text_regions="words"``: prompt spans only
    (``regions="none"``, the frames stay whole; prompt after the video) or video regions
    (1×2 cells per frame) plus spans (prompt before the video). Every step of both curves
    and the three-way split's inputs are recomputed with plain transformers."""
    model = text_tiny_model(family)
    frames = _frames(family)
    joint = kind == "joint"
    conv = _conversation(text_first=joint)
    regions = ek.RegionSet.video_grid(frames.shape[:-1], rows=1, cols=2) if joint else "none"
    expl = ek.explain(
        model,
        frames,
        regions=regions,
        text_regions="words",
        messages=conv,
        answer=ANSWER,
        search="exact",
        progress=False,
    )
    d = expl.dataset
    n_image = 4 if joint else 0
    assert expl.n_image_regions == n_image and expl.n_regions == n_image + len(WORDS)
    assert expl.image.shape == frames.shape
    assert list(d["region_kind"].values) == ["image"] * n_image + ["text"] * len(WORDS)
    assert list(d["region_text"].values) == [""] * n_image + WORDS
    assert d["region_start"].values[n_image:].tolist() == [
        a for a, _ in text_spans(PROMPT, "words")
    ]
    assert sorted(expl.order.tolist()) == list(range(n_image + len(WORDS)))
    positions = _word_positions(model, _model_ids(model, conv, frames), PROMPT)
    for mode in ("insertion", "deletion"):
        want = _expected_curve(model, reference_text, expl, conv, [[p] for p in positions], mode)
        np.testing.assert_allclose(
            d[mode].values, want, rtol=RTOL, atol=ATOL, err_msg=f"{family} {kind} {mode}"
        )
    # the three-way split's four inputs
    answer_ids = d["token_id"].values.tolist()
    baseline = int(d.attrs["text_baseline_id"])
    black = np.zeros_like(frames)
    expected = {
        "p_full": reference_text(model, conv, frames, answer_ids, [], baseline),
        "p_no_image": reference_text(model, conv, black, answer_ids, [], baseline),
        "p_no_prompt": reference_text(model, conv, frames, answer_ids, positions, baseline),
        "p_neither": reference_text(model, conv, black, answer_ids, positions, baseline),
    }
    for name, want in expected.items():
        np.testing.assert_allclose(d[name].values, want, rtol=RTOL, atol=ATOL, err_msg=name)
    total = d["reliance_image"] + d["reliance_prompt"] + d["reliance_prior"]
    np.testing.assert_allclose(total.values, d["p_full"].values, atol=1e-12)
    if not joint:  # the frames stay whole: every pixel of every step is the video's
        for k in range(expl.n_regions + 1):
            np.testing.assert_array_equal(expl.masked_image(k, "deletion"), frames)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_generated_answer_with_multi_token_spans_saves_losslessly(
    text_tiny_model, reference_text, tmp_path, suffix
) -> None:
    """No answer given: the model answers the video, and spans of several tokens each
    (video regions + two spans, prompt after the video) score as plain transformers."""
    family = "qwen2_5_vl"
    model = text_tiny_model(family)
    frames = _frames(family)
    spans = [(0, 10), (11, 20)]
    expl = ek.explain(
        model,
        frames,
        regions=ek.RegionSet.video_grid(frames.shape[:-1], rows=1, cols=2),
        text_regions=spans,
        prompt=PROMPT,
        max_new_tokens=3,
        search="efficient",
        progress=False,
    )
    d = expl.dataset
    assert d.sizes["token"] == 3 and expl.n_regions == 6
    conv = _conversation(text_first=False)
    words = _word_positions(model, _model_ids(model, conv, frames), PROMPT)
    span_positions = [words[:3], words[3:]]
    for mode in ("insertion", "deletion"):
        want = _expected_curve(model, reference_text, expl, conv, span_positions, mode)
        np.testing.assert_allclose(d[mode].values, want, rtol=RTOL, atol=ATOL, err_msg=mode)
    back = ek.load_explanation(expl.save(tmp_path / f"video{suffix}"))
    xr.testing.assert_identical(back.dataset, expl.dataset)
    assert back.text_spans == [("is there a", 0, 10), ("red cat ?", 11, 20)]
    assert back.image.shape == frames.shape


def test_chat_offsets_undo_each_expansion() -> None:
    """Token ranges in the processor's expanded text map back to the chat text: a token's
    chat characters are exactly its characters outside the expansions (none for a token
    inside one), also for tokens merged across an expansion's border."""
    from eagle_kit.text_regions import chat_offsets

    chat = "xx<v>is it<v>?"
    placeholders = [(2, 5), (10, 13)]
    pieces = ["xx", "Pre <V><V>", "is it", "<V>", "?"]
    expanded = "".join(pieces)
    starts = np.cumsum([0] + [len(p) for p in pieces])
    expansions = [(int(starts[1]), int(starts[2])), (int(starts[3]), int(starts[4]))]
    replacements = [
        {"span": old, "new_span": new} for old, new in zip(placeholders, expansions, strict=True)
    ]
    # "xxPre" straddles the first expansion's start, "<V>is" its end, "it<V>" the second's
    # start, "<V>?" its end; the rest are inside or outside an expansion
    tokens = ["xxPre", " ", "<V>", "<V>is", " ", "it<V>", "?"]
    offsets, at = [], 0
    for tok in tokens:
        offsets.append((at, at + len(tok)))
        at += len(tok)
    assert at == len(expanded)

    def outside(a: int, b: int) -> str:
        return "".join(
            expanded[i] for i in range(a, b) if not any(s <= i < e for s, e in expansions)
        )

    got = chat_offsets(offsets, replacements)
    assert [chat[a:b] if b > a else "" for a, b in got] == [outside(a, b) for a, b in offsets]
    assert [chat[a:b] if b > a else "" for a, b in got] == ["xx", "", "", "is", " ", "it", "?"]
