"""Targets: which answer tokens a user means, resolved by one rule everywhere.

Every place that accepts a token selection — :func:`eagle_kit.explain` (``targets=``), the
model scorers' ``prepare``, every :class:`~eagle_kit.Explanation` method that takes
``tokens`` (curves, region values, maps, overlays), :mod:`eagle_kit.metrics`, the widgets'
``select`` and the CLI's ``--targets`` — calls :func:`resolve_targets` (through
:func:`resolve_recorded_targets` where an explanation's attributes are at hand). A word
that one of them accepts is accepted by all, and selects the same tokens.

The rule (also in the README, section "Targets"):

* ``None`` — every answer token (the caller's default).
* An ``int`` — a token index; negative counts from the end.
* A ``str`` — a whole word, or a phrase of consecutive words (``"green circle"``), matched
  case-insensitively; it selects every token of every occurrence. A word never matches part
  of a longer word: in "reddish" (``["▁red", "dish"]``) there is no word "red".
* A tuple ``(str, k)`` — only the ``k``-th occurrence (0-based, negative from the end).
* A list (or other iterable) mixing these; the union is returned, sorted.

Words are read from the token texts. Sub-word conventions are recognised: SentencePiece
(``"▁"`` starts a word), byte-level BPE (``"Ġ"`` a space, ``"Ċ"`` a newline), WordPiece
(``"##"`` continues a word), decoded pieces whose leading space starts a word, and plain
pieces with no marker or space at all (a word-level tokenizer: each token is its own word).
When the texts are known to spell the answer (``joined=True``, as recorded by the model
scorers), the words are those of that text even without any space. Inside a text, a word is
a run of letters and digits (with inner apostrophes); every other visible character
(punctuation, a symbol, an emoji with its modifiers) and every CJK ideograph or kana is a
word of its own. A token with empty text (the continuation of a character split over
several tokens, see :func:`token_texts`) belongs to the word before it.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "TargetIndexError",
    "Word",
    "answer_words",
    "fold_case",
    "normalize_token",
    "parse_targets",
    "resolve_recorded_targets",
    "resolve_targets",
    "token_texts",
]

_MARKERS = ("▁", "Ġ", "Ċ", "##")
_JOINERS = {
    "\u200d",
    "\ufe0e",
    "\ufe0f",
    "\u20e3",
}  # zero-width joiner, variation selectors, keycap


class TargetError(InputError):
    """A target that does not fit the answer: a word or phrase it does not contain, an
    occurrence past its last one, an index out of range. An
    :class:`eagle_kit.errors.InputError` (a ``ValueError``), so that callers
    (``eagle-kit report``'s exit code 2) can tell bad input from a failure."""


class TargetIndexError(TargetError, IndexError):
    """A target index outside the answer (a :class:`TargetError` and, as before, an
    ``IndexError``)."""


@dataclass(frozen=True)
class Word:
    """One word of an answer.

    Attributes:
        text: the word as it reads in the answer.
        tokens: indices of the tokens that carry it (consecutive, at least one).
    """

    text: str
    tokens: tuple[int, ...]
    pieces: tuple[str, ...]  # case-folded units matched against a target's units

    @property
    def span(self) -> str:
        """The token indices as text: ``"3"`` or ``"3-4"``."""
        first, last = self.tokens[0], self.tokens[-1]
        return str(first) if first == last else f"{first}-{last}"

    def label(self) -> str:
        return f"{self.text!r} ({self.span})"


def normalize_token(text: str) -> str:
    """A token's text without surrounding space or sub-word markers, case-folded
    (:func:`fold_case`)."""
    text = text.strip()
    for marker in _MARKERS:
        if text.startswith(marker):
            text = text[len(marker) :]
    return fold_case(text.strip())


# ----------------------------------------------------------------------------- splitting


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
    )


def _kind(c: str) -> str:
    if c.isspace():
        return "space"
    if c in _JOINERS or unicodedata.category(c)[0] == "M" or 0x1F3FB <= ord(c) <= 0x1F3FF:
        return "join"  # combining accent, emoji modifier, ZWJ: part of the character before
    if _is_cjk(c):
        return "single"
    if c.isalnum() or c == "_":
        return "word"
    if c in "'’":
        return "apostrophe"
    return "single"


