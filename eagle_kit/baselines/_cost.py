"""Time and peak memory of a baseline's own work, recorded in the result's attributes."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from typing import Any

import numpy as np

from ..explanation import Explanation


def _device_of(scorer: Any) -> str:
    device = getattr(scorer, "device", None)
    return str(device) if device is not None else "cpu"


class CostMeter:
    """Measure wall time and peak memory of a block.

    On a CUDA device: ``torch.cuda.max_memory_allocated`` above the allocation at the start
    (``"cuda_max_allocated"``). On the CPU: the peak of the process's resident set size above
    its size at the start, sampled every 5 ms with psutil (``"rss_peak_delta"``); without
    psutil, Python's ``tracemalloc`` peak (``"tracemalloc_peak"``, which misses torch's CPU
    tensors).

    Attributes (after the block):
        seconds: wall time.
        peak_memory_bytes: as above (0 or more).
        memory_measure: which measure was used.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = str(device)
        self.seconds = 0.0
        self.peak_memory_bytes = 0
        self.memory_measure = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CostMeter:
        self._t0 = time.perf_counter()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self.memory_measure = "cuda_max_allocated"
            return self
        try:
            import psutil
        except ImportError:
            tracemalloc.start()
            self.memory_measure = "tracemalloc_peak"
            return self
        proc = psutil.Process()
        self._base = proc.memory_info().rss
        self._peak = self._base
        self.memory_measure = "rss_peak_delta"

        def sample() -> None:
            while not self._stop.wait(0.005):
                self._peak = max(self._peak, proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.memory_measure == "cuda_max_allocated":
            import torch

            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) - self._base
        elif self.memory_measure == "tracemalloc_peak":
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        else:
            import psutil

            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            peak = max(self._peak, psutil.Process().memory_info().rss) - self._base
        self.seconds = time.perf_counter() - self._t0
        self.peak_memory_bytes = int(max(peak, 0))


def record(
    expl: Explanation,
    meter: CostMeter,
    *,
    evaluations: int,
    forward_calls: int,
    options: dict[str, Any],
    region_values: np.ndarray | None = None,
    pixel_map: np.ndarray | None = None,
) -> Explanation:
    """Store a baseline's cost, options and raw values in ``expl`` (in place) and return it.

    The method's own images join the cost figures of the curves: ``n_search_images`` becomes
    the images the method scored, ``n_evaluations`` their sum with ``n_curve_images``, and
    ``seconds`` includes the method's time, so EAGLE and the baselines compare on one cost
    scale.
    """
    ds = expl.dataset
    a = ds.attrs
    a["baseline_evaluations"] = int(evaluations)
    a["baseline_forward_calls"] = int(forward_calls)
    a["baseline_seconds"] = round(float(meter.seconds), 4)
    a["baseline_peak_memory_bytes"] = int(meter.peak_memory_bytes)
    a["baseline_memory_measure"] = meter.memory_measure
    a["baseline_options"] = json.dumps(options, sort_keys=True, default=str)
    a["n_search_images"] = int(evaluations)
    a["n_evaluations"] = int(evaluations) + int(a.get("n_curve_images", 0))
    a["n_forward_calls"] = int(forward_calls) + int(a.get("n_forward_calls", 0))
    a["search_seconds"] = round(float(a.get("search_seconds", 0.0)) + meter.seconds, 4)
    a["seconds"] = round(float(a.get("seconds", 0.0)) + meter.seconds, 4)
    if region_values is not None:
        ds["baseline_values"] = (("region",), np.asarray(region_values, dtype=np.float64))
    if pixel_map is not None:
        pix = ("frame", "y", "x") if pixel_map.ndim == 3 else ("y", "x")
        ds["baseline_map"] = (pix, np.asarray(pixel_map, dtype=np.float64))
    return expl
