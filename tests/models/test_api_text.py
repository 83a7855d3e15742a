"""Prompt spans through the OpenAI-compatible scorer (prompt-logprobs mode).

A small vLLM-like server (``openai_server.py``, written with transformers directly) serves a
tiny LLaVA. The API scorer writes each removed span into the prompt text as the baseline
token's text; its probabilities must equal (1) a plain-transformers forward pass with the
removed tokens' ids replaced in place, and (2) the Hugging Face scorer's on the same tiny
model — scored rows, text-only and joint explanations. Refusals: no ``/tokenize`` and no
tokenizer, a baseline that changes the server's tokens, continuation mode.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from openai_server import TinyOpenAIServer

import eagle_kit as ek
from eagle_kit.models import OpenAIScorer

PROMPT = "is there a red cat ?"
ANSWER = "yes the red cat"
# float32 logits agree to ~1e-6 relative; a removed word moves p by ~1 % relative
RTOL = 1e-4
ATOL = 1e-8


@pytest.fixture(scope="module")
def llava(tiny_model):
    return tiny_model("llava")


@pytest.fixture(scope="module")
def server(llava):
    """vLLM flavour with /tokenize, /detokenize and /tokenizer_info."""
    srv = TinyOpenAIServer(llava.model, llava.processor, name="tiny", tokenizer_info=True)
    with srv as url:
        yield srv, url


def _plain_transformers(model, image, prompt, answer_ids, positions, baseline_id):
    """p(answer token t | image, prompt with ``positions`` set to ``baseline_id``, answer
    before t): processor once, ids edited in place, one forward pass, full softmax."""
    processor, hf = model.processor, model.model
    conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[image], return_tensors="pt")
    ids = enc["input_ids"].clone()
    ids[0, list(positions)] = baseline_id
    answer = torch.tensor([answer_ids])
    inputs = dict(enc)
    inputs["input_ids"] = torch.cat([ids, answer], dim=1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    if "mm_token_type_ids" in enc:  # Qwen-VL: the answer's tokens are text
        zeros = torch.zeros((1, len(answer_ids)), dtype=enc["mm_token_type_ids"].dtype)
        inputs["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], zeros], dim=1)
    with torch.no_grad():
        logits = hf(**inputs).logits[0].float()
    n = ids.shape[1]
    probs = torch.softmax(logits[n - 1 : n - 1 + len(answer_ids)], dim=-1)
    return probs[torch.arange(len(answer_ids)), torch.tensor(answer_ids)].double().numpy()


def _word_positions(model, image, prompt):
    """The words' positions found without eagle_kit: the tiny tokenizer is word-level, so the
    prompt's words are one token each, one run in the processor's input ids."""
    conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = model.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ids = model.processor(text=[text], images=[image], return_tensors="pt")["input_ids"][0]
    words = model.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = ids.tolist()
    starts = [i for i in range(len(ids)) if ids[i : i + len(words)] == words]
    return [[starts[-1] + k] for k in range(len(words))]


@pytest.mark.parametrize("source", ["server", "local"])
def test_spans_map_and_score_like_plain_transformers(
    source, llava, server, image_for, random_masks
) -> None:
    srv, url = server
    image = image_for("llava", seed=31)
    api = OpenAIScorer(
        "tiny", base_url=url, tokenizer=llava.tokenizer if source == "local" else None
    )
    scorer = api.prepare(image, prompt=PROMPT, answer=ANSWER)
    feats = scorer.bind_text("words")
    assert scorer.metadata["text_tokenizer"] == source
    expected = _word_positions(llava, image, PROMPT)
    assert [p.tolist() for p in feats.positions] == expected
    assert feats.texts == PROMPT.split()
    assert feats.baseline_id == llava.tokenizer.pad_token_id  # the HF path's default
    assert feats.baseline_text == llava.tokenizer.pad_token

    rng = np.random.default_rng(5)
    keep = rng.random((5, len(expected))) < 0.5
    keep[0], keep[1] = True, False
    masks = random_masks(5, image.shape[:2], seed=6)
    fill = np.zeros_like(image)
    got = scorer.score_masks(masks, fill, text_keep=keep)
    assert np.max(np.abs(got[0] - got[1]) / got[0]) > 20 * RTOL  # removing words matters
    for row in range(5):
        positions = [p for j in np.flatnonzero(~keep[row]) for p in expected[j]]
        ref = _plain_transformers(
            llava,
            np.where(masks[row][..., None], image, fill),
            PROMPT,
            scorer.answer_ids,
            positions,
            feats.baseline_id,
        )
        np.testing.assert_allclose(got[row], ref, rtol=RTOL, atol=ATOL, err_msg=f"row {row}")
    # the HF scorer on the same model agrees row by row
    hf = llava.prepare(image, prompt=PROMPT, answer=ANSWER)
    hf.bind_text("words")
    np.testing.assert_allclose(got, hf.score_masks(masks, fill, text_keep=keep), rtol=RTOL)

    # what the server was sent: the removed word's characters became the pad token's text
    one = np.ones((1, len(expected)), bool)
    one[0, 3] = False  # "red"
    srv.sent_prompts.clear()
    scorer(image[None], text_keep=one)
    assert srv.sent_prompts == ["is there a<pad> cat ?"]


@pytest.fixture(scope="module")
def explanations(llava, server, image_for):
    _, url = server
    image = image_for("llava", seed=32)
    api = OpenAIScorer("tiny", base_url=url, max_workers=4)
    grid = ek.segment(image, n_regions=4, method="grid")
    out = {}
    for name, scorer in (("api", api), ("hf", llava)):
        for kind, regions in (("text", "none"), ("joint", grid)):
            out[name, kind] = ek.explain(
                scorer,
                image,
                regions=regions,
                text_regions="words",
                search="exact",
                prompt=PROMPT,
                answer=ANSWER,
                progress=False,
            )
    # an order over the joint features, scored again through the API (ek.score_order)
    out["again"] = ek.score_order(
        api,
        image,
        grid,
        list(out["hf", "joint"].order),
        text_regions="words",
        prompt=PROMPT,
        answer=ANSWER,
        progress=False,
    )
    return out


@pytest.mark.parametrize("kind", ["text", "joint"])
def test_explanations_equal_the_hf_scorers(explanations, kind) -> None:
    a, b = explanations["api", kind], explanations["hf", kind]
    assert a.attrs["scorer"] == "openai"
    assert list(a.dataset["region_kind"].values) == list(b.dataset["region_kind"].values)
    assert list(a.dataset["region_text"].values) == list(b.dataset["region_text"].values)
    assert a.attrs["text_baseline_id"] == b.attrs["text_baseline_id"]
    for name in ("insertion", "deletion", "objective", "p_full", "p_black"):
        np.testing.assert_allclose(
            a.dataset[name].values, b.dataset[name].values, rtol=RTOL, atol=ATOL, err_msg=name
        )
    for name in ("reliance_image", "reliance_prompt", "reliance_prior"):
        np.testing.assert_allclose(
            a.dataset[name].values, b.dataset[name].values, rtol=1e-3, atol=1e-7, err_msg=name
        )
    assert list(a.order) == list(b.order)
    # the curves move: removing words or regions changes the probabilities
    assert np.ptp(b.dataset["insertion"].values) > 100 * RTOL * b.dataset["p_full"].values.max()


def test_a_word_baseline_is_written_as_the_token_adds_it(
    llava, server, image_for, random_masks
) -> None:
    srv, url = server
    image = image_for("llava", seed=33)
    api = OpenAIScorer("tiny", base_url=url)
    scorer = api.prepare(image, prompt=PROMPT, answer=ANSWER)
    feats = scorer.bind_text("words", baseline=" the")
    the = llava.tokenizer.convert_tokens_to_ids("the")
    assert feats.baseline_id == the
    keep = np.random.default_rng(7).random((3, 6)) < 0.5
    keep[0] = False
    masks = random_masks(3, image.shape[:2], seed=9)
    fill = np.zeros_like(image)
    srv.sent_prompts.clear()
    got = scorer.score_masks(masks, fill, text_keep=keep)
    assert " the the the the the the" in srv.sent_prompts  # each token's text, with its space
    expected = _word_positions(llava, image, PROMPT)
    for row in range(3):
        positions = [p for j in np.flatnonzero(~keep[row]) for p in expected[j]]
        ref = _plain_transformers(
            llava,
            np.where(masks[row][..., None], image, fill),
            PROMPT,
            scorer.answer_ids,
            positions,
            the,
        )
        np.testing.assert_allclose(got[row], ref, rtol=RTOL, atol=ATOL)
    # by id, the text is what the token adds after another one (the server's /detokenize)
    assert scorer.bind_text("words", baseline=the).baseline_text == " the"


def test_a_baseline_that_changes_the_servers_tokens_is_refused(llava, server, image_for) -> None:
    _, url = server
    image = image_for("llava", seed=34)
    scorer = OpenAIScorer("tiny", base_url=url).prepare(image, prompt=PROMPT, answer=ANSWER)
    # "the" without its space glues to the word before: "athe" is one (unknown) token
    with pytest.raises(
        ValueError, match=r"changed the server's tokens: the server read \d+ tokens"
    ):
        scorer.bind_text("words", baseline="the")
    assert scorer.text_features is None  # nothing stays bound after a refusal
    with pytest.raises(ValueError, match="another text_baseline"):
        scorer.bind_text([(11, 14)], baseline="the")  # "red" alone: "athe cat"
    with pytest.raises(ValueError, match="is 2 tokens"):
        scorer.bind_text("words", baseline=" the cat")
    with pytest.raises(TypeError, match="token id"):
        scorer.bind_text("words", baseline=1.5)


def test_without_tokenize_or_tokenizer_text_features_are_refused(
    llava, tiny_dir, image_for
) -> None:
    image = image_for("llava", seed=35)
    with TinyOpenAIServer(llava.model, llava.processor, name="tiny", tokenize=False) as url:
        api = OpenAIScorer("tiny", base_url=url)
        with pytest.raises(ValueError, match=r"no /tokenize and /detokenize \(HTTP 404\)"):
            ek.explain(
                api,
                image,
                regions="none",
                text_regions="words",
                prompt=PROMPT,
                answer=ANSWER,
                progress=False,
            )
        # the model's own tokenizer, from its local folder, makes it work on the same server
        local = OpenAIScorer("tiny", base_url=url, tokenizer=tiny_dir("llava"))
        scorer = local.prepare(image, prompt=PROMPT, answer=ANSWER)
        feats = scorer.bind_text("words")
        assert feats.baseline_id == llava.tokenizer.pad_token_id
        hf = llava.prepare(image, prompt=PROMPT, answer=ANSWER)
        hf.bind_text("words")
        keep = np.eye(6, dtype=bool)
        np.testing.assert_allclose(
            scorer(np.repeat(image[None], 6, 0), text_keep=keep),
            hf(np.repeat(image[None], 6, 0), text_keep=keep),
            rtol=RTOL,
        )


def test_the_default_baseline_needs_a_pad_token_source(llava, image_for) -> None:
    image = image_for("llava", seed=36)
    with TinyOpenAIServer(llava.model, llava.processor, name="tiny") as url:  # no tokenizer_info
        scorer = OpenAIScorer("tiny", base_url=url).prepare(image, prompt=PROMPT, answer=ANSWER)
        with pytest.raises(ValueError, match="No default text_baseline.*tokenizer_info"):
            scorer.bind_text("words")
        assert (
            scorer.bind_text("words", baseline="<pad>").baseline_id == llava.tokenizer.pad_token_id
        )


def test_continuation_mode_and_bad_options_are_refused(llava, server, image_for, tmp_path) -> None:
    _, url = server
    image = image_for("llava", seed=37)
    vocab = llava.model.get_output_embeddings().out_features
    api = OpenAIScorer("tiny", base_url=url, mode="continuation", top_logprobs=vocab)
    with pytest.raises(TypeError, match="need prompt log-probabilities"):
        ek.explain(
            api,
            image,
            regions="none",
            text_regions="words",
            prompt=PROMPT,
            answer="yes",
            progress=False,
        )
    two = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "is there"},
                {"type": "image"},
                {"type": "text", "text": "a red cat ?"},
            ],
        }
    ]
    scorer = OpenAIScorer("tiny", base_url=url).prepare(image, messages=two, answer=ANSWER)
    with pytest.raises(ValueError, match="exactly one non-empty text item; it holds 2"):
        scorer.bind_text("words")
    with pytest.raises(ValueError, match="is not a folder"):
        OpenAIScorer("tiny", base_url=url, tokenizer=tmp_path / "missing")
    with pytest.raises(TypeError, match="tokenizer must be"):
        OpenAIScorer("tiny", base_url=url, tokenizer=3)
    plain = OpenAIScorer("tiny", base_url=url).prepare(image, prompt=PROMPT, answer=ANSWER)
    with pytest.raises(ValueError, match="no prompt spans are bound"):
        plain(image[None], text_keep=np.ones((1, 6), bool))


def test_messages_with_the_text_before_the_image_score_like_the_hf_scorer(
    llava, server, image_for, random_masks
) -> None:
    srv, url = server
    image = image_for("llava", seed=41)
    msgs = [{"role": "user", "content": [{"type": "text", "text": PROMPT}, {"type": "image"}]}]
    scorer = OpenAIScorer("tiny", base_url=url).prepare(image, messages=msgs, answer=ANSWER)
    feats = scorer.bind_text("words")
    hf = llava.prepare(image, messages=msgs, answer=ANSWER)
    hf_feats = hf.bind_text("words")
    assert feats.texts == hf_feats.texts == PROMPT.split()
    assert [p.tolist() for p in feats.positions] == [p.tolist() for p in hf_feats.positions]
    image_at = hf._text["input_ids"][0].tolist().index(llava.image_token_id)
    assert max(int(p.max()) for p in feats.positions) < image_at  # the words come first
    rng = np.random.default_rng(8)
    keep = rng.random((4, len(PROMPT.split()))) < 0.5
    keep[0], keep[1] = True, False
    masks = random_masks(4, image.shape[:2], seed=9)
    fill = np.zeros_like(image)
    got = scorer.score_masks(masks, fill, text_keep=keep)
    assert np.max(np.abs(got[0] - got[1]) / got[0]) > 20 * RTOL  # removing words matters
    np.testing.assert_allclose(got, hf.score_masks(masks, fill, text_keep=keep), rtol=RTOL)
    # what the server was sent: the edit in the user's text item, the image item kept
    one = np.ones((1, len(PROMPT.split())), bool)
    one[0, 3] = False  # "red"
    srv.sent_prompts.clear()
    scorer(image[None], text_keep=one)
    assert srv.sent_prompts == ["is there a<pad> cat ?"]


# -- byte-level tokenizers: offsets decoded from the token ids, edits re-tokenised -------------

BYTE_PROMPT = "is there a red café 🐱 ?"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image_pad|>"]


def _bpe_tokenizer(kind: str = "byte_level"):
    """A BPE tokenizer trained here on a few sentences: ``"byte_level"`` (GPT-2/Qwen style)
    or ``"metaspace"`` (SentencePiece/Llama style, ``▁`` for spaces, byte fallback)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "byte_level":
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        backend = Tokenizer(models.BPE(byte_fallback=True))
        backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
        backend.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
        )
        alphabet = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=330 if kind == "byte_level" else 600,
        special_tokens=SPECIAL + (alphabet if kind == "metaspace" else []),
        initial_alphabet=[] if kind == "metaspace" else alphabet,
        show_progress=False,
    )
    corpus = ["is there a red cat in the café ?", "there is a red square", "a café , a cat"] * 20
    backend.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<|endoftext|>", additional_special_tokens=SPECIAL[1:]
    )


