"""The EAGLE greedy searches (METHOD.md §3–4), pure and scorer-agnostic.

The search sees regions only as indices. It asks an :class:`Evaluator` for the per-token
probabilities of sets of kept regions; the evaluator batches, caches, counts, shows progress
and checkpoints. A fake scorer is all the tests need.

The fast search (``search="fast"``) aims at exact greedy's faithfulness with a fraction of its
images. With F(S) = λ1·f(x_S) + λ2·(1 − f(x_{\\S})) (METHOD §3) and the gap
g = f(full) − f(black) of the targets:

1. score the black and the full image; if |g| < :data:`TINY_GAP` the image barely moves the
   targets: warn, rank the regions by one sweep of F({α}) at the empty set (2N images), record
   ``stopped_at = 0`` and a note — cheap and well defined, where a search would chase noise;
2. step 0 scores F({α}) for every region; each region keeps its last marginal gain
   F(S ∪ {α}) − F(S) as a *stale bound* (lazy greedy, CELF);
3. each later step re-checks regions at the current S in order of stale bound, in chunks of
   1, 2, 4 … regions (at most ``batch_size // 2``, two images each), until the best fresh gain
   beats the next stale bound (ties: the lower region id, as exact's argmax). The pick is
   always a freshly scored region;
4. F is not submodular, so a stale bound can be too low (two regions that matter only
   together). When the best fresh gain is under :data:`FAST_STALL`·|g| (progress stalls), every
   stale region is re-checked once; if that found a region gaining more than
   ``early_stop``·|g| over the lazy pick (gains are moving: increasing returns) the next stall
   re-checks again, otherwise (no change, or a change within the tolerance: noise) the wait
   until the next re-check doubles;
5. stop expanding once insertion has reached the full image's score and deletion the black
   image's, both within ``early_stop``·|g| (default :data:`FAST_TOLERANCE`); then
   a. the tail (the regions left) is ordered by stale bound, highest first (ties: the lower
      id), from what is already known — no image is asked for. Only when step 0 saw an image
      score more than :data:`FAST_DEEPER`·``early_stop``·|g| below the black image (one region
      alone, or the image without one: the black image is not the lowest score), or when the
      search stopped after fewer than :data:`FAST_FRESH_TOP` picks (the tail then holds the
      map's top ranks, which stale bounds order poorly), is the tail ordered by one fresh
      sweep of the deletion side instead, f(x without S ∪ {α}), lowest first (the insertion
      side sits at the full image's score);
   b. the curves' own points along the tail are scored (the curves need them anyway). If a
      deletion point falls more than FAST_DEEPER·``early_stop``·|g| below the point reached
      and no sweep has run, the sweep runs now, orders the tail, and b starts again;
   c. if the sweep finds one removal that lowers the deletion score by more than
      FAST_DEEPER·``early_stop``·|g| below the point reached, the search goes on instead (d);
   d. otherwise every curve point along the tail must stay at both ends within
      :data:`FAST_TAIL_BAND`·``early_stop``·|g|; a region whose point leaves that band goes to
      the end of the tail and the rest is checked again (at most :data:`FAST_DEFER` times). If
      a point still leaves the band, the tail's head before it is kept and lazy greedy goes on
      from there, with the sweep's deletion gains (if a sweep ran) raising stale bounds (never
      lowering them); after the r-th failed check the next stop is tried 2^(r−1) steps later;
6. the curves are completed for every prefix, like every search's.

Guarantees: every greedy pick is a freshly scored argmax; on an additive scorer (gains that
never change, so the stale bounds are the gains) the order is exact greedy's; an accepted tail
keeps every curve point within FAST_TAIL_BAND·``early_stop``·|g| of the ends (insertion at the
full score, deletion at the black one), so a region whose insertion lowers the score cannot
head it, and a tail whose own deletion points fall clearly below the point reached is accepted
only after a sweep found no single removal that deep. Cost, with k = ``stopped_at``: 2N + 2
images for step 0, about two per lazy step, and 2(N − k) for the tail's curve points, which the
curves need anyway — about 4N in all when the search stops early and nothing is re-checked,
the least any search that draws both curves over N regions can ask for after a full first
step; plus 2(N − k) per stall re-check and per deferred region (less when it sits late in the
tail) and N − k per deletion sweep. Failure modes: increasing returns that stay hidden while
progress does not stall (a synergy whose first half looks useless while the steps still gain
more than FAST_STALL·|g|); a black image that scores high only once two or more regions beyond
the tail's order are removed together, which neither step 0's images nor the tail's points
show (no sweep runs, and the deletion curve stays at the black score where exact's goes
lower); a deletion curve that can go lower than the black image's score by less than
FAST_DEEPER·``early_stop``·|g| per region but by more over several (one embedded-world scene
in 50 at N = 64 ends +0.008 deletion AUC above exact's so); a deletion side that reaches the
black score only with the last regions (no stop: lazy steps to the end, one scene in 50 at
23 % of exact's images); on steep synthetic scorers, single-region gains near zero on both
sides hide increasing returns from the stale bounds and cost deletion AUC (``bench_fast.py``'s
synthetic section). ``benchmarks/bench_fast.py`` measures all of this against exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .scoring import check_probabilities

__all__ = ["SearchConfig", "SearchRecord", "Evaluator", "run_search", "SEARCHES"]

SEARCHES = ("exact", "efficient", "fast")

FAST_TOLERANCE = 0.01
"""The fast search's default stop tolerance, a fraction of the gap ``f(full) − f(black)``."""

