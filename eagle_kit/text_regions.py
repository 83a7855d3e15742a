"""Prompt spans as EAGLE features: the text beside the image regions, under one objective.

A *text feature* is a span of the prompt's characters (a word, a sentence, or any
``(start, end)`` range the user gives). It maps to the prompt tokens it overlaps, through the
tokenizer's character offsets in the chat-formatted text; tokens of the chat template
(role markers, image placeholders, the generation prompt) are never features.

**Removing a span** replaces each of its tokens by one neutral *baseline* token, in place:
the sequence length, every position, the attention mask (kept at 1) and the answer positions
are unchanged, so teacher forcing reads the same answer positions as for the full input.
The default baseline is the tokenizer's pad token, else its unknown token; ``text_baseline=``
takes another token (an id, or a text that is exactly one token). Through an
OpenAI-compatible server (:class:`eagle_kit.OpenAIScorer`, prompt-logprobs mode) the prompt is
text: a removed token's characters are replaced by the baseline token's text, and the
server's reported token ids are checked to be exactly the in-place replacement (see
:mod:`eagle_kit.models.api`).

Caveats, stated here and in the README: a pad token is out of distribution for models that
never saw it in the middle of a text (their attention masks normally hide it); the unknown
token is rare in training for byte-level tokenizers. Neither is "no information" for every
model — the same caveat as a black fill for image regions. Compare baselines when a
conclusion depends on it.

Feature ids: image regions first (``0 … N_image − 1``), then the spans in the order given
(``N_image … N_image + N_text − 1``). The search sees only indices, never the kind.

The three-way reading of each recorded token (see :func:`reliance_split`) needs four
probabilities: with everything, without the image (every image region removed), without the
prompt spans (every span removed), and without both.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "TEXT_REGION_MODES",
    "TextFeatures",
    "SENTENCE_ABBREVIATIONS",
    "SpanList",
    "text_spans",
    "map_spans",
    "resolve_spans",
    "reliance_split",
]

#: The named ways of splitting a prompt: ``"words"`` (runs of letters/digits, and each
#: punctuation mark on its own) and ``"sentences"`` (see :func:`text_spans` for the rule).
TEXT_REGION_MODES: tuple[str, ...] = ("words", "sentences")

#: Abbreviations whose full stop does not end a sentence (compared case-insensitively, with
#: any opening bracket or quote before them removed).
SENTENCE_ABBREVIATIONS: frozenset[str] = frozenset(
    {"mr.", "mrs.", "dr.", "e.g.", "i.e.", "etc.", "vs.", "fig."}
)

_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
# a run of sentence terminators, the closing quotes/brackets after it, then whitespace or the end
_SENTENCE_END = re.compile(r"[.!?]+[\"'’”)\]]*(?=\s|$)")


class SpanList(list):
    """The spans of :func:`text_spans`: a list of ``(start, end)`` pairs that remembers how
    they were made. ``mode`` is ``"words"`` or ``"sentences"`` for automatic spans (spans
    that share a token are then merged when bound to a tokenizer, see :func:`resolve_spans`)
    and ``None`` for the user's explicit spans (refused instead)."""

    mode: str | None = None


def _sentences(prompt: str) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(prompt):
        if m.group().rstrip("\"'’”)]") == ".":
            word = prompt[start : m.start() + 1].split()[-1].lstrip("\"'‘“([").lower()
            if word in SENTENCE_ABBREVIATIONS:
                continue
        bounds.append((start, m.end()))
        start = m.end()
    bounds.append((start, len(prompt)))
    out = []
    for a, b in bounds:  # without the whitespace around each sentence
        text = prompt[a:b]
        if text.strip():
            out.append((a + len(text) - len(text.lstrip()), b - len(text) + len(text.rstrip())))
    return out


