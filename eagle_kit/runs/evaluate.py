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


def _load_mask(sid: str, path: str, shape: tuple[int, int]) -> np.ndarray:
    from .manifest import Sample

    return Sample(id=sid, image=None, prompt="", mask=path).load_mask(shape)


#: The parts of a result's settings that describe its sample (not the method's options).
SAMPLE_SETTINGS = ("media", "prompt", "answer", "targets", "label")


def _sample_settings(rec: dict[str, Any]) -> str:
    import json

    parts = rec.get("settings")
    parts = parts if isinstance(parts, dict) else {}
    return json.dumps({k: parts.get(k) for k in SAMPLE_SETTINGS}, sort_keys=True, default=str)


def _select(recs: Any, keys: Sequence[str] | None, current: bool) -> Any:
    if keys is None:
        return recs[recs["current"]] if current else recs
    if isinstance(keys, str):
        raise TypeError("keys must be a list of store keys, not one string; wrap it in a list.")
    keys = list(keys)
    unknown = [k for k in keys if k not in set(recs["key"])]
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise ValueError(
            f"{len(unknown)} key(s) not in this results store: {shown}. Give keys from "
            "RunSummary.keys or the 'key' column of eagle_kit.runs.open_results(...)."
        )
    return recs[recs["key"].isin(keys)]


def _same_sample_settings(recs: Any) -> Any:
    """Only the samples whose results (every model and method) share one sample setting."""
    import warnings

    if recs.empty:
        return recs
    settings = recs.apply(lambda r: _sample_settings(r.to_dict()), axis=1)
    n_kinds = settings.groupby(recs["id"]).nunique()
    mixed = sorted(str(i) for i in n_kinds[n_kinds > 1].index)
    if not mixed:
        return recs
    shown = ", ".join(mixed[:5]) + (" …" if len(mixed) > 5 else "")
    warnings.warn(
        f"{len(mixed)} sample(s) have results computed with different sample settings "
        f"(image, prompt, answer, targets or label) for different methods or models: {shown}. "
        "They are left out so that every method is compared on the same inputs; rerun them "
        "with the current manifest, or pass same_sample_settings=False to keep them.",
        UserWarning,
        stacklevel=3,
    )
    return recs[~recs["id"].astype(str).isin(mixed)]


def sample_metrics(
    results: str | os.PathLike,
    *,
    current: bool = True,
    keys: Sequence[str] | None = None,
    same_sample_settings: bool = False,
) -> Any:
    """One row per done result with every per-sample metric (a wide ``pandas.DataFrame``).

    Columns: ``id``, ``model``, ``method``, ``insertion_auc``, ``deletion_auc``,
    ``highest_confidence``, their ``_sensitive`` variants (NaN without a sensitive token) —
    for results with prompt span features ``insertion_auc_features``/``deletion_auc_features``
    (+ ``_sensitive``) instead, over the fraction of features
    (:func:`eagle_kit.metrics.curve_x`), so the two kinds never average in one row —
    ``point_game_{box,mask}_{strict,paper}`` where boxes/masks were given, and for labelled
    samples ``amcr`` (the sample's removed area; 1 when never corrected, as AMCR counts:
    its mean is the AMCR) and ``csr@10%`` (1 if corrected with at most 10 % of the area
    removed: its mean is the CSR@10 %) — the names of :func:`evaluate`'s metrics.

    A sample whose ground truth cannot be used (mask missing, of another size or empty; a
    box outside the image) gets no point-game value, with a ``UserWarning`` naming it; its
    other metrics and the other samples are measured as usual.

    Args:
        current: only the results the latest run used (see :func:`open_results`).
        keys: only these store keys (e.g. ``RunSummary.keys``: one run's results).
        same_sample_settings: leave out (with a warning) samples whose results were computed
            with different sample settings (image, prompt, answer, targets, label) for
            different models or methods (see :func:`evaluate`).

    Raises:
        ValueError: a key in ``keys`` is not in the store.
    """
    import warnings

    import pandas as pd

    from .. import metrics
    from ..explanation import load_explanation

    recs = open_results(results)
    recs = _select(recs, keys, current)
    recs = recs[recs["status"] == "done"]
    if same_sample_settings:
        recs = _same_sample_settings(recs)
    rows = []
    for r in recs.to_dict("records"):
        r = {k: None if _isnan(v) else v for k, v in r.items()}
        expl = load_explanation(r["path"])
        row: dict[str, Any] = {"id": r["id"], "model": r["model"], "method": r["method"]}
        row["answer"] = r.get("answer") or ""
        row.update(metrics.summary(expl))
        try:
            mask = None
            if r.get("mask"):
                if not os.path.isfile(r["mask"]):
                    raise ValueError(f"sample '{r['id']}': no mask file at '{r['mask']}'.")
                mask = _load_mask(str(r["id"]), r["mask"], expl.labels.shape[-2:])
            row.update(_point_games(expl, r.get("boxes"), mask))
        except (OSError, ValueError) as err:
            warnings.warn(
                f"sample '{r['id']}' [{r['model']}, {r['method']}]: no point game, its ground "
                f"truth cannot be used: {err}",
                UserWarning,
                stacklevel=2,
            )
        if r.get("label") and r.get("corrected") is not None:
            corrected = bool(r["corrected"])
            area = float(r["area_removed"]) if corrected else 1.0
            row["amcr"] = area
            row["csr@10%"] = float(corrected and area <= CSR_THRESHOLD + 1e-12)
        rows.append(row)
    return pd.DataFrame(rows)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and bool(np.isnan(v))


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
    same_sample_settings: bool = True,
) -> Any:
    """Every metric per model × method with bootstrap confidence intervals (tidy table).

    The per-sample values of :func:`sample_metrics` are averaged per model × method (NaNs
    left out: e.g. samples without a sensitive token); ``amcr`` is the mean removed area
    (never corrected = 1) and ``csr@10%`` the share corrected with ≤ 10 % removed, never-
    corrected samples counted as failures (METHOD §7). Intervals are
    ``scipy.stats.bootstrap`` (BCa, percentile when BCa is undefined) over samples; NaN
    with fewer than 2 samples.

    Methods are compared on equal terms: when the results of one sample (over models and
    methods) were computed with different sample settings (image, prompt, answer, targets
    or label; e.g. the manifest changed between the runs of two methods), a ``UserWarning``
    names those samples and they are left out of every row.

    Args:
        confidence_level: of the intervals, in (0, 1).
        n_resamples: bootstrap resamples, at least 1.
        seed: of the bootstrap.
        keys: only these store keys (e.g. one run's ``RunSummary.keys``, or a subset of its
            samples); default the current results.
        same_sample_settings: leave out samples with mixed sample settings (see above);
            ``False`` keeps them.

    Raises:
        ValueError: ``confidence_level`` outside (0, 1), ``n_resamples`` < 1, or a key not in
            the store.

    Returns:
        A ``pandas.DataFrame`` with columns ``model``, ``method``, ``metric``, ``n``,
        ``mean``, ``ci_low``, ``ci_high``; point-game rows say their reading
        (``strict``/``paper``) in the metric name.
    """
    import pandas as pd

    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)):
        raise TypeError(f"n_resamples must be an int (e.g. 2000); got {n_resamples!r}.")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1 (e.g. 2000); got {n_resamples}.")
    wide = sample_metrics(results, keys=keys, same_sample_settings=same_sample_settings)
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
                    "metric": col,
                    "n": len(values),
                    "mean": float(values.mean()),
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows)
