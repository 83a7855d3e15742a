"""The EAGLE greedy searches (METHOD.md §3–4), pure and scorer-agnostic.

The search sees regions only as indices. It asks an :class:`Evaluator` for the per-token
probabilities of sets of kept regions; the evaluator batches, caches, counts, shows progress
and checkpoints. A fake scorer is all the tests need.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .scoring import check_probabilities

__all__ = ["SearchConfig", "SearchRecord", "Evaluator", "run_search", "SEARCHES"]

SEARCHES = ("exact", "efficient")


@dataclass(frozen=True)
class SearchConfig:
    """Options of the EAGLE search.

    Attributes:
        search: ``"exact"`` greedy (N(N+1) evaluations) or ``"efficient"`` bidirectional greedy.
        lambda1: weight of insight (sufficiency) ``f(x_S)``.
        lambda2: weight of necessity ``1 − f(x_{\\S})``.
        batch_size: masked images per scorer call (``None``: the scorer's planned size, else 64).
        search_scope: efficient search — candidates scored on a step between full updates.
        pending_samples: efficient search — removal candidates scored per backward step.
        update_step: efficient search — re-score every remaining region each this many steps.
        early_stop: exact search — stop expanding once the insertion score of the targets is
            within this distance of the full-image score; the rest keep the order of their
            last-step objective (``None`` = never stop early).
    """

    search: str = "efficient"
    lambda1: float = 1.0
    lambda2: float = 1.0
    batch_size: int | None = None
    search_scope: int = 10
    pending_samples: int = 8
    update_step: int = 5
    early_stop: float | None = None

    def __post_init__(self) -> None:
        if self.search not in SEARCHES:
            raise ValueError(
                f"Unknown search '{self.search}'. Choose one of: {', '.join(SEARCHES)}. "
                f"See eagle_kit.SearchConfig."
            )
        for name in ("search_scope", "pending_samples", "update_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, (int, np.integer))
            or self.batch_size < 1
        ):
            raise ValueError(
                f"batch_size must be a positive integer or None; got {self.batch_size!r}."
            )
        for name in ("lambda1", "lambda2"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
        if self.lambda1 == 0 and self.lambda2 == 0:
            raise ValueError("lambda1 and lambda2 are both 0: the objective would be constant.")
        if self.early_stop is not None:
            if self.search != "exact":
                raise ValueError("early_stop applies to search='exact' only.")
            if not (0 <= self.early_stop < 1):
                raise ValueError(f"early_stop must be in [0, 1); got {self.early_stop!r}.")

    def to_json(self) -> str:
        """The configuration as a JSON string (stored in the result's attributes)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SearchConfig:
        return cls(**json.loads(text))


@dataclass
class SearchRecord:
    """What a search found: the order and the curves along it.

    Attributes:
        order: ``(N,)`` region ids, most important first.
        insertion: ``(N+1)×T`` probabilities with the first k regions kept (row 0: black).
        deletion: ``(N+1)×T`` probabilities with the first k regions removed (row 0: full).
        objective: ``(N+1,)`` the objective F of the first k regions.
        n_evaluations: masked images the scorer was asked for (distinct sets only).
        seconds: wall time of the search.
        stopped_at: exact search with early stop — steps expanded greedily before stopping.
    """

    order: np.ndarray
    insertion: np.ndarray
    deletion: np.ndarray
    objective: np.ndarray
    n_evaluations: int
    seconds: float
    stopped_at: int | None = None


class SearchInterrupted(KeyboardInterrupt):
    """Raised when a search is stopped with Ctrl-C; says where the checkpoint is, if any."""


@dataclass
class Evaluator:
    """Scores sets of kept regions, in batches, with a cache and an evaluation count.

    Args:
        score_keep: ``keep (B×N bool) -> probabilities (B×T)``.
        n_regions: N.
        batch_size: sets per call of ``score_keep``.
        progress: a tqdm-like bar (``update(n)``), or None.
        checkpoint: a ``.npz`` path where scored sets are saved (atomically, every
            ``checkpoint_every`` seconds and on interrupt) so that a rerun resumes.
        fingerprint: identifies the image, regions, scorer and tokens of a checkpoint.
    """

    score_keep: Callable[[np.ndarray], np.ndarray]
    n_regions: int
    batch_size: int = 64
    progress: Any = None
    checkpoint: Path | None = None
    fingerprint: str = ""
    checkpoint_every: float = 30.0
    n_evaluations: int = 0
    n_tokens: int | None = None
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict)
    _last_save: float = field(default_factory=time.monotonic)
    _resumed: int = 0

    def __post_init__(self) -> None:
        if self.checkpoint is not None and Path(self.checkpoint).exists():
            self._load_checkpoint()

    # -- scoring ------------------------------------------------------------------------
    def __call__(self, keep: np.ndarray) -> np.ndarray:
        """Probabilities for each row of ``keep`` (``K×N`` bool) → ``K×T``."""
        keep = np.asarray(keep, dtype=bool)
        keys = [np.packbits(row).tobytes() for row in keep]
        todo: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._cache and key not in todo:
                todo[key] = i
        if todo:
            rows = np.array(list(todo.values()))
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                probs = check_probabilities(self.score_keep(keep[chunk]), len(chunk), self.n_tokens)
                self.n_tokens = probs.shape[1]
                for j, row in enumerate(chunk):
                    self._cache[keys[row]] = probs[j]
                self.n_evaluations += len(chunk)
                if self.progress is not None:
                    self.progress.update(len(chunk))
                if (
                    self.checkpoint is not None
                    and time.monotonic() - self._last_save > self.checkpoint_every
                ):
                    self.save_checkpoint()
        return np.stack([self._cache[k] for k in keys])

    # -- checkpoints --------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Write every scored set to the checkpoint file, atomically."""
        if self.checkpoint is None or not self._cache:
            return
        path = Path(self.checkpoint)
        keys = np.stack([np.frombuffer(k, dtype=np.uint8) for k in self._cache])
        probs = np.stack(list(self._cache.values()))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, keys=keys, probs=probs, fingerprint=np.array(self.fingerprint))
        os.replace(tmp, path)
        self._last_save = time.monotonic()

    def _load_checkpoint(self) -> None:
        path = Path(self.checkpoint)
        try:
            with np.load(path, allow_pickle=False) as data:
                fingerprint = str(data["fingerprint"])
                keys, probs = data["keys"], data["probs"]
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(
                f"Checkpoint '{path}' cannot be read ({err}). Delete it to start afresh."
            ) from err
        if fingerprint != self.fingerprint:
            raise ValueError(
                f"Checkpoint '{path}' belongs to another run (different image, regions, scorer or "
                f"tokens). Delete it, or pass another checkpoint path."
            )
        for k, p in zip(keys, probs):
            self._cache[k.tobytes()] = p
        self.n_tokens = probs.shape[1] if len(probs) else None
        self._resumed = len(keys)

    @property
    def resumed(self) -> int:
        """Sets loaded from a checkpoint at start."""
        return self._resumed


