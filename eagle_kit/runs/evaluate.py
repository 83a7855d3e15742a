"""Tables over a results store: the records, per-sample metrics, and the evaluation table."""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .store import ResultStore

__all__ = ["open_results", "sample_metrics", "evaluate", "CSR_THRESHOLD"]

CSR_THRESHOLD = 0.1  #: CSR@10 %: corrected with at most this fraction of the area removed

_COLUMNS = [
    "id",
    "model",
    "method",
    "status",
    "error",
    "current",
    "answer",
    "prompt",
    "label",
    "corrected",
    "n_removed",
    "area_removed",
    "n_evaluations",
    "seconds",
    "created",
    "key",
    "path",
]


def open_results(results: str | os.PathLike) -> Any:
    """Every result in a store with its status, as a ``pandas.DataFrame`` (one row per key).

    Columns include ``id``, ``model``, ``method``, ``status`` (``"done"``/``"failed"``),
    ``error``, ``answer``, the mitigation outcome for labelled samples, ``path`` (the
    netCDF file, for :func:`eagle_kit.load_explanation`) and ``current``: True for the
    result the latest run used for that sample × model × method (a store keeps results of
    earlier settings too; :func:`evaluate` reads the current ones).

    Raises:
        FileNotFoundError: ``results`` is not a store (no ``index.jsonl``).
    """
    import pandas as pd

    store = ResultStore(results)
    if not store.index_path.exists():
        raise FileNotFoundError(
            f"'{results}' is not a results store (no index.jsonl). Create one with "
            "`eagle-kit run MANIFEST -o FOLDER --model M` or eagle_kit.runs.run(...)."
        )
    rows = list(store.records().values())
    latest: dict[tuple[str, str, str], int] = {}
    for r in rows:
        t = (r["id"], r["model"], r["method"])
        latest[t] = max(latest.get(t, -1), int(r.get("seq", 0)))
    for r in rows:
        r["current"] = int(r.get("seq", 0)) == latest[(r["id"], r["model"], r["method"])]
        r["path"] = str(store.root / r["file"]) if r.get("status") == "done" else None
    frame = pd.DataFrame(rows)
    for col in _COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    rest = [c for c in frame.columns if c not in _COLUMNS]
    frame = frame[_COLUMNS + rest]
    return frame.sort_values(["model", "method", "id"], kind="stable").reset_index(drop=True)


def _has_reading() -> bool:
    from .. import metrics

    return "reading" in inspect.signature(metrics.point_game).parameters


def _point_games(expl: Any, boxes: Any, mask: np.ndarray | None) -> dict[str, float]:
    from .. import metrics

    out: dict[str, float] = {}
    if expl.labels.ndim != 2:
        return out
    both = _has_reading()
    for reading in ("strict", "paper") if both else ("strict",):
        kw = {"reading": reading} if both else {}
        if boxes:
            hits = [metrics.point_game(expl, box=tuple(b), **kw) for b in boxes]
            out[f"point_game_box_{reading}"] = float(max(hits))
        if mask is not None:
            out[f"point_game_mask_{reading}"] = float(metrics.point_game(expl, mask=mask, **kw))
    return out


def _load_mask(path: str, shape: tuple[int, int]) -> np.ndarray:
    from .manifest import Sample

    return Sample(id="", image=None, prompt="", mask=path).load_mask(shape)


