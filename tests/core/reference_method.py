"""An independent, deliberately plain implementation of the EAGLE method for parity tests.

Written from the method description only (METHOD §4, §5, §7, §8), without looking at
``eagle_kit``: slow loops, Python sets, no batching. The parity tests compare
``eagle_kit`` with it on synthetic scorers.

A *scorer* here is a function ``f(kept) -> np.ndarray`` that takes the frozenset of
regions kept visible (everything else black) and returns the probability of each
target token. Every image the search asks for is recorded as such a frozenset.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Scorer = Callable[[frozenset], np.ndarray]


class CountingScorer:
    """Wraps ``f`` and records every distinct image asked for, in the order asked."""

    def __init__(self, f: Scorer, n: int):
        self.f = f
        self.n = n
        self.all = frozenset(range(n))
        self.asked: list[frozenset] = []
        self.cache: dict[frozenset, np.ndarray] = {}

    def __call__(self, kept) -> np.ndarray:
        kept = frozenset(kept)
        if kept not in self.cache:
            self.asked.append(kept)
            self.cache[kept] = np.asarray(self.f(kept), dtype=float)
        return self.cache[kept]

    def objective(self, kept, lam1: float, lam2: float) -> float:
        """F(S) = λ1·f(x_S) + λ2·(1 − f(x_{\\S})) with f the mean over targets (METHOD §3)."""
        kept = frozenset(kept)
        ins = float(np.mean(self(kept)))
        dele = float(np.mean(self(self.all - kept)))
        return lam1 * ins + lam2 * (1.0 - dele)


@dataclass
class Result:
    order: list[int]
    insertion: np.ndarray  # (N, T): f(x_S) after each inserted region of the order
    deletion: np.ndarray  # (N, T): f(x_{\S}) after each removed region of the order
    objective: np.ndarray  # (N,): F_k for the prefixes of the order
    black: np.ndarray  # (T,)
    full: np.ndarray  # (T,)
    search_images: set = field(default_factory=set)
    curve_images: set = field(default_factory=set)


def _curves(sc: CountingScorer, order, lam1, lam2, search_images):
    """Score every prefix of ``order`` (keep-only and its complement); note extra images."""
    before = set(sc.cache)
    ins, dele, obj = [], [], []
    for k in range(1, len(order) + 1):
        kept = frozenset(order[:k])
        ins.append(sc(kept))
        dele.append(sc(sc.all - kept))
        obj.append(lam1 * float(np.mean(ins[-1])) + lam2 * (1 - float(np.mean(dele[-1]))))
    assert before == set(search_images)
    curve_images = set(sc.cache) - before
    return np.array(ins), np.array(dele), np.array(obj), curve_images


def exact_greedy(f: Scorer, n: int, *, lam1: float = 1.0, lam2: float = 1.0) -> Result:
    """Exact greedy (METHOD §4): at each step, append argmax_α F(S ∪ {α})."""
    sc = CountingScorer(f, n)
    black = sc(frozenset())
    full = sc(sc.all)
    chosen: list[int] = []
    remaining = list(range(n))
    while remaining:
        best, best_val = None, -math.inf
        for a in remaining:
            val = sc.objective(set(chosen) | {a}, lam1, lam2)
            if val > best_val:
                best, best_val = a, val
        chosen.append(best)
        remaining.remove(best)
    search = set(sc.cache)
    ins, dele, obj, extra = _curves(sc, chosen, lam1, lam2, search)
    return Result(chosen, ins, dele, obj, black, full, search, extra)


def efficient_greedy(
    f: Scorer,
    n: int,
    *,
    search_scope: int = 10,
    pending_samples: int = 8,
    update_step: int = 5,
    lam1: float = 1.0,
    lam2: float = 1.0,
    backward_rule: bool = True,
) -> Result:
    """Efficient bidirectional greedy (METHOD §4), with the ``pending_samples`` rule.

    ``backward_rule=False`` drops the rule (backward steps continue to the end), to
    show that the rule changes the order.
    """
    sc = CountingScorer(f, n)
    black = sc(frozenset())
    full = sc(sc.all)
    forward: list[int] = []
    backward: list[int] = []
    remaining = list(range(n))
    sorted_list: list[int] = []
    step = 0
    while len(remaining) > 1:
        # forward step
        if step % update_step == 0:
            scores = {a: sc.objective(set(forward) | {a}, lam1, lam2) for a in remaining}
            # descending by F; ties keep the ascending region order
            sorted_list = sorted(remaining, key=lambda a: -scores[a])
            pick = sorted_list[0]
        else:
            candidates = [a for a in sorted_list if a in remaining][:search_scope]
            pick, best_val = None, -math.inf
            for a in candidates:
                val = sc.objective(set(forward) | {a}, lam1, lam2)
                if val > best_val:
                    pick, best_val = a, val
        forward.append(pick)
        remaining.remove(pick)
        if len(remaining) <= 1:
            break
        # backward step
        if step == 0:
            worst = [a for a in sorted_list if a in remaining][-1]
            backward.append(worst)
            remaining.remove(worst)
        elif len(remaining) > pending_samples or not backward_rule:
            tail = [a for a in sorted_list if a in remaining][-pending_samples:]
            pick_b, best_val = None, -math.inf
            for b in tail:
                keep = sc.all - set(backward) - {b}
                val = sc.objective(keep, lam1, lam2)
                if val > best_val:
                    pick_b, best_val = b, val
            backward.append(pick_b)
            remaining.remove(pick_b)
        step += 1
    order = forward + remaining + backward[::-1]
    assert sorted(order) == list(range(n))
    search = set(sc.cache)
    ins, dele, obj, extra = _curves(sc, order, lam1, lam2, search)
    return Result(order, ins, dele, obj, black, full, search, extra)


def rank_values(order: Sequence[int], objective: np.ndarray, f0: float) -> np.ndarray:
    """The paper's map (METHOD §5): π_k gets (C_N − C_k)/(C_N − C_1); returns per region id."""
    F = [f0, *[float(v) for v in objective]]
    C = [0.0]
    for k in range(1, len(F)):
        C.append(C[-1] + abs(F[k] - F[k - 1]))
    out = np.zeros(len(order))
    for k, r in enumerate(order, start=1):
        out[r] = (C[-1] - C[k]) / (C[-1] - C[1])
    return out


