"""The fast search against exact greedy: evaluations, faithfulness, agreement (METHOD §4, §8).

For every scene and number of regions it runs five strategies on the same model, image,
regions and targets — exact, efficient, fast, exact + early stop, efficient + early stop
(early stop at the fast search's tolerance, ``eagle_kit.search.FAST_TOLERANCE``) — and prints
per strategy: evaluations as % of exact's, insertion AUC (relative, %) and deletion AUC
(absolute) deltas against exact (mean, worst, 2.5–97.5 % interval over scenes), top-1 and
top-3 agreement with exact's order, and a point game. Then it checks the bar: fast within
1 % insertion AUC (not more than 1 % below exact's) and +0.005 deletion AUC (not more than
0.005 above) in ≥ 95 % of scenes, at ≤ 10 % of exact's evaluations for N = 64.

Three sets of problems:

* **embedded world**: held-out scenes ``eagle_kit.shapes.make_scene(seed)`` (seeds from
  900000) explained with the embedded model ``ek.load_model("shapes")``; the targets are its
  generated caption (sentence level); SLICO regions. Point game: strict (the top region's
  medoid), hit if it lies on *any* object's mask — the caption names every object, so a
  sentence-level map should peak on one; a word-level point game would need a separate
  word-level search per object and is not run here.
* **synthetic non-additive scorers**: a sigmoid of weighted evidence with pairwise synergies
  and a redundant pair (OR), one column region per feature (no point game: no objects).
* **tiny models of the real families** (random weights, a few images): they check that the
  search runs through each real scorer; their random weights barely move the targets, so the
  fast search's tiny-gap fallback is what they exercise.

``--e2e`` measures the time to an explanation at N = 64 on the embedded model: fast search +
batched scoring against the reference's way (efficient search, one masked image per forward
through the processor, full-vocabulary logits; the scorer of ``benchmarks/bench_scoring.py``),
same image, regions and answer, in one run, as a ratio.

Usage::

    python benchmarks/bench_fast.py                      # 50 scenes, N = 16 32 64, full size
    python benchmarks/bench_fast.py --quick              # a smoke run
    python benchmarks/bench_fast.py --e2e --e2e-scenes 10  # the end-to-end ratio only

The table is also written to ``benchmarks/results/bench_fast.txt`` (``--e2e``:
``bench_fast_e2e.txt``; ``--out`` to choose; not with ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
STRATEGIES: dict[str, dict[str, Any]] = {
    "exact": {"search": "exact"},
    "efficient": {"search": "efficient"},
    "fast": {"search": "fast"},
    "exact+stop": {"search": "exact", "early_stop": "tol"},
    "efficient+stop": {"search": "efficient", "early_stop": "tol"},
}
INS_TOL = 0.01  # relative
DEL_TOL = 0.005  # absolute
SHARE = 0.95
EVAL_BAR = 0.10


class Tee:
    """Print to stdout and keep the text for the results file."""

    def __init__(self) -> None:
        self.buf = io.StringIO()

    def __call__(self, *parts: Any) -> None:
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.buf.write(line + "\n")


def _kwargs(name: str) -> dict[str, Any]:
    from eagle_kit.search import FAST_TOLERANCE

    kw = dict(STRATEGIES[name])
    if kw.get("early_stop") == "tol":
        kw["early_stop"] = FAST_TOLERANCE
    return kw


def _run_all(explain_one, strategies: list[str]) -> dict[str, dict[str, Any]]:
    """Run every strategy through ``explain_one(**kw) -> Explanation`` and collect figures."""
    from eagle_kit import metrics

    out = {}
    for name in strategies:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = explain_one(**_kwargs(name))
        out[name] = {
            "evals": int(e.n_evaluations),
            "seconds": time.perf_counter() - t0,
            "ins": metrics.insertion_auc(e),
            "del": metrics.deletion_auc(e),
            "order": np.asarray(e.order).tolist(),
            "stopped": e.dataset.attrs.get("early_stopped_at"),
            "expl": e,
        }
    return out


def _report(
    tee: Tee, title: str, runs: dict[int, list[dict[str, dict[str, Any]]]], point: bool
) -> dict[int, float]:
    """Print one table per problem set; return fast's share of scenes meeting the bar per N."""
    shares = {}
    tee(f"\n## {title}")
    head = (
        f"{'N':>3} {'strategy':<15} {'evals':>7} {'% exact':>8} {'ins Δ% mean':>12} "
        f"{'worst':>8} {'95% interval':>18} {'del Δ mean':>11} {'worst':>8} "
        f"{'95% interval':>18} {'top-1':>6} {'top-3':>6}" + (f" {'point':>6}" if point else "")
    )
    tee(head)
    tee("-" * len(head))
    for n, scenes in runs.items():
        if not scenes:  # e.g. --synthetic 0
            continue
        for name in scenes[0]:
            ev_pct, d_ins, d_del, top1, top3, pg = [], [], [], [], [], []
            for s in scenes:
                ex, r = s["exact"], s[name]
                ev_pct.append(100 * r["evals"] / ex["evals"])
                d_ins.append(100 * (r["ins"] - ex["ins"]) / max(ex["ins"], 1e-12))
                d_del.append(r["del"] - ex["del"])
                top1.append(r["order"][0] == ex["order"][0])
                top3.append(len(set(r["order"][:3]) & set(ex["order"][:3])) / 3)
                if point:
                    pg.append(r["point"])
            # the worst deletion delta is the largest one
            dd = np.asarray(d_del)
            lo, hi = np.percentile(dd, [2.5, 97.5])
            del_txt = f"{dd.mean():+11.4f} {dd.max():+8.4f} [{lo:+.4f}, {hi:+.4f}]"
            di = np.asarray(d_ins)
            lo, hi = np.percentile(di, [2.5, 97.5])
            ins_txt = f"{di.mean():+12.3f} {di.min():+8.3f} [{lo:+.3f}, {hi:+.3f}]"
            tee(
                f"{n:>3} {name:<15} {np.mean([s[name]['evals'] for s in scenes]):>7.0f} "
                f"{np.mean(ev_pct):>7.1f}% {ins_txt:>39} {del_txt:>39} "
                f"{np.mean(top1):>6.2f} {np.mean(top3):>6.2f}"
                + (f" {np.mean(pg):>6.2f}" if point else "")
            )
            if name == "fast":
                ok = (di >= -100 * INS_TOL) & (dd <= DEL_TOL)
                shares[n] = float(ok.mean())
        fast_pct = np.mean([100 * s["fast"]["evals"] / s["exact"]["evals"] for s in scenes])
        tee(
            f"    fast meets the quality bar in {100 * shares[n]:.0f} % of {len(scenes)} scenes "
            f"(need ≥ {100 * SHARE:.0f} %); evaluations {fast_pct:.1f} % of exact"
            + (f" (need ≤ {100 * EVAL_BAR:.0f} % at N = 64)" if n == 64 else "")
        )
        tee("")
    return shares


