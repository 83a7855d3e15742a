"""The embedded benchmark: every method on held-out shapes scenes built to separate them.

Runs the shipped manifest (``data/shapes-bench``, :mod:`eagle_kit.shapes.benchmark_manifest`:
objects spanning several regions at 64 SLICO regions, distractors sharing the target's colour
or shape, the planted "is there a green circle ?" cases) through ``eagle_kit.runs.run`` on
the embedded model with every method, then prints the table of ``eagle_kit.evaluate``: means
with 95 % bootstrap confidence intervals (BCa, over samples) per method and kind of sample,
and writes it to ``benchmarks/results/embedded_benchmark.txt``.

The results store (``--out``) makes reruns resume: a finished result is never recomputed
with the same settings, so an interrupted run (Ctrl-C, SIGTERM) continues where it stopped.

Usage::

    python benchmarks/embedded_benchmark.py                      # all 48 samples, 9 methods
    python benchmarks/embedded_benchmark.py --per-kind 4 --methods eagle,occlusion
    python benchmarks/embedded_benchmark.py --ids multi-00,hallucination-00 --write table.txt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import eagle_kit as ek
from eagle_kit.runs import METHODS, read_manifest
from eagle_kit.search import SEARCHES
from eagle_kit.shapes.benchmark_manifest import KINDS, shipped_manifest

ROOT = Path(__file__).resolve().parent
DEFAULT_WRITE = ROOT / "results" / "embedded_benchmark.txt"

CURVES = [
    ("insertion_auc", "insertion ↑"),
    ("deletion_auc", "deletion ↓"),
    ("insertion_auc_sensitive", "ins. sensitive ↑"),
    ("deletion_auc_sensitive", "del. sensitive ↓"),
]
POINT_GAME = [
    ("point_game_mask_strict", "PG mask strict ↑"),
    ("point_game_mask_paper", "PG mask paper ↑"),
    ("point_game_box_strict", "PG box strict ↑"),
    ("point_game_box_paper", "PG box paper ↑"),
]
HALLUCINATION = [
    ("amcr", "AMCR ↓"),
    ("csr@10%", "CSR@10% ↑"),
    ("insertion_auc", "insertion ↑"),
    ("deletion_auc", "deletion ↓"),
]


def kind_of(sample_id: str) -> str:
    return sample_id.split("-", 1)[0]


def cell(frame, method: str, metric: str) -> str:
    row = frame[(frame["method"] == method) & (frame["metric"] == metric)]
    if row.empty:
        return "—"
    r = row.iloc[0]
    if np.isnan(r["ci_low"]):
        return f"{r['mean']:.3f}"
    return f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def block(title: str, frame, methods: list[str], columns: list[tuple[str, str]]) -> list[str]:
    header = [f"{'method':<12}"] + [f"{name:<22}" for _, name in columns]
    lines = [title, "  " + " ".join(header).rstrip()]
    for m in methods:
        cells = [f"{m:<12}"] + [f"{cell(frame, m, metric):<22}" for metric, _ in columns]
        lines.append("  " + " ".join(cells).rstrip())
    return lines + [""]


def table(out: Path, keys: list[str], methods: list[str]) -> list[str]:
    """The benchmark's tables over the results of ``keys`` in the store ``out``."""
    recs = ek.open_results(out)
    recs = recs[recs["key"].isin(keys)]
    done = recs[recs["status"] == "done"]
    groups = {k: done[done["id"].map(kind_of) == k]["key"].tolist() for k in KINDS}
    captions = groups["multi"] + groups["distractor"]
    lines: list[str] = []

    def n_ids(keys_: list[str]) -> int:
        return done[done["key"].isin(keys_)]["id"].nunique()

    if captions:
        ev = ek.evaluate(out, keys=captions)
        title = (
            f"caption samples, the target object's phrase (multi + distractor, n={n_ids(captions)})"
        )
        lines += block(title, ev, methods, CURVES)
        lines += block(f"  … point game, n={n_ids(captions)}", ev, methods, POINT_GAME)
        for kind in ("multi", "distractor"):
            if groups[kind]:
                ev = ek.evaluate(out, keys=groups[kind])
                title = f"  … {kind} only (n={n_ids(groups[kind])})"
                lines += block(title, ev, methods, CURVES[:2] + POINT_GAME[:2])
    if groups["hallucination"]:
        ev = ek.evaluate(out, keys=groups["hallucination"])
        hal = done[done["key"].isin(groups["hallucination"])]
        first = hal.drop_duplicates("id")["answer"].fillna("").str.strip().str.lower()
        said_yes = float(first.str.startswith("yes").mean())
        title = (
            f"planted hallucination: 'is there a green circle ?' on yellow triangle + green square, "
            f"label 'no' (n={n_ids(groups['hallucination'])}; the model answered 'yes' on "
            f"{said_yes:.0%}; already right = area 0)"
        )
        lines += block(title, ev, methods, HALLUCINATION)
    lines.append("cost per sample (mean): seconds, model images (search/perturbations + curves)")
    for m in methods:
        r = done[done["method"] == m]
        if len(r):
            secs = r["seconds"].astype(float).mean()
            evals = r["n_evaluations"].astype(float).mean()
            lines.append(f"  {m:<12} {secs:8.2f} s  {evals:8.0f} images")
    failed = recs[recs["status"] == "failed"]
    for r in failed.to_dict("records"):
        lines.append(f"  FAILED {r['id']} [{r['method']}]: {r['error']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    default_search = "fast" if "fast" in SEARCHES else "efficient"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default=None, help="default: the shipped shapes-bench")
    parser.add_argument("--out", default="reports/embedded-benchmark", help="the results store")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--search", default=default_search, choices=SEARCHES)
    parser.add_argument("--n-regions", type=int, default=64)
    parser.add_argument("--per-kind", type=int, default=None, help="first N samples of each kind")
    parser.add_argument("--ids", default=None, help="comma-separated sample ids")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", default=str(DEFAULT_WRITE), help="'' to not write")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    manifest = Path(args.manifest) if args.manifest else shipped_manifest()
    samples = read_manifest(manifest)
    if args.ids:
        wanted = [s.strip() for s in args.ids.split(",") if s.strip()]
        unknown = sorted(set(wanted) - {s.id for s in samples})
        if unknown:
            parser.error(f"no sample with id {', '.join(unknown)} in {manifest}")
        samples = [s for s in samples if s.id in wanted]
    if args.per_kind is not None:
        samples = [
            s for k in KINDS for s in [x for x in samples if kind_of(x.id) == k][: args.per_kind]
        ]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    t0 = time.perf_counter()
    summary = ek.runs.run(
        samples,
        args.out,
        models="shapes",
        methods=methods,
        n_regions=args.n_regions,
        search=args.search,
        threads=args.threads,
        device="cpu",
        progress=not args.quiet,
    )
    wall = time.perf_counter() - t0
    counts = ", ".join(f"{k} {sum(kind_of(s.id) == k for s in samples)}" for k in KINDS)
    lines = [
        "$ python benchmarks/embedded_benchmark.py "
        + " ".join(a for a in (argv if argv is not None else sys.argv[1:])),
        f"embedded model 'shapes' on the shipped benchmark (data/shapes-bench): {len(samples)} "
        f"samples ({counts}); {args.n_regions} SLICO regions; EAGLE search '{args.search}'; "
        f"llava_cam/tam: pixel maps on 64 rank bins",
        "means over samples with 95 % bootstrap CIs (BCa); ↑ higher is better, ↓ lower",
        f"{len(summary.done)} results computed, {len(summary.skipped)} reused from the store, "
        f"{len(summary.failed)} failed; {wall:.0f} s with {args.threads} thread(s)",
        "",
    ]
    lines += table(Path(args.out), summary.keys, methods)
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(text, encoding="utf-8")
    return summary.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
