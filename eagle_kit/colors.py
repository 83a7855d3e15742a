"""Colour scales without a plotting library: viridis for maps, blue↔red for reliance."""

from __future__ import annotations

import numpy as np

__all__ = ["viridis", "blend", "diverging_rgb", "diverging_hex"]

# viridis sampled at 0, 1/8, …, 1; linear interpolation between these is within a few
# levels of the full table, plenty for a heat map.
_VIRIDIS = np.array(
    [
        [0x44, 0x01, 0x54],
        [0x47, 0x2D, 0x7B],
        [0x3B, 0x52, 0x8B],
        [0x2C, 0x72, 0x8E],
        [0x21, 0x91, 0x8C],
        [0x28, 0xAE, 0x80],
        [0x5E, 0xC9, 0x62],
        [0xAD, 0xDC, 0x30],
        [0xFD, 0xE7, 0x25],
    ],
    dtype=np.float64,
)
_LUT = (
    np.stack(
        [
            np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_VIRIDIS)), _VIRIDIS[:, c])
            for c in range(3)
        ],
        axis=1,
    )
    .round()
    .astype(np.uint8)
)


def viridis(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (any shape) to viridis RGB uint8 (shape + (3,))."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0, 1)
    return _LUT[np.round(v * 255).astype(np.int64)]


def blend(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``(1 − alpha)·image + alpha·heat``, uint8."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
    out = (1 - alpha) * image.astype(np.float64) + alpha * heat.astype(np.float64)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


_BLUE = np.array([59.0, 76.0, 192.0])
_WHITE = np.array([242.0, 242.0, 242.0])
_RED = np.array([200.0, 40.0, 40.0])


def diverging_rgb(reliance: float, mid: float = 0.2, top: float = 0.6) -> tuple[int, int, int]:
    """Blue (language prior, reliance 0) → light grey (``mid``) → red (visual, ≥ ``top``)."""
    r = float(np.clip(reliance, 0, 1))
    if r <= mid:
        t = r / mid if mid > 0 else 1.0
        c = _BLUE + (_WHITE - _BLUE) * t
    else:
        t = min(1.0, (r - mid) / (top - mid))
        c = _WHITE + (_RED - _WHITE) * t
    return tuple(int(round(v)) for v in c)  # type: ignore[return-value]


def diverging_hex(reliance: float) -> str:
    """:func:`diverging_rgb` as ``#rrggbb``."""
    r, g, b = diverging_rgb(reliance)
    return f"#{r:02x}{g:02x}{b:02x}"