def fingerprint(*parts: Any) -> str:
    """A short hash of arrays and strings, identifying a run for its checkpoint."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.shape).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:32]


# -- the searches ----------------------------------------------------------------------------


def _objective(
    ins: np.ndarray, dele: np.ndarray, targets: np.ndarray, cfg: SearchConfig
) -> np.ndarray:
    """F for rows of insertion/deletion probabilities (``K×T`` each) → ``(K,)``."""
    f_ins = ins[..., targets].mean(axis=-1)
    f_del = dele[..., targets].mean(axis=-1)
    return cfg.lambda1 * f_ins + cfg.lambda2 * (1.0 - f_del)


def _score_sets(ev: Evaluator, keeps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insertion (keep) and deletion (complement) probabilities for ``K×N`` keep rows."""
    both = ev(np.concatenate([keeps, ~keeps]))
    return both[: len(keeps)], both[len(keeps) :]


def _curves_along(ev: Evaluator, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insertion/deletion curves for every prefix of ``order`` (cached sets are free)."""
    n = len(order)
    keeps = np.zeros((n + 1, n), dtype=bool)
    for k in range(1, n + 1):
        keeps[k] = keeps[k - 1]
        keeps[k, order[k - 1]] = True
    return _score_sets(ev, keeps)


def _exact(
    ev: Evaluator, n: int, targets: np.ndarray, cfg: SearchConfig
) -> tuple[list[int], int | None]:
    selected = np.zeros(n, dtype=bool)
    order: list[int] = []
    full_ins = None
    if cfg.early_stop is not None:
        full_ins = ev(np.ones((1, n), dtype=bool))[0, targets].mean()
    for step in range(n):
        cands = np.flatnonzero(~selected)
        keeps = np.repeat(selected[None], len(cands), axis=0)
        keeps[np.arange(len(cands)), cands] = True
        ins, dele = _score_sets(ev, keeps)
        f = _objective(ins, dele, targets, cfg)
        best = int(np.argmax(f))  # ties: the lowest region id
        order.append(int(cands[best]))
        selected[cands[best]] = True
        if full_ins is not None and len(cands) > 1:
            if ins[best, targets].mean() >= full_ins - cfg.early_stop:
                rest = np.delete(cands, best)
                rest_f = np.delete(f, best)
                order.extend(int(r) for r in rest[np.argsort(-rest_f, kind="stable")])
                return order, step + 1
    return order, None


def _efficient(ev: Evaluator, n: int, targets: np.ndarray, cfg: SearchConfig) -> list[int]:
    full = np.ones(n, dtype=bool)
    ev(np.stack([~full, full]))  # the black and the full image, once
    selected = np.zeros(n, dtype=bool)  # forward picks
    removed = np.zeros(n, dtype=bool)  # backward picks
    forward: list[int] = []
    backward: list[int] = []
    sorted_list: list[int] = []  # remaining regions, best first, as of the last full update
    step = 0
    while (~selected & ~removed).sum() > 1:
        remaining = np.flatnonzero(~selected & ~removed)
        # forward step
        full_update = step % cfg.update_step == 0
        if full_update:
            cands = remaining
        else:
            sorted_list = [r for r in sorted_list if not selected[r] and not removed[r]]
            cands = np.array(sorted_list[: cfg.search_scope], dtype=int)
        keeps = np.repeat(selected[None], len(cands), axis=0)
        keeps[np.arange(len(cands)), cands] = True
        ins, dele = _score_sets(ev, keeps)
        f = _objective(ins, dele, targets, cfg)
        if full_update:
            ranked = np.argsort(-f, kind="stable")
            sorted_list = [int(cands[i]) for i in ranked]
            pick = sorted_list[0]
        else:
            pick = int(cands[int(np.argmax(f))])
        selected[pick] = True
        forward.append(pick)
        sorted_list = [r for r in sorted_list if r != pick]
        step += 1
        if (~selected & ~removed).sum() <= 1:
            break
        # backward step
        if not backward:
            # the worst region of this step's scores
            worst_order = np.argsort(f, kind="stable")
            drop = next(int(cands[i]) for i in worst_order if int(cands[i]) != pick)
        else:
            pending = [r for r in sorted_list if not selected[r] and not removed[r]][
                -cfg.pending_samples :
            ]
            keeps = np.repeat((~removed)[None], len(pending), axis=0)
            keeps[np.arange(len(pending)), pending] = False
            ins_b, dele_b = _score_sets(ev, keeps)
            fb = _objective(ins_b, dele_b, targets, cfg)
            drop = int(pending[int(np.argmax(fb))])
        removed[drop] = True
        backward.append(drop)
        sorted_list = [r for r in sorted_list if r != drop]
    last = [int(r) for r in np.flatnonzero(~selected & ~removed)]
    return forward + last + backward[::-1]


def run_search(
    ev: Evaluator, n_regions: int, targets: np.ndarray, cfg: SearchConfig
) -> SearchRecord:
    """Run the configured search and return the order with full curves along it."""
    targets = np.asarray(targets, dtype=int)
    t0 = time.perf_counter()
    stopped_at = None
    if cfg.search == "exact":
        order, stopped_at = _exact(ev, n_regions, targets, cfg)
    else:
        order = _efficient(ev, n_regions, targets, cfg)
    order_arr = np.asarray(order, dtype=np.int32)
    if sorted(order) != list(range(n_regions)):  # an internal invariant, not user input
        raise RuntimeError(f"search produced an order that is not a permutation: {order}")
    ins, dele = _curves_along(ev, order_arr)
    objective = _objective(ins, dele, targets, cfg)
    return SearchRecord(
        order=order_arr,
        insertion=ins,
        deletion=dele,
        objective=objective,
        n_evaluations=ev.n_evaluations,
        seconds=time.perf_counter() - t0,
        stopped_at=stopped_at,
    )


def estimate_evaluations(n: int, cfg: SearchConfig) -> int:
    """Evaluations the search will ask for (exact: N(N+1); efficient: a close estimate)."""
    if cfg.search == "exact":
        return n * (n + 1)
    total, remaining, step = 2, n, 0
    first_backward = True
    while remaining > 1:
        total += 2 * (
            remaining if step % cfg.update_step == 0 else min(cfg.search_scope, remaining)
        )
        remaining -= 1
        step += 1
        if remaining <= 1:
            break
        if not first_backward:
            total += 2 * min(cfg.pending_samples, remaining)
        first_backward = False
        remaining -= 1
    return total
