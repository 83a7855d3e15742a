"""The one result: an :class:`Explanation` over a labelled ``xarray.Dataset``.

Schema (dims ``y``, ``x``, ``channel``, optional ``frame``, ``region``, ``rank``, ``step``,
``token``):

========================  =====================  ==============================================
variable                  dims                   meaning
========================  =====================  ==============================================
image                     ([frame,] y, x, channel)  the explained image, uint8 RGB
labels                    ([frame,] y, x)        region id of every pixel
order                     (rank)                 region id chosen at rank r (0 = most important)
attribution               (region)               METHOD §5 rank value in [0, 1] (objective's)
region_area               (region)               pixel fraction of each region
area                      (step)                 revealed fraction with the first k regions in
insertion                 (step, token)          p(token) keeping only the first k regions
deletion                  (step, token)          p(token) with the first k regions removed
objective                 (step)                 F of the first k regions
is_target                 (token)                1 where the token is in the objective
p_full, p_black           (token)                p(token) on the full and the black image
reliance                  (token)                image-only explanations: visual reliance
                                                 I_t (METHOD §6); with prompt span features:
                                                 ``reliance_image`` (NaN without the split)
modality                  (token)                "prior", "visual" or "mixed" (image only);
                                                 with prompt spans "visual", "prompt",
                                                 "prior", "mixed" from the split, "n/a"
                                                 without it (see :func:`token_reading`)
seen (optional)           (y, x)                 uint8, 1 where the model saw the pixel, 0 where
                                                 its processor cropped it out (absent = all seen)
baseline_values (opt.)    (region)               a baseline's raw value per region
                                                 (:mod:`eagle_kit.baselines`)
baseline_map (optional)   (y, x)                 a map baseline's pixel map (LLaVA-CAM, TAM)
feature_fraction (text)   (step)                 k / N: fraction of the features in at step k
p_no_image … (text)       (token)                ``p_no_image``, ``p_no_prompt``, ``p_neither``:
                                                 p(token) without the image, without the prompt
                                                 spans, without both
reliance_image,           (token)                the three-way split of p_full (probability
reliance_prompt,                                 units, signed, summing to p_full; see
reliance_prior (text)                            :func:`eagle_kit.text_regions.reliance_split`)
========================  =====================  ==============================================

**Text features** (``explain(..., text_regions=...)``): prompt spans are features along the
same ``region`` dimension, after the image regions, with coordinates ``region_kind``
(``"image"``/``"text"``), ``region_text`` (the span, ``""`` for image regions) and
``region_start``/``region_end`` (character offsets into the prompt, −1 for image regions);
rows marked (text) above exist only then. A span covers no pixel: its ``region_area`` is 0,
so ``area`` (the revealed *image* area) stays flat on the steps that add a span, and curves
against the share of features use ``feature_fraction``. The token reading changes with text
features (:func:`token_reading`): ``I_t`` integrates ``p_t`` over the image area, where a
span adds zero width, so a jump caused by a span inserted before the image regions would count
in full as visual; ``reliance`` and ``modality`` then come from the three-way split instead,
and the insertion/deletion AUCs integrate over ``feature_fraction``
(:func:`eagle_kit.metrics.curve_x`). The image metrics and maps read
``area`` and ``labels`` (image regions only); with no image region (``regions="none"``)
``labels`` is −1 everywhere and ``area`` equals ``feature_fraction``.

Coordinates: ``token`` (0..T-1) with ``token_text`` and ``token_id`` (−1 when unknown),
``step`` (0..N), ``region`` and ``rank`` (0..N-1). Attributes hold provenance: package
version, search configuration (JSON), scorer, model, prompt, answer, fill, region method,
creation time; and the cost, as totals over every part of a run resumed from a checkpoint:
``n_evaluations`` (distinct masked images scored) ``= n_search_images`` (asked for by the
search, the black and full image included) ``+ n_curve_images`` (scored only to complete the
curves); ``n_forward_calls`` (scorer calls, i.e. batches); ``resumed_images`` (of the images,
those loaded from the checkpoint rather than scored in the last part); ``prepare_seconds``
(segmentation and ``scorer.prepare``), ``search_seconds`` (scoring, search and curves) and
``seconds`` (their sum).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .colors import (
    NEUTRAL_RGB,
    blend,
    diverging_hex,
    gain_colors,
    grayscale,
    text_color_for,
    viridis,
)
from .images import hatch_unseen
from .regions import RegionSet

__all__ = [
    "Explanation",
    "MapInfo",
    "MAP_KINDS",
    "MIN_MAP_SPAN",
    "load_explanation",
    "attribution_values",
    "gain_values",
    "visual_reliance_curve",
]

# Thresholds of the modality label (METHOD §6), on visual reliance I_t in [0, 1]:
PRIOR_MAX_RELIANCE = 0.1  #: I_t below this and p(black) >= PRIOR_MIN_P_BLACK → "prior"
PRIOR_MIN_P_BLACK = 0.5
VISUAL_MIN_RELIANCE = 0.3  #: I_t at or above this → "visual"; anything else → "mixed"
#: modality of a token whose reading is undefined: an explanation with prompt span features
#: but without the three-way split (no ``reliance_image`` … in its dataset)
NO_MODALITY = "n/a"
# The label of explanations with prompt span features, from the three-way split of p_full
# (image / prompt / prior parts, probability, signed): the largest part names the token when
# it holds at least SPLIT_MIN_SHARE of p_full and at least SPLIT_MIN_PART in probability;
# otherwise "mixed".
SPLIT_MIN_SHARE = 0.5
SPLIT_MIN_PART = 0.1
#: Every modality label: image-only explanations use the first three (METHOD §6 thresholds),
#: explanations with prompt spans "visual", "prompt", "prior", "mixed" (or "n/a").
MODALITIES: tuple[str, ...] = ("prior", "visual", "mixed", "prompt", NO_MODALITY)
_SPLIT_NAMES = ("reliance_image", "reliance_prompt", "reliance_prior")

#: The two maps of METHOD §5: ``"rank"`` (the paper's: change still to come after a region,
#: in [0, 1]) and ``"gain"`` (a region's marginal effect along the order, signed, in
#: probability units).
MAP_KINDS: tuple[str, ...] = ("rank", "gain")

#: A map whose mapped quantity moves by less than this along the order (its span: max − min
#: of the curve, in probability) is not drawn: the views say the image barely moves it
#: instead of stretching noise over the whole colour range (METHOD §5).
MIN_MAP_SPAN = 0.01


def faint_prompt_note(quantity: str, largest: float) -> str:
    """What a prompt view says instead of colours when the prompt's spans move ``quantity``
    by less than :data:`MIN_MAP_SPAN` (``largest``: the largest span gain, signed, in
    probability) — one wording for figures, HTML and widgets."""
    return (
        f"the prompt barely moves {quantity} (largest span gain {largest:+.2g}, under "
        f"{MIN_MAP_SPAN:g}): no colours shown"
    )


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


def gain_values(curve: np.ndarray) -> np.ndarray:
    """METHOD §5 gain map along the order: rank k (1-based) gets ``F_k − F_{k−1}``, ``(N,)``.

    ``curve`` is ``F_0..F_N`` (the objective) or one token's (mean) insertion probability
    ``p^(0)..p^(N)``. The values are signed, in the curve's units, and sum to
    ``curve[N] − curve[0]`` (full image minus black image).
    """
    return np.diff(np.asarray(curve, dtype=np.float64))


@dataclass(frozen=True)
class MapInfo:
    """What a map shows and how much the image moves the mapped quantity (METHOD §5).

    Every static view states it (colour bar, caption); see :meth:`Explanation.map_info`.

    Attributes:
        kind: ``"rank"`` or ``"gain"``.
        source: ``"objective"`` (the search's F) or ``"tokens"`` (mean insertion probability
            of the chosen tokens).
        quantity: the mapped quantity as text, e.g. ``'p("square")'`` or ``'F("square")'``.
        black: the quantity on the black image (step 0 of the order).
        full: the quantity on the full image (step N).
        span: ``max − min`` of the quantity along the order: how much the image moves it.
        max_gain: the largest single step along the order (signed; largest in magnitude).
        max_gain_region: the region id (feature id) where that step happens.
        image_max_gain: joint image + prompt explanations (``text_regions``): the largest
            step among the image regions only — the image map's colour scale, so a prompt
            word's large gain never washes the image map out; ``None`` without text features.
        image_max_gain_region: the image region where that step happens (``-1`` if none).
        max_gain_feature: what holds ``max_gain``, e.g. ``'region 3'`` or
            ``'prompt span "red"'``.
        image_span: joint explanations: how much the image regions move the quantity — the
            sum of ``|step|`` over the image regions' steps along the shared order (the
            prompt spans' steps excluded); ``None`` without text features. Below
            :data:`MIN_MAP_SPAN` the image map is not drawn even when a prompt word makes
            ``span`` large.
    """

    kind: str
    source: str
    quantity: str
    black: float
    full: float
    span: float
    max_gain: float
    max_gain_region: int
    image_max_gain: float | None = None
    image_max_gain_region: int = -1
    max_gain_feature: str = ""
    image_span: float | None = None

    @property
    def total(self) -> float:
        """Change of the quantity from the black to the full image (sum of all gains)."""
        return self.full - self.black

    @property
    def shown(self) -> bool:
        """``False`` when the image barely moves the quantity — the span, and for joint
        explanations the image regions' own :attr:`image_span`, below :data:`MIN_MAP_SPAN`:
        views draw no map then."""
        if self.image_span is not None and self.image_span < MIN_MAP_SPAN:
            return False
        return self.span >= MIN_MAP_SPAN

    @property
    def scale(self) -> float:
        """Half-width of the image gain map's symmetric colour scale, at least 1e-12:
        ``|image_max_gain|`` for joint image + prompt explanations (over image regions
        only), else ``|max_gain|``."""
        gain = self.max_gain if self.image_max_gain is None else self.image_max_gain
        return max(abs(gain), 1e-12)

    @property
    def label(self) -> str:
        """Short name of the map for a colour bar, e.g. ``'gain in p("square")'``."""
        if self.kind == "gain":
            return f"gain in {self.quantity}"
        return "rank (METHOD §5)"

    def caption(self) -> str:
        """One sentence: which map, its units, and the effect size (span)."""
        if self.image_span is not None and self.image_max_gain_region < 0:
            return "No image regions (prompt span features only): no image map."
        if not self.shown:
            if self.image_span is not None and self.span >= MIN_MAP_SPAN:
                # a marginal effect along the shared order, not whether the image matters:
                # the spans before the regions may already have set the quantity
                return (
                    f"Along this order the image regions' steps move {self.quantity} by only "
                    f"{self.image_span:.3f} (< {MIN_MAP_SPAN:g}; the prompt spans make the rest "
                    f"of the span {self.span:.3f}): no image map shown. This is their effect "
                    "after the spans ranked before them, not whether the image matters — the "
                    "three-way split (reliance_image) says that."
                )
            return (
                f"The image barely moves {self.quantity} (span {self.span:.3f} < "
                f"{MIN_MAP_SPAN:g}): no map shown."
            )
        moves = (
            f"{self.quantity}: black {self.black:.3f} → full {self.full:.3f}, "
            f"span {self.span:.3f}, largest single gain {self.max_gain:+.3f}"
        )
        if self.image_max_gain is not None:
            where = self.max_gain_feature or f"feature {self.max_gain_region}"
            scale = ", the image map's colour scale" if self.kind == "gain" else ""
            moves += (
                f" ({where}); the image regions' steps move it by {self.image_span:.3f}, "
                f"the largest {self.image_max_gain:+.3f} (region "
                f"{self.image_max_gain_region}{scale})"
            )
        if self.kind == "gain":
            return (
                f"Gain map: each region's marginal effect on {self.quantity} along the order "
                f"(signed, probability; orange raises, purple lowers). {moves}."
            )
        return (
            "Rank map (METHOD §5, the paper's): 1 = first region of the order, 0 = last; "
            f"it shows rank, not effect size. {moves}."
        )


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


def split_modality_labels(
    image: np.ndarray, prompt: np.ndarray, prior: np.ndarray, p_full: np.ndarray
) -> np.ndarray:
    """Label each token by the three-way split of ``p_full`` (explanations with prompt spans).

    The largest of the three parts names the token — ``"visual"`` (image), ``"prompt"``
    (the prompt spans) or ``"prior"`` (neither: the language prior of the answer so far) —
    when it is at least :data:`SPLIT_MIN_SHARE` (½) of ``p_full`` and at least
    :data:`SPLIT_MIN_PART` (0.1) in probability; otherwise ``"mixed"``. ``"n/a"`` where a
    part is NaN.

    Args:
        image, prompt, prior: ``(T,)`` the parts (:func:`eagle_kit.text_regions.reliance_split`).
        p_full: ``(T,)`` their sum, p(token) with everything kept.

    Returns:
        ``(T,)`` str array.
    """
    parts = np.stack([np.asarray(v, dtype=np.float64) for v in (image, prompt, prior)])
    full = np.asarray(p_full, dtype=np.float64)
    bad = np.isnan(parts).any(axis=0) | np.isnan(full)
    safe = np.nan_to_num(parts, nan=-np.inf)
    top = safe.argmax(axis=0)
    best = safe.max(axis=0)
    names = np.array(["visual", "prompt", "prior"], dtype=object)
    out = np.where(
        (best >= SPLIT_MIN_SHARE * full) & (best >= SPLIT_MIN_PART), names[top], "mixed"
    ).astype(object)
    out[bad] = NO_MODALITY
    return out.astype(str)


def has_text_features(ds: xr.Dataset) -> bool:
    """Whether a dataset holds prompt span features (``region_kind`` "text")."""
    return "region_kind" in ds.coords and bool(
        np.any(np.asarray(ds["region_kind"].values).astype(str) == "text")
    )


def token_reading(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(reliance, modality)`` of every recorded token, each ``(T,)`` (METHOD §6).

    * Image regions only: ``reliance`` is the visual reliance
      ``I_t = AUC(area, p_t) − min_k p_t`` and ``modality`` the METHOD §6 label
      ("prior" when ``I_t`` < 0.1 and ``p(black)`` ≥ 0.5, "visual" when ``I_t`` ≥ 0.3, else
      "mixed") — the values stored in the dataset.
    * With prompt span features (joint or text only): the area integral is not used (a span
      adds zero image area, so a jump caused by a span inserted early would count in full as
      visual). ``reliance`` is ``reliance_image``, the image's share of ``p_full`` in the
      three-way split (probability, signed), and ``modality`` is
      :func:`split_modality_labels` of the split. Without the split variables both are
      undefined: NaN and ``"n/a"``.
    """
    t = ds.sizes["token"]
    if not has_text_features(ds):
        return ds["reliance"].values.astype(np.float64), np.array(
            [str(m) for m in ds["modality"].values]
        )
    if not all(name in ds for name in _SPLIT_NAMES):
        return np.full(t, np.nan), np.full(t, NO_MODALITY)
    image, prompt, prior = (ds[name].values.astype(np.float64) for name in _SPLIT_NAMES)
    return image.copy(), split_modality_labels(image, prompt, prior, ds["p_full"].values)


