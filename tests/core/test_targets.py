"""One target resolver everywhere: whole words across tokenizer conventions, occurrences,
phrases, readable split characters, unknown-token warnings, and the same indices through
``explain``, ``Explanation`` methods, ``ek.metrics``, the widgets and the CLI."""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.cli import _parse_targets
from eagle_kit.models.tokens import resolve_targets as reexported
from eagle_kit.targets import (
    TargetError,
    TargetIndexError,
    answer_words,
    parse_targets,
    resolve_recorded_targets,
    resolve_targets,
)

# --------------------------------------------------------------------------- whole words


def test_plain_pieces_are_each_a_word_so_cats_does_not_cross_into_at() -> None:
    tokens = ["a", "cat", "s", "at"]
    with pytest.raises(ValueError) as err:
        resolve_targets("cats", tokens)
    msg = str(err.value)
    assert "'cats' is not a word or phrase of the answer" in msg
    assert "'a' (0), 'cat' (1), 's' (2), 'at' (3)" in msg  # the answer's words, with indices
    assert "token index" in msg  # how to fix
    assert resolve_targets("cat", tokens) == [1]
    assert resolve_targets("cat s", tokens) == [1, 2]  # a phrase of consecutive words


def test_sentencepiece_word_is_never_half_of_a_longer_word() -> None:
    tokens = ["▁red", "dish"]
    with pytest.raises(
        ValueError, match=r"'red' is only part of the word 'reddish' \(tokens 0-1\)"
    ):
        resolve_targets("red", tokens)
    assert resolve_targets("reddish", tokens) == [0, 1]
    assert resolve_targets("Reddish", ["▁a", "▁red", "dish", "▁red", "▁cup"]) == [1, 2]
    assert resolve_targets("red", ["▁a", "▁red", "dish", "▁red", "▁cup"]) == [3]


def test_wordpiece_continuations_join_the_word() -> None:
    assert resolve_targets("cats", ["cat", "##s"]) == [0, 1]
    assert resolve_targets("cats", ["the", "cat", "##s", "sat", "."]) == [1, 2]
    with pytest.raises(ValueError, match="'cat' is only part of the word 'cats'"):
        resolve_targets("cat", ["cat", "##s"])


def test_byte_level_markers_and_decoded_spaces() -> None:
    bl = ["Ġthe", "Ġcat", "s", "Ċ", "Ġsat", "."]
    assert resolve_targets("cats", bl) == [1, 2]
    assert resolve_targets("sat", bl) == [4]
    assert resolve_targets(".", bl) == [5]
    spaced = ["The", " cat", " sat", " on", " the", " ca", "t", "."]
    assert resolve_targets("the", spaced) == [0, 4]  # case-insensitive, every occurrence
    assert resolve_targets("cat", spaced) == [1, 5, 6]  # " ca" + "t" is the word "cat" too
    with pytest.raises(ValueError, match="'ca' is only part of the word 'cat'"):
        resolve_targets("ca", spaced)
    assert resolve_targets("cat.", ["a", " ca", "t", "."]) == [1, 2, 3]  # word + full stop
    # a joined recording spells the answer even with no space in it
    assert resolve_targets("reddish", ["red", "dish"], joined=True) == [0, 1]
    with pytest.raises(ValueError):
        resolve_targets("red", ["red", "dish"], joined=True)


def test_answer_words_report_their_tokens() -> None:
    words = answer_words(["▁the", "▁green", "▁cir", "cle", ","])
    assert [(w.text, w.tokens) for w in words] == [
        ("the", (0,)),
        ("green", (1,)),
        ("circle", (2, 3)),
        (",", (4,)),
    ]


# --------------------------------------------------------------------------- phrases, occurrences


CAPTION = ["the", " picture", " shows", " a", " green", " circle", ",", " a", " green", " square"]


def test_phrases_occurrences_indices_and_mixtures() -> None:
    assert resolve_targets("green", CAPTION) == [4, 8]
    assert resolve_targets("green circle", CAPTION) == [4, 5]
    assert resolve_targets("GREEN  Square", CAPTION) == [8, 9]
    assert resolve_targets(("green", 1), CAPTION) == [8]
    assert resolve_targets(("green", -1), CAPTION) == [8]
    assert resolve_targets(("a green", 0), CAPTION) == [3, 4]
    assert resolve_targets([("green", 0), "square", -1, 0], CAPTION) == [0, 4, 9]
    assert resolve_targets(np.int64(-2), CAPTION) == [8]
    assert resolve_targets(None, CAPTION) is None
    assert reexported is resolve_targets  # models.tokens keeps exporting the one resolver
    # a target the answer does not contain is a TargetError (a ValueError), so a report can
    # tell bad input from a failure
    with pytest.raises(TargetError, match=r"'green' occurs 2 time\(s\).*\[4\], \[8\]"):
        resolve_targets(("green", 2), CAPTION)
    with pytest.raises(TargetError, match="'green triangle' is not a word or phrase"):
        resolve_targets("green triangle", CAPTION)
    assert issubclass(TargetError, ValueError) and issubclass(TargetIndexError, TargetError)


