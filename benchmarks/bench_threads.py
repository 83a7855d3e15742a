"""Benchmark: torch CPU threads for an exact search on the embedded model, idle and busy CPU.

The same exact greedy search (``ek.explain(..., search="exact")`` over a grid of regions,
the embedded shapes model, its caption of one scene) runs with 1 intra-op thread, torch's
default (one per core) and 2 threads — each in a fresh process — first on the machine as it
is, then while competing processes keep every core busy (pure-Python spin loops, one per
core, stopped when the measurement ends and after ``--load-seconds`` at the latest).

It prints the search's seconds (median of ``--repeats``), evaluations per second and the
ratio to one thread, and the 1-minute load average before each block, so one run gives the
figures for the README.

Usage::

    python benchmarks/bench_threads.py                   # 24 regions, 1 repeat
    python benchmarks/bench_threads.py --regions 16 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SPIN = (
    "import time, sys\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end:\n    pass\n"
)


def worker(threads: str, regions: int) -> dict:
    """One exact search in this process; ``threads`` is an int or ``"default"``."""
    import torch

    import eagle_kit as ek
    from eagle_kit.shapes.world import CAPTION_PROMPT, make_scene

    default = torch.get_num_threads()
    n = default if threads == "default" else int(threads)
    model = ek.load_model("shapes")
    scene = make_scene(1)
    gen = model.generate(scene.image, CAPTION_PROMPT)
    grid = ek.segment(scene.image, regions, "grid")
    expl = ek.explain(
        model,
        scene.image,
        prompt=CAPTION_PROMPT,
        generation=gen,
        regions=grid,
        search="exact",
        progress=False,
        threads=n,  # explicit, so eagle_kit's own choice does not interfere
    )
    return {
        "threads": n,
        "default": default,
        "seconds": float(expl.attrs["search_seconds"]),
        "evaluations": int(expl.n_evaluations),
        "order": [int(r) for r in expl.order],
    }


def run_worker(threads: str, regions: int, timeout: float) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", threads, "--regions", str(regions)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_load(seconds: float) -> list[subprocess.Popen]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [subprocess.Popen([sys.executable, "-c", SPIN, str(seconds)]) for _ in range(cores or 1)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=24, help="grid regions of the exact search")
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting (median)")
    ap.add_argument("--load-seconds", type=float, default=600, help="upper bound of the load")
    ap.add_argument("--timeout", type=float, default=300, help="per search, seconds")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.regions)))
        return
    settings = ["1", "default", "2"]
    rows = []
    orders = set()
    for busy in (False, True):
        load_avg = os.getloadavg()[0]
        procs = start_load(args.load_seconds) if busy else []
        try:
            if busy:
                time.sleep(1.0)  # let the spinners start
            for s in settings:
                runs = [run_worker(s, args.regions, args.timeout) for _ in range(args.repeats)]
                orders.update(tuple(r["order"]) for r in runs)
                rows.append(
                    {
                        "cpu": "busy" if busy else "as is",
                        "load": load_avg,
                        "setting": s,
                        "threads": runs[0]["threads"],
                        "seconds": statistics.median(r["seconds"] for r in runs),
                        "evaluations": runs[0]["evaluations"],
                    }
                )
        finally:
            stop_load(procs)
    print(
        f"exact search, embedded model, {args.regions} grid regions, "
        f"{rows[0]['evaluations']} evaluations; median of {args.repeats}; "
        f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} "
        f"cores; same region order in every run: {len(orders) == 1}"
    )
    print("| CPU (1-min load before) | threads | seconds | evaluations/s | vs 1 thread |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in rows:
        one = next(r for r in rows if r["cpu"] == row["cpu"] and r["setting"] == "1")
        label = (
            "default ({})".format(row["threads"]) if row["setting"] == "default" else row["setting"]
        )
        print(
            f"| {row['cpu']} ({row['load']:.1f}) | {label} | {row['seconds']:.2f} | "
            f"{row['evaluations'] / row['seconds']:.0f} | {row['seconds'] / one['seconds']:.2f}× |"
        )


if __name__ == "__main__":
    main()
