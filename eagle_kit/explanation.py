"""The one result: an :class:`Explanation` over a labelled ``xarray.Dataset``.

Schema (dims ``y``, ``x``, ``channel``, optional ``frame``, ``region``, ``rank``, ``step``,
``token``):

========================  =====================  ==============================================
variable                  dims                   meaning
========================  =====================  ==============================================
image                     ([frame,] y, x, channel)  the explained image, uint8 RGB
labels                    ([frame,] y, x)        region id of every pixel
order                     (rank)                 region id chosen at rank r (0 = most important)
attribution               (region)               METHOD §5 value in [0, 1] (objective's map)
region_area               (region)               pixel fraction of each region
area                      (step)                 revealed fraction with the first k regions in
insertion                 (step, token)          p(token) keeping only the first k regions
deletion                  (step, token)          p(token) with the first k regions removed
objective                 (step)                 F of the first k regions
is_target                 (token)                1 where the token is in the objective
p_full, p_black           (token)                p(token) on the full and the black image
reliance                  (token)                visual reliance I_t (METHOD §6)
modality                  (token)                "prior", "visual" or "mixed"
========================  =====================  ==============================================

Coordinates: ``token`` (0..T-1) with ``token_text`` and ``token_id`` (−1 when unknown),
``step`` (0..N), ``region`` and ``rank`` (0..N-1). Attributes hold provenance: package
version, search configuration (JSON), evaluations, seconds, scorer, model, prompt, answer,
fill, region method, creation time.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .colors import blend, diverging_hex, viridis
from .regions import RegionSet

__all__ = ["Explanation", "load_explanation", "attribution_values", "visual_reliance_curve"]

# Thresholds of the modality label (METHOD §6), on visual reliance I_t in [0, 1]:
PRIOR_MAX_RELIANCE = 0.1  #: I_t below this and p(black) >= PRIOR_MIN_P_BLACK → "prior"
PRIOR_MIN_P_BLACK = 0.5
VISUAL_MIN_RELIANCE = 0.3  #: I_t at or above this → "visual"; anything else → "mixed"


def attribution_values(objective: np.ndarray) -> np.ndarray:
    """METHOD §5: the value of the region at each rank, from F_0..F_N along the order.

    ``C_k = Σ_{j≤k} |F_j − F_{j−1}|``; rank k (1-based) gets ``(C_N − C_k)/(C_N − C_1)``. The
    first region is 1, the last 0. When all the change happens at the first step (or none at
    all), the first region is 1 and every other 0.
    """
    f = np.asarray(objective, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(f)))])  # C_0..C_N
    n = len(f) - 1
    denom = c[n] - c[1]
    if denom <= 1e-12:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    return np.clip((c[n] - c[1:]) / denom, 0.0, 1.0)


def visual_reliance_curve(area: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """``I_t = AUC(area, p_t) − min_k p_t`` for curves ``(N+1)×T`` → ``(T,)``."""
    auc = np.trapezoid(curve, area, axis=0)
    return auc - curve.min(axis=0)


def modality_labels(reliance: np.ndarray, p_black: np.ndarray) -> np.ndarray:
    """ "prior" / "visual" / "mixed" per token (thresholds are module constants)."""
    out = np.full(reliance.shape, "mixed", dtype=object)
    out[(reliance < PRIOR_MAX_RELIANCE) & (p_black >= PRIOR_MIN_P_BLACK)] = "prior"
    out[reliance >= VISUAL_MIN_RELIANCE] = "visual"
    return out.astype(str)


def build_dataset(
    *,
    image: np.ndarray,
    regions: RegionSet,
    order: np.ndarray,
    insertion: np.ndarray,
    deletion: np.ndarray,
    objective: np.ndarray,
    targets: Sequence[int],
    tokens: Sequence[str],
    token_ids: Sequence[int] | None,
    attrs: dict[str, Any],
) -> xr.Dataset:
    """Assemble the schema above from a search's record."""
    n = regions.n_regions
    t = insertion.shape[1]
    pix = ("frame", "y", "x") if image.ndim == 4 else ("y", "x")
    region_area = regions.areas
    area = np.concatenate([[0.0], np.cumsum(region_area[order])])
    area[-1] = 1.0
    attribution = np.empty(n)
    attribution[order] = attribution_values(objective)
    is_target = np.zeros(t, dtype=np.int8)
    is_target[list(targets)] = 1
    p_black, p_full = insertion[0], insertion[-1]
    reliance = visual_reliance_curve(area, insertion)
    ids = np.asarray(token_ids if token_ids is not None else [-1] * t, dtype=np.int64)
    ds = xr.Dataset(
        {
            "image": ((*pix, "channel"), image.astype(np.uint8)),
            "labels": (pix, regions.labels.astype(np.int32)),
            "order": (("rank",), order.astype(np.int32)),
            "attribution": (("region",), attribution),
            "region_area": (("region",), region_area.astype(np.float64)),
            "area": (("step",), area),
            "insertion": (("step", "token"), insertion.astype(np.float64)),
            "deletion": (("step", "token"), deletion.astype(np.float64)),
            "objective": (("step",), objective.astype(np.float64)),
            "is_target": (("token",), is_target),
            "p_full": (("token",), p_full.astype(np.float64)),
            "p_black": (("token",), p_black.astype(np.float64)),
            "reliance": (("token",), reliance),
            "modality": (("token",), modality_labels(reliance, p_black)),
        },
        coords={
            "token": np.arange(t),
            "token_text": (("token",), np.asarray([str(s) for s in tokens], dtype=str)),
            "token_id": (("token",), ids),
            "step": np.arange(n + 1),
            "region": np.arange(n),
            "rank": np.arange(n),
            "channel": np.array(["R", "G", "B"]),
        },
    )
    from . import __version__

    base = {
        "eagle_kit_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "region_method": regions.method,
        "region_params": json.dumps(regions.params, sort_keys=True),
    }
    base.update(attrs)
    ds.attrs = {k: _attr(v) for k, v in base.items()}
    return ds