def _split(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` (see the module docstring for the rule)."""
    spans: list[list[int]] = []
    kind = ""  # kind of the open span ("" = none open)
    glue = False  # the previous character was a zero-width joiner
    for i, c in enumerate(text):
        k = _kind(c)
        if k == "space":
            kind, glue = "", False
            continue
        if kind and (glue or k == "join"):
            spans[-1][1] = i + 1
            glue = c == "\u200d"
            continue
        glue = False
        if k == "word" and kind == "word":
            spans[-1][1] = i + 1
        elif (
            k == "apostrophe"
            and kind == "word"
            and i + 1 < len(text)
            and _kind(text[i + 1]) == "word"
        ):
            spans[-1][1] = i + 1
        elif (
            kind == "single"
            and _regional(c)
            and spans[-1][1] - spans[-1][0] == 1
            and _regional(text[spans[-1][0]])
        ):
            spans[-1][1] = i + 1  # a flag: two regional indicators
            kind = "flag"
        else:
            spans.append([i, i + 1])
            kind = "word" if k == "word" else "single"
            glue = c == "\u200d"
    return [(a, b) for a, b in spans]


def _regional(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def fold_case(text: str) -> str:
    """``text`` for case-insensitive comparison: Unicode case folding (``str.casefold``) of
    the NFC form, then the combining dot above (U+0307) dropped after ``i``/``j``.

    Folding alone maps the Turkish capital ``"İ"`` to ``"i"`` + U+0307, so ``"İstanbul"``
    would not match ``"istanbul"``; ``i`` and ``j`` are soft-dotted (Unicode), so the extra
    dot adds nothing and is dropped: both fold to ``"istanbul"``. ``"ß"`` folds to ``"ss"``.

    Example:
        >>> fold_case("İstanbul") == fold_case("ISTANBUL") == "istanbul"
        True
    """
    folded = unicodedata.normalize("NFC", text).casefold()
    return unicodedata.normalize("NFC", _SOFT_DOT.sub("", unicodedata.normalize("NFD", folded)))


_SOFT_DOT = re.compile("(?<=[ij])\u0307")
_fold = fold_case


def _units(text: str) -> tuple[str, ...]:
    """The case-folded words of a target or a plain token."""
    text = unicodedata.normalize("NFC", text)
    return tuple(_fold(text[a:b]) for a, b in _split(text))


# ----------------------------------------------------------------------------- words


def _convention(tokens: Sequence[str]) -> dict[str, bool]:
    return {
        "sentencepiece": any(t.startswith("▁") for t in tokens),
        "bytelevel": any(t.startswith(("Ġ", "Ċ")) for t in tokens),
        "wordpiece": any(t.startswith("##") and len(t) > 2 for t in tokens),
        "spaced": any(t[:1].isspace() for t in tokens),
    }


def answer_words(tokens: Sequence[str], *, joined: bool | None = None) -> list[Word]:
    """The words of an answer given as token texts, each with the tokens that carry it.

    Args:
        tokens: the text of each answer token (``T`` strings).
        joined: ``True`` when the texts concatenate to the answer (the model scorers record
            them so): the words are those of that text. ``False``: each token is its own
            word (column names of a plain scorer). ``None`` (default): text mode when any
            token carries a sub-word marker or a leading space, else each token its own word.

    Returns:
        The words in answer order. Tokens that are only whitespace belong to none.
    """
    tokens = [str(t) for t in tokens]
    conv = _convention(tokens)
    text_mode = joined if joined is not None else any(conv.values())
    if not text_mode:
        return _plain_words(tokens)
    segments: list[str] = []
    for i, t in enumerate(tokens):
        s = t
        if conv["sentencepiece"]:
            s = s.replace("▁", " ")
        if conv["bytelevel"]:
            s = s.replace("Ġ", " ").replace("Ċ", "\n").replace("ĉ", "\t")
        if conv["wordpiece"]:
            s = s[2:] if s.startswith("##") and len(s) > 2 else (" " + s if i else s)
        segments.append(s)
    starts = np.cumsum([0] + [len(s) for s in segments])
    text = "".join(segments)
    owner = np.empty(len(text), dtype=np.int64)
    for i in range(len(segments)):
        owner[starts[i] : starts[i + 1]] = i
    words: list[Word] = []
    for a, b in _split(text):
        first, last = int(owner[a]), int(owner[b - 1])
        while last + 1 < len(tokens) and segments[last + 1] == "":
            last += 1  # continuation pieces of a split character
        words.append(Word(text[a:b], tuple(range(first, last + 1)), (_fold(text[a:b]),)))
    return words


def _plain_words(tokens: Sequence[str]) -> list[Word]:
    words: list[Word] = []
    for i, t in enumerate(tokens):
        if t == "" and words and words[-1].tokens[-1] == i - 1:
            w = words[-1]
            words[-1] = Word(w.text, (*w.tokens, i), w.pieces)
            continue
        shown = t.strip()
        for marker in _MARKERS:
            if shown.startswith(marker):
                shown = shown[len(marker) :].strip()
        pieces = _units(shown)
        if pieces:
            words.append(Word(shown, (i,), pieces))
    return words


def _target_units(word: str) -> tuple[str, ...]:
    text = word.replace("▁", " ").replace("Ġ", " ").replace("Ċ", "\n").strip()
    if text.startswith("##"):
        text = text[2:]
    return _units(text)


def _occurrences(units: tuple[str, ...], words: Sequence[Word]) -> list[tuple[int, ...]]:
    """Token indices of each run of consecutive words that spells ``units``."""
    found: list[tuple[int, ...]] = []
    for start in range(len(words)):
        got: list[str] = []
        end = start
        while end < len(words) and len(got) < len(units):
            got.extend(words[end].pieces)
            end += 1
            if tuple(got) == units:
                found.append(tuple(t for w in words[start:end] for t in w.tokens))
                break
            if tuple(got) != units[: len(got)]:
                break
    return found


def _listing(words: Sequence[Word]) -> str:
    return ", ".join(w.label() for w in words) if words else "(none)"


def _not_found(item: str, words: Sequence[Word], n: int) -> TargetError:
    key = _fold(item.strip())
    partial = [w for w in words if key and key in _fold(w.text) and _fold(w.text) != key]
    hint = (
        f" {item!r} is only part of the word {partial[0].text!r} (tokens "
        f"{partial[0].span}); targets select whole words."
        if partial
        else ""
    )
    return TargetError(
        f"Target {item!r} is not a word or phrase of the answer.{hint} The answer's words "
        f"(token indices) are: {_listing(words)}. Pass one of these words, a phrase of "
        f"consecutive words (e.g. 'green circle'), (word, k) for its k-th occurrence, or a "
        f"token index in {-n}..{n - 1}."
    )


# ----------------------------------------------------------------------------- resolving


def resolve_targets(
    targets: Any,
    tokens: Sequence[str],
    *,
    joined: bool | None = None,
    unknown: Iterable[int] = (),
) -> list[int] | None:
    """Turn a user's ``targets`` into indices into the answer's tokens.

    The rule, shared by ``explain``, every :class:`~eagle_kit.Explanation` method taking
    ``tokens``, :mod:`eagle_kit.metrics`, the widgets and the CLI:

    * ``None`` — every token (returned as ``None``).
    * ``int`` — a token index; negative counts from the end.
    * ``str`` — a whole word or a phrase of consecutive words, case-insensitive (Unicode
      case folding, :func:`fold_case`: ``"istanbul"`` matches ``"İstanbul"``); every
      occurrence. A word never matches part of a longer word, across tokenizer conventions
      (SentencePiece ``"▁"``, byte-level ``"Ġ"``/``"Ċ"``, WordPiece ``"##"``, leading
      spaces, or plain word-level pieces where each token is a word). Characters split
      over several tokens (recorded as the character, then empty continuation pieces)
      are targeted as the text they form.
    * ``(str, k)`` — only the ``k``-th occurrence of that word or phrase (0-based).
    * a list mixing these (the union).

    Args:
        targets: see above.
        tokens: the text of each answer token (``T`` strings).
        joined: whether the token texts concatenate to the answer; see :func:`answer_words`.
        unknown: indices of tokens that are the tokenizer's unknown token; a word target
            that selects one of them gets a ``UserWarning``.

    Returns:
        Sorted unique indices in ``0..T-1``, or ``None`` for every token.

    Raises:
        ValueError: an empty selection, a word or phrase the answer does not contain, or an
            occurrence that does not exist (the message lists the answer's words and the
            token indices carrying them). An index out of range raises
            :class:`TargetIndexError` (a ``ValueError`` and an ``IndexError``).
        TypeError: an item that is neither an int, a str nor a ``(str, int)`` pair; ``bytes``
            or a ``dict`` as ``targets``.

    Example:
        >>> resolve_targets("cats", [" the", " cat", "s", " sat"])
        [1, 2]
        >>> resolve_targets(("cat", 1), ["a", " cat", " and", " a", " cat"])
        [4]
    """
    if targets is None:
        return None
    if isinstance(targets, (bytes, bytearray, Mapping)):
        hint = " Decode bytes first: targets.decode()." if not isinstance(targets, Mapping) else ""
        raise TypeError(
            f"targets must be None, an int index, a word (str), a (word, k) pair, or a list of "
            f"them; got {type(targets).__name__} ({targets!r}).{hint}"
        )
    tokens = [str(t) for t in tokens]
    n = len(tokens)
    if isinstance(targets, (str, int, np.integer)) or _is_occurrence(targets):
        items = [targets]
    else:
        try:
            items = list(targets)
        except TypeError:
            raise TypeError(
                f"targets must be None, an int index, a word, a (word, k) pair, or a list of "
                f"them; got {type(targets).__name__} ({targets!r})."
            ) from None
    if not items:
        raise ValueError("targets is empty; pass None for every answer token, or indices/words.")
    unknown = {int(i) % n for i in unknown} if n else set()
    words: list[Word] | None = None
    out: set[int] = set()
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            idx = int(item)
            if not -n <= idx < n:
                raise TargetIndexError(
                    f"Target index {idx} is out of range for an answer of {n} tokens (indices "
                    f"{-n}..{n - 1}). Use an index in that range, or a word."
                    if n
                    else f"Target index {idx} is out of range: the answer has no tokens."
                )
            out.add(idx % n)
            continue
        if isinstance(item, str):
            word, occurrence = item, None
        elif _is_occurrence(item):
            word, occurrence = item[0], int(item[1])
        else:
            raise TypeError(
                f"A target must be an int index, a word (str) or a (word, k) pair; got "
                f"{type(item).__name__} ({item!r})."
            )
        if words is None:
            words = answer_words(tokens, joined=joined)
        units = _target_units(word)
        if not units:
            raise ValueError(
                f"Target {word!r} has no word in it. The answer's words (token indices) are: "
                f"{_listing(words)}."
            )
        hits = _occurrences(units, words)
        if not hits:
            raise _not_found(word, words, n)
        if occurrence is not None:
            if not -len(hits) <= occurrence < len(hits):
                raise TargetError(
                    f"Target {item!r}: {word!r} occurs {len(hits)} time(s) in the answer "
                    f"(occurrences 0..{len(hits) - 1}, at tokens "
                    f"{', '.join(str(list(h)) for h in hits)}). Pick one of these."
                )
            hits = [hits[occurrence]]
        chosen = sorted({t for h in hits for t in h})
        bad = [t for t in chosen if t in unknown]
        if bad:
            warnings.warn(
                f"Target {word!r} maps to the tokenizer's unknown token (token(s) {bad}): the "
                f"model has no such word, so the probability read there is the unknown "
                f"token's, shared by every out-of-vocabulary word.",
                UserWarning,
                stacklevel=2,
            )
        out.update(chosen)
    return sorted(out)


def _is_occurrence(item: Any) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], (int, np.integer))
        and not isinstance(item[1], bool)
    )


def resolve_recorded_targets(
    targets: Any,
    tokens: Sequence[str],
    *,
    attrs: Mapping[str, Any] | None = None,
    token_ids: Sequence[int] | None = None,
) -> list[int] | None:
    """:func:`resolve_targets` for recorded tokens, reading how they were recorded.

    Args:
        targets: as for :func:`resolve_targets`.
        tokens: the recorded token texts.
        attrs: the explanation's (or prepared scorer's) attributes: ``token_text_joined``
            (1 when the texts spell the answer) and ``unk_token_id``.
        token_ids: the recorded token ids (``-1`` where unknown), to find unknown tokens.
    """
    attrs = attrs or {}
    joined = bool(int(attrs["token_text_joined"])) if "token_text_joined" in attrs else None
    unk = attrs.get("unk_token_id")
    unknown: list[int] = []
    if unk is not None and token_ids is not None and int(unk) >= 0:
        unknown = [i for i, t in enumerate(token_ids) if int(t) == int(unk)]
    return resolve_targets(targets, tokens, joined=joined, unknown=unknown)


def parse_targets(text: Any) -> list[int | str | tuple[str, int]] | None:
    """Parse a command-line ``--targets`` value into a target list for :func:`resolve_targets`.

    Comma-separated items: an integer is a token index (``"0,-1"``), ``word@k`` the
    ``k``-th occurrence of a word or phrase, anything else a word or phrase
    (``"green circle"``).

    A value written as a list — JSON or YAML flow syntax, ``"[0, 1]"``, ``'["green circle",
    -1]'``, ``"[circle, square]"``, ``'[["circle", 1]]'`` — is read as that list (a bracketed
    word meant literally, such as ``[CLS]``, is written ``[CLS]@0``).

    Values that arrive already typed (a papermill ``-p targets 3`` is an ``int``, ``-y``
    gives lists) are accepted too: an ``int`` is one index, a tuple ``(word, k)`` one
    occurrence, a list the union of its items (strings as above; an inner ``[word, k]``
    pair, as YAML writes a tuple, an occurrence), and ``None`` or a blank string means
    "no selection" (``None``).

    Raises:
        ValueError: when nothing but commas and spaces is given.
        TypeError: a value that names no token (a bool, a float, a dict …).
    """
    if text is None:
        return None
    if isinstance(text, (bool, np.bool_)) or not isinstance(
        text, (str, int, np.integer, list, tuple)
    ):
        raise TypeError(
            f"targets must be token indices or words, e.g. 3, '0,-1', 'green circle' or "
            f"['circle', 0]; got {type(text).__name__} {text!r}."
        )
    if isinstance(text, (int, np.integer)):
        return [int(text)]
    if isinstance(text, (list, tuple)):
        if isinstance(text, tuple) and len(text) == 2 and isinstance(text[0], str):
            if _is_int(text[1]):
                return [(text[0], int(text[1]))]  # one occurrence: ("circle", 1)
        items: list[int | str | tuple[str, int]] = []
        for item in text:
            if isinstance(item, (list, tuple)) and len(item) == 2 and _is_int(item[1]):
                items.append((str(item[0]), int(item[1])))
            else:
                items.extend(parse_targets(item) or [])
        return items or None
    if not text.strip():
        return None
    listed = _list_syntax(text)
    if listed is not None:
        return parse_targets(listed)
    out: list[int | str | tuple[str, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        head, sep, tail = part.rpartition("@")
        if part.lstrip("-").isdigit() and part not in ("-",):
            out.append(int(part))
        elif sep and head.strip() and tail.strip().lstrip("-").isdigit():
            out.append((head.strip(), int(tail)))
        else:
            out.append(part)
    if not out:
        raise ValueError(
            f"--targets {text!r} names no token: pass indices ('0,-1'), words ('circle'), "
            f"phrases ('green circle') or word@k for the k-th occurrence, comma-separated."
        )
    return out


def _list_syntax(text: str) -> list[Any] | None:
    """``text`` read as a JSON (else YAML flow) list when it is written as one
    (``"[0, 1]"``, ``"[circle, square]"``), else None."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        return None
    import json

    try:
        value = json.loads(body)
    except ValueError:
        try:
            import yaml
        except ImportError:  # pragma: no cover - PyYAML comes with papermill and jupyter
            return None
        try:
            value = yaml.safe_load(body)
        except yaml.YAMLError:
            return None
    return value if isinstance(value, list) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# ----------------------------------------------------------------------------- token texts


def token_texts(ids: Sequence[int], decode: Callable[[list[int]], str]) -> list[str]:
    """The text each token adds to the decoded answer, readable for split characters.

    Each token's text is what decoding it adds after the tokens before it, so leading
    spaces (word starts) are kept in every tokenizer family and ``"".join(texts)`` is the
    decoded answer. A character whose bytes are split over several tokens (CJK, emoji,
    accented letters under byte-level BPE) is never shown as ``"\\ufffd"``: the whole
    character goes on its first token and the continuation tokens get ``""``.

    Args:
        ids: token ids (``T``).
        decode: decodes a list of ids to text (e.g. ``tokenizer.decode``).

    Returns:
        ``T`` strings.
    """
    ids = [int(i) for i in ids]
    texts: list[str] = []
    done = ""  # decoded text of ids[:i], complete characters only
    i = 0
    while i < len(ids):
        j = i
        full = decode(ids[: j + 1])
        while full.endswith("\ufffd") and j + 1 < len(ids):
            j += 1  # the character is not complete yet: take the next token too
            full = decode(ids[: j + 1])
        if full.startswith(done):
            added = full[len(done) :]
        else:  # a decoder that rewrites earlier text: fall back to this group alone
            added = decode(ids[i : j + 1])
        texts.append(added)
        texts.extend([""] * (j - i))
        done = full
        i = j + 1
    return texts
