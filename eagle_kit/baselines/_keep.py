"""One binding of a scorer to an image and its regions: keep-vectors in, objective out."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..api import _bind, _resolve_targets
from ..regions import RegionSet

# options of score_order that are not the model's
_NOT_MODEL = ("fill", "token_names", "lambda1", "lambda2", "progress", "batch_size")


def model_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options meant for a model's ``prepare`` (prompt, answer, generation …)."""
    return {k: v for k, v in options.items() if k not in _NOT_MODEL}


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int >= 1; got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    return int(batch_size)


class KeepObjective:
    """The targets' mean probability for keep-vectors over regions, scored in batches.

    The scorer is prepared once (one ``model.prepare`` for a model); every call scores
    ``K×N`` keep-vectors (``True`` = region kept, removed pixels get ``fill``) with
    ``ceil(K / batch_size)`` scorer calls, and counts them.

    Attributes:
        n_regions: N.
        evaluations: keep-vectors scored so far.
        forward_calls: scorer calls so far.
    """

    def __init__(
        self,
        scorer: Any,
        media: np.ndarray,
        regions: RegionSet,
        *,
        targets: Any,
        batch_size: int,
        options: dict[str, Any],
    ) -> None:
        self.n_regions = regions.n_regions
        self.batch_size = check_batch_size(batch_size)
        self.prepared, self._score_keep, model_like = _bind(
            scorer,
            media,
            regions,
            options.get("fill", "black"),
            targets,
            options.get("token_names"),
            model_options(options),
        )
        self._targets = None if model_like else targets
        self._idx: list[int] | None = None
        self.evaluations = 0
        self.forward_calls = 0

    def __call__(self, keep: np.ndarray) -> np.ndarray:
        """``K`` objective values (float64) for ``K×N`` bool keep-vectors."""
        keep = np.asarray(keep, dtype=bool)
        if keep.ndim != 2 or keep.shape[1] != self.n_regions:
            raise ValueError(f"keep must be K×{self.n_regions} bool; got shape {keep.shape}.")
        parts = []
        for i in range(0, len(keep), self.batch_size):
            parts.append(np.asarray(self._score_keep(keep[i : i + self.batch_size])))
            self.forward_calls += 1
        self.evaluations += len(keep)
        probs = np.concatenate(parts)
        if self._idx is None:
            self._idx = _resolve_targets(self._targets, self.prepared, probs.shape[1])
        return probs[:, self._idx].mean(axis=1).astype(np.float64)