# --------------------------------------------------------------------------- problem sets


def embedded_world(
    tee: Tee, seeds: list[int], sizes: list[int], strategies: list[str]
) -> dict[int, list]:
    import eagle_kit as ek
    from eagle_kit import metrics
    from eagle_kit.shapes import CAPTION_PROMPT, make_scene

    model = ek.load_model("shapes")
    runs: dict[int, list] = {n: [] for n in sizes}
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds):
        scene = make_scene(seed)
        gen = model.generate(scene.image, CAPTION_PROMPT)
        on_object = np.zeros(scene.image.shape[:2], dtype=bool)
        for obj in scene.objects:
            on_object |= obj.mask
        for n in sizes:
            rs = ek.segment(scene.image, n_regions=n, method="slico")

            def one(rs=rs, gen=gen, scene=scene, **kw):
                return ek.explain(
                    model,
                    scene.image,
                    regions=rs,
                    prompt=CAPTION_PROMPT,
                    generation=gen,
                    progress=False,
                    **kw,
                )

            res = _run_all(one, strategies)
            for r in res.values():
                r["point"] = metrics.point_game(r.pop("expl"), mask=on_object)
            runs[n].append(res)
        print(
            f"  scene {i + 1}/{len(seeds)} (seed {seed}) done, {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return runs


def synthetic_scorer(n: int, seed: int):
    """A non-additive scorer over ``n`` column regions; returns ``(image, regions, scorer)``."""
    import eagle_kit as ek

    rng = np.random.default_rng(seed)
    weight = rng.gamma(0.5, size=n)
    weight /= weight.sum()
    pairs = rng.choice(n, size=(max(1, n // 4), 2))
    syn = rng.uniform(0.05, 0.3, size=len(pairs))
    red = rng.choice(n, size=2, replace=False)  # a redundant pair: either one is enough
    offset = rng.uniform(0.25, 0.6)
    prior = rng.uniform(0.0, 0.9)
    image = np.full((2, n, 3), 200, np.uint8)
    regions = ek.RegionSet.from_labels(np.arange(n)[None].repeat(2, 0))

    def scorer(images: np.ndarray) -> np.ndarray:
        v = (images[:, 0, :, 0] > 0).astype(float)
        z = v @ weight + (v[:, pairs[:, 0]] * v[:, pairs[:, 1]]) @ syn
        z = z + 0.2 * np.maximum(v[:, red[0]], v[:, red[1]])
        p = 1 / (1 + np.exp(-8 * (z - offset)))
        return np.stack([prior + (1 - prior) * p, np.full(len(v), 0.7)], axis=1)

    return image, regions, scorer


def synthetic(tee: Tee, seeds: list[int], sizes: list[int], strategies: list[str]) -> dict:
    import eagle_kit as ek

    runs: dict[int, list] = {n: [] for n in sizes}
    for n in sizes:
        for seed in seeds:
            image, rs, scorer = synthetic_scorer(n, seed)

            def one(scorer=scorer, image=image, rs=rs, **kw):
                return ek.explain(scorer, image, regions=rs, targets=[0], progress=False, **kw)

            res = _run_all(one, strategies)
            for r in res.values():
                r.pop("expl")
            runs[n].append(res)
    return runs


def tiny_families(
    tee: Tee, families: list[str], n_images: int, n: int, strategies: list[str]
) -> dict:
    import eagle_kit as ek
    from eagle_kit.testing.tiny_models import build_tiny_model, native_size

    runs: dict[int, list] = {n: []}
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            with contextlib.redirect_stderr(io.StringIO()):
                model = ek.load_model(build_tiny_model(family, Path(tmp) / family))
            h, w = native_size(family)
            for k in range(n_images):
                image = np.random.default_rng(k).integers(0, 256, (h, w, 3), dtype=np.uint8)
                gen = model.generate(image, "describe the image .", max_new_tokens=4)
                rs = ek.segment(image, n_regions=n, method="grid")

                def one(model=model, image=image, gen=gen, rs=rs, **kw):
                    return ek.explain(
                        model,
                        image,
                        regions=rs,
                        prompt="describe the image .",
                        generation=gen,
                        progress=False,
                        **kw,
                    )

                res = _run_all(one, strategies)
                e = res["fast"]["expl"]
                gap = float(e.dataset["p_full"].values.mean() - e.dataset["p_black"].values.mean())
                notes.append(
                    f"{family} image {k}: gap {gap:+.4f}, fast "
                    f"{'fallback sweep' if res['fast']['stopped'] == 0 else 'searched'}"
                )
                for r in res.values():
                    r.pop("expl")
                runs[n].append(res)
    for line in notes:
        tee("   ", line)
    return runs


# --------------------------------------------------------------------------- end to end


def end_to_end(tee: Tee, seeds: list[int], n: int, threads: int) -> None:
    import torch

    import eagle_kit as ek
    from eagle_kit.shapes import CAPTION_PROMPT, make_scene

    spec = importlib.util.spec_from_file_location("bench_scoring", HERE / "bench_scoring.py")
    bench_scoring = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_scoring)

    model = ek.load_model("shapes")
    tee(
        f"\n## End to end: time to an explanation, embedded model, CPU, {threads} thread(s), "
        f"N = {n} SLICO regions"
    )
    head = (
        f"{'seed':>7} {'fast evals':>10} {'fast s':>8} {'reference evals':>15} "
        f"{'reference s':>11} {'ratio':>7}"
    )
    tee(head)
    tee("-" * len(head))
    # warm both paths up once on another scene (lazy imports, allocator, first-call costs)
    warm = make_scene(seeds[0] - 1)
    warm_gen = model.generate(warm.image, CAPTION_PROMPT)
    warm_rs = ek.segment(warm.image, n_regions=16, method="slico")
    ek.explain(
        model,
        warm.image,
        regions=warm_rs,
        prompt=CAPTION_PROMPT,
        generation=warm_gen,
        search="fast",
        progress=False,
    )
    bench_scoring.ReferenceWayScorer(model, warm.image, CAPTION_PROMPT, warm_gen.token_ids)(
        warm.image[None]
    )
    ratios, t_fast, t_ref, n_fast, n_ref = [], [], [], [], []
    for seed in seeds:
        scene = make_scene(seed)
        gen = model.generate(scene.image, CAPTION_PROMPT)
        rs = ek.segment(scene.image, n_regions=n, method="slico")
        t0 = time.perf_counter()
        fast = ek.explain(
            model,
            scene.image,
            regions=rs,
            prompt=CAPTION_PROMPT,
            generation=gen,
            search="fast",
            progress=False,
        )
        s_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        scorer = bench_scoring.ReferenceWayScorer(model, scene.image, CAPTION_PROMPT, gen.token_ids)
        ref = ek.explain(
            scorer,
            scene.image,
            regions=rs,
            search="efficient",
            batch_size=1,
            progress=False,
            token_names=scorer.tokens,
        )
        s_ref = time.perf_counter() - t0
        ratios.append(s_ref / s_fast)
        t_fast.append(s_fast)
        t_ref.append(s_ref)
        n_fast.append(fast.n_evaluations)
        n_ref.append(ref.n_evaluations)
        tee(
            f"{seed:>7} {fast.n_evaluations:>10} {s_fast:>8.3f} {ref.n_evaluations:>15} "
            f"{s_ref:>11.2f} {s_ref / s_fast:>6.1f}×"
        )
    tee(
        f"ratio of total times (reference way / fast + batched): "
        f"{sum(t_ref) / sum(t_fast):.1f}× (median per image {np.median(ratios):.1f}×); "
        f"torch threads {torch.get_num_threads()}; both ways warmed up on another scene first; "
        f"the caption is generated once per image, outside both timings."
    )
    ms_fast, ms_ref = 1000 * sum(t_fast) / sum(n_fast), 1000 * sum(t_ref) / sum(n_ref)
    tee(
        f"that ratio = images asked for ({sum(n_ref) / len(n_ref):.0f} / "
        f"{sum(n_fast) / len(n_fast):.0f} per explanation: {sum(n_ref) / sum(n_fast):.1f}× fewer) "
        f"× time per image ({ms_ref:.2f} / {ms_fast:.2f} ms: {ms_ref / ms_fast:.1f}×)"
    )


# --------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=50, help="embedded-world scenes (held out)")
    ap.add_argument("--first-seed", type=int, default=900000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64], help="regions N")
    ap.add_argument("--synthetic", type=int, default=50, help="synthetic scorers per N")
    ap.add_argument("--families", nargs="*", default=["llava", "qwen2_5_vl", "idefics3"])
    ap.add_argument("--tiny-images", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 3 scenes, N = 16 32")
    ap.add_argument("--e2e", action="store_true", help="only the end-to-end ratio")
    ap.add_argument("--e2e-scenes", type=int, default=5)
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default results/bench_fast.txt, or bench_fast_e2e.txt with --e2e)",
    )
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.scenes, args.sizes, args.synthetic, args.tiny_images = 3, [16, 32], 5, 1
        args.families = args.families[:1]
        args.e2e_scenes = 1
    tee = Tee()
    seeds = list(range(args.first_seed, args.first_seed + args.scenes))
    tee(
        f"# bench_fast: python benchmarks/bench_fast.py {' '.join(argv or sys.argv[1:])}\n"
        f"torch threads {torch.get_num_threads()}; insertion Δ in % of exact's AUC (higher is "
        f"better), deletion Δ absolute (lower is better); 'worst' is the most negative "
        f"insertion Δ and the largest deletion Δ; top-3 = mean overlap of the first three "
        f"regions with exact's."
    )
    t0 = time.perf_counter()
    ok = True
    if args.e2e:
        end_to_end(
            tee, list(range(args.first_seed, args.first_seed + args.e2e_scenes)), 64, args.threads
        )
    else:
        names = list(STRATEGIES)
        world = embedded_world(tee, seeds, args.sizes, names)
        shares = _report(
            tee,
            f"Embedded world: {args.scenes} held-out scenes (seeds {seeds[0]}–{seeds[-1]}), "
            f"caption targets, SLICO regions (N is the requested number; SLICO returns about "
            f"that many). Point game: strict, top region's medoid on any object's mask.",
            world,
            point=True,
        )
        syn = synthetic(tee, list(range(args.synthetic)), args.sizes, names)
        _report(tee, f"Synthetic non-additive scorers: {args.synthetic} per N", syn, point=False)
        tee(f"\n## Tiny models of the real families (random weights), {args.tiny_images} image(s)")
        tiny = tiny_families(tee, args.families, args.tiny_images, 16, names)
        _report(tee, "Tiny models, N = 16 grid regions", tiny, point=False)
        for n, share in shares.items():
            evals = np.mean([s["fast"]["evals"] / s["exact"]["evals"] for s in world[n]])
            ok &= share >= SHARE and (n != 64 or evals <= EVAL_BAR)
        tee(f"BAR (embedded world, every N; evaluations at N = 64): {'MET' if ok else 'NOT MET'}")
    tee(f"total time {time.perf_counter() - t0:.0f} s")
    if args.out is None:
        args.out = HERE / "results" / ("bench_fast_e2e.txt" if args.e2e else "bench_fast.txt")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.quick:
        args.out.write_text(tee.buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