FAST_STALL = 0.05
"""The fast search re-checks every region at a step whose best gain is under this fraction of
the gap (progress stalls), in case a stale bound hides an increasing return."""

TINY_GAP = 0.01
"""Below this ``|f(full) − f(black)|`` (in probability) the image barely moves the targets: the
relative stop rule is meaningless, so early stop never fires and the fast search ranks the
regions by one sweep at the empty set (METHOD §5 calls a span under 0.01 tiny too)."""

FAST_TAIL_BAND = 5
"""The fast search accepts its tail only if every curve point along it stays within this many
stop tolerances (``early_stop·|f(full) − f(black)|``) of the ends."""

FAST_DEEPER = 3
"""The fast search sweeps the deletion side when an image scores more than this many stop
tolerances below the black one, and searches on when one more removal would still lower the
deletion score by as much (an image whose black version scores high)."""

FAST_FRESH_TOP = 3
"""When the fast search stops with fewer picks than this, the tail holds top ranks of the map:
it is ordered by a fresh deletion sweep rather than by stale bounds."""

FAST_DEFER = 3
"""Regions the fast search moves to the end of its tail, at most, before it searches on."""


@dataclass(frozen=True)
class SearchConfig:
    """Options of the EAGLE search.

    Attributes:
        search: ``"exact"`` greedy (N(N+1) evaluations), ``"efficient"`` bidirectional greedy
            (the reference's, ~1.4k evaluations for N = 64) or ``"fast"``: lazy greedy that
            stops expanding once both curves reach their ends and orders the rest by what it
            already knows (a fresh deletion sweep when the black image is not the lowest
            score), checked along the curves (the module documentation of
            ``eagle_kit.search``; under 10 % of exact's images at N = 64).
        lambda1: weight of insight (sufficiency) ``f(x_S)``.
        lambda2: weight of necessity ``1 − f(x_{\\S})``.
        batch_size: masked images per scorer call (``None``: the scorer's planned size, else 64).
        search_scope: efficient search — candidates scored on a step between full updates.
        pending_samples: efficient search — removal candidates scored per backward step.
        update_step: efficient search — re-score every remaining region each this many steps.
        early_stop: stop expanding once the targets' insertion score is within
            ``early_stop·|f(full) − f(black)|`` of the full-image score **and** their deletion
            score within as much of the black-image score (thresholds relative to the gap,
            in [0, 1)); the rest are ordered without searching (exact: by their last-step
            objective; efficient: by one fresh sweep at the stop point; fast: by stale bound
            or a deletion sweep, checked along the curves). ``None``:
            exact and efficient never stop early; fast uses :data:`FAST_TOLERANCE`. When the
            gap is under :data:`TINY_GAP`, exact and efficient never stop early.
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
            if isinstance(self.early_stop, bool) or not isinstance(
                self.early_stop, (int, float, np.integer, np.floating)
            ):
                raise ValueError(
                    f"early_stop must be a number in [0, 1) or None; got {self.early_stop!r}."
                )
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
        stopped_at: steps expanded greedily before the search stopped early (``None``: it
            searched to the end; fast search with a tiny gap: 0).
        note: what the reader of the result should know about this run ("" if nothing).
    """

    order: np.ndarray
    insertion: np.ndarray
    deletion: np.ndarray
    objective: np.ndarray
    n_evaluations: int
    seconds: float
    stopped_at: int | None = None
    note: str = ""


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
        prepare_seconds: time spent preparing this run (segmentation, ``scorer.prepare``),
            saved with the checkpoint so that a resumed run reports the total.

    Cost figures (totals over every part of a resumed run): :attr:`n_search_images` and
    :attr:`n_curve_images` (distinct images the search asked for, and those asked for only
    to complete the curves; they add up to :attr:`n_images`), :attr:`forward_calls`
    (``score_keep`` calls, i.e. batches), :attr:`search_seconds`, :attr:`total_prepare_seconds`.
    ``n_evaluations`` and ``n_forward_calls`` count this part only; :attr:`resumed` the images
    loaded from the checkpoint.
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
    prepare_seconds: float = 0.0
    n_forward_calls: int = 0
    phase: str = "search"  # "search" or "curves": which count a requested image joins
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict)
    _last_save: float = field(default_factory=time.monotonic)
    _resumed: int = 0
    _search_keys: set[bytes] = field(default_factory=set)
    _curve_keys: set[bytes] = field(default_factory=set)
    _started: float | None = None
    _prior_calls: int = 0  # forward calls, search and prepare seconds of earlier parts
    _prior_search_seconds: float = 0.0
    _prior_prepare_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.checkpoint is not None and Path(self.checkpoint).exists():
            self._load_checkpoint()

    # -- scoring ------------------------------------------------------------------------
    def __call__(self, keep: np.ndarray) -> np.ndarray:
        """Probabilities for each row of ``keep`` (``K×N`` bool) → ``K×T``."""
        keep = np.asarray(keep, dtype=bool)
        keys = [np.packbits(row).tobytes() for row in keep]
        if self._started is None:
            self._started = time.perf_counter()
        if self.phase == "search":
            self._search_keys.update(keys)
        else:
            self._curve_keys.update(k for k in keys if k not in self._search_keys)
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
                self.n_forward_calls += 1
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
        np.savez(
            tmp,
            keys=keys,
            probs=probs,
            fingerprint=np.array(self.fingerprint),
            forward_calls=np.array(self.forward_calls),
            search_seconds=np.array(self.search_seconds),
            prepare_seconds=np.array(self.total_prepare_seconds),
        )
        os.replace(tmp, path)
        self._last_save = time.monotonic()

    def _load_checkpoint(self) -> None:
        path = Path(self.checkpoint)
        try:
            with np.load(path, allow_pickle=False) as data:
                fingerprint = str(data["fingerprint"])
                keys, probs = data["keys"], data["probs"]
                prior = {
                    k: float(data[k]) if k in data else 0.0
                    for k in ("forward_calls", "search_seconds", "prepare_seconds")
                }
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
        self._prior_calls = int(prior["forward_calls"])
        self._prior_search_seconds = prior["search_seconds"]
        self._prior_prepare_seconds = prior["prepare_seconds"]

    @property
    def resumed(self) -> int:
        """Sets loaded from a checkpoint at start."""
        return self._resumed

    @property
    def n_search_images(self) -> int:
        """Distinct images the search asked for (the black and full image included)."""
        return len(self._search_keys)

    @property
    def n_curve_images(self) -> int:
        """Distinct images asked for only to complete the curves."""
        return len(self._curve_keys)

    @property
    def n_images(self) -> int:
        """All distinct images asked for, scored now or in an earlier part of a resumed run."""
        return len(self._search_keys) + len(self._curve_keys)

    @property
    def forward_calls(self) -> int:
        """Scorer calls (batches), over every part of a resumed run."""
        return self._prior_calls + self.n_forward_calls

    @property
    def search_seconds(self) -> float:
        """Wall time from the first scoring request until now, over every part."""
        now = 0.0 if self._started is None else time.perf_counter() - self._started
        return self._prior_search_seconds + now

    @property
    def total_prepare_seconds(self) -> float:
        """Preparation time (segmentation, ``scorer.prepare``), over every part."""
        return self._prior_prepare_seconds + float(self.prepare_seconds)


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
    ends = _ends(ev, n, targets, cfg.early_stop) if cfg.early_stop is not None else None
    for step in range(n):
        cands = np.flatnonzero(~selected)
        keeps = np.repeat(selected[None], len(cands), axis=0)
        keeps[np.arange(len(cands)), cands] = True
        ins, dele = _score_sets(ev, keeps)
        f = _objective(ins, dele, targets, cfg)
        best = int(np.argmax(f))  # ties: the lowest region id
        order.append(int(cands[best]))
        selected[cands[best]] = True
        if ends is not None and len(cands) > 1:
            if ends.reached(ins[best, targets].mean(), dele[best, targets].mean()):
                rest = np.delete(cands, best)
                rest_f = np.delete(f, best)
                order.extend(int(r) for r in rest[np.argsort(-rest_f, kind="stable")])
                return order, step + 1
    return order, None