def refresh_token_reading(ds: xr.Dataset) -> xr.Dataset:
    """Set ``reliance``/``modality`` of a dataset with prompt spans from
    :func:`token_reading` (files saved by earlier versions stored the area integral)."""
    if has_text_features(ds):
        reliance, modality = token_reading(ds)
        ds["reliance"] = (("token",), reliance)
        ds["modality"] = (("token",), modality)
    return ds


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
    text: Any = None,
    split: dict[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Assemble the schema above from a search's record.

    ``regions`` may be ``None`` when ``text`` (:class:`eagle_kit.text_regions.TextFeatures`)
    gives every feature. ``split``: the four probabilities of
    :func:`eagle_kit.text_regions.split_probabilities` (``p_full``, ``p_no_image``,
    ``p_no_prompt``, ``p_neither``), stored with the three-way reading they give; with text
    features ``reliance``/``modality`` come from it (:func:`token_reading`)."""
    n_image = 0 if regions is None else regions.n_regions
    n_text = 0 if text is None else text.n_features
    n = n_image + n_text
    t = insertion.shape[1]
    pix = ("frame", "y", "x") if image.ndim == 4 else ("y", "x")
    region_area = np.concatenate(
        [np.zeros(0) if regions is None else regions.areas, np.zeros(n_text)]
    )
    feature_fraction = np.arange(n + 1) / max(n, 1)
    if n_image:
        area = np.concatenate([[0.0], np.cumsum(region_area[order])])
        area[-1] = 1.0
    else:
        area = feature_fraction.copy()
    labels = np.full(image.shape[:-1], -1, dtype=np.int32) if regions is None else regions.labels
    attribution = np.empty(n)
    attribution[order] = attribution_values(objective)
    is_target = np.zeros(t, dtype=np.int8)
    is_target[list(targets)] = 1
    p_black, p_full = insertion[0], insertion[-1]
    if n_image and text is None:
        reliance = visual_reliance_curve(area, insertion)
        modality = modality_labels(reliance, p_black)
    else:  # prompt spans: set from the three-way split below (token_reading)
        reliance = np.full(t, np.nan)
        modality = np.full(t, NO_MODALITY)
    ids = np.asarray(token_ids if token_ids is not None else [-1] * t, dtype=np.int64)
    ds = xr.Dataset(
        {
            "image": ((*pix, "channel"), image.astype(np.uint8)),
            "labels": (pix, labels.astype(np.int32)),
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
            "modality": (("token",), modality),
        },
        coords={
            "token": np.arange(t),
            "token_text": (
                ("token",),
                np.array([str(s) for s in tokens], dtype=object),
            ),  # no fixed width: trailing NULs kept
            "token_id": (("token",), ids),
            "step": np.arange(n + 1),
            "region": np.arange(n),
            "rank": np.arange(n),
            "channel": np.array(["R", "G", "B"]),
        },
    )
    if text is not None:
        kinds = ["image"] * n_image + ["text"] * n_text
        ds = ds.assign_coords(
            region_kind=(("region",), np.array(kinds, dtype=object)),
            region_text=(("region",), np.array([""] * n_image + list(text.texts), dtype=object)),
            region_start=(
                ("region",),
                np.array([-1] * n_image + [s for s, _ in text.spans], np.int64),
            ),
            region_end=(
                ("region",),
                np.array([-1] * n_image + [e for _, e in text.spans], np.int64),
            ),
        )
        ds["feature_fraction"] = (("step",), feature_fraction)
        if split is not None:
            from .text_regions import reliance_split

            parts = reliance_split(
                split["p_full"], split["p_no_image"], split["p_no_prompt"], split["p_neither"]
            )
            for name in ("p_no_image", "p_no_prompt", "p_neither"):
                ds[name] = (("token",), np.asarray(split[name], dtype=np.float64))
            for name, values in zip(_SPLIT_NAMES, parts, strict=True):
                ds[name] = (("token",), np.asarray(values, dtype=np.float64))
            attrs = {**attrs, "reliance_split_images": 4}
        refresh_token_reading(ds)
        attrs = {
            **attrs,
            "text_baseline_id": int(text.baseline_id),
            "text_baseline": text.baseline_text,
        }
    from . import __version__

    base = {
        "eagle_kit_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "region_method": "none" if regions is None else regions.method,
        "region_params": json.dumps({} if regions is None else regions.params, sort_keys=True),
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
    def seen(self) -> np.ndarray:
        """``H×W`` bool: ``True`` where the model saw the pixel (``False`` where its processor
        centre-cropped it out); all ``True`` when the dataset has no ``seen`` variable."""
        if "seen" in self.dataset:
            return self.dataset["seen"].values.astype(bool)
        return np.ones(self.labels.shape[-2:], dtype=bool)

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
        """Distinct masked images scored: search plus curve images, over every part of a
        resumed run (see the ``n_search_images`` and ``n_curve_images`` attributes)."""
        return int(self.dataset.attrs.get("n_evaluations", 0))

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.dataset.attrs)

    def _token_indices(self, tokens: Any) -> list[int]:
        """Token indices for ``tokens``: ``None``/``"targets"`` (the objective's targets),
        ``"all"``, or anything :func:`eagle_kit.targets.resolve_targets` takes (indices,
        words, phrases, ``(word, k)`` occurrences, lists) — the rule ``explain`` used."""
        from .targets import resolve_recorded_targets

        if tokens is None or (isinstance(tokens, str) and tokens == "targets"):
            return self.targets
        if isinstance(tokens, str) and tokens == "all":
            return list(range(len(self.tokens)))
        ids = self.dataset["token_id"].values if "token_id" in self.dataset else None
        return resolve_recorded_targets(tokens, self.tokens, attrs=self.attrs, token_ids=ids)

    # -- curves and maps -----------------------------------------------------------------
    def curve(self, kind: str = "insertion", tokens: Any = None) -> np.ndarray:
        """Mean probability over ``tokens`` (default: the targets) at each step, ``(N+1,)``."""
        if kind not in ("insertion", "deletion"):
            raise ValueError(f"kind must be 'insertion' or 'deletion'; got {kind!r}.")
        idx = self._token_indices(tokens)
        return self.dataset[kind].values[:, idx].mean(axis=1)

    def _map_kind(self, tokens: Any, kind: str | None) -> str:
        """``kind`` checked; ``None`` → "rank" for the objective, "gain" for tokens."""
        if kind is None:
            return "rank" if tokens is None else "gain"
        if kind not in MAP_KINDS:
            raise ValueError(
                f"Unknown map kind {kind!r}. Choose one of: 'rank' (METHOD §5, the paper's "
                f"map) or 'gain' (each region's marginal effect, in probability)."
            )
        return kind

    def _mapped_curve(self, tokens: Any) -> tuple[np.ndarray, str, str]:
        """The quantity a map is read from, along the order: ``(curve (N+1,), source, name)``."""
        if tokens is None:
            if "objective" not in self.dataset:
                raise ValueError(
                    "This explanation has no objective curve; pass tokens=... for a token map."
                )
            curve = self.dataset["objective"].values.astype(np.float64)
            return curve, "objective", f"F({_token_names(self.tokens, self.targets)})"
        idx = self._token_indices(tokens)
        curve = self.dataset["insertion"].values[:, idx].mean(axis=1).astype(np.float64)
        prefix = "p" if len(idx) == 1 else "mean p"
        return curve, "tokens", f"{prefix}({_token_names(self.tokens, idx)})"

    def region_values(self, tokens: Any = None, *, kind: str | None = None) -> np.ndarray:
        """Per-region values ``(N,)`` of one of the two maps of METHOD §5.

        Args:
            tokens: ``None`` for the objective F the search optimised; token indices or
                texts for a map read from the recorded insertion curve of those tokens
                (their mean probability) along the same order.
            kind: ``"rank"`` — the paper's map: rank k gets ``(C_N − C_k)/(C_N − C_1)`` with
                ``C_k = Σ_{j≤k} |F_j − F_{j−1}|``, in [0, 1] (first region 1, last 0). It
                encodes rank, not effect: a region where a big jump happens reads near 0
                unless it comes first. ``"gain"`` — each region's marginal effect along the
                order, signed, in probability: ``F_k − F_{k−1}`` for the objective (F =
                λ1·p(kept) + λ2·(1 − p(removed)), so a step counts the insertion gain and
                the deletion drop), ``p^(k) − p^(k−1)`` on the insertion curve for tokens.
                Token gains come from the insertion curve only (not averaged with the
                deletion curve's drop): a region's value is exactly the step the token's
                insertion curve (and the ablation slider) shows when the region is added,
                and the gains sum to ``p(full) − p(black)``. Default: ``"rank"`` for the
                objective, ``"gain"`` for tokens.

        Returns:
            Float array indexed by region id.

        Raises:
            ValueError: unknown ``kind`` or token.
        """
        kind = self._map_kind(tokens, kind)
        if kind == "rank" and tokens is None and "attribution" in self.dataset:
            return np.array(self.dataset["attribution"].values, dtype=np.float64)
        curve, _, _ = self._mapped_curve(tokens)
        per_rank = attribution_values(curve) if kind == "rank" else gain_values(curve)
        values = np.empty(self.n_regions)
        values[self.order] = per_rank
        return values

    def map_info(self, tokens: Any = None, *, kind: str | None = None) -> MapInfo:
        """Which map ``tokens``/``kind`` select and the effect size behind it (METHOD §5).

        Args:
            tokens, kind: as in :meth:`region_values`.

        Returns:
            A :class:`MapInfo`: the mapped quantity, its value on the black and the full
            image, its span along the order (max − min, probability) and the largest single
            gain. ``info.shown`` is ``False`` when the span is below :data:`MIN_MAP_SPAN`;
            ``info.caption()`` is the sentence the views print.

        Example:
            >>> expl.map_info(5).caption()  # doctest: +SKIP
            'Gain map: ... p("square"): black 0.000 → full 1.000, span 1.000, largest single gain +0.985.'
        """
        kind = self._map_kind(tokens, kind)
        curve, source, quantity = self._mapped_curve(tokens)
        gains = gain_values(curve)
        top = int(np.argmax(np.abs(gains))) if len(gains) else 0
        top_region = int(self.order[top]) if len(gains) else -1
        kinds = self.region_kind
        image_gain, image_region, feature, image_span = None, -1, "", None
        if len(gains) and np.any(kinds == "text"):
            # joint image + prompt features: the image map's scale is over image regions only
            is_image = kinds[self.order[: len(gains)]] == "image"
            image_span = float(np.sum(np.abs(gains[is_image])))
            if is_image.any():
                ranks = np.flatnonzero(is_image)
                r = int(ranks[np.argmax(np.abs(gains[ranks]))])
                image_gain, image_region = float(gains[r]), int(self.order[r])
            else:
                image_gain = 0.0
            if kinds[top_region] == "text":
                texts = dict(zip(np.flatnonzero(kinds == "text"), self.text_spans, strict=True))
                feature = f'prompt span "{texts[top_region][0]}"'
            else:
                feature = f"region {top_region}"
        return MapInfo(
            kind=kind,
            source=source,
            quantity=quantity,
            black=float(curve[0]),
            full=float(curve[-1]),
            span=float(curve.max() - curve.min()),
            max_gain=float(gains[top]) if len(gains) else 0.0,
            max_gain_region=top_region,
            image_max_gain=image_gain,
            image_max_gain_region=image_region,
            max_gain_feature=feature,
            image_span=image_span,
        )

    @property
    def region_kind(self) -> np.ndarray:
        """``"image"`` or ``"text"`` per feature ``(N,)`` (all ``"image"`` without text features)."""
        if "region_kind" in self.dataset.coords:
            return np.array([str(k) for k in self.dataset["region_kind"].values])
        return np.full(self.n_regions, "image")

    @property
    def n_image_regions(self) -> int:
        """How many features are image regions (the first ids)."""
        return int(np.sum(self.region_kind == "image"))

    @property
    def text_spans(self) -> list[tuple[str, int, int]]:
        """``(text, start, end)`` of each prompt span feature, in feature order (``[]`` if none)."""
        d = self.dataset
        if "region_kind" not in d.coords:
            return []
        sel = self.region_kind == "text"
        return [
            (str(txt), int(a), int(b))
            for txt, a, b in zip(
                d["region_text"].values[sel],
                d["region_start"].values[sel],
                d["region_end"].values[sel],
                strict=True,
            )
        ]

    def text_values(self, tokens: Any = None, *, kind: str | None = None) -> np.ndarray:
        """Per-span values ``(S,)`` of the prompt span features, in the order of
        :attr:`text_spans`: the same values as :meth:`region_values` (``kind="rank"`` or
        ``"gain"``, objective or ``tokens``), read along the one order shared with the image
        regions.

        Raises:
            ValueError: the explanation has no text features; unknown ``kind`` or token.
        """
        if not self.text_spans:
            raise ValueError(
                "This explanation has no prompt span features; explain with text_regions='words' "
                "(or 'sentences', or [(start, end), ...])."
            )
        return self.region_values(tokens, kind=kind)[self.region_kind == "text"]

    def attribution_map(
        self, tokens: Any = None, *, kind: str | None = None, smooth: float = 0.0
    ) -> np.ndarray:
        """The map ``H×W`` (``F×H×W`` for video): :meth:`region_values` painted on the pixels.

        Args:
            tokens: ``None`` for the objective's map; token indices or texts for a map of
                those tokens (see :meth:`region_values`).
            kind: ``"rank"`` (in [0, 1]) or ``"gain"`` (signed, probability); default
                ``"rank"`` for the objective, ``"gain"`` for tokens.
            smooth: Gaussian sigma in pixels, a finite number >= 0 (0 = region-constant
                map, as computed). A smoothed rank map is rescaled to [0, 1] (as the
                reference displays it) only while smoothing keeps its contrast: when the
                smoothed map's span falls below :data:`MIN_MAP_SPAN` times the unsmoothed
                map's span (a very large sigma averages the map to a near-constant), an
                all-zeros map is returned instead of stretching noise to [0, 1]. A smoothed
                gain map keeps its units (no rescaling).

        Raises:
            TypeError: ``smooth`` is not a number (e.g. the str ``"2"``).
            ValueError: unknown ``kind`` or token, or ``smooth`` negative or not finite.
        """
        smooth = _check_real("smooth", smooth, "a Gaussian sigma in pixels, >= 0")
        if not smooth >= 0:
            raise ValueError(f"smooth is a Gaussian sigma in pixels, >= 0; got {smooth}.")
        kind = self._map_kind(tokens, kind)
        if self.n_image_regions == 0:
            raise ValueError(
                "This explanation has prompt span features only (regions='none'): there is no "
                "image map. Read expl.text_values(...) instead."
            )
        m = self.region_values(tokens, kind=kind)[self.labels]
        if smooth > 0:
            from scipy.ndimage import gaussian_filter

            sig = (0, smooth, smooth) if m.ndim == 3 else smooth
            span0 = float(m.max() - m.min()) if m.size else 0.0
            m = gaussian_filter(m, sig)
            if kind == "rank":
                lo, hi = m.min(), m.max()
                # stretch only a map that kept its contrast; a collapsed one is no map
                m = (
                    (m - lo) / (hi - lo)
                    if hi - lo >= MIN_MAP_SPAN * span0 > 0
                    else np.zeros_like(m)
                )
        return m

    def token_attribution_map(
        self, tokens: Any, *, kind: str = "gain", smooth: float = 0.0
    ) -> np.ndarray:
        """Map of the given tokens from their recorded insertion curve; ``kind="gain"`` by
        default (see :meth:`attribution_map`)."""
        return self.attribution_map(tokens, kind=kind, smooth=smooth)

    def masked_image(self, k: int, mode: str = "insertion") -> np.ndarray:
        """The image with the first ``k`` regions kept (``"insertion"``) or removed (``"deletion"``).

        Text features (prompt spans) among the first ``k`` change no pixel. Removed pixels are black (RGB 0), whatever fill the search used for ``fill="black"``;
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
        labels = self.labels
        # pixels outside every image region (text-only explanations: label -1) are never removed
        m = np.where(labels >= 0, keep[np.clip(labels, 0, None)], True)
        return np.where(m[..., None], self.image, 0).astype(np.uint8)

    def reliance(self) -> np.ndarray:
        """How much each recorded token rests on the image, ``(T,)`` (METHOD §6).

        Image regions only: the visual reliance ``I_t = AUC(area, p_t) − min_k p_t`` against
        the revealed image area (the paper's; unchanged).

        With prompt span features (joint or text only) the area integral is not used: a span
        adds zero image area, so a jump of ``p_t`` caused by a span inserted before the image
        regions would count in full. The value is then ``reliance_image``, the image's part
        of ``p_full`` in the three-way split (:func:`eagle_kit.text_regions.reliance_split`;
        probability units, signed; the prompt's and the prior's parts are
        ``reliance_prompt``/``reliance_prior`` in the dataset). NaN when the dataset has no
        split. See :func:`token_reading`.
        """
        return token_reading(self.dataset)[0]

    def modality(self) -> list[str]:
        """The reading of each recorded token (METHOD §6).

        Image regions only: ``"prior"`` / ``"visual"`` / ``"mixed"`` from ``I_t`` and
        ``p(black)``. With prompt span features: the largest part of the three-way split —
        ``"visual"``, ``"prompt"`` or ``"prior"`` — when it holds at least half of ``p_full``
        and at least 0.1 in probability, else ``"mixed"`` (:func:`split_modality_labels`);
        ``"n/a"`` without the split."""
        return [str(s) for s in token_reading(self.dataset)[1]]

    def overlay(
        self,
        tokens: Any = None,
        *,
        kind: str | None = None,
        alpha: float = 0.5,
        smooth: float | None = None,
        scale: float | None = None,
    ) -> np.ndarray:
        """The image blended with the map's colours, ``H×W×3`` (``F×H×W×3``) uint8.

        Rank maps use viridis (the reference's display, 50 % blend). Gain maps use the
        diverging PuOr scale (colour-blind safe) over a grey copy of the image (so that
        blending does not change the hue), symmetric around 0 so that no effect is
        neutral grey whatever the sign of the others: colour = gain / ``scale``, with
        ``scale`` = :attr:`MapInfo.scale` by default (the largest single gain; over the image
        regions only for joint image + prompt explanations) (the colour bar of
        :meth:`_repr_html_` states it in probability), or a fixed value you give (e.g.
        ``scale=1.0`` for absolute probability, comparable across explanations).

        When the image barely moves the mapped quantity (span < :data:`MIN_MAP_SPAN`, see
        :meth:`map_info`) no map is drawn: the image is blended with the neutral grey,
        unless a fixed ``scale`` is given for a gain map.

        Args:
            tokens, kind: as in :meth:`attribution_map`.
            alpha: weight of the map's colours, a number in [0, 1].
            smooth: Gaussian sigma in pixels (finite, >= 0); default a quarter of a
                region's side.
            scale: gain maps only: half-width of the colour scale, in probability (a finite
                number > 0).

        Raises:
            TypeError: ``alpha``, ``smooth`` or ``scale`` is not a number (e.g. ``"0.5"``).
            ValueError: bad ``kind``; ``alpha`` outside [0, 1]; ``smooth`` negative or not
                finite; ``scale`` not finite or <= 0, or given for a rank map.
        """
        alpha = _check_real("alpha", alpha, "the weight of the map's colours in [0, 1]")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha is the weight of the map's colours, in [0, 1]; got {alpha}.")
        if scale is not None:
            scale = _check_real(
                "scale", scale, "a gain map's colour half-width in probability, > 0"
            )
        if smooth is not None:
            smooth = _check_real("smooth", smooth, "a Gaussian sigma in pixels, >= 0")
        info = self.map_info(tokens, kind=kind)
        if scale is not None:
            if info.kind != "gain":
                raise ValueError(
                    "scale sets a gain map's colour range; rank maps are always in [0, 1]. "
                    "Use kind='gain' or drop scale."
                )
            if not scale > 0:
                raise ValueError(f"scale must be > 0 (probability); got {scale}.")
        if smooth is None:
            smooth = 0.25 * float(np.sqrt(self.labels[..., :, :].size / max(self.n_regions, 1)))
        if not info.shown and scale is None:
            heat = np.broadcast_to(np.asarray(NEUTRAL_RGB, np.uint8), (*self.labels.shape, 3))
        elif info.kind == "rank":
            heat = viridis(self.attribution_map(tokens, kind="rank", smooth=smooth))
        else:
            m = self.attribution_map(tokens, kind="gain", smooth=smooth)
            heat = gain_colors(m / (scale if scale is not None else info.scale))
            over = blend(grayscale(self.image), heat, alpha)
            return hatch_unseen(over, self.seen)  # cropped out: hatched
        return hatch_unseen(blend(self.image, heat, alpha), self.seen)  # cropped out: hatched

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
        if "n_search_images" in a:
            resumed = int(a.get("resumed_images", 0))
            lines.append(
                f"cost:    {a['n_search_images']} search + {a['n_curve_images']} curve images, "
                f"{a['n_forward_calls']} forward calls; {a['prepare_seconds']:.2f} s preparing, "
                f"{a['search_seconds']:.2f} s searching"
                + (f" ({resumed} images resumed from a checkpoint)" if resumed else "")
            )
        lines.append("targets: " + " ".join(repr(self.tokens[i]) for i in self.targets))
        rel = self.reliance()
        mod = self.modality()
        if "reliance_image" in self.dataset:
            d = self.dataset
            lines.append("p(token) = image + prompt + prior (reliance split):")
            for i, tok in enumerate(self.tokens):
                lines.append(
                    f"  {tok!r:>14} {d['p_full'].values[i]:.3f} = {d['reliance_image'].values[i]:+.3f}"
                    f" {d['reliance_prompt'].values[i]:+.3f} {d['reliance_prior'].values[i]:+.3f}"
                )
        what = "image share" if has_text_features(self.dataset) else "visual reliance I_t"
        lines.append(f"tokens ({what}, modality):")
        for i, tok in enumerate(self.tokens):
            lines.append(f"  {tok!r:>14} {rel[i]:6.3f}  {mod[i]}")
        for k, v in self.metrics().items():
            lines.append(f"{k}: {v:.4f}")
        return "\n".join(lines)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save to netCDF (``.nc``, the default) or Zarr (``.zarr``, format 2), atomically.

        The file is written under a temporary name next to ``path`` and renamed into place
        once complete: an interrupted or failed write (disk full, Ctrl-C) leaves the previous
        file, if any, untouched and no temporary file behind. Any text survives: prompts,
        answers and tokens with NUL or other control characters, lone surrogates, emoji or
        right-to-left scripts load back exactly (see :mod:`eagle_kit._text`).

        Raises:
            ValueError: the suffix is neither ``.nc`` nor ``.zarr``.
        """
        import shutil

        from ._text import encode_text

        path = Path(path)
        if path.suffix not in (".nc", ".zarr"):
            raise ValueError(f"Save to a '.nc' (netCDF) or '.zarr' path; got '{path.name}'.")
        path.parent.mkdir(parents=True, exist_ok=True)
        ds = encode_text(self.dataset)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        old = path.with_name(f".{path.name}.{os.getpid()}.old")
        try:
            if path.suffix == ".nc":
                ds.to_netcdf(tmp, engine="h5netcdf")
                os.replace(tmp, path)
            else:
                ds.to_zarr(tmp, mode="w", consolidated=False, zarr_format=2)
                if path.exists():
                    os.replace(path, old)  # a folder cannot be replaced in one rename
                try:
                    os.replace(tmp, path)
                except BaseException:
                    if old.exists() and not path.exists():
                        os.replace(old, path)
                    raise
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            raise
        return path

    # -- display -------------------------------------------------------------------------
    def show(self, **kwargs: Any) -> Any:
        """The interactive :class:`eagle_kit.widgets.Explorer` for this explanation."""
        from .widgets import Explorer

        return Explorer(self, **kwargs)

    def caption_html(self) -> str:
        """The recorded tokens as HTML chips, coloured by their reading (:meth:`reliance`,
        :meth:`modality`).

        Image regions only: the visual reliance scale (blue prior → red visual). With prompt
        span features: the colour of the token's label from the three-way split
        (:data:`eagle_kit.colors.MODALITY_COLORS`: image red, prompt orange, prior blue, mixed
        light grey), each chip's hover stating the three parts. A token with no reading
        ("n/a") is the neutral "n/a" grey, never a colour of evidence.
        """
        from .colors import modality_hex

        rel = self.reliance()
        mod = self.modality()
        split = has_text_features(self.dataset)
        d = self.dataset
        spans = []
        for i, tok in enumerate(self.tokens):
            if split or mod[i] == NO_MODALITY or not np.isfinite(rel[i]):
                colour = modality_hex(mod[i])
            else:
                colour = diverging_hex(float(rel[i]))
            ink = text_color_for(colour)  # black or white: contrast >= 4.5:1 on any chip
            weight = "700" if i in self.targets else "400"
            what = "reliance on the image (split)" if split else "reliance"
            shown = f"{rel[i]:.3f}" if np.isfinite(rel[i]) else "n/a"
            title = (
                f"{what} {shown} ({mod[i]}); p(black) {d['p_black'].values[i]:.3f}; "
                f"p(full) {d['p_full'].values[i]:.3f}"
            )
            if "reliance_image" in d:
                title += (
                    f"; rests on image {d['reliance_image'].values[i]:+.3f}, prompt "
                    f"{d['reliance_prompt'].values[i]:+.3f}, prior {d['reliance_prior'].values[i]:+.3f}"
                )
            spans.append(
                f'<span title="{html.escape(title)}" data-modality="{html.escape(mod[i])}" '
                f'style="background:{colour};padding:1px 3px;'
                f'border-radius:3px;font-weight:{weight};color:{ink}">{html.escape(tok)}</span>'
            )
        return " ".join(spans)

    def caption_legend_html(self) -> str:
        """The legend of :meth:`caption_html`'s colours, naming what each colour means here."""
        from .colors import MODALITY_COLORS

        def key(label: str, text: str) -> str:
            return (
                f'<span style="display:inline-block;width:10px;height:10px;border-radius:2px;'
                f"background:{MODALITY_COLORS[label]};border:1px solid #888;"
                f'vertical-align:middle"></span> {html.escape(text)}'
            )

        na = key(NO_MODALITY, "n/a: no reading")
        if has_text_features(self.dataset):
            keys = [
                key("visual", "image"),
                key("prompt", "prompt"),
                key("prior", "language prior"),
                key("mixed", "mixed"),
                na,
            ]
            return (
                '<div class="ek-caption-legend" style="font-size:11px;color:#555">colour: what '
                "p(token) rests on (three-way split; largest part ≥ ½ p(full)) — "
                + " · ".join(keys)
                + "</div>"
            )
        extra = f" · {na}" if NO_MODALITY in self.modality() else ""
        return (
            '<div class="ek-caption-legend" style="font-size:11px;color:#555">colour: visual '
            f"reliance I_t — blue = language prior, red = visual evidence{extra}</div>"
        )

    def prompt_html(self, tokens: Any = None, *, kind: str | None = None) -> str:
        """The prompt as HTML, each span feature coloured by its value (:meth:`text_values`,
        the same ``tokens``/``kind`` as the image map), text outside the spans uncoloured.

        Gain values use the signed PuOr scale of the gain map, scaled by the largest absolute
        span value; rank values (in [0, 1]) the viridis scale. As :func:`eagle_kit.plot.prompt`,
        when the largest absolute span gain (of ``tokens``, or of the objective F for
        ``tokens=None``) is below :data:`MIN_MAP_SPAN` the spans are not coloured and a note
        says the prompt barely moves the quantity. Returns ``""`` without text features. The
        prompt and spans are HTML-escaped.
        """
        spans = self.text_spans
        if not spans:
            return ""
        kind = self._map_kind(tokens, kind)
        values = self.text_values(tokens, kind=kind)
        gains = values if kind == "gain" else self.text_values(tokens, kind="gain")
        max_gain = float(gains[np.argmax(np.abs(gains))])
        faint = not abs(max_gain) >= MIN_MAP_SPAN
        if kind == "gain":
            scale = float(np.max(np.abs(values))) or 1.0
            colours = gain_colors(values / scale)
        else:
            colours = viridis(np.clip(values, 0.0, 1.0))
        prompt = str(self.dataset.attrs.get("prompt", ""))
        from .colors import text_color_for

        out, at = [], 0
        for (text, start, end), value, rgb in sorted(
            zip(spans, values, colours, strict=True), key=lambda item: item[0][1]
        ):
            out.append(html.escape(prompt[at:start]))
            hex_ = "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))
            colour = "" if faint else f"background:{hex_};color:{text_color_for(hex_)};"
            out.append(
                f'<span class="ek-prompt-span" title="{html.escape(f"{kind} {value:+.3f}")}" '
                f'style="{colour}padding:1px 3px;border-radius:3px">{html.escape(text)}</span>'
            )
            at = end
        out.append(html.escape(prompt[at:]))
        if faint:
            note = " — " + faint_prompt_note(self.map_info(tokens, kind="gain").quantity, max_gain)
            out.append(
                f'<span class="ek-prompt-faint" style="font-size:11px">{html.escape(note)}</span>'
            )
        return "".join(out)

    def _repr_html_(self) -> str:
        from PIL import Image

        from .report import colorbar_html

        over = self.overlay() if self.n_image_regions else self.image
        frame = over[0] if over.ndim == 4 else over
        scale = max(1, 256 // max(frame.shape[:2]))
        img = Image.fromarray(frame).resize(
            (frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST
        )
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        b64 = base64.b64encode(buf.getvalue()).decode()
        from .metrics import metric_label

        rows = "".join(
            f'<tr><td title="{html.escape(k)}">{html.escape(metric_label(k))}</td><td>{v:.4f}</td></tr>'
            for k, v in self.metrics().items()
        )
        a = self.dataset.attrs
        head = self.prompt_html() or html.escape(str(a.get("prompt", "")))
        return (
            '<div style="display:flex;gap:16px;align-items:flex-start;font-family:sans-serif">'
            f'<div><img src="data:image/png;base64,{b64}" alt="attribution overlay" style="image-rendering:pixelated"/>'
            f"{colorbar_html(self.map_info(), width=img.width) if self.n_image_regions else ''}</div>"
            f"<div><div><b>EAGLE explanation</b> — {self.n_regions} regions, {self.n_evaluations} evaluations</div>"
            f'<div style="color:#555">{head}</div>'
            f'<div style="margin:8px 0;line-height:1.9">{self.caption_html()}</div>'
            f"{self.caption_legend_html()}"
            f'<table style="margin-top:6px">{rows}</table></div></div>'
        )

    def __repr__(self) -> str:
        return (
            f"Explanation(n_regions={self.n_regions}, tokens={len(self.tokens)}, "
            f"targets={self.targets}, evaluations={self.n_evaluations})"
        )


def _token_names(tokens: Sequence[str], idx: Sequence[int]) -> str:
    """``"blue" "square"`` for a few tokens, ``15 tokens`` for many."""
    if len(idx) > 4:
        return f"{len(idx)} tokens"
    return " ".join(f'"{tokens[i].strip() or tokens[i]}"' for i in idx)


def _check_real(name: str, value: Any, expected: str) -> float:
    """``value`` as a finite float, or a TypeError/ValueError naming ``name`` and ``expected``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"{name} must be a number: {expected}; got {type(value).__name__} {value!r}."
        )
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number: {expected}; got {value!r}.")
    return float(value)


def load_explanation(path: str | os.PathLike) -> Explanation:
    """Load an explanation saved with :meth:`Explanation.save` (netCDF or Zarr).

    Text escaped by the writer (NUL, lone surrogates) is restored exactly; text variables
    come back as Python ``str`` objects (no fixed width).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: ``path`` is not an explanation saved by :meth:`Explanation.save` (an
            image, an HTML page, a folder that is not a Zarr store, a netCDF file without the
            explanation's variables); the message names the file.
    """
    from ._text import decode_text

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved explanation at '{path}'.")
    expected = (
        f"'{path}' is not a saved EAGLE explanation: expected a .nc or .zarr explanation "
        f"saved by Explanation.save"
    )
    try:
        if path.suffix == ".zarr" or path.is_dir():
            ds = xr.open_zarr(path, consolidated=False).load()
        else:
            with xr.open_dataset(path, engine="h5netcdf") as handle:
                ds = handle.load()
    except Exception:  # noqa: BLE001 - h5py/zarr/xarray each raise their own kinds
        raise ValueError(expected + ".") from None
    try:
        # files of earlier versions stored the area integral for prompt-span explanations
        return Explanation(refresh_token_reading(decode_text(ds)))
    except ValueError as err:
        raise ValueError(f"{expected} ({err})") from None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
