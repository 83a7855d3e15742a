"""Kill a run mid-way (SIGTERM like timeout/SLURM/Kubernetes, and SIGKILL) and resume:
nothing lost, nothing duplicated, no stray temporary file, the same results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from runs_helpers import save_scene, write_manifest

import eagle_kit as ek

# 40 grid regions, exact search: ~1640 images per sample, long enough to be killed mid-search
SLOW = ["--n-regions", "40", "--segmentation", "grid", "--search", "exact", "--threads", "1"]
SEEDS = (1, 2)


def _command(kind: str, folder: Path) -> list[str]:
    base = [sys.executable, "-m", "eagle_kit.cli"]
    if kind == "run":
        return [*base, "run", str(folder / "m.jsonl"), "-o", str(folder / "out"), "--model",
                "shapes", *SLOW]  # fmt: skip
    return [*base, "explain", str(folder / "images"), "-o", str(folder / "out"), "--prompt",
            ek.shapes.CAPTION_PROMPT, *SLOW]  # fmt: skip


def _done(out: Path) -> list[dict]:
    index = out / "index.jsonl"
    if not index.exists():
        return []
    lines = index.read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("status") == "done"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _kill_mid_search(kind: str, folder: Path, sig: int) -> tuple[int, str]:
    """Start the command; once one result is done and the next search has started, ``sig``."""
    log = folder / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            _command(kind, folder), stdout=subprocess.DEVNULL, stderr=err, env=_env()
        )
        deadline = time.monotonic() + 240
        mark = None
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    pytest.fail(f"the run ended before it could be killed:\n{log.read_text()}")
                text = log.read_text(errors="replace")
                if mark is None and _done(folder / "out"):
                    mark = len(text)  # the first result is in
                # the EAGLE search bar of the next sample (shown after 0.5 s of search)
                if mark is not None and "EAGLE exact" in text[mark:]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail(f"no result after 240 s:\n{log.read_text()}")
        finally:
            proc.send_signal(sig)
            rc = proc.wait(timeout=120)
    return rc, log.read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "sig"),
    [("run", signal.SIGTERM), ("run", signal.SIGKILL), ("explain", signal.SIGTERM)],
    ids=["run-SIGTERM", "run-SIGKILL", "explain-SIGTERM"],
)
def test_killed_mid_way_resumes_with_nothing_lost_or_duplicated(tmp_path, kind, sig):
    lines = []
    for seed in SEEDS:
        save_scene(tmp_path / "images" / f"s{seed}.png", seed)
        lines.append(
            {
                "id": f"images/s{seed}.png",
                "image": f"images/s{seed}.png",
                "prompt": ek.shapes.CAPTION_PROMPT,
            }  # fmt: skip
        )
    write_manifest(tmp_path / "m.jsonl", lines)
    out = tmp_path / "out"

    rc, err = _kill_mid_search(kind, tmp_path, sig)
    before = {r["key"]: (out / r["file"]).stat().st_mtime_ns for r in _done(out)}
    assert 1 <= len(before) < len(SEEDS)
    checkpoints = list((out / "checkpoints").glob("*.npz"))
    if sig == signal.SIGTERM:
        assert rc == 143, err
        assert "SIGTERM: stopped after" in err and "Run the same command again" in err
        assert len(checkpoints) == 1  # the search in progress was saved
        # the index was compacted on the way out: one line per key, all parseable
        keys = [json.loads(x)["key"] for x in (out / "index.jsonl").read_text().splitlines()]
        assert len(keys) == len(set(keys))
    else:
        assert rc == -signal.SIGKILL

    done = subprocess.run(_command(kind, tmp_path), capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr
    assert f"{len(SEEDS) - len(before)} done, {len(before)} skipped" in done.stdout
    records = [json.loads(x) for x in (out / "index.jsonl").read_text().splitlines()]
    assert len(records) == len(SEEDS) and len({r["key"] for r in records}) == len(SEEDS)
    assert all(r["status"] == "done" for r in records)
    for key, mtime in before.items():  # finished results were not redone
        rec = next(r for r in records if r["key"] == key)
        assert (out / rec["file"]).stat().st_mtime_ns == mtime
    assert sorted(p.name for p in (out / "nc").iterdir()) == sorted(
        Path(r["file"]).name for r in records
    )
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert not list((out / "checkpoints").glob("*"))

    # the sample that was interrupted is right: the same as an uninterrupted explanation
    resumed = [r for r in records if r["key"] not in before]
    rec = resumed[0]
    got = ek.load_explanation(out / rec["file"])
    if checkpoints:
        attrs = got.dataset.attrs  # the search went on from the checkpoint
        assert int(attrs.get("resumed_images", attrs.get("resumed_evaluations", 0))) > 0
    model = ek.load_model("shapes", device="cpu")
    image = ek.load_image(rec["image"])
    want = ek.explain(
        model,
        image,
        prompt=ek.shapes.CAPTION_PROMPT,
        generation=model.generate(image, ek.shapes.CAPTION_PROMPT),
        regions=ek.segment(image, 40, "grid"),
        search="exact",
        progress=False,
    )
    assert np.array_equal(got.order, want.order)
    np.testing.assert_allclose(got.dataset["insertion"], want.dataset["insertion"], atol=1e-6)