def sample_metrics(
    results: str | os.PathLike, *, current: bool = True, keys: Sequence[str] | None = None
) -> Any:
    """One row per done result with every per-sample metric (a wide ``pandas.DataFrame``).

    Columns: ``id``, ``model``, ``method``, ``insertion_auc``, ``deletion_auc``,
    ``highest_confidence``, their ``_sensitive`` variants (NaN without a sensitive token),
    ``point_game_{box,mask}_{strict,paper}`` where boxes/masks were given, and for labelled
    samples ``correction_area`` (the removed area; 1 when never corrected, as AMCR counts)
    and ``corrected_at_10pct`` (1 if corrected with at most 10 % of the area removed).

    Args:
        current: only the results the latest run used (see :func:`open_results`).
        keys: only these store keys (e.g. ``RunSummary.keys``: one run's results).
    """
    import pandas as pd

    from .. import metrics
    from ..explanation import load_explanation

    recs = open_results(results)
    recs = recs[recs["status"] == "done"]
    if keys is not None:
        recs = recs[recs["key"].isin(list(keys))]
    elif current:
        recs = recs[recs["current"]]
    rows = []
    for r in recs.to_dict("records"):
        r = {k: None if _isnan(v) else v for k, v in r.items()}
        expl = load_explanation(r["path"])
        row: dict[str, Any] = {"id": r["id"], "model": r["model"], "method": r["method"]}
        row["answer"] = r.get("answer") or ""
        row.update(metrics.summary(expl))
        mask = None
        if r.get("mask"):
            mask = _load_mask(r["mask"], expl.labels.shape[-2:])
        row.update(_point_games(expl, r.get("boxes"), mask))
        if r.get("label") and r.get("corrected") is not None:
            corrected = bool(r["corrected"])
            area = float(r["area_removed"]) if corrected else 1.0
            row["correction_area"] = area
            row["corrected_at_10pct"] = float(corrected and area <= CSR_THRESHOLD + 1e-12)
        rows.append(row)
    return pd.DataFrame(rows)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and bool(np.isnan(v))


_NAMES = {"correction_area": "amcr", "corrected_at_10pct": "csr@10%"}


def _interval(values: np.ndarray, level: float, n_resamples: int, seed: int) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    from scipy.stats import bootstrap

    for method in ("BCa", "percentile"):
        res = bootstrap(
            (values,),
            np.mean,
            confidence_level=level,
            n_resamples=n_resamples,
            method=method,
            random_state=np.random.default_rng(seed),
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(lo) and np.isfinite(hi):
            return lo, hi
    return float("nan"), float("nan")


def evaluate(
    results: str | os.PathLike,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    keys: Sequence[str] | None = None,
) -> Any:
    """Every metric per model × method with bootstrap confidence intervals (tidy table).

    The per-sample values of :func:`sample_metrics` are averaged per model × method (NaNs
    left out: e.g. samples without a sensitive token); ``amcr`` is the mean removed area
    (never corrected = 1) and ``csr@10%`` the share corrected with ≤ 10 % removed, never-
    corrected samples counted as failures (METHOD §7). Intervals are
    ``scipy.stats.bootstrap`` (BCa, percentile when BCa is undefined) over samples; NaN
    with fewer than 2 samples.

    Args:
        keys: only these store keys (e.g. one run's ``RunSummary.keys``, or a subset of its
            samples); default the current results.

    Returns:
        A ``pandas.DataFrame`` with columns ``model``, ``method``, ``metric``, ``n``,
        ``mean``, ``ci_low``, ``ci_high``; point-game rows say their reading
        (``strict``/``paper``) in the metric name.
    """
    import pandas as pd

    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}.")
    wide = sample_metrics(results, keys=keys)
    rows = []
    if wide.empty:
        return pd.DataFrame(columns=["model", "method", "metric", "n", "mean", "ci_low", "ci_high"])
    metric_cols = [c for c in wide.columns if c not in ("id", "model", "method", "answer")]
    for (model, method), group in wide.groupby(["model", "method"], sort=True):
        for col in metric_cols:
            values = group[col].to_numpy(dtype=np.float64)
            values = values[~np.isnan(values)]
            if len(values) == 0:
                continue
            lo, hi = _interval(values, confidence_level, n_resamples, seed)
            rows.append(
                {
                    "model": model,
                    "method": method,
                    "metric": _NAMES.get(col, col),
                    "n": len(values),
                    "mean": float(values.mean()),
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows)
