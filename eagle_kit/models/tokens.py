"""Answer tokens: resolving ``targets`` and replacement target ids (shared by all scorers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["resolve_targets", "resolve_target_token_ids", "normalize_token"]

_MARKERS = ("▁", "Ġ", "Ċ", "##")


def normalize_token(text: str) -> str:
    """A token's text without surrounding space or sub-word markers, lower-cased."""
    text = text.strip()
    for marker in _MARKERS:
        if text.startswith(marker):
            text = text[len(marker) :]
    return text.strip().lower()


def _listing(tokens: Sequence[str]) -> str:
    return ", ".join(f"{i}:{t!r}" for i, t in enumerate(tokens))


def _match_word(word: str, tokens: Sequence[str]) -> list[int]:
    """Indices of the tokens that spell ``word`` (a whole token, or consecutive sub-words)."""
    key = normalize_token(word)
    if not key:
        return []
    whole = [i for i, t in enumerate(tokens) if normalize_token(t) == key]
    if whole:
        return whole
    found: list[int] = []
    for start in range(len(tokens)):
        text = ""
        for end in range(start, len(tokens)):
            text += tokens[end]
            spelled = normalize_token(text)
            if spelled == key:
                found.extend(range(start, end + 1))
                break
            if not spelled or not key.startswith(spelled):
                break
    return sorted(set(found))


def resolve_targets(targets: Any, tokens: Sequence[str]) -> list[int] | None:
    """Turn a user's ``targets`` into indices into the answer's tokens.

    Args:
        targets: ``None`` (every answer token), an index, a word, or a list mixing both.
            Words match answer tokens case-insensitively, ignoring spaces and sub-word
            markers; a word split over several tokens selects all of them; every occurrence
            is selected.
        tokens: the text of each answer token.

    Returns:
        Sorted unique indices, or ``None`` for every token.

    Raises:
        ValueError: an index out of range, or a word the answer does not contain (the
            message lists the answer's tokens).
        TypeError: anything that is neither an int nor a str.
    """
    if targets is None:
        return None
    items = [targets] if isinstance(targets, (str, int, np.integer)) else list(targets)
    if not items:
        raise ValueError("targets is empty; pass None for every answer token, or indices/words.")
    out: set[int] = set()
    n = len(tokens)
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            idx = int(item)
            if not -n <= idx < n:
                raise ValueError(
                    f"Target index {idx} is out of range for an answer of {n} tokens "
                    f"({_listing(tokens)}). Use an index in 0..{n - 1} or a word."
                )
            out.add(idx % n)
        elif isinstance(item, str):
            hits = _match_word(item, tokens)
            if not hits:
                raise ValueError(
                    f"Target word {item!r} is not in the answer. The answer's tokens are: "
                    f"{_listing(tokens)}. Pass one of these words or an index."
                )
            out.update(hits)
        else:
            raise TypeError(
                f"targets must be None, an int index, a word, or a list of them; got "
                f"{type(item).__name__} ({item!r})."
            )
    return sorted(out)


def resolve_target_token_ids(
    target_token_ids: Mapping[int, int | str] | None,
    answer_ids: Sequence[int],
    encode: Callable[[str], list[int]],
    vocab_size: int | None = None,
) -> list[int]:
    """The vocabulary id to score at each answer position.

    Args:
        target_token_ids: ``{answer position: id or text}`` to score another token than the
            answer's at that position (the hallucination case: the correct answer's token).
            Text must tokenise to exactly one token.
        answer_ids: the answer's token ids.
        encode: tokenises text without special tokens.
        vocab_size: ids must lie below it when given.

    Raises:
        ValueError / TypeError: bad positions, ids out of the vocabulary, or text that is
            not exactly one token (the message shows its tokens and suggests an id).
    """
    ids = [int(i) for i in answer_ids]
    if not target_token_ids:
        return ids
    if not isinstance(target_token_ids, Mapping):
        raise TypeError(
            "target_token_ids must be a dict {answer position: token id or text}, e.g. "
            f"{{0: 'No'}}; got {type(target_token_ids).__name__}."
        )
    n = len(ids)
    for pos, value in target_token_ids.items():
        if (
            not isinstance(pos, (int, np.integer))
            or isinstance(pos, bool)
            or not -n <= int(pos) < n
        ):
            raise ValueError(
                f"target_token_ids key {pos!r} is not a position of the answer; the answer has "
                f"{n} tokens (positions 0..{n - 1})."
            )
        if isinstance(value, str):
            pieces = encode(value)
            if len(pieces) != 1:
                raise ValueError(
                    f"target_token_ids[{pos}] = {value!r} is {len(pieces)} tokens ({pieces}), "
                    f"not one. Pass a single token's text or its integer id."
                )
            token_id = int(pieces[0])
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            token_id = int(value)
        else:
            raise TypeError(
                f"target_token_ids[{pos}] must be a token id (int) or text (str); got "
                f"{type(value).__name__}."
            )
        if token_id < 0 or (vocab_size is not None and token_id >= vocab_size):
            raise ValueError(
                f"target_token_ids[{pos}] = {token_id} is outside the vocabulary "
                f"(0..{(vocab_size or 0) - 1})."
            )
        ids[int(pos) % n] = token_id
    return ids