def _efficient(
    ev: Evaluator, n: int, targets: np.ndarray, cfg: SearchConfig
) -> tuple[list[int], int | None]:
    ends = _ends(ev, n, targets, cfg.early_stop)  # the black and the full image, once
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
        best = int(np.flatnonzero(cands == pick)[0])
        if ends.reached(ins[best, targets].mean(), dele[best, targets].mean()):
            # early stop: the middle by one fresh sweep at the forward picks
            rest = np.flatnonzero(~selected & ~removed)
            middle = _fresh_sweep_order(ev, selected, targets, cfg, rest)
            return forward + middle + backward[::-1], step
        # backward step: the first time, then only while more than pending_samples remain
        # (METHOD §4 step 3); after that the forward steps alone order the rest
        if backward and (~selected & ~removed).sum() <= cfg.pending_samples:
            continue
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
    return forward + last + backward[::-1], None


# -- early stop and the fast search -----------------------------------------------------------


@dataclass(frozen=True)
class _Ends:
    """The targets' scores on the black and the full image, and the relative stop rule."""

    black: float
    full: float
    tolerance: float | None

    @property
    def gap(self) -> float:
        return self.full - self.black

    @property
    def tiny(self) -> bool:
        return abs(self.gap) < TINY_GAP

    def reached(self, ins: float, dele: float) -> bool:
        """Whether insertion has reached the full-image score and deletion the black one.

        Both within ``tolerance·|gap|``; the rule is written as progress along the gap so it
        holds for either sign of the gap. Never true without a tolerance or with a tiny gap.
        """
        if self.tolerance is None or self.tiny:
            return False
        gap = self.gap
        return (ins - self.black) / gap >= 1.0 - self.tolerance and (
            self.full - dele
        ) / gap >= 1.0 - self.tolerance