@pytest.mark.parametrize("kind", ["byte_level", "metaspace"])
def test_bpe_spans_and_edits_match_the_tokenizers_own_offsets(kind) -> None:
    from eagle_kit.models.api import _prompt_offsets, write_baseline
    from eagle_kit.text_regions import assign_tokens, map_spans, text_spans

    tok = _bpe_tokenizer(kind)
    chat = (
        f"<|im_start|>user\n<|image_pad|><|image_pad|>{BYTE_PROMPT}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    ids = tok(chat, add_special_tokens=False)["input_ids"]
    spans = text_spans(BYTE_PROMPT, "words")
    # the Hugging Face path: the tokenizer's own character offsets
    want = map_spans(tokenizer=tok, chat_text=chat, prompt=BYTE_PROMPT, spans=spans, input_ids=ids)

    def encode(text):
        return tok(text, add_special_tokens=False)["input_ids"]

    # the API path: the server's ids (no id at position 0), offsets decoded from them
    window, offsets = _prompt_offsets([None, *ids[1:]], len(ids), BYTE_PROMPT, encode, tok.decode)
    owner = assign_tokens(offsets, spans)
    positions = [[window[k] for k, o in enumerate(owner) if o == j] for j in range(len(spans))]
    assert positions == [p.tolist() for p in want.positions]
    assert len(positions[spans.index((20, 21))]) > 1  # the emoji is several byte tokens

    ranges = {
        window[k]: (max(0, a), min(len(BYTE_PROMPT), b))
        for k, (a, b) in enumerate(offsets)
        if owner[k] >= 0
    }
    rng = np.random.default_rng(0)
    patterns = [np.zeros(len(spans), bool), *~np.eye(len(spans), dtype=bool)]
    patterns += list(rng.random((6, len(spans))) < 0.5)
    for baseline, base_id in (("<|endoftext|>", tok.pad_token_id), (" the", encode(" the")[0])):
        assert len(encode(baseline)) == 1
        for keep in patterns:
            removed = {p for j in np.flatnonzero(~keep) for p in positions[j]}
            text = write_baseline(BYTE_PROMPT, [ranges[p] for p in removed], baseline)
            got = encode(chat.replace(BYTE_PROMPT, text))
            expected = [base_id if i in removed else t for i, t in enumerate(ids)]
            assert got == expected, (baseline, keep, text)


def test_score_order_over_the_joint_features(explanations) -> None:
    again, b = explanations["again"], explanations["hf", "joint"]
    assert list(again.order) == list(b.order)
    for name in ("insertion", "deletion"):
        np.testing.assert_allclose(
            again.dataset[name].values, b.dataset[name].values, rtol=RTOL, atol=ATOL
        )


@pytest.mark.parametrize("source", ["server", "local"])
def test_placeholder_and_out_of_vocabulary_baselines_are_refused_before_sending(
    source, llava, server, image_for
) -> None:
    """As the Hugging Face path: the image token (as text or id) and ids outside the
    vocabulary are refused with a clear error, before any edited prompt is sent."""
    srv, url = server
    image = image_for("llava", seed=38)
    api = OpenAIScorer(
        "tiny", base_url=url, tokenizer=llava.tokenizer if source == "local" else None
    )
    image_id = llava.tokenizer.convert_tokens_to_ids("<image>")
    assert image_id == llava.model.config.image_token_id
    for bad in ("<image>", image_id):
        sent = len(srv.sent_prompts)
        with pytest.raises(
            ValueError, match=f"id {image_id} is the model's image/video placeholder"
        ):
            ek.explain(
                api,
                image,
                regions="none",
                text_regions="words",
                prompt=PROMPT,
                answer="yes",
                text_baseline=bad,
                progress=False,
            )
        # prepare's two requests only: no prompt with the baseline written in was sent
        assert srv.sent_prompts[sent:] == [PROMPT, PROMPT]
    scorer = api.prepare(image, prompt=PROMPT, answer="yes")
    with pytest.raises(ValueError, match="id -1 is outside the vocabulary"):
        scorer.bind_text("words", baseline=-1)
    big = 10**6
    match = "is outside the vocabulary" if source == "local" else "decodes to no text"
    with pytest.raises(ValueError, match=f"id {big} {match}"):
        scorer.bind_text("words", baseline=big)
    assert scorer.text_features is None


def test_an_hf_unknown_token_baseline_does_not_warn(llava, image_for) -> None:
    import warnings

    scorer = llava.prepare(image_for("llava", seed=39), prompt=PROMPT, answer="yes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feats = scorer.bind_text("words", baseline=llava.tokenizer.unk_token)
    assert feats.baseline_id == llava.tokenizer.unk_token_id


def test_a_server_failure_is_an_http_500_and_a_clear_client_error(llava, server) -> None:
    import http.client
    import json
    import urllib.request

    _, url = server
    root = url[: -len("/v1")]
    request = urllib.request.Request(
        f"{root}/detokenize",
        data=json.dumps({"model": "tiny", "tokens": [-1]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 500
    assert "error" in json.loads(info.value.read())
    api = OpenAIScorer("tiny", base_url=url)
    with pytest.raises(ek.models.api.APIError, match=r"detokenize answered HTTP 500") as err:
        api.detokenize([-1])
    assert err.value.status == 500

    # a server that drops the connection: the error names the URL and the request
    class Dropped(http.client.RemoteDisconnected):
        pass

    def drop(*args, **kwargs):
        raise Dropped("Remote end closed connection without response")

    import unittest.mock

    with unittest.mock.patch("urllib.request.urlopen", drop):
        with pytest.raises(
            ek.models.api.APIError, match=r"The server at http://\S+/detokenize failed on a POST"
        ):
            api.detokenize([1])


@pytest.fixture(scope="module")
def qwen_server(tiny_model):
    """A tiny Qwen2-VL (its template puts "You are a helpful assistant." first) behind the
    vLLM-like server with /tokenize, /detokenize and /tokenizer_info."""
    qwen = tiny_model("qwen2_vl")
    srv = TinyOpenAIServer(qwen.model, qwen.processor, name="tiny", tokenizer_info=True)
    with srv as url:
        yield qwen, srv, url


def _user_positions(model, image, prompt):
    """The prompt's tokens found without eagle_kit: the run of its word-level ids right after
    the vision-end token of the processor's input (the user's content)."""
    conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = model.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ids = model.processor(text=[text], images=[image], return_tensors="pt")["input_ids"][0].tolist()
    words = model.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    after = ids.index(model.tokenizer.convert_tokens_to_ids("<|vision_end|>")) + 1
    assert ids[after : after + len(words)] == words
    return [[after + k] for k in range(len(words))]


@pytest.mark.parametrize("prompt", ["a", "You are a helpful"])
@pytest.mark.parametrize("source", ["server", "local"])
def test_a_prompt_also_in_the_system_prompt_is_placed_in_the_user_turn(
    qwen_server, image_for, prompt, source
) -> None:
    qwen, _, url = qwen_server
    image = image_for("qwen2_vl", seed=40)
    api = OpenAIScorer(
        "tiny", base_url=url, tokenizer=qwen.tokenizer if source == "local" else None
    )
    scorer = api.prepare(image, prompt=prompt, answer="yes")
    feats = scorer.bind_text("words")
    expected = _user_positions(qwen, image, prompt)
    assert [p.tolist() for p in feats.positions] == expected
    # every span removed scores as plain transformers with those ids replaced in place
    got = scorer(image[None], text_keep=np.zeros((1, len(expected)), bool))
    ref = _plain_transformers(
        qwen,
        image,
        prompt,
        scorer.answer_ids,
        [p for ps in expected for p in ps],
        feats.baseline_id,
    )
    np.testing.assert_allclose(got[0], ref, rtol=RTOL, atol=ATOL)


class _NoOffsets:
    """A tokenizer without character offsets (as a slow tokenizer)."""

    def __init__(self, tok):
        self._tok = tok

    def __call__(self, text, **options):
        if options.get("return_offsets_mapping"):
            raise NotImplementedError("return_offsets_mapping is not available")
        return self._tok(text, **options)

    def decode(self, *args, **options):
        return self._tok.decode(*args, **options)

    def __len__(self):
        return len(self._tok)

    def __getattr__(self, name):
        return getattr(self._tok, name)


def test_prompt_whitespace_is_placed_with_the_tokenizers_offsets(qwen_server, image_for) -> None:
    """The tiny tokenizer decodes tabs, newlines and double spaces as single spaces: a local
    fast tokenizer's offsets place the spans (and the edit keeps the whitespace); without one
    the refusal says what differs and how to fix it."""
    qwen, srv, url = qwen_server
    image = image_for("qwen2_vl", seed=41)
    prompt = "is there\ta  red\ncat ?"
    local = OpenAIScorer("tiny", base_url=url, tokenizer=qwen.tokenizer)
    scorer = local.prepare(image, prompt=prompt, answer="yes")
    feats = scorer.bind_text("words")
    expected = _user_positions(qwen, image, prompt)
    assert [p.tolist() for p in feats.positions] == expected
    assert feats.texts == ["is", "there", "a", "red", "cat", "?"]
    keep = np.ones((1, 6), bool)
    keep[0, 3] = False  # "red"
    srv.sent_prompts.clear()
    got = scorer(image[None], text_keep=keep)
    assert srv.sent_prompts == [f"is there\ta  {feats.baseline_text}\ncat ?"]
    ref = _plain_transformers(
        qwen, image, prompt, scorer.answer_ids, expected[3], feats.baseline_id
    )
    np.testing.assert_allclose(got[0], ref, rtol=RTOL, atol=ATOL)

    server_only = OpenAIScorer("tiny", base_url=url).prepare(image, prompt=prompt, answer="yes")
    with pytest.raises(
        ValueError, match=r"Only the whitespace differs.*Fix: pass OpenAIScorer\(\.\.\., tokenizer="
    ):
        server_only.bind_text("words")
    slow = OpenAIScorer("tiny", base_url=url, tokenizer=_NoOffsets(qwen.tokenizer))
    with pytest.raises(
        ValueError, match=r"Only the whitespace differs.*no character offsets"
    ) as err:
        slow.prepare(image, prompt=prompt, answer="yes").bind_text("words")
    assert "Fix: pass OpenAIScorer(..., tokenizer=" not in str(err.value)
