"""Prompt spans as EAGLE features: the text beside the image regions, under one objective.

A *text feature* is a span of the prompt's characters (a word, a sentence, or any
``(start, end)`` range the user gives). It maps to the prompt tokens it overlaps, through the
tokenizer's character offsets in the chat-formatted text; tokens of the chat template
(role markers, image placeholders, the generation prompt) are never features.

**Removing a span** replaces each of its tokens by one neutral *baseline* token, in place:
the sequence length, every position, the attention mask (kept at 1) and the answer positions
are unchanged, so teacher forcing reads the same answer positions as for the full input.
The default baseline is the tokenizer's pad token, else its unknown token; ``text_baseline=``
takes another token (an id, or a text that is exactly one token).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "TEXT_REGION_MODES",
    "TextFeatures",
    "text_spans",
    "map_spans",
    "reliance_split",
]

#: The named ways of splitting a prompt: ``"words"`` (runs of letters/digits, and each
#: punctuation mark on its own) and ``"sentences"`` (up to and including ``.``, ``!``, ``?``).
TEXT_REGION_MODES: tuple[str, ...] = ("words", "sentences")

_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_SENTENCE = re.compile(r"[^.!?\s][^.!?]*(?:[.!?]+|$)")


def text_spans(prompt: str, text_regions: Any) -> list[tuple[int, int]]:
    """The prompt spans ``[(start, end), …]`` (character offsets, ``end`` exclusive).

    Args:
        prompt: the user's prompt text.
        text_regions: ``"words"``, ``"sentences"`` or a list of ``(start, end)`` pairs into
            ``prompt``; explicit spans must be non-empty, inside the prompt, not only
            whitespace and must not overlap (any order; the order given is the feature order).

    Returns:
        The spans, trailing whitespace of sentences excluded.

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
        pattern = _WORD if text_regions == "words" else _SENTENCE
        spans = [(m.start(), m.start() + len(m.group().rstrip())) for m in pattern.finditer(prompt)]
        spans = [(a, b) for a, b in spans if b > a]
        if not spans:
            raise ValueError(f"The prompt {prompt!r} has no {text_regions} to use as features.")
        return spans
    if not isinstance(text_regions, Sequence) or isinstance(text_regions, (bytes, bytearray)):
        raise TypeError(
            "text_regions must be None, 'words', 'sentences' or a list of (start, end) character "
            f"spans into the prompt; got {type(text_regions).__name__}."
        )
    spans: list[tuple[int, int]] = []
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


def map_spans(
    *,
    tokenizer: Any,
    chat_text: str,
    prompt: str,
    spans: Sequence[tuple[int, int]],
    input_ids: Sequence[int],
    baseline: int | str | None = None,
    forbidden_ids: Sequence[int] = (),
) -> TextFeatures:
    """Map prompt spans to the token positions of the model's input.

    The prompt is found in the chat-formatted text (its last occurrence: the user's message);
    the chat text is tokenised with character offsets, and those tokens are aligned with the
    model's ``input_ids`` (whose image placeholders the processor expanded) by matching the
    sequences outside the expansions. A token belongs to the span it overlaps most.

    Args:
        tokenizer: the model's (fast) tokenizer.
        chat_text: the chat-formatted text given to the processor.
        prompt: the user's prompt, as it appears in ``chat_text``.
        spans: character spans into ``prompt`` (see :func:`text_spans`).
        input_ids: the model's prompt input ids (one sequence).
        baseline: replacement token id or one-token text; ``None`` = pad, else unk.
        forbidden_ids: ids a baseline may not be (image/video placeholders).

    Raises:
        ValueError: the prompt is not in the chat text, a span covers no token, the tokens
            cannot be aligned, or no usable baseline.
        TypeError: the tokenizer gives no offsets.
    """
    where = chat_text.rfind(prompt)
    if not prompt or where < 0:
        raise ValueError(
            "Text features need the prompt verbatim in the chat-formatted text, but "
            f"{prompt!r} is not in {chat_text!r}. Pass prompt='...' (not only messages=)."
        )
    ids, offsets = _offsets(tokenizer, chat_text)
    model_ids = [int(i) for i in input_ids]
    matcher = difflib.SequenceMatcher(None, ids, model_ids, autojunk=False)
    to_model: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            to_model[block.a + k] = block.b + k
    owner: dict[int, list[int]] = {j: [] for j in range(len(spans))}
    for i, (a, b) in enumerate(offsets):
        if b <= a:
            continue
        best, best_overlap = -1, 0
        for j, (s, e) in enumerate(spans):
            overlap = min(b, where + e) - max(a, where + s)
            if overlap > best_overlap:
                best, best_overlap = j, overlap
        if best < 0:
            continue
        if i not in to_model:
            raise ValueError(
                f"The token {tokenizer.decode([ids[i]])!r} of span {spans[best]} could not be "
                "found in the model's input ids (the processor changed the text around it)."
            )
        owner[best].append(to_model[i])
    empty = [spans[j] for j, pos in owner.items() if not pos]
    if empty:
        raise ValueError(
            f"Text span(s) {empty} ({', '.join(repr(prompt[s:e]) for s, e in empty)}) cover no "
            "whole token: a token shared with another span belongs to the span it overlaps most. "
            "Merge them into a neighbouring span."
        )
    base_id, base_text = _baseline(tokenizer, baseline, set(int(i) for i in forbidden_ids))
    return TextFeatures(
        spans=[(int(s), int(e)) for s, e in spans],
        texts=[prompt[s:e] for s, e in spans],
        positions=[np.array(sorted(owner[j]), dtype=np.int64) for j in range(len(spans))],
        baseline_id=base_id,
        baseline_text=base_text,
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
            raise ValueError(
                f"text_baseline={baseline!r} is {len(got)} tokens; it must be exactly one token "
                "(or give its id)."
            )
        value = int(got[0])
        unk = getattr(tokenizer, "unk_token_id", None)
        if isinstance(unk, int) and value == unk:
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
        size = len(tokenizer)
        if not 0 <= value < size:
            raise ValueError(f"text_baseline id {value} is outside the vocabulary (0..{size - 1}).")
    if value in forbidden:
        raise ValueError(
            f"text_baseline id {value} is the model's image/video placeholder; choose another token."
        )
    return value, str(tokenizer.convert_ids_to_tokens(value))


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
        hint = (
            " An OpenAI-compatible server would have to return prompt log-probabilities for "
            "edited prompts; this scorer does not support it."
            if kind == "openai"
            else ""
        )
        raise TypeError(
            f"text_regions needs a scorer that can replace prompt tokens — a Hugging Face model "
            f"from eagle_kit.load_model(...); this one ({kind}) scores images only.{hint} Use "
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