def _ends(ev: Evaluator, n: int, targets: np.ndarray, tolerance: float | None) -> _Ends:
    both = ev(np.stack([np.zeros(n, dtype=bool), np.ones(n, dtype=bool)]))
    return _Ends(float(both[0, targets].mean()), float(both[1, targets].mean()), tolerance)


def _sweep(
    ev: Evaluator, selected: np.ndarray, cands: np.ndarray, targets: np.ndarray, cfg: SearchConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``F(S ∪ {α})`` for each candidate α, with the targets' insertion/deletion scores."""
    keeps = np.repeat(selected[None], len(cands), axis=0)
    keeps[np.arange(len(cands)), cands] = True
    ins, dele = _score_sets(ev, keeps)
    return (
        _objective(ins, dele, targets, cfg),
        ins[:, targets].mean(axis=1),
        dele[:, targets].mean(axis=1),
    )


def _ranked(cands: np.ndarray, f: np.ndarray) -> list[int]:
    """Candidates by decreasing ``f``; ties keep the lower region id first (as exact's argmax)."""
    return [int(c) for c in np.asarray(cands)[np.argsort(-f, kind="stable")]]


def _fresh_sweep_order(
    ev: Evaluator,
    selected: np.ndarray,
    targets: np.ndarray,
    cfg: SearchConfig,
    rest: np.ndarray | None = None,
) -> list[int]:
    """``rest`` (default: the regions not in S), ordered by one fresh sweep of ``F(S ∪ {α})``."""
    rest = np.flatnonzero(~selected) if rest is None else np.asarray(rest, dtype=int)
    if len(rest) <= 1:
        return [int(r) for r in rest]
    return _ranked(rest, _sweep(ev, selected, rest, targets, cfg)[0])


def _tail_points(
    ev: Evaluator, selected: np.ndarray, tail: list[int], targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The targets' insertion and deletion scores with ``S`` and each proper prefix of
    ``tail`` kept (removed) — the curves' points along the tail."""
    keeps = np.repeat(selected[None], len(tail) - 1, axis=0)
    for j, r in enumerate(tail[:-1]):
        keeps[j:, r] = True
    ins, dele = _score_sets(ev, keeps)
    return ins[:, targets].mean(axis=1), dele[:, targets].mean(axis=1)


def _deletion_sweep(
    ev: Evaluator, selected: np.ndarray, rest: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """The targets' score with ``S ∪ {α}`` removed, for each ``α`` in ``rest`` → ``(len(rest),)``."""
    keeps = np.repeat((~selected)[None], len(rest), axis=0)
    keeps[np.arange(len(rest)), rest] = False
    return ev(keeps)[:, targets].mean(axis=1)


def _fast(
    ev: Evaluator, n: int, targets: np.ndarray, cfg: SearchConfig
) -> tuple[list[int], int | None, str]:
    """Lazy greedy (CELF-style) with stall refreshes, a relative stop and a checked tail.

    Returns ``(order, stopped_at, note)``; the algorithm is described in the module docstring.
    """
    tolerance = FAST_TOLERANCE if cfg.early_stop is None else float(cfg.early_stop)
    ends = _ends(ev, n, targets, tolerance)
    selected = np.zeros(n, dtype=bool)
    if ends.tiny:
        note = (
            f"the image moves the targets by only {ends.gap:+.4f} (full − black, under "
            f"{TINY_GAP}); the fast search ranked the regions by one sweep at the empty set "
            f"(insert one + remove one) instead of searching. Use search='exact' for a greedy "
            f"order."
        )
        warnings.warn(note, UserWarning, stacklevel=4)
        return _fresh_sweep_order(ev, selected, targets, cfg), 0, note
    f_current = cfg.lambda1 * ends.black + cfg.lambda2 * (1.0 - ends.full)  # F(∅)
    gain = np.full(n, np.inf)  # each region's last marginal gain: its stale bound
    chunk_cap = max(1, ev.batch_size // 2)  # a chunk of c candidates asks for 2c images
    stall = FAST_STALL * abs(ends.gap)
    order: list[int] = []
    next_refresh, wait = 1, 1
    failures, next_check = 0, 0  # failed tail checks; the step of the next stop
    deep = FAST_DEEPER * tolerance  # "clearly below", in fractions of the gap
    below_black = False  # step 0 saw an image score clearly below the black one
    while (~selected).sum() > 1:
        remaining = np.flatnonzero(~selected)
        step = len(order)
        fresh: dict[int, tuple[float, float, float, float]] = {}  # region -> (gain, F, ins, del)
        chunk = len(remaining) if step == 0 else 1  # the first step scores every region
        refresh, lazy_best = False, -1
        while True:
            stale = sorted(
                (int(r) for r in remaining if int(r) not in fresh), key=lambda r: (-gain[r], r)
            )
            if fresh:
                best = min(fresh, key=lambda r: (-fresh[r][0], r))
                if refresh:  # every region is fresh now
                    # a refresh that found a clearly better region is due again at the
                    # next stall (gains are moving: increasing returns); one that changed
                    # nothing, or only within the stop tolerance (noise), waits twice as long
                    gained = fresh[best][0] - fresh[lazy_best][0] > tolerance * abs(ends.gap)
                    wait = 1 if gained else 2 * wait
                    next_refresh = step + wait
                    break
                # the best fresh gain beats every stale bound (ties: the lower region id)
                if not stale or (-fresh[best][0], best) < (-gain[stale[0]], stale[0]):
                    if not (stale and fresh[best][0] < stall and step >= next_refresh):
                        break
                    # progress stalls: stale bounds may hide increasing returns (F is not
                    # submodular), so re-check every stale region once
                    refresh, lazy_best, chunk = True, best, len(stale)
            take = np.array(stale[:chunk], dtype=int)
            f, ins, dele = _sweep(ev, selected, take, targets, cfg)
            if step == 0:  # one region alone, or the image without one, below the black score
                progress = (np.concatenate([ins, dele]) - ends.black) / ends.gap
                below_black = float(np.min(progress)) < -deep
            for r, fr, i, d in zip(take, f, ins, dele):
                gain[r] = fr - f_current
                fresh[int(r)] = (float(gain[r]), float(fr), float(i), float(d))
            chunk = min(2 * chunk, chunk_cap)
        selected[best] = True
        order.append(best)
        f_current = fresh[best][1]
        if (
            not ends.reached(fresh[best][2], fresh[best][3])
            or (~selected).sum() <= 1
            or len(order) < next_check
        ):
            continue
        # both ends reached: the tail in order of stale bound (ties: the lower id) — or, when
        # the black image is not the lowest score, by one fresh sweep of the deletion side
        rest = np.flatnonzero(~selected)
        del_s = fresh[best][3]
        band = _Ends(ends.black, ends.full, tolerance * FAST_TAIL_BAND)
        fresh_top = len(order) < FAST_FRESH_TOP  # the map's top ranks lie in the tail
        swept = _deletion_sweep(ev, selected, rest, targets) if below_black or fresh_top else None
        if swept is None:
            tail = sorted((int(r) for r in rest), key=lambda r: (-gain[r], r))
        else:
            tail = _ranked(rest, -swept)
        # the deletion side can still fall clearly below the point reached: search on
        deeper = swept is not None and float(np.max((del_s - swept) / ends.gap)) > deep
        left: list[int] = [0] if deeper else []
        ins_t = del_t = np.zeros(0)
        deferred = 0
        while not deeper:
            # verify with the curves' own points along the tail (the curves need them
            # anyway): each must stay at both ends within the band
            ins_t, del_t = _tail_points(ev, selected, tail, targets)
            if swept is None and float(np.max((del_s - del_t) / ends.gap)) > deep:
                # the tail's deletion points fall clearly below the point reached: the
                # black image is not the lowest score after all — sweep, and check again
                swept = _deletion_sweep(ev, selected, rest, targets)
                tail, deferred = _ranked(rest, -swept), 0
                deeper = float(np.max((del_s - swept) / ends.gap)) > deep
                left = [0] if deeper else []
                continue
            left = [j for j in range(len(tail) - 1) if not band.reached(ins_t[j], del_t[j])]
            if not left or deferred >= FAST_DEFER or left[0] >= len(tail) - 1 - deferred:
                break
            # the region that leaves the band goes to the end (defer it)
            tail.append(tail.pop(left[0]))
            deferred += 1
        if not left:
            return order + tail, len(order), ""
        failures += 1
        for j in range(left[0]):  # the tail's head stays at both ends: keep it
            selected[tail[j]] = True
            order.append(tail[j])
            f_current = float(cfg.lambda1 * ins_t[j] + cfg.lambda2 * (1.0 - del_t[j]))
        next_check = len(order) + 2 ** (failures - 1)
        if swept is not None:
            # the sweep's deletion side can raise a stale bound (never lower it: a bound
            # that is too low would hide a region)
            for r, d in zip(rest, swept):
                gain[r] = max(gain[r], cfg.lambda2 * (del_s - float(d)))
    return order + [int(r) for r in np.flatnonzero(~selected)], None, ""


def run_search(
    ev: Evaluator, n_regions: int, targets: np.ndarray, cfg: SearchConfig
) -> SearchRecord:
    """Run the configured search and return the order with full curves along it."""
    targets = np.asarray(targets, dtype=int)
    t0 = time.perf_counter()
    stopped_at, note = None, ""
    if cfg.search == "exact":
        order, stopped_at = _exact(ev, n_regions, targets, cfg)
    elif cfg.search == "fast":
        order, stopped_at, note = _fast(ev, n_regions, targets, cfg)
    else:
        order, stopped_at = _efficient(ev, n_regions, targets, cfg)
    order_arr = np.asarray(order, dtype=np.int32)
    if sorted(order) != list(range(n_regions)):  # an internal invariant, not user input
        raise RuntimeError(f"search produced an order that is not a permutation: {order}")
    ev.phase = "curves"  # images asked for from here on only complete the curves
    ins, dele = _curves_along(ev, order_arr)
    ev.phase = "search"
    objective = _objective(ins, dele, targets, cfg)
    return SearchRecord(
        order=order_arr,
        insertion=ins,
        deletion=dele,
        objective=objective,
        n_evaluations=ev.n_images,
        seconds=time.perf_counter() - t0,
        stopped_at=stopped_at,
        note=note,
    )


def estimate_evaluations(n: int, cfg: SearchConfig) -> int:
    """Images the search will ask for (exact: N(N+1) requests; efficient: the requests of
    METHOD §4 with the reference defaults' rules, black and full image included — 1412 for
    N = 64). The cache answers repeated requests, so the count of distinct images
    (``n_search_images``) can be a little lower."""
    if cfg.search == "fast":  # typical: 2N at step 0, ~2 per step, the tail (see module doc)
        return 5 * n
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
            if remaining <= cfg.pending_samples:
                continue  # no backward step once pending_samples or fewer remain
            total += 2 * cfg.pending_samples
        first_backward = False
        remaining -= 1
    return total
