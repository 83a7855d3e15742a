"""Exact vs efficient EAGLE search (and exact with early stop) on a synthetic scorer.

Prints, for N = 16, 32, 64 regions: evaluations, wall time, insertion/deletion AUC, and the
ratios against the exact search. The scorer is a fixed non-additive function of the visible
regions (a sigmoid of weighted evidence with pairwise synergies), with a simulated per-image
cost so that wall time tracks evaluations as it does with a real model.

    python benchmarks/bench_search.py [--cost-ms 0.2] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import eagle_kit as ek
from eagle_kit import metrics


def make_problem(n: int, seed: int):
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    h = w = side * 8
    labels = np.minimum((np.arange(h)[:, None] // 8) * side + np.arange(w)[None] // 8, n - 1)
    img = np.full((h, w, 3), 128, np.uint8)
    weight = rng.gamma(0.6, size=n)
    weight /= weight.sum()
    pairs = rng.choice(n, size=(n // 4, 2))
    centres = np.array([np.argwhere(labels == r)[0] for r in range(n)])

    def visible(images):
        return images[:, centres[:, 0], centres[:, 1], 0] > 0

    def scorer(images, cost_s=0.0):
        vis = visible(images).astype(float)
        z = vis @ weight + 0.15 * (vis[:, pairs[:, 0]] * vis[:, pairs[:, 1]]).mean(axis=1)
        if cost_s:
            time.sleep(cost_s * len(images))
        return np.stack([1 / (1 + np.exp(-10 * (z - 0.45))), np.full(len(images), 0.8)], axis=1)

    return img, ek.RegionSet(labels.astype(np.int32)), scorer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cost-ms", type=float, default=0.2, help="simulated cost per masked image")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print(f"synthetic scorer, {args.cost_ms} ms per image, mean over {args.seeds} seeds\n")
    header = f"{'N':>3} {'search':<16} {'evals':>7} {'seconds':>8} {'ins AUC':>8} {'del AUC':>8} {'evals ×':>8} {'time ×':>7}"
    print(header)
    print("-" * len(header))
    for n in (16, 32, 64):
        rows = {}
        for name, kw in (
            ("exact", dict(search="exact")),
            ("efficient", dict(search="efficient")),
            ("exact+stop.05", dict(search="exact", early_stop=0.05)),
            ("fast", dict(search="fast")),
        ):
            ev, secs, ins, dele = [], [], [], []
            for seed in range(args.seeds):
                img, rs, scorer = make_problem(n, seed)
                t0 = time.perf_counter()
                e = ek.explain(
                    lambda x, s=scorer: s(x, args.cost_ms / 1000),
                    img,
                    regions=rs,
                    targets=[0],
                    progress=False,
                    **kw,
                )
                secs.append(time.perf_counter() - t0)
                ev.append(e.n_evaluations)
                ins.append(metrics.insertion_auc(e))
                dele.append(metrics.deletion_auc(e))
            rows[name] = (np.mean(ev), np.mean(secs), np.mean(ins), np.mean(dele))
        base = rows["exact"]
        for name, (ev, secs, ins, dele) in rows.items():
            print(
                f"{n:>3} {name:<16} {ev:>7.0f} {secs:>8.3f} {ins:>8.4f} {dele:>8.4f} "
                f"{base[0] / ev:>8.2f} {base[1] / secs:>7.2f}"
            )
        print()


if __name__ == "__main__":
    main()
