"""Benchmark: every baseline of ``eagle_kit.baselines`` next to EAGLE on the embedded model.

For each shapes scene (``make_scene(seed)``, the caption as the answer, the first object's
words as targets) and each method, prints the mean insertion / deletion AUC on the same
curves, the method's own images (``baseline_evaluations``; EAGLE: its search images), its
wall time and peak memory (``baseline_peak_memory_bytes``: peak resident memory above the
start on the CPU, CUDA's peak allocation on a GPU). One process, one thread by default.

Usage::

    python benchmarks/bench_baselines.py                       # 4 scenes, 16 grid regions
    python benchmarks/bench_baselines.py --scenes 10 --regions 30 --segmentation slico
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import eagle_kit as ek

METHODS = ("eagle", "occlusion", "rise", "random", "shapley_sampling", "kernel_shap", "lime",
           "llava_cam", "tam")  # fmt: skip


def run(method: str, model, image, regions, opts: dict) -> ek.Explanation:
    b = ek.baselines
    if method == "eagle":
        return ek.explain(model, image, regions=regions, search="exact", **opts)
    if method == "random":
        return b.random_order(model, image, regions, **opts)
    if method == "llava_cam":
        return b.llava_cam(model, image, **opts)
    if method == "tam":
        return b.token_activation_map(model, image, **opts)
    return getattr(b, method)(model, image, regions, **opts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--regions", type=int, default=16)
    parser.add_argument("--segmentation", default="grid")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    ek.set_threads(args.threads)
    model = ek.load_model("shapes")
    rows: dict[str, list[tuple[float, float, int, float, int]]] = {m: [] for m in METHODS}
    for seed in range(args.scenes):
        scene = ek.shapes.make_scene(seed, occlusion=False)
        regions = ek.segment(scene.image, n_regions=args.regions, method=args.segmentation)
        opts = dict(
            prompt=ek.shapes.CAPTION_PROMPT, answer=scene.caption,
            targets=scene.objects[0].name, progress=False,
        )  # fmt: skip
        for method in METHODS:
            t0 = time.perf_counter()
            expl = run(method, model, scene.image, regions, opts)
            seconds = time.perf_counter() - t0
            a = expl.dataset.attrs
            rows[method].append((
                ek.metrics.insertion_auc(expl), ek.metrics.deletion_auc(expl),
                int(a.get("baseline_evaluations", a.get("n_search_images", 0))), seconds,
                int(a.get("baseline_peak_memory_bytes", -1)),
            ))  # fmt: skip
    print(
        f"embedded model, {args.scenes} scenes, {args.regions} {args.segmentation} regions, "
        f"{args.threads} thread(s); means over scenes"
    )
    print(
        f"{'method':18s} {'ins AUC':>8s} {'del AUC':>8s} {'images':>7s} {'s/scene':>8s} {'peak MB':>8s}"
    )
    for method, r in rows.items():
        ins, dele, ev, sec, mem = (np.mean([x[i] for x in r]) for i in range(5))
        peak = f"{mem / 2**20:8.1f}" if mem >= 0 else f"{'-':>8s}"
        print(f"{method:18s} {ins:8.3f} {dele:8.3f} {ev:7.0f} {sec:8.2f} {peak}")


if __name__ == "__main__":
    main()
