"""RegionOverlay: the attribution heat map over the image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import traitlets

from ._assets import load_esm
from ._base import ExplanationWidget, image_shape
from ._encoding import encode_array

__all__ = ["RegionOverlay", "COLORMAPS"]

#: Colormaps of the heat map (helpers.js has the same tables).
COLORMAPS: tuple[str, ...] = ("viridis", "magma", "inferno", "plasma", "cividis", "gray")


class RegionOverlay(ExplanationWidget):
    """The image under its attribution heat map, with region outlines and ground truth.

    With no token selected (or exactly the objective's targets) it shows the objective's map
    (METHOD §5); for any other selection, the map read from the recorded insertion curves of
    the selected tokens along the same order. Pointing at a region shows its rank and
    marginal gain.

    Args:
        explanation: an :class:`~eagle_kit.Explanation` (or its dataset).
        selected: initially selected token indices.
        opacity: heat map opacity in [0, 1] (reference: 0.5).
        colormap: one of :data:`COLORMAPS`.
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
        opacity: float = 0.5,
        colormap: str = "viridis",
        boxes: Sequence[Any] | None = None,
        mask: np.ndarray | None = None,
        width: int = 320,
    ) -> None:
        super().__init__(
            explanation,
            selected=list(selected or []),
            opacity=opacity,
            colormap=colormap,
            width=width,
        )
        if boxes is not None:
            self.boxes = list(boxes)
        if mask is not None:
            self.mask = mask  # type: ignore[assignment]

    def current_map(self) -> np.ndarray:
        """The map the overlay shows now, ``H×W`` (``F×H×W``) floats in [0, 1]."""
        expl = self.explanation
        sel = list(self.selected)
        tokens = None if not sel or sel == expl.targets else sel
        return expl.region_values(tokens)[expl.labels]

    @property
    def map_source(self) -> str:
        """``"objective"`` or ``"tokens"``: which map :meth:`current_map` (and the view) shows."""
        sel = list(self.selected)
        return "objective" if not sel or sel == self.explanation.targets else "tokens"

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