def text_spans(prompt: str, text_regions: Any) -> list[tuple[int, int]]:
    """The prompt spans ``[(start, end), …]`` (character offsets, ``end`` exclusive).

    ``"words"``: runs of letters/digits (with inner ``'``, ``’`` or ``-``) and each other
    non-blank character on its own. ``"sentences"``: a sentence ends after a run of ``.``,
    ``!`` or ``?`` (and any closing quotes or brackets right after it) that is followed by
    whitespace or the end of the prompt — so ``3.5``, ``a.m.b`` or ``...?`` inside a word do
    not end one — except a single ``.`` ending one of :data:`SENTENCE_ABBREVIATIONS`
    (``Mr.``, ``Mrs.``, ``Dr.``, ``e.g.``, ``i.e.``, ``etc.``, ``vs.``, ``Fig.``); text after
    the last terminator is a sentence too. Every non-blank character is in a span.

    These automatic spans are split on characters, not tokens: when bound to a tokenizer,
    spans that share a token are merged into one feature (:func:`resolve_spans`).

    Args:
        prompt: the user's prompt text.
        text_regions: ``"words"``, ``"sentences"`` or a list of ``(start, end)`` pairs into
            ``prompt``; explicit spans must be non-empty, inside the prompt, not only
            whitespace and must not overlap (any order; the order given is the feature order).

    Returns:
        The spans (a :class:`SpanList`, ``mode`` set for the named modes), whitespace around
        sentences excluded.

    Raises:
        TypeError: ``text_regions`` is neither a mode nor a list of pairs.
        ValueError: unknown mode, a span out of range, empty, blank or overlapping another,
            or a prompt with no span.

    Example:
        >>> text_spans("is there a red square ?", "words")
        [(0, 2), (3, 8), (9, 10), (11, 14), (15, 21), (22, 23)]
    """
    if not isinstance(prompt, str):
        raise TypeError(
            f"The prompt must be a str to split it into spans; got {type(prompt).__name__}."
        )
    if isinstance(text_regions, str):
        if text_regions not in TEXT_REGION_MODES:
            raise ValueError(
                f"Unknown text_regions {text_regions!r}. Choose one of: "
                f"{', '.join(TEXT_REGION_MODES)}, or a list of (start, end) character spans."
            )
        if text_regions == "words":
            found = [(m.start(), m.end()) for m in _WORD.finditer(prompt)]
        else:
            found = _sentences(prompt)
        spans = SpanList((a, b) for a, b in found if b > a)
        spans.mode = text_regions
        if not spans:
            raise ValueError(f"The prompt {prompt!r} has no {text_regions} to use as features.")
        return spans
    if not isinstance(text_regions, Sequence) or isinstance(text_regions, (bytes, bytearray)):
        raise TypeError(
            "text_regions must be None, 'words', 'sentences' or a list of (start, end) character "
            f"spans into the prompt; got {type(text_regions).__name__}."
        )
    spans = SpanList()
    for item in text_regions:
        if (
            not isinstance(item, Sequence)
            or len(item) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in item)
        ):
            raise TypeError(f"Each text span must be a pair of ints (start, end); got {item!r}.")
        start, end = int(item[0]), int(item[1])
        if not 0 <= start < end <= len(prompt):
            raise ValueError(
                f"Text span ({start}, {end}) is empty or outside the prompt: spans need "
                f"0 <= start < end <= {len(prompt)} (the prompt's length). Prompt: {prompt!r}."
            )
        if not prompt[start:end].strip():
            raise ValueError(
                f"Text span ({start}, {end}) holds only whitespace: {prompt[start:end]!r}."
            )
        spans.append((start, end))
    if not spans:
        raise ValueError("text_regions is an empty list; give at least one (start, end) span.")
    by_start = sorted(spans)
    for (a0, a1), (b0, b1) in zip(by_start, by_start[1:], strict=False):
        if b0 < a1:
            raise ValueError(
                f"Text spans ({a0}, {a1}) {prompt[a0:a1]!r} and ({b0}, {b1}) {prompt[b0:b1]!r} "
                "overlap; a character may belong to one span only."
            )
    return spans