def gain_values(order: Sequence[int], objective: np.ndarray, f0: float) -> np.ndarray:
    """The gain map (METHOD §5): π_k gets F_k − F_{k−1}; returns per region id."""
    F = [f0, *[float(v) for v in objective]]
    out = np.zeros(len(order))
    for k, r in enumerate(order, start=1):
        out[r] = F[k] - F[k - 1]
    return out


def first_word(text: str) -> str:
    """First whitespace-separated word, punctuation stripped, lower case."""
    words = text.strip().split()
    if not words:
        return ""
    return words[0].strip(string.punctuation).lower()


def mitigate(order, area, generate, label):
    """Mitigation (METHOD §7) for one sample.

    ``area[r]`` is region r's area fraction; ``generate(kept)`` returns the answer text
    for the image keeping ``kept``. Returns ``(k, removed_area)`` at the first match, or
    ``(None, 1.0)`` if never corrected. k = 0 is the unmodified image.
    """
    n = len(order)
    want = first_word(label)
    for k in range(n):
        kept = frozenset(order[: n - k])
        if first_word(generate(kept)) == want:
            removed = sum(area[r] for r in order[n - k :])
            return k, float(removed)
    return None, 1.0


def amcr_csr(removed_areas, corrected, threshold=0.1):
    """AMCR and CSR@threshold over samples; never-corrected samples count as failures."""
    amcr = sum(removed_areas) / len(removed_areas)
    csr = sum(1 for a, c in zip(removed_areas, corrected) if c and a <= threshold) / len(
        removed_areas
    )
    return amcr, csr


def medoid(labels: np.ndarray, region: int) -> tuple[int, int]:
    """Pixel of ``region`` with the smallest sum of Euclidean distances to its other pixels."""
    ys, xs = np.nonzero(labels == region)
    best, best_sum = None, math.inf
    for y, x in zip(ys, xs):
        s = float(np.sqrt((ys - y) ** 2 + (xs - x) ** 2).sum())
        if s < best_sum - 1e-9:
            best, best_sum = (int(y), int(x)), s
    return best


def point_game_strict(labels, order, inside: np.ndarray) -> bool:
    """Strict reading (METHOD §8): the medoid of the top region must be inside."""
    y, x = medoid(labels, order[0])
    return bool(inside[y, x])


def point_game_paper(labels, values, inside: np.ndarray) -> bool:
    """Paper reading (METHOD §8): any pixel at the float16 map's maximum is inside."""
    pixel_map = np.asarray(values, dtype=float)[labels].astype(np.float16)
    top = pixel_map == pixel_map.max()
    return bool((top & inside).any())
