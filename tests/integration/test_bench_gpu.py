"""benchmarks/bench_gpu.py runs end to end at a tiny scale on CPU (the GPU run is one command)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"


@pytest.mark.slow
def test_bench_gpu_runs_both_architectures_at_tiny_scale_on_cpu():
    cmd = [sys.executable, str(SCRIPT), "--scale", "0.03", "--device", "cpu", "--threads", "1"]
    cmd += ["--batch-sizes", "1", "4", "--batches", "1", "--reference-images", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for name in ("qwen2.5-vl-3b", "llava-1.5-7b"):
        section = out.split(f"\n{name}:")[1].split("\n\n")[0]
        assert "cpu, float32" in section
        assert re.search(r"planned batch size: \d+", section)
        rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+n/a on CPU\s+([\d.]+)×", section, re.M)
        assert [int(r[0]) for r in rows] == [1, 4]  # one row per batch size, none shrank
        assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in rows)
        assert re.search(r"reference way: [\d.]+ images/s", section)
