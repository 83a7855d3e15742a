"""RegionOverlay: the attribution heat map over the image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import traitlets

from ..explanation import MapInfo
from ._assets import load_esm
from ._base import ExplanationWidget, image_shape
from ._encoding import encode_array

__all__ = ["RegionOverlay", "COLORMAPS", "MAP_KIND_OPTIONS"]

#: Colormaps of rank maps (helpers.js has the same tables). Gain maps always use the
#: diverging PuOr scale of :mod:`eagle_kit.colors` (signed, colour-blind safe).
COLORMAPS: tuple[str, ...] = ("viridis", "magma", "inferno", "plasma", "cividis", "gray")

#: Values of :attr:`RegionOverlay.map_kind`: ``"auto"`` shows the rank map for the objective
#: and the gain map for a token selection.
MAP_KIND_OPTIONS: tuple[str, ...] = ("auto", "rank", "gain")


class RegionOverlay(ExplanationWidget):
    """The image under one of its maps (METHOD §5), with region outlines and ground truth.

    With no token selected it shows the objective's map; for any selection — also exactly the
    objective's targets, e.g. the one token of a "yes" — the map read from the recorded
    insertion curve of the selected tokens along the same order (as the prompt view reads it). ``map_kind="auto"`` (default) shows the objective's *rank*
    map (the paper's) and a token selection's *gain* map (each region's marginal effect on
    p(token), signed, in probability); ``"rank"`` or ``"gain"`` force one. The colour bar
    states the map, its units and its span; a map whose span is below
    :data:`eagle_kit.explanation.MIN_MAP_SPAN` is not drawn. Pointing at a region shows its
    rank, its gain in probability and its rank value, and which map is shown. The view zooms
    (+/− buttons; the +, − and 0 keys on the focused image; Ctrl/⌘ + wheel or pinch; drag
    to pan) and downloads as PNG or SVG as shown (zoom included) with its colour bar and
    caption.

    Args:
        explanation: an :class:`~eagle_kit.Explanation` (or its dataset).
        selected: initially selected token indices.
        map_kind: one of :data:`MAP_KIND_OPTIONS`.
        opacity: heat map opacity in [0, 1] (reference: 0.5).
        colormap: colormap of rank maps, one of :data:`COLORMAPS`.
        boxes: ground-truth boxes ``(x0, y0, x1, y1[, label])`` in pixels, or dicts with those keys.
        mask: a ground-truth mask, ``H×W`` (``F×H×W`` for video) bool/0-1 array.
        width: displayed width in CSS pixels.
    """

    _esm = load_esm("region_overlay.js")
    _payload_fields: ClassVar[tuple[str, ...]] = (
        "image",
        "labels",
        "order",
        "attribution",
        "objective",
        "insertion",
    )

    map_kind = traitlets.Enum(MAP_KIND_OPTIONS, default_value="auto").tag(sync=True)
    opacity = traitlets.Float(0.5, min=0.0, max=1.0).tag(sync=True)
    colormap = traitlets.Enum(COLORMAPS, default_value="viridis").tag(sync=True)
    show_outlines = traitlets.Bool(True).tag(sync=True)
    show_ground_truth = traitlets.Bool(True).tag(sync=True)
    boxes = traitlets.List().tag(sync=True)
    #: ground-truth mask: set an ``H×W`` array; it is stored encoded (``{}`` = none)
    mask = traitlets.Union(
        [traitlets.Dict(), traitlets.Instance(np.ndarray)], default_value={}
    ).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    width = traitlets.Int(320, min=48).tag(sync=True)

    def __init__(
        self,
        explanation: Any,
        *,
        selected: list[int] | None = None,
        map_kind: str = "auto",
        opacity: float = 0.5,
        colormap: str = "viridis",
        boxes: Sequence[Any] | None = None,
        mask: np.ndarray | None = None,
        width: int = 320,
    ) -> None:
        super().__init__(
            explanation,
            selected=list(selected or []),
            map_kind=map_kind,
            opacity=opacity,
            colormap=colormap,
            width=width,
        )
        if boxes is not None:
            self.boxes = list(boxes)
        if mask is not None:
            self.mask = mask  # type: ignore[assignment]

    def _map_tokens(self) -> list[int] | None:
        sel = list(self.selected)
        return sel or None

    @property
    def shown_kind(self) -> str:
        """``"rank"`` or ``"gain"``: the map kind the overlay shows for the current selection."""
        if self.map_kind != "auto":
            return str(self.map_kind)
        return "rank" if self._map_tokens() is None else "gain"

    def current_map(self) -> np.ndarray:
        """The map the overlay shows now, ``H×W`` (``F×H×W``): rank values in [0, 1] or
        signed gains in probability (see :attr:`shown_kind`)."""
        expl = self.explanation
        return expl.region_values(self._map_tokens(), kind=self.shown_kind)[expl.labels]

    def map_info(self) -> MapInfo:
        """The shown map's :class:`~eagle_kit.explanation.MapInfo` (quantity, span, caption)."""
        return self.explanation.map_info(self._map_tokens(), kind=self.shown_kind)

    @property
    def map_source(self) -> str:
        """``"objective"`` or ``"tokens"``: which map :meth:`current_map` (and the view) shows."""
        return "objective" if not list(self.selected) else "tokens"

    @traitlets.validate("frame")
    def _check_frame(self, proposal: dict[str, Any]) -> int:
        return _check_frame(proposal["value"], self.explanation.labels)

    @traitlets.validate("boxes")
    def _check_boxes(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        return [_box(b, i) for i, b in enumerate(proposal["value"])]

    @traitlets.validate("mask")
    def _check_mask(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = proposal["value"]
        if isinstance(value, Mapping) and (not value or "data" in value):
            return dict(value)
        arr = np.asarray(value)
        shape = image_shape(self.explanation)
        if arr.shape != shape:
            raise traitlets.TraitError(
                f"The ground-truth mask has shape {arr.shape}; the image's label map is {shape}. "
                f"Resize the mask to the image first."
            )
        return encode_array(arr.astype(bool), "uint8")


def _check_frame(frame: int, labels: np.ndarray) -> int:
    frames = labels.shape[0] if labels.ndim == 3 else 1
    if not 0 <= frame < frames:
        raise traitlets.TraitError(f"frame must be in 0..{frames - 1}; got {frame}.")
    return frame


def _box(value: Any, i: int) -> dict[str, Any]:
    """A ground-truth box as ``{"x0", "y0", "x1", "y1", "label"}`` (pixels)."""
    if isinstance(value, Mapping):
        try:
            x0, y0, x1, y1 = (float(value[k]) for k in ("x0", "y0", "x1", "y1"))
        except (KeyError, TypeError, ValueError) as err:
            raise traitlets.TraitError(
                f"Box {i} must have numeric x0, y0, x1, y1 (pixels); got {dict(value)}."
            ) from err
        label = str(value.get("label", ""))
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) in (4, 5):
        try:
            x0, y0, x1, y1 = (float(v) for v in value[:4])
        except (TypeError, ValueError) as err:
            raise traitlets.TraitError(
                f"Box {i} must be (x0, y0, x1, y1[, label]); got {value!r}."
            ) from err
        label = str(value[4]) if len(value) == 5 else ""
    else:
        raise traitlets.TraitError(
            f"Box {i} must be (x0, y0, x1, y1[, label]) or a dict with those keys; got {value!r}."
        )
    if not (x1 > x0 and y1 > y0):
        raise traitlets.TraitError(
            f"Box {i} is empty or flipped: needs x1 > x0 and y1 > y0; got {value!r}."
        )
    return {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "label": label}