@dataclass
class TextFeatures:
    """Prompt spans bound to one tokenised input.

    Attributes:
        spans: ``(start, end)`` character offsets into the prompt, one per feature.
        texts: the span texts.
        positions: per span, the token positions (into the model's input ids) it replaces.
        baseline_id: the token id that replaces a removed span's tokens.
        baseline_text: that token's text.
    """

    spans: list[tuple[int, int]]
    texts: list[str]
    positions: list[np.ndarray]
    baseline_id: int
    baseline_text: str
    first_position: int = field(init=False)

    def __post_init__(self) -> None:
        self.first_position = int(min(int(p.min()) for p in self.positions))

    @property
    def n_features(self) -> int:
        return len(self.spans)

    def replace_mask(self, keep: np.ndarray, length: int) -> np.ndarray:
        """``B×length`` bool: ``True`` at the token positions to replace by the baseline.

        Args:
            keep: ``B×n_features`` bool, ``True`` = the span stays.
            length: the input's number of tokens.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.ndim != 2 or keep.shape[1] != self.n_features:
            raise ValueError(
                f"text_keep must be B×{self.n_features} bool (one column per span); got {keep.shape}."
            )
        out = np.zeros((keep.shape[0], length), dtype=bool)
        for j, pos in enumerate(self.positions):
            out[np.ix_(~keep[:, j], pos)] = True
        return out


def _offsets(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, TypeError, ValueError) as err:
        raise TypeError(
            f"Text features need a tokenizer with character offsets (a fast tokenizer); "
            f"{type(tokenizer).__name__} gave none ({err}). Load the model with a fast tokenizer."
        ) from err
    offsets = enc.get("offset_mapping")
    if offsets is None:
        raise TypeError(
            f"Text features need a tokenizer with character offsets (a fast tokenizer); "
            f"{type(tokenizer).__name__} returns none."
        )
    return [int(i) for i in enc["input_ids"]], [(int(a), int(b)) for a, b in offsets]


def chat_offsets(
    offsets: Sequence[tuple[int, int]], replacements: Sequence[Mapping[str, Any]]
) -> list[tuple[int, int]]:
    """Token offsets in the processor's expanded text → offsets in the chat text.

    A processor replaces each image/video placeholder of the chat text by its expansion (a
    run of visual tokens, for some families with text around them, e.g. frame timestamps)
    before tokenising. This undoes that shift: a token inside an expansion gets an empty
    range; a token the tokenizer merged across the border of an expansion keeps only its
    characters outside it.

    Args:
        offsets: per input token, ``(start, end)`` into the expanded text (the processor's
            ``offset_mapping`` with ``return_offsets_mapping=True``).
        replacements: the processor's ``text_replacement_offsets`` for this text (with
            ``return_text_replacement_offsets=True``): dicts with ``"span"`` (the
            placeholder in the chat text) and ``"new_span"`` (its expansion).

    Returns:
        Per token, ``(start, end)`` into the chat text; ``start >= end`` for tokens with no
        character of the chat text.

    Example:
        A 5-character placeholder at 2 expanded to 7 characters; the third token straddles
        the expansion's end:

        >>> chat_offsets([(0, 2), (2, 4), (4, 11)], [{"span": (2, 7), "new_span": (2, 9)}])
        [(0, 2), (7, 7), (7, 9)]
    """
    reps = sorted(
        (int(r["new_span"][0]), int(r["new_span"][1]), int(r["span"][0]), int(r["span"][1]))
        for r in replacements
    )

    def to_chat(x: int) -> int:  # x is outside every expansion (or on its border)
        shift = 0
        for new_start, new_end, old_start, old_end in reps:
            if x < new_end:
                break
            shift += (new_end - new_start) - (old_end - old_start)
        return x - shift

    out: list[tuple[int, int]] = []
    for a, b in offsets:
        a, b = int(a), int(b)
        # shrink the token to the hull of its characters outside the expansions
        for new_start, new_end, _, _ in reps:
            if new_start <= a < new_end:
                a = new_end
        for new_start, new_end, _, _ in reversed(reps):
            if new_start < b <= new_end:
                b = new_start
        out.append((to_chat(a), to_chat(b)) if a < b else (to_chat(a), to_chat(a)))
    return out


#: What joins a user turn's several text items into the one prompt that spans index
#: (``messages=`` with e.g. text, image, text): a space, as the recorded prompt joins them.
PART_SEPARATOR = " "


def _locate_parts(chat_text: str, parts: Sequence[str]) -> list[int] | None:
    """Where each part starts in ``chat_text``: the last run of the parts in order (the user's
    message comes last); ``None`` if they are not all there."""
    starts: list[int] = []
    end = len(chat_text)
    for part in reversed(parts):
        where = chat_text.rfind(part, 0, end)
        if where < 0:
            return None
        starts.insert(0, where)
        end = where
    return starts


def _to_prompt_offsets(
    offsets: Sequence[tuple[int, int]], parts: Sequence[str], starts: Sequence[int]
) -> list[tuple[int, int]]:
    """Chat-text offsets → offsets into the parts joined by :data:`PART_SEPARATOR`. A token
    is clipped to the part it overlaps; a token outside every part gets an empty range (it
    belongs to no span)."""
    bases, base = [], 0
    for part in parts:
        bases.append(base)
        base += len(part) + len(PART_SEPARATOR)
    out: list[tuple[int, int]] = []
    for a, b in offsets:
        mapped = (-1, -1)
        for start, part, base in zip(starts, parts, bases, strict=True):
            end = start + len(part)
            if b > a and min(b, end) > max(a, start):
                mapped = (max(a, start) - start + base, min(b, end) - start + base)
                break
        out.append(mapped)
    return out


def map_spans(
    *,
    tokenizer: Any,
    chat_text: str,
    prompt: str,
    spans: Sequence[tuple[int, int]],
    input_ids: Sequence[int],
    baseline: int | str | None = None,
    forbidden_ids: Sequence[int] = (),
    token_offsets: Sequence[tuple[int, int]] | None = None,
    prompt_parts: Sequence[str] | None = None,
    part_starts: Sequence[int] | None = None,
) -> TextFeatures:
    """Map prompt spans to the token positions of the model's input.

    The prompt is found in the chat-formatted text (its last occurrence: the user's message).
    A user turn with several text items (e.g. text, image, text) gives ``prompt_parts``: the
    prompt is then the items joined by :data:`PART_SEPARATOR`, each item is found in the chat
    text (the last run of them in order), and character offsets into the prompt index that
    joined text; a span's tokens may come from several items, the separators have none.
    The spans are then resolved against the tokens by :func:`resolve_spans` (automatic spans
    sharing a token merged, explicit ones refused, each span snapped to its tokens' characters).
    With ``token_offsets`` (each model token's characters in the chat text, as the processor
    reports them; see :func:`chat_offsets`) the tokens are read off directly. Without them,
    the chat text is tokenised with character offsets and those tokens are aligned with the
    model's ``input_ids`` (whose image placeholders the processor expanded) by matching the
    sequences outside the expansions. A token belongs to the span it overlaps most, also a
    token the processor's expansion merged with the prompt's first or last characters.

    Args:
        tokenizer: the model's (fast) tokenizer.
        chat_text: the chat-formatted text given to the processor.
        prompt: the user's prompt, as it appears in ``chat_text``.
        spans: character spans into ``prompt`` (see :func:`text_spans`).
        input_ids: the model's prompt input ids (one sequence).
        baseline: replacement token id or one-token text; ``None`` = pad, else unk.
        forbidden_ids: ids a baseline may not be (image/video placeholders).
        token_offsets: per model input token, its ``(start, end)`` characters in
            ``chat_text`` (empty, ``start >= end``, for tokens of an image/video expansion);
            ``None`` aligns token ids instead.
        prompt_parts: the user turn's text items, in order, when there are several
            (``prompt`` must be their join by :data:`PART_SEPARATOR`); ``None`` for one.
        part_starts: where each part (or the prompt) starts in ``chat_text``, when the caller
            knows it (the Hugging Face scorer renders the chat template with markers in place
            of the user's text, so a short prompt such as "is" is never matched inside a
            template token such as "<assistant>"); ``None`` searches for the parts.

    Returns:
        The bound :class:`TextFeatures`; its ``spans``/``texts`` are the resolved spans.

    Raises:
        ValueError: the prompt is not in the chat text, an explicit span covers no token or
            shares one with another span, the tokens cannot be aligned, or no usable baseline.
        TypeError: the tokenizer gives no offsets.
    """
    parts = [str(p) for p in prompt_parts] if prompt_parts and len(prompt_parts) > 1 else [prompt]
    if PART_SEPARATOR.join(parts) != prompt:
        raise ValueError(
            f"prompt_parts {parts!r} joined by {PART_SEPARATOR!r} are not the prompt {prompt!r}."
        )
    if part_starts is not None:
        starts: list[int] | None = [int(a) for a in part_starts]
        if len(starts) != len(parts) or any(
            chat_text[a : a + len(t)] != t for a, t in zip(starts, parts, strict=False)
        ):
            raise ValueError(
                f"part_starts {list(part_starts)} do not point at the prompt's text items "
                f"{parts!r} in the chat text."
            )
    else:
        starts = _locate_parts(chat_text, parts)
    if not prompt or starts is None:
        raise ValueError(
            "Text features need the prompt verbatim in the chat-formatted text, but "
            f"{prompt!r} is not in {chat_text!r}. The chat template changed the user's text "
            "(e.g. stripped or escaped it); pass the text as the template writes it, or "
            "prompt='...'."
        )
    model_ids = [int(i) for i in input_ids]
    if token_offsets is not None:
        if len(token_offsets) != len(model_ids):
            raise ValueError(
                f"token_offsets has {len(token_offsets)} entries but the input has "
                f"{len(model_ids)} tokens; give one (start, end) per input token."
            )
        ids = model_ids
        offsets = [(int(a), int(b)) for a, b in token_offsets]
        to_model = {i: i for i in range(len(ids))}
    else:
        ids, offsets = _offsets(tokenizer, chat_text)
        matcher = difflib.SequenceMatcher(None, ids, model_ids, autojunk=False)
        to_model = {}
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                to_model[block.a + k] = block.b + k
    if len(parts) == 1:
        shifted = [(a - starts[0], b - starts[0]) for a, b in offsets]
    else:
        shifted = _to_prompt_offsets(offsets, parts, starts)
    spans, assigned = resolve_spans(shifted, spans, prompt)
    owner: dict[int, list[int]] = {j: [] for j in range(len(spans))}
    for i, best in enumerate(assigned):
        if best < 0:
            continue
        if i not in to_model:
            raise ValueError(
                f"The token {tokenizer.decode([ids[i]])!r} of span {spans[best]} could not be "
                "found in the model's input ids (the processor changed the text around it)."
            )
        owner[best].append(to_model[i])
    base_id, base_text = _baseline(tokenizer, baseline, set(int(i) for i in forbidden_ids))
    return TextFeatures(
        spans=[(int(s), int(e)) for s, e in spans],
        texts=[prompt[s:e] for s, e in spans],
        positions=[np.array(sorted(owner[j]), dtype=np.int64) for j in range(len(spans))],
        baseline_id=base_id,
        baseline_text=base_text,
    )


def assign_tokens(
    offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> list[int]:
    """The span each token overlaps most (``-1``: none), without merging or snapping.

    The scorers bind spans with :func:`resolve_spans` (which also merges automatic spans that
    share a token and refuses explicit ones); where no token is shared, the two agree.

    Args:
        offsets: per token, its ``(start, end)`` characters relative to the prompt (tokens of
            the chat template lie outside ``0 … len(prompt)`` and overlap no span; empty
            ranges belong to no span).
        spans: the spans ``(start, end)`` into the prompt.

    Returns:
        Per token, the index of its span or ``-1``.
    """
    out = []
    for a, b in offsets:
        best, best_overlap = -1, 0
        if b > a:
            for j, (s, e) in enumerate(spans):
                overlap = min(b, e) - max(a, s)
                if overlap > best_overlap:
                    best, best_overlap = j, overlap
        out.append(best)
    return out


def resolve_spans(
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[tuple[int, int]],
    prompt: str,
    *,
    merge: bool | None = None,
) -> tuple[SpanList, list[int]]:
    """Bind spans to tokens: the features' final spans and the feature each token belongs to.

    A token is replaced whole, so a feature is a set of whole tokens. The one rule of every
    scorer (Hugging Face models, the OpenAI-compatible scorer):

    * **Automatic spans** (``"words"``, ``"sentences"``; ``merge=True``): spans that share a
      token are merged into one feature, and a span that overlaps no token is merged into the
      span before it (the next one, for the first). A merged feature's offsets are the union
      (first start, last end) and its text the prompt's characters between them, e.g. a BPE
      token ``"..."`` makes one feature of the words ``"."``, ``"."``, ``"."``. Deterministic:
      it depends only on the spans and the tokens' offsets.
    * **Explicit spans** (``merge=False``): two spans that share a token, or a span that
      overlaps no token, are refused (the user chose them; merging would change the question).

    Each feature's recorded span is then snapped to what is removed: widened to its tokens'
    characters (whitespace at a token's ends not added). An explicit span that grows warns,
    naming both spans; the tokens replaced are the same either way.

    Args:
        offsets: per token, its ``(start, end)`` characters relative to the prompt (tokens of
            the chat template lie outside ``0 … len(prompt)`` and overlap no span; empty
            ranges belong to no span).
        spans: the spans ``(start, end)`` into the prompt, non-overlapping.
        prompt: the prompt (for the texts and messages).
        merge: merge (``True``) or refuse (``False``) spans sharing a token; ``None`` reads
            :attr:`SpanList.mode` of ``spans`` (merge for ``"words"``/``"sentences"``).

    Returns:
        ``(features, owner)``: the features' spans in order (a :class:`SpanList`, the mode
        kept), and per token the index of its feature or ``-1``.

    Raises:
        ValueError: explicit spans that share a token or cover none, or no span with a token.

    Example:
        A token ``"is t"`` shared by ``"is"`` and ``"there"``:

        >>> auto = text_spans("is there", "words")
        >>> resolve_spans([(0, 4), (4, 8)], auto, "is there")
        ([(0, 8)], [0, 0])
    """
    import warnings

    mode = getattr(spans, "mode", None)
    if merge is None:
        merge = mode is not None
    spans = [(int(a), int(b)) for a, b in spans]
    hits: list[list[int]] = []  # per token, the spans it overlaps
    for a, b in offsets:
        hits.append([j for j, (s, e) in enumerate(spans) if b > a and min(b, e) > max(a, s)])
    if not merge:
        for k, js in enumerate(hits):
            if len(js) > 1:
                a, b = offsets[k]
                named = " and ".join(f"{spans[j]} {prompt[slice(*spans[j])]!r}" for j in js)
                raise ValueError(
                    f"Text spans {named} share the token {prompt[max(0, a) : b]!r} "
                    f"(characters {max(0, a)}..{min(len(prompt), b)}); a token is replaced "
                    "whole, so it cannot belong to two features. Merge these spans into one, "
                    "or move their border to a token border."
                )
        covered = {j for js in hits for j in js}
        check_covered({j: [1] if j in covered else [] for j in range(len(spans))}, spans, prompt)
        group = list(range(len(spans)))
    else:
        parent = list(range(len(spans)))

        def root(j: int) -> int:
            while parent[j] != j:
                parent[j] = parent[parent[j]]
                j = parent[j]
            return j

        for js in hits:
            for j in js[1:]:
                parent[root(j)] = root(js[0])
        covered = {j for js in hits for j in js}
        if not covered:
            raise ValueError(
                f"No token of the prompt {prompt!r} lies in its spans; the tokenizer's offsets "
                "do not cover the prompt's characters."
            )
        by_start = sorted(range(len(spans)), key=lambda j: spans[j])
        for rank, j in enumerate(by_start):  # a span with no token joins its neighbour
            if j not in covered:
                before = [i for i in by_start[:rank] if i in covered]
                after = [i for i in by_start[rank + 1 :] if i in covered]
                parent[root(j)] = root(before[-1] if before else after[0])
        roots: dict[int, int] = {}
        for j in by_start:
            roots.setdefault(root(j), len(roots))
        group = [roots[root(j)] for j in range(len(spans))]
    n = max(group) + 1
    lo = [min(spans[j][0] for j in range(len(spans)) if group[j] == g) for g in range(n)]
    hi = [max(spans[j][1] for j in range(len(spans)) if group[j] == g) for g in range(n)]
    given = list(zip(lo, hi, strict=True))
    owner = [group[js[0]] if js else -1 for js in hits]
    for k, g in enumerate(owner):  # snap to the tokens' characters, whitespace excluded
        if g < 0:
            continue
        a, b = max(0, offsets[k][0]), min(len(prompt), offsets[k][1])
        text = prompt[a:b]
        a, b = a + len(text) - len(text.lstrip()), b - len(text) + len(text.rstrip())
        if b > a:
            lo[g], hi[g] = min(lo[g], a), max(hi[g], b)
    out = SpanList(zip(lo, hi, strict=True))
    out.mode = mode
    if not merge:
        for (s, e), (a, b) in zip(given, out, strict=True):
            if (a, b) != (s, e):
                warnings.warn(
                    f"Text span ({s}, {e}) {prompt[s:e]!r} was widened to ({a}, {b}) "
                    f"{prompt[a:b]!r}: its tokens are replaced whole, so the recorded span is "
                    "what is removed. Give spans on token borders to silence this.",
                    UserWarning,
                    stacklevel=3,
                )
    return out, owner


def check_covered(
    owner: dict[int, list[int]], spans: Sequence[tuple[int, int]], prompt: str
) -> None:
    """Refuse spans that own no token (``owner``: span index → its token positions).

    Raises:
        ValueError: naming the spans and how to fix them.
    """
    empty = [spans[j] for j, pos in owner.items() if not pos]
    if empty:
        raise ValueError(
            f"Text span(s) {empty} ({', '.join(repr(prompt[s:e]) for s, e in empty)}) cover no "
            "token of the prompt (the tokenizer gives their characters no token of their own). "
            "Merge them into a neighbouring span, or use text_regions='words'/'sentences', "
            "which merge such spans automatically."
        )


def _baseline(tokenizer: Any, baseline: int | str | None, forbidden: set[int]) -> tuple[int, str]:
    if baseline is None:
        for attr in ("pad_token_id", "unk_token_id"):
            value = getattr(tokenizer, attr, None)
            if isinstance(value, int) and value not in forbidden:
                return value, str(tokenizer.convert_ids_to_tokens(value))
        raise ValueError(
            "The tokenizer has no pad or unknown token to replace removed prompt spans with; "
            "pass text_baseline=<token id> or a one-token text, e.g. text_baseline=' the'."
        )
    if isinstance(baseline, bool) or not isinstance(baseline, (int, np.integer, str)):
        raise TypeError(
            f"text_baseline must be a token id (int) or a one-token text; got {type(baseline).__name__}."
        )
    if isinstance(baseline, str):
        got = tokenizer(baseline, add_special_tokens=False)["input_ids"]
        if len(got) != 1:
            raise InputError(
                f"text_baseline={baseline!r} is {len(got)} tokens; it must be exactly one token "
                "(or give its id)."
            )
        value = int(got[0])
        unk = getattr(tokenizer, "unk_token_id", None)
        if (
            isinstance(unk, int)
            and value == unk
            and baseline != getattr(tokenizer, "unk_token", None)
        ):
            import warnings

            warnings.warn(
                f"text_baseline={baseline!r} is not in the tokenizer's vocabulary: it becomes the "
                f"unknown token {tokenizer.convert_ids_to_tokens(unk)!r} (id {unk}). Pass a word "
                "of the vocabulary, or text_baseline=None for the default, to silence this.",
                UserWarning,
                stacklevel=4,
            )
    else:
        value = int(baseline)
    check_baseline_id(value, vocab_size=len(tokenizer), forbidden=forbidden, given=baseline)
    return value, str(tokenizer.convert_ids_to_tokens(value))


def check_baseline_id(
    value: int, *, vocab_size: int | None, forbidden: Any = (), given: Any = None
) -> None:
    """Refuse a ``text_baseline`` token id that cannot replace prompt tokens.

    The one check of every scorer (Hugging Face models, the OpenAI-compatible scorer).

    Args:
        value: the baseline's token id.
        vocab_size: the vocabulary size (ids ``0 … vocab_size − 1``); ``None`` checks only
            that the id is not negative.
        forbidden: the model's image/video placeholder ids: a prompt token replaced by one
            would be read as (or expanded into) image tokens.
        given: what the user passed (a text or the id), for the message.

    Raises:
        ValueError: an id outside the vocabulary or a placeholder id.
    """
    what = f"text_baseline={given!r}" if given is not None and given != value else "text_baseline"
    if value < 0 or (vocab_size is not None and value >= vocab_size):
        span = f"0..{vocab_size - 1}" if vocab_size is not None else "0 or more"
        raise ValueError(
            f"{what} id {value} is outside the vocabulary ({span}). Pass a token id of the "
            "vocabulary or a one-token text, e.g. text_baseline=' the'."
        )
    if value in {int(i) for i in forbidden}:
        raise ValueError(
            f"{what} id {value} is the model's image/video placeholder; choose another token "
            "(e.g. the default pad token: text_baseline=None)."
        )


def reliance_split(
    p_full: np.ndarray, p_no_image: np.ndarray, p_no_prompt: np.ndarray, p_neither: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How much each token's probability rests on the image, the prompt spans, and neither.

    The two-player Shapley split of ``p_full`` (image I, prompt spans P; ``p(∅)`` = both
    removed), in probability units, signed:

    * ``reliance_image  = ½[(p_full − p_no_image) + (p_no_prompt − p_neither)]``
    * ``reliance_prompt = ½[(p_full − p_no_prompt) + (p_no_image − p_neither)]``
    * ``reliance_prior  = p_neither`` (the language prior given the chat template and the
      answer so far)

    They add up to ``p_full`` exactly. Each effect is averaged over the presence and absence
    of the other input, so an interaction (e.g. the image only helps when the question is
    there) is shared equally.

    Args:
        p_full: ``(T,)`` everything kept.
        p_no_image: ``(T,)`` every image region removed, prompt spans kept.
        p_no_prompt: ``(T,)`` every prompt span removed, image kept.
        p_neither: ``(T,)`` both removed.

    Returns:
        ``(reliance_image, reliance_prompt, reliance_prior)``, each ``(T,)``.
    """
    full, no_img, no_txt, none = (
        np.asarray(v, dtype=np.float64) for v in (p_full, p_no_image, p_no_prompt, p_neither)
    )
    image = 0.5 * ((full - no_img) + (no_txt - none))
    prompt = 0.5 * ((full - no_txt) + (no_img - none))
    return image, prompt, none.copy()


def bind_features(
    prepared: Any,
    media: np.ndarray,
    regions: Any,
    fill_img: np.ndarray,
    text_regions: Any,
    baseline: int | str | None,
) -> tuple[TextFeatures, Any]:
    """Bind prompt spans to a prepared scorer; return them and ``score_keep(keep: B×N) → B×T``
    over the union of features (image regions first, then spans).

    ``regions`` is a :class:`eagle_kit.RegionSet`, or ``None`` for text features only (the
    image then stays whole).

    Raises:
        TypeError: the scorer cannot remove prompt text.
    """
    if not hasattr(prepared, "bind_text"):
        kind = str(getattr(prepared, "metadata", {}).get("scorer", type(prepared).__name__))
        raise TypeError(
            f"text_regions needs a scorer that can replace prompt tokens — a Hugging Face model "
            f"from eagle_kit.load_model(...) or eagle_kit.OpenAIScorer on a server that returns "
            f"prompt log-probabilities; this one ({kind}) scores images only. Use "
            "text_regions=None to explain the image alone."
        )
    feats = prepared.bind_text(text_regions, baseline=baseline)
    n_img = 0 if regions is None else regions.n_regions
    shape = media.shape[:-1]

    def score_keep(keep: np.ndarray) -> np.ndarray:
        keep = np.asarray(keep, dtype=bool)
        if regions is None:
            masks = np.ones((len(keep), *shape), dtype=bool)
        else:
            masks = regions.masks(keep[:, :n_img])
        return prepared.score_masks(
            masks, fill_img, text_keep=np.ascontiguousarray(keep[:, n_img:])
        )

    return feats, score_keep


def split_probabilities(
    prepared: Any, media: np.ndarray, fill_img: np.ndarray, n_text: int
) -> dict[str, np.ndarray]:
    """The four probabilities of :func:`reliance_split`, scored explicitly (4 inputs):
    ``p_full``, ``p_no_image`` (every image pixel filled), ``p_no_prompt`` (every span
    replaced) and ``p_neither``. Each is ``(T,)``."""
    shape = media.shape[:-1]
    masks = np.zeros((4, *shape), dtype=bool)
    masks[0] = masks[2] = True
    text_keep = np.zeros((4, n_text), dtype=bool)
    text_keep[0] = text_keep[1] = True
    p = np.asarray(prepared.score_masks(masks, fill_img, text_keep=text_keep), dtype=np.float64)
    return {"p_full": p[0], "p_no_image": p[1], "p_no_prompt": p[2], "p_neither": p[3]}


def check_text_keep(text_keep: Any, features: Any, n: int) -> np.ndarray | None:
    """Check a scorer's ``text_keep`` argument: ``None`` (every span kept) or an ``n×S`` bool
    array (True = keep), one row per image and one column per bound prompt span.

    Raises:
        ValueError: spans are not bound (``features is None``) or the shape is wrong.
        TypeError: the array is not boolean.
    """
    if text_keep is None:
        return None
    if features is None:
        raise ValueError(
            "text_keep was given but no prompt spans are bound; call bind_text(...) first."
        )
    keep = np.asarray(text_keep)
    if keep.dtype != np.bool_:
        raise TypeError(f"text_keep must be a bool array (True = keep); got {keep.dtype}.")
    if keep.shape != (n, features.n_features):
        raise ValueError(
            f"text_keep must have shape ({n}, {features.n_features}) — one row per "
            f"image, one column per prompt span; got {keep.shape}."
        )
    return keep
