"""Binding prompt spans to tokens: automatic spans that share a token are merged, explicit
ones are refused or snapped (with a warning) to the tokens actually replaced; the sentence
splitter's rule; ``messages=`` layouts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import shapes
from eagle_kit.text_regions import (
    SENTENCE_ABBREVIATIONS,
    map_spans,
    resolve_spans,
    text_spans,
)

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image_pad|>"]
DOTS = "What is this...?"


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in text_spans(text, "sentences")]


# -- the sentence splitter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Is it red? Mr. Smith said 3.5. Yes", ["Is it red?", "Mr. Smith said 3.5.", "Yes"]),
        ("Describe the cat. Is it big?  Yes!", ["Describe the cat.", "Is it big?", "Yes!"]),
        (
            "Dr. Who, e.g. here, i.e. there vs. Fig. 2. Done",
            ["Dr. Who, e.g. here, i.e. there vs. Fig. 2.", "Done"],
        ),
        ('He said "stop." Then go', ['He said "stop."', "Then go"]),
        ("a.b.c and v1.2 ok. Next", ["a.b.c and v1.2 ok.", "Next"]),
        ("What is this...? Wow!! ok", ["What is this...?", "Wow!!", "ok"]),
        ("?!.,", ["?!.,"]),
        ("  ... hm. ", ["...", "hm."]),
    ],
)
def test_sentences_end_at_a_terminator_before_whitespace_not_after_abbreviations(text, want):
    assert _sentences(text) == want
    assert {"mr.", "mrs.", "dr.", "e.g.", "i.e.", "etc.", "vs.", "fig."} == SENTENCE_ABBREVIATIONS


def test_spans_remember_whether_the_user_chose_them() -> None:
    assert text_spans("is it", "words").mode == "words"
    assert text_spans("is it", "sentences").mode == "sentences"
    assert text_spans("is it", [(0, 2)]).mode is None


# -- resolve_spans: the rule on offsets alone --------------------------------------------


def test_automatic_spans_sharing_a_token_are_merged_into_one_feature() -> None:
    prompt = "is there ok"
    spans = text_spans(prompt, "words")  # is / there / ok
    # tokens "is t" (shared by "is" and "there"), "here", " ok" (leading space)
    got, owner = resolve_spans([(0, 4), (4, 8), (8, 11)], spans, prompt)
    assert got == [(0, 8), (9, 11)] and got.mode == "words"
    assert owner == [0, 0, 1]
    # deterministic: the same input gives the same features
    assert resolve_spans([(0, 4), (4, 8), (8, 11)], spans, prompt) == (got, owner)


def test_an_automatic_span_with_no_token_joins_its_neighbour() -> None:
    prompt = "ab c"
    spans = text_spans(prompt, "words")  # ab / c
    # the tokenizer gives "c" no characters (an empty range) -> it joins "ab"
    got, owner = resolve_spans([(0, 2), (3, 3)], spans, prompt)
    assert got == [(0, 4)] and owner == [0, -1]
    # the first span joins the next one
    got, owner = resolve_spans([(2, 2), (3, 4)], spans, prompt)
    assert got == [(0, 4)] and owner == [-1, 0]


def test_explicit_spans_sharing_a_token_are_refused() -> None:
    prompt = "is there"
    with pytest.raises(ValueError, match=r"share the token 'there'.*Merge these spans"):
        resolve_spans([(0, 2), (3, 8)], text_spans(prompt, [(3, 5), (6, 8)]), prompt)
    with pytest.raises(ValueError, match=r"cover no token.*'words'/'sentences'"):
        resolve_spans([(0, 2), (3, 3)], text_spans(prompt, [(3, 8)]), prompt)


def test_an_explicit_span_inside_a_token_is_snapped_and_warned() -> None:
    prompt = "is there"
    with pytest.warns(UserWarning, match=r"\(7, 8\) 'e' was widened to \(3, 8\) 'there'"):
        got, owner = resolve_spans([(0, 2), (2, 8)], text_spans(prompt, [(7, 8)]), prompt)
    # the token " there" carries a leading space: it is not added to the recorded span
    assert got == [(3, 8)] and owner == [-1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a span on token borders does not warn
        assert resolve_spans([(0, 2), (2, 8)], text_spans(prompt, [(3, 8)]), prompt)[0] == [(3, 8)]


# -- a BPE tokenizer that keeps "...?" as one token --------------------------------------


def _bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator([DOTS, "wait... what is this", "is it red?!"] * 20, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<|endoftext|>", additional_special_tokens=SPECIAL[1:]
    )


def _bind(tok, spans):
    chat = f"<|im_start|>user\n<|image_pad|>{DOTS}<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(chat, add_special_tokens=False)["input_ids"]
    return map_spans(tokenizer=tok, chat_text=chat, prompt=DOTS, spans=spans, input_ids=ids), ids


def test_bpe_words_merge_the_dots_the_tokenizer_keeps_as_one_token() -> None:
    tok = _bpe()
    enc = tok(DOTS, add_special_tokens=False, return_offsets_mapping=True)
    pieces = [DOTS[a:b] for a, b in enc["offset_mapping"]]
    assert "...?" in pieces  # the premise: one BPE token for four "words"
    assert len(text_spans(DOTS, "words")) == 7  # What / is / this / . / . / . / ?
    feats, ids = _bind(tok, text_spans(DOTS, "words"))
    # independently: each prompt token is one feature, its characters without the spaces
    want = [(a + len(DOTS[a:b]) - len(DOTS[a:b].lstrip()), b) for a, b in enc["offset_mapping"]]
    assert feats.spans == want == [(0, 4), (5, 7), (8, 12), (12, 16)]
    assert feats.texts == ["What", "is", "this", "...?"]
    first = ids.index(tok.convert_tokens_to_ids("<|image_pad|>")) + 1
    assert [p.tolist() for p in feats.positions] == [[first + k] for k in range(4)]
    # sentences: one feature; an explicit span on a dot is widened, two dots refused
    assert _bind(tok, text_spans(DOTS, "sentences"))[0].spans == [(0, 16)]
    with pytest.warns(UserWarning, match=r"\(12, 13\) '\.' was widened to \(12, 16\) '\.\.\.\?'"):
        assert _bind(tok, text_spans(DOTS, [(12, 13)]))[0].texts == ["...?"]
    with pytest.raises(ValueError, match=r"share the token '\.\.\.\?'"):
        _bind(tok, text_spans(DOTS, [(12, 13), (13, 14)]))


def test_the_api_scorers_offsets_bind_the_same_merged_features() -> None:
    """The OpenAI-compatible scorer reads offsets off the server's token ids (decoded, with
    their leading spaces) and binds them with the same rule: the same features, positions."""
    from eagle_kit.models.api import _prompt_offsets

    tok = _bpe()
    for mode in ("words", "sentences"):
        spans = text_spans(DOTS, mode)
        feats, ids = _bind(tok, spans)

        def encode(text):
            return tok(text, add_special_tokens=False)["input_ids"]

        window, offsets = _prompt_offsets([None, *ids[1:]], len(ids), DOTS, encode, tok.decode)
        got, owner = resolve_spans(offsets, spans, DOTS)
        assert got == feats.spans
        positions = [[window[k] for k, o in enumerate(owner) if o == j] for j in range(len(got))]
        assert positions == [p.tolist() for p in feats.positions]


# -- the embedded model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return ek.load_model("shapes")


@pytest.fixture(scope="module")
def image():
    return shapes.make_scene(3).image


def _explain(model, image, prompt, text_regions, **kw):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the image moves the targets")
        return ek.explain(
            model,
            image,
            prompt=prompt,
            answer="yes",
            regions="none",
            text_regions=text_regions,
            **kw,
        )


@pytest.mark.parametrize("mode", ["words", "sentences"])
@pytest.mark.parametrize(
    "prompt", ["is there a yellow circle ? <b>x</b> $\\alpha$", "?!.,", "is it this...? Mr. X"]
)
def test_embedded_model_features_are_whole_tokens_in_both_modes(model, image, prompt, mode):
    expl = _explain(model, image, prompt, mode)
    got = [(a, b) for _, a, b in expl.text_spans]
    enc = model.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    tokens = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
    # every token lies inside exactly one feature, every feature is a union of whole tokens
    for a, b in tokens:
        assert sum(s <= a and b <= e for s, e in got) == 1, (a, b, got)
    for s, e in got:
        assert s == min(a for a, b in tokens if s <= a and b <= e)
        assert e == max(b for a, b in tokens if s <= a and b <= e)
    if mode == "words":  # this tokenizer splits at whitespace: a feature per token
        assert got == tokens
    assert [t for t, _, _ in expl.text_spans] == [prompt[a:b] for a, b in got]


def test_embedded_model_span_inside_a_token_records_what_is_removed(model, image) -> None:
    q = "is there a red triangle ?"
    whole = _explain(model, image, q, [(0, 2), (3, 8)])
    for spans, want in (([(7, 8)], [("there", 3, 8)]), ([(1, 4)], [("is there", 0, 8)])):
        with pytest.warns(UserWarning, match="was widened to"):
            expl = _explain(model, image, q, spans)
        assert expl.text_spans == want
        ds = expl.dataset
        assert list(ds["region_text"].values) == [w[0] for w in want]
        assert list(ds["region_start"].values) == [w[1] for w in want]
        assert list(ds["region_end"].values) == [w[2] for w in want]
    # snapping only renames: the tokens replaced — hence the probabilities — are those of the
    # spans on token borders ("there" alone vs "is" + "there" together)
    there = _explain(model, image, q, [(3, 8)])
    with pytest.warns(UserWarning):
        inside = _explain(model, image, q, [(7, 8)])
    for name in ("p_full", "p_no_prompt", "p_no_image", "p_neither"):
        np.testing.assert_allclose(inside.dataset[name].values, there.dataset[name].values)
    with pytest.warns(UserWarning):
        both = _explain(model, image, q, [(1, 4)])
    np.testing.assert_allclose(
        both.dataset["p_no_prompt"].values, whole.dataset["p_no_prompt"].values
    )
    with pytest.raises(ValueError, match="share the token 'there'"):
        _explain(model, image, q, [(3, 5), (6, 8)])


def test_messages_with_the_text_before_the_image(model, image) -> None:
    q = "is there a red triangle ?"
    msgs = [{"role": "user", "content": [{"type": "text", "text": q}, {"type": "image"}]}]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the image moves the targets")
        expl = ek.explain(
            model, image, messages=msgs, answer="yes", regions="none", text_regions="words"
        )
    assert expl.text_spans == [
        (w, q.index(w), q.index(w) + len(w)) for w in ("is", "there", "a", "red", "triangle", "?")
    ]
    # the chat text really has the prompt before the image
    chat = expl.dataset.attrs["chat_text"]
    assert chat.index(q) < chat.index("<image>")
    two = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "is there"},
                {"type": "image"},
                {"type": "text", "text": "a red triangle ?"},
            ],
        }
    ]
    # several text items: the spans index the items joined by a space (here q again); each
    # word's tokens are found in its own item, around the image
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the image moves the targets")
        split = ek.explain(
            model, image, messages=two, answer="yes", regions="none", text_regions="words"
        )
    assert split.dataset.attrs["prompt"] == q
    assert split.text_spans == expl.text_spans
    chat = split.dataset.attrs["chat_text"]
    assert chat.index("is there") < chat.index("<image>") < chat.index("a red triangle ?")
    # "is", "there" sit before the image tokens, "a", "red", "triangle", "?" after them
    scorer = model.prepare(image, messages=two, answer="yes")
    feats = scorer.bind_text("words")
    ids = scorer._text["input_ids"][0].tolist()
    image_at = ids.index(model.image_token_id)
    assert all(p < image_at for p in np.concatenate(feats.positions[:2]))
    assert all(p > image_at for p in np.concatenate(feats.positions[2:]))


@pytest.mark.parametrize("prompt", ["is", "a", "image"])
def test_a_short_prompt_is_never_matched_inside_template_text(model, image, prompt) -> None:
    # the chat text is "<s><user> <image> {prompt} <assistant> ": "is" and "a" also occur
    # inside "<assistant>", "image" inside "<image>"; the features must be the user's own
    # tokens, never a template token (a search for the last "is" found "<assistant>")
    scorer = model.prepare(image, prompt=prompt, answer="yes")
    feats = scorer.bind_text("words")
    ids = scorer._text["input_ids"][0].tolist()
    (positions,) = feats.positions
    assert [model.tokenizer.decode([ids[p]]).strip() for p in positions] == [prompt]
    image_at = ids.index(model.image_token_id)
    assert all(p > image_at for p in positions)  # after the image, where the prompt is


def test_text_items_that_also_occur_in_the_template_map_to_their_own_tokens(model, image) -> None:
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "image"},
                {"type": "image"},
                {"type": "text", "text": "is there a yellow square ?"},
            ],
        }
    ]
    scorer = model.prepare(image, messages=msgs, answer="yes")
    feats = scorer.bind_text("words")
    words = ["image", "is", "there", "a", "yellow", "square", "?"]
    assert feats.texts == words
    ids = scorer._text["input_ids"][0].tolist()
    got = [[model.tokenizer.decode([ids[p]]).strip() for p in ps] for ps in feats.positions]
    assert got == [[w] for w in words]