def test_bad_targets_say_what_was_expected() -> None:
    with pytest.raises(TargetIndexError, match=r"out of range.*indices -10\.\.9") as err:
        resolve_targets(10, CAPTION)
    assert isinstance(err.value, ValueError) and isinstance(err.value, IndexError)
    with pytest.raises(ValueError, match="empty"):
        resolve_targets([], CAPTION)
    with pytest.raises(TypeError, match="int index, a word"):
        resolve_targets([1.5], CAPTION)
    with pytest.raises(TypeError, match="int index, a word"):
        resolve_targets(2.0, CAPTION)
    with pytest.raises(ValueError, match="has no word in it"):
        resolve_targets("  ", CAPTION)


def test_unknown_token_targets_warn() -> None:
    tokens = ["the", " picture", " shows", " a", " purple", " circle"]
    with pytest.warns(UserWarning, match=r"'purple' maps to the tokenizer's unknown token"):
        assert resolve_targets("purple", tokens, unknown=[4]) == [4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_targets("circle", tokens, unknown=[4]) == [5]
    attrs = {"unk_token_id": 1, "token_text_joined": 1}
    with pytest.warns(UserWarning, match="unknown token"):
        resolve_recorded_targets("purple", tokens, attrs=attrs, token_ids=[9, 9, 9, 9, 1, 9])


def test_cli_targets_parse_into_the_same_rule() -> None:
    assert _parse_targets(None) is None
    assert _parse_targets("0,-1") == [0, -1]
    assert _parse_targets("circle") == ["circle"]
    assert _parse_targets(" green circle , 3") == ["green circle", 3]
    assert _parse_targets("green@1") == [("green", 1)]
    assert resolve_targets(_parse_targets("0,-1"), CAPTION) == [0, 9]
    assert resolve_targets(_parse_targets("green circle"), CAPTION) == [4, 5]
    assert resolve_targets(_parse_targets("green@1,circle"), CAPTION) == [5, 8]
    with pytest.raises(ValueError, match="names no token"):
        parse_targets(" , ,")


def test_parse_targets_takes_parameters_as_papermill_types_them() -> None:
    # `-p targets 3` arrives as an int, `-p targets "0,-1"` as a str, `-y` as lists
    assert parse_targets(3) == [3] and parse_targets(np.int64(-1)) == [-1]
    assert parse_targets("") is None and parse_targets("  ") is None
    assert resolve_targets(parse_targets("0,-1"), CAPTION) == [0, 9]  # -1: the last token
    assert parse_targets(("green", 1)) == [("green", 1)]
    assert parse_targets(["circle", 0, ["green", 1], "0,-1"]) == ["circle", 0, ("green", 1), 0, -1]
    assert resolve_targets(parse_targets(["circle", ["green", 1]]), CAPTION) == [5, 8]
    for bad in (True, 1.5, {"a": 1}):
        with pytest.raises(TypeError, match="token indices or words"):
            parse_targets(bad)


# --------------------------------------------------------------------------- one rule everywhere


def _plain_explanation(targets):
    image = np.zeros((8, 40, 3), np.uint8) + 200
    regions = ek.segment(image, n_regions=5, method="grid")

    def scorer(batch: np.ndarray) -> np.ndarray:
        cols = batch[:, 0, ::8, 0].astype(float) / 200.0  # 5 columns → 5 visibilities
        tok = np.linspace(0.1, 0.9, len(CAPTION))
        return np.clip(cols.mean(axis=1, keepdims=True) * tok[None], 0, 1)

    return ek.explain(
        scorer,
        image,
        regions=regions,
        search="exact",
        progress=False,
        token_names=CAPTION,
        targets=targets,
    )


@pytest.mark.parametrize(
    "selection",
    ["Circle", "green circle", ("green", 1), ["square", 0], "a green"],
)
def test_explain_and_every_view_resolve_a_selection_alike(selection) -> None:
    from eagle_kit.widgets import TokenTimeline

    expl = _plain_explanation(selection)
    expected = resolve_targets(selection, CAPTION)
    assert expl.targets == expected
    assert expl._token_indices(selection) == expected
    np.testing.assert_array_equal(
        expl.curve("insertion", selection), expl.curve("insertion", expected)
    )
    np.testing.assert_array_equal(expl.attribution_map(selection), expl.attribution_map(expected))
    assert ek.metrics.insertion_auc(expl, tokens=selection) == ek.metrics.insertion_auc(expl)
    timeline = TokenTimeline(expl)
    timeline.select(*(selection if isinstance(selection, list) else [selection]))
    assert timeline.selected == expected


def test_a_word_explain_rejects_is_rejected_by_every_view() -> None:
    from eagle_kit.widgets import TokenTimeline

    expl = _plain_explanation(None)
    with pytest.raises(ValueError, match="'circl' is only part of the word 'circle'"):
        ek.explain(lambda x: np.zeros((len(x), len(CAPTION))), np.zeros((8, 8, 3), np.uint8),
                   regions=ek.segment(np.zeros((8, 8, 3), np.uint8), 2, "grid"),
                   token_names=CAPTION, targets="circl", progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="'circl' is only part of the word 'circle'"):
        expl.attribution_map("circl")
    with pytest.raises(ValueError, match="'circl' is only part of the word 'circle'"):
        ek.metrics.insertion_auc(expl, tokens="circl")
    import traitlets

    with pytest.raises(traitlets.TraitError, match="'circl' is only part of the word 'circle'"):
        TokenTimeline(expl).select("circl")


# --------------------------------------------------------------------------- split characters


SENTENCES = [
    "I love my cat 🙂 and my dog 🐶 .",
    "我喜欢猫 and 日本語 too .",
    "the café is près de la rivière ; naïve résumé .",
    "a red circle and a green square .",
]


@pytest.fixture(scope="module")
def bpe_tokenizer():
    """A real byte-level BPE tokenizer, trained offline on a few sentences with a vocabulary
    small enough that emoji, CJK characters and accented letters stay split into bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<unk>"],
        show_progress=False,
    )
    core.train_from_iterator(SENTENCES * 3, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, clean_up_tokenization_spaces=False)


def _expected_tokens(tok, text: str, word: str) -> list[int]:
    """Independent of the resolver: the tokens whose character offsets overlap the word,
    widened to whole characters (a token holding the last bytes of one character and the
    first of the next fuses them: neither is ever selected by half)."""
    start = text.index(word)
    end = start + len(word)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    hits = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
    s, e = hits[0], hits[-1]
    while "\ufffd" in tok.decode(ids[s : e + 1]):
        piece = tok.decode(ids[s : e + 1])
        s, e = s - piece.startswith("\ufffd"), e + (not piece.startswith("\ufffd"))
    return list(range(s, e + 1))


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        (SENTENCES[0], ["🙂", "🐶"]),
        (SENTENCES[1], ["猫", "日", "語"]),
        (SENTENCES[2], ["café", "près", "rivière", "naïve", "résumé"]),
    ],
)
def test_split_characters_are_readable_and_targetable_through_the_hf_path(
    bpe_tokenizer, text, targets
) -> None:
    from eagle_kit.models.hf import VisionLanguageModel

    ids = bpe_tokenizer(text, add_special_tokens=False)["input_ids"]
    singles = [bpe_tokenizer.decode([i]) for i in ids]
    assert any("\ufffd" in s for s in singles)  # the case exists: some token is half a character
    texts = VisionLanguageModel._token_texts(SimpleNamespace(tokenizer=bpe_tokenizer), ids)
    assert len(texts) == len(ids)
    assert not any("\ufffd" in t for t in texts)
    assert "".join(texts) == bpe_tokenizer.decode(ids) == text
    for i, t in enumerate(texts):  # a continuation piece follows a piece carrying the character
        if t == "":
            assert i > 0 and any(ord(c) > 127 for c in "".join(texts[:i]))
    for word in targets:
        got = resolve_targets(word.upper(), texts)
        assert got == _expected_tokens(bpe_tokenizer, text, word), word
        shown = "".join(texts[i] for i in got)
        assert word in shown and texts[got[0]] != ""  # characters sit on their first piece


def _sentencepiece_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pieces = [("<unk>", 0.0), ("▁a", -1.0), ("▁red", -1.0), ("dish", -1.0), ("▁cup", -1.0)]
    pieces += [("▁", -3.0)] + [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz."]
    core = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    core.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")


def _wordpiece_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "a": 1, "red": 2, "##dish": 3, "cup": 4}
    core = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]")


@pytest.mark.parametrize(
    ("build", "single"),
    [
        (_sentencepiece_tokenizer, ["a", "red", "dish", "cup"]),  # boundaries lost one by one
        (_wordpiece_tokenizer, ["a", "red", "##dish", "cup"]),
    ],
)
def test_recorded_texts_keep_word_boundaries_that_single_token_decoding_loses(
    build, single
) -> None:
    from eagle_kit.models.hf import VisionLanguageModel

    tok = build()
    ids = tok("a reddish cup", add_special_tokens=False)["input_ids"]
    assert [tok.decode([i]) for i in ids] == single
    texts = VisionLanguageModel._token_texts(SimpleNamespace(tokenizer=tok), ids)
    assert texts == ["a", " red", "dish", " cup"]
    assert resolve_targets("reddish", texts) == [1, 2]
    with pytest.raises(ValueError, match="'red' is only part of the word 'reddish'"):
        resolve_targets("red", texts)


def test_continuation_pieces_survive_save_and_load(tmp_path) -> None:
    names = ["I", " like", " 🐶", "", "", " .", " 猫", ""]
    image = np.full((8, 8, 3), 200, np.uint8)
    expl = ek.explain(
        lambda x: np.tile(x.mean(axis=(1, 2, 3))[:, None] / 255, (1, len(names))),
        image,
        regions=ek.segment(image, n_regions=2, method="grid"),
        search="exact",
        progress=False,
        token_names=names,
        targets="🐶",
    )
    assert expl.targets == [2, 3, 4]
    expl.save(tmp_path / "e.nc")
    back = ek.load_explanation(tmp_path / "e.nc")
    assert back.tokens == names
    assert back._token_indices("猫") == [6, 7] and back._token_indices("🐶") == [2, 3, 4]


# --------------------------------------------------------------------------- the embedded model


@pytest.fixture(scope="module")
def shapes_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    return ek.load_model("shapes", device="cpu")


def _shapes_explain(model, scene, **kw):
    return ek.explain(
        model,
        scene.image,
        regions=ek.segment(scene.image, n_regions=8, method="grid"),
        search="exact",
        progress=False,
        prompt=ek.shapes.CAPTION_PROMPT,
        **kw,
    )


def test_embedded_model_explain_map_and_metrics_resolve_square_alike(shapes_model) -> None:
    from eagle_kit.widgets import TokenTimeline

    scene = ek.shapes.make_scene(3, objects=[("blue", "square"), ("yellow", "square")])
    caption = scene.caption
    expl = _shapes_explain(shapes_model, scene, answer=caption, targets="square")
    assert "".join(expl.tokens) == caption  # the recorded texts spell the answer
    expected = [i for i, w in enumerate(caption.split()) if w == "square"]
    assert len(expected) == 2
    assert expl.targets == expected
    assert expl._token_indices("square") == expected
    np.testing.assert_array_equal(expl.attribution_map("square"), expl.attribution_map(expected))
    y = expl.dataset["insertion"].values[:, expected].mean(axis=1)
    auc = float(np.trapezoid(y, expl.dataset["area"].values))
    assert ek.metrics.insertion_auc(expl, tokens="square") == pytest.approx(auc, abs=1e-12)
    timeline = TokenTimeline(expl)
    timeline.select("square")
    assert timeline.selected == expected
    second = _shapes_explain(shapes_model, scene, answer=caption, targets=("square", 1))
    assert second.targets == [expected[1]] == second._token_indices(("square", 1))


def test_embedded_model_warns_for_an_out_of_vocabulary_target(shapes_model) -> None:
    assert "purple" not in ek.shapes.model.vocabulary()
    scene = ek.shapes.make_scene(4, objects=[("red", "circle")])
    answer = "the picture shows a purple circle ."
    with pytest.warns(UserWarning, match=r"'purple' maps to the tokenizer's unknown token"):
        expl = _shapes_explain(shapes_model, scene, answer=answer, targets="purple")
    assert expl.tokens[4] == " purple"  # shown as the word it stands for, not "<unk>"
    assert expl.targets == [4]
    with pytest.warns(UserWarning, match="unknown token"):
        expl.attribution_map("purple")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert expl._token_indices("circle") == [5]


def test_cli_targets_go_through_the_same_resolver(tmp_path, shapes_model) -> None:
    from PIL import Image

    from eagle_kit.cli import main

    scene = ek.shapes.make_scene(3, objects=[("blue", "square"), ("yellow", "square")])
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(scene.image).save(folder / "scene.png")
    words = scene.caption.split()
    squares = [i for i, w in enumerate(words) if w == "square"]
    cases = {
        "0,-1": [0, len(words) - 1],  # indices
        "blue square, square@1": [squares[0] - 1, squares[0], squares[1]],  # phrase, occurrence
    }
    for n, (spec, expected) in enumerate(cases.items()):
        out = tmp_path / f"run{n}"
        args = ["explain", str(folder), "--model", "shapes", "--prompt", ek.shapes.CAPTION_PROMPT]
        args += ["--answer", scene.caption, "--targets", spec, "--n-regions", "4"]
        args += ["--segmentation", "grid", "--search", "exact", "--out", str(out)]
        assert main(args) == 0
        (saved,) = out.rglob("*.nc")
        expl = ek.load_explanation(saved)
        assert expl.targets == expected, spec
        assert expl._token_indices(_parse_targets(spec)) == expected
