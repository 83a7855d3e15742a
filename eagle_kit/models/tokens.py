"""Answer tokens: resolving ``targets`` and replacement target ids (shared by all scorers).

``resolve_targets`` and ``normalize_token`` live in :mod:`eagle_kit.targets` (the one target
resolver of the package) and are re-exported here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..targets import normalize_token, resolve_targets

__all__ = ["resolve_targets", "resolve_target_token_ids", "normalize_token"]


def resolve_target_token_ids(
    target_token_ids: Mapping[int, int | str] | None,
    answer_ids: Sequence[int],
    encode: Callable[[str], list[int]],
    vocab_size: int | None = None,
    unknown_id: int | None = None,
) -> list[int]:
    """The vocabulary id to score at each answer position.

    Args:
        target_token_ids: ``{answer position: id or text}`` to score another token than the
            answer's at that position (the hallucination case: the correct answer's token).
            Text must tokenise to exactly one token.
        answer_ids: the answer's token ids.
        encode: tokenises text without special tokens.
        vocab_size: ids must lie below it when given.
        unknown_id: the tokenizer's unknown-token id; text that tokenises to it (a word the
            vocabulary lacks) gives a ``UserWarning``, as ``targets`` naming no token does.

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
            if unknown_id is not None and token_id == int(unknown_id):
                warnings.warn(
                    f"target_token_ids[{pos}] = {value!r} is not in the tokenizer's vocabulary: "
                    f"it tokenises to the unknown token (id {token_id}), so the score is that of "
                    f"the unknown token. Pass a word of the vocabulary or its integer id.",
                    UserWarning,
                    stacklevel=3,
                )
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