def _attr(value: Any) -> str | int | float:
    """netCDF-safe attribute values: str/int/float only (bools and None become str)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class Explanation:
    """An EAGLE explanation: the labelled dataset plus the views researchers need.

    Build one with :func:`eagle_kit.explain`; load a saved one with :func:`load_explanation`.
    Every plot, widget and metric reads ``expl.dataset``.
    """

    def __init__(self, dataset: xr.Dataset):
        missing = [
            v
            for v in ("image", "labels", "order", "insertion", "deletion", "area")
            if v not in dataset
        ]
        if missing:
            raise ValueError(
                f"This dataset is not an EAGLE explanation: it lacks {', '.join(missing)}. "
                f"Create explanations with eagle_kit.explain(...)."
            )
        self.dataset = dataset

    # -- basic views ---------------------------------------------------------------------
    @property
    def image(self) -> np.ndarray:
        """The explained image ``H×W×3`` (or frames ``F×H×W×3``), uint8."""
        return self.dataset["image"].values

    @property
    def labels(self) -> np.ndarray:
        """Region id of each pixel."""
        return self.dataset["labels"].values

    @property
    def regions(self) -> RegionSet:
        """The :class:`RegionSet` the search ran over."""
        return RegionSet(self.labels, method=str(self.dataset.attrs.get("region_method", "labels")))

    @property
    def order(self) -> np.ndarray:
        """Region ids, most important first."""
        return self.dataset["order"].values

    @property
    def n_regions(self) -> int:
        return int(self.dataset.sizes["region"])

    @property
    def tokens(self) -> list[str]:
        """Text of the recorded tokens."""
        return [str(s) for s in self.dataset["token_text"].values]

    @property
    def targets(self) -> list[int]:
        """Indices of the tokens that form the objective."""
        return [int(i) for i in np.flatnonzero(self.dataset["is_target"].values)]

    @property
    def n_evaluations(self) -> int:
        """Masked images scored by the search."""
        return int(self.dataset.attrs.get("n_evaluations", 0))

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.dataset.attrs)

    def _token_indices(self, tokens: Any) -> list[int]:
        if tokens is None or (isinstance(tokens, str) and tokens == "targets"):
            return self.targets
        if isinstance(tokens, str) and tokens == "all":
            return list(range(len(self.tokens)))
        if isinstance(tokens, (int, np.integer)):
            tokens = [int(tokens)]
        if isinstance(tokens, str):
            tokens = [tokens]
        out = []
        for tok in tokens:
            if isinstance(tok, (int, np.integer)):
                if not 0 <= tok < len(self.tokens):
                    raise IndexError(
                        f"token index {tok} is out of range 0..{len(self.tokens) - 1}."
                    )
                out.append(int(tok))
            else:
                hits = [i for i, s in enumerate(self.tokens) if s.strip() == str(tok).strip()]
                if not hits:
                    raise ValueError(
                        f"token '{tok}' is not among the recorded tokens: {self.tokens}."
                    )
                out.extend(hits)
        if not out:
            raise ValueError("No tokens selected.")
        return out

    # -- curves and maps -----------------------------------------------------------------
    def curve(self, kind: str = "insertion", tokens: Any = None) -> np.ndarray:
        """Mean probability over ``tokens`` (default: the targets) at each step, ``(N+1,)``."""
        if kind not in ("insertion", "deletion"):
            raise ValueError(f"kind must be 'insertion' or 'deletion'; got {kind!r}.")
        idx = self._token_indices(tokens)
        return self.dataset[kind].values[:, idx].mean(axis=1)

    def region_values(self, tokens: Any = None) -> np.ndarray:
        """Per-region values ``(N,)`` in [0, 1].

        With ``tokens=None`` this is the objective's attribution (METHOD §5). For given
        tokens, the same formula along the fixed order with F replaced by the mean insertion
        probability of those tokens — a per-token map read from the recorded curves.
        """
        if tokens is None:
            return self.dataset["attribution"].values
        values = np.empty(self.n_regions)
        values[self.order] = attribution_values(self.curve("insertion", tokens))
        return values

    def attribution_map(self, tokens: Any = None, *, smooth: float = 0.0) -> np.ndarray:
        """The attribution map ``H×W`` (``F×H×W`` for video), float in [0, 1].

        Args:
            tokens: ``None`` for the objective's map; token indices or texts for a map from
                their recorded curves (see :meth:`region_values`).
            smooth: Gaussian sigma in pixels (0 = region-constant map, as computed).
        """
        m = self.region_values(tokens)[self.labels]
        if smooth > 0:
            from scipy.ndimage import gaussian_filter

            sig = (0, smooth, smooth) if m.ndim == 3 else smooth
            m = gaussian_filter(m, sig)
            lo, hi = m.min(), m.max()
            m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        return m

    def token_attribution_map(self, tokens: Any, *, smooth: float = 0.0) -> np.ndarray:
        """Map of the given tokens from their recorded insertion curves (see :meth:`region_values`)."""
        return self.attribution_map(tokens, smooth=smooth)

    def masked_image(self, k: int, mode: str = "insertion") -> np.ndarray:
        """The image with the first ``k`` regions kept (``"insertion"``) or removed (``"deletion"``).

        Removed pixels are black (RGB 0), whatever fill the search used for ``fill="black"``;
        for other fills the search's fill colour is not stored, so black is shown.
        """
        if mode not in ("insertion", "deletion"):
            raise ValueError(f"mode must be 'insertion' or 'deletion'; got {mode!r}.")
        if not 0 <= k <= self.n_regions:
            raise ValueError(f"k must be in 0..{self.n_regions}; got {k}.")
        keep = np.zeros(self.n_regions, dtype=bool)
        keep[self.order[:k]] = True
        if mode == "deletion":
            keep = ~keep
        m = keep[self.labels]
        return np.where(m[..., None], self.image, 0).astype(np.uint8)

    def reliance(self) -> np.ndarray:
        """Visual reliance ``I_t`` of every recorded token, ``(T,)``."""
        return self.dataset["reliance"].values

    def modality(self) -> list[str]:
        """ "prior" / "visual" / "mixed" per recorded token."""
        return [str(s) for s in self.dataset["modality"].values]

    def overlay(
        self, tokens: Any = None, *, alpha: float = 0.5, smooth: float | None = None
    ) -> np.ndarray:
        """The image blended with the viridis heat map (reference: 50 %), ``H×W×3`` uint8."""
        if smooth is None:
            smooth = 0.25 * float(np.sqrt(self.labels[..., :, :].size / max(self.n_regions, 1)))
        heat = viridis(self.attribution_map(tokens, smooth=smooth))
        return blend(self.image, heat, alpha)

    def metrics(self) -> dict[str, float]:
        """Faithfulness figures of this explanation (see :mod:`eagle_kit.metrics`)."""
        from . import metrics

        return metrics.summary(self)

    def summary(self) -> str:
        """A few lines for the terminal: answer, targets, reliance per token, metrics."""
        a = self.dataset.attrs
        lines = []
        if a.get("prompt"):
            lines.append(f"prompt:  {a['prompt']}")
        if a.get("answer"):
            lines.append(f"answer:  {a['answer']}")
        lines.append(
            f"search:  {json.loads(a.get('search', '{}')).get('search', '?')} over {self.n_regions} regions, "
            f"{self.n_evaluations} evaluations"
        )
        lines.append("targets: " + " ".join(repr(self.tokens[i]) for i in self.targets))
        rel = self.reliance()
        mod = self.modality()
        lines.append("tokens (reliance, modality):")
        for i, tok in enumerate(self.tokens):
            lines.append(f"  {tok!r:>14} {rel[i]:6.3f}  {mod[i]}")
        for k, v in self.metrics().items():
            lines.append(f"{k}: {v:.4f}")
        return "\n".join(lines)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save to netCDF (``.nc``, the default) or Zarr (``.zarr``), atomically."""
        path = Path(path)
        if path.suffix not in (".nc", ".zarr"):
            raise ValueError(f"Save to a '.nc' (netCDF) or '.zarr' path; got '{path.name}'.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if path.suffix == ".nc":
            self.dataset.to_netcdf(tmp, engine="h5netcdf")
            os.replace(tmp, path)
        else:
            import shutil

            self.dataset.to_zarr(tmp, mode="w", consolidated=False, zarr_format=2)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        return path

    # -- display -------------------------------------------------------------------------
    def show(self, **kwargs: Any) -> Any:
        """The interactive :class:`eagle_kit.widgets.Explorer` for this explanation."""
        from .widgets import Explorer

        return Explorer(self, **kwargs)

    def caption_html(self) -> str:
        """The recorded tokens as HTML, coloured by visual reliance (blue prior → red visual)."""
        rel = self.reliance()
        spans = []
        for i, tok in enumerate(self.tokens):
            colour = diverging_hex(float(rel[i]))
            weight = "700" if i in self.targets else "400"
            title = (
                f"reliance {rel[i]:.3f}; p(black) {self.dataset['p_black'].values[i]:.3f}; "
                f"p(full) {self.dataset['p_full'].values[i]:.3f}"
            )
            spans.append(
                f'<span title="{html.escape(title)}" style="background:{colour};padding:1px 3px;'
                f'border-radius:3px;font-weight:{weight};color:#111">{html.escape(tok)}</span>'
            )
        return " ".join(spans)

    def _repr_html_(self) -> str:
        from PIL import Image

        over = self.overlay()
        frame = over[0] if over.ndim == 4 else over
        scale = max(1, 256 // max(frame.shape[:2]))
        img = Image.fromarray(frame).resize(
            (frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST
        )
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        b64 = base64.b64encode(buf.getvalue()).decode()
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>" for k, v in self.metrics().items()
        )
        a = self.dataset.attrs
        head = html.escape(str(a.get("prompt", "")))
        return (
            '<div style="display:flex;gap:16px;align-items:flex-start;font-family:sans-serif">'
            f'<img src="data:image/png;base64,{b64}" alt="attribution overlay" style="image-rendering:pixelated"/>'
            f"<div><div><b>EAGLE explanation</b> — {self.n_regions} regions, {self.n_evaluations} evaluations</div>"
            f'<div style="color:#555">{head}</div>'
            f'<div style="margin:8px 0;line-height:1.9">{self.caption_html()}</div>'
            '<div style="font-size:11px;color:#555">colour: blue = language prior, red = visual evidence</div>'
            f'<table style="margin-top:6px">{rows}</table></div></div>'
        )

    def __repr__(self) -> str:
        return (
            f"Explanation(n_regions={self.n_regions}, tokens={len(self.tokens)}, "
            f"targets={self.targets}, evaluations={self.n_evaluations})"
        )


def load_explanation(path: str | os.PathLike) -> Explanation:
    """Load an explanation saved with :meth:`Explanation.save` (netCDF or Zarr)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved explanation at '{path}'.")
    if path.suffix == ".zarr" or path.is_dir():
        ds = xr.open_zarr(path, consolidated=False).load()
    else:
        with xr.open_dataset(path, engine="h5netcdf") as handle:
            ds = handle.load()
    return Explanation(ds)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
