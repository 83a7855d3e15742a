"""The one palette module: every colour a static view or widget draws comes from here.

- ``viridis`` — the paper's rank map (METHOD §5), values in [0, 1].
- ``PuOr`` (ColorBrewer purple–orange, colour-blind safe) — signed gain maps: purple =
  the region lowers the mapped probability, light grey = no effect, orange = raises it.
- blue ↔ grey ↔ red — visual reliance of tokens (METHOD §6): blue = language prior,
  red = visual evidence.
- :data:`PALETTE` — every other named colour: the insertion and deletion curves (bluish
  green and reddish purple from Okabe & Ito's colour-blind-safe set, distinct from the
  prior/visual blue and red), ground truth, region outlines, unseen area, text; the prompt
  part of the three-way split (orange) and "n/a" (mid grey: a token with no reading).

Text drawn on a coloured chip is black or white, whichever contrasts more
(:func:`text_color_for`; WCAG contrast ≥ 4.5:1 for every colour, see
:func:`contrast_ratio`).

``widgets/helpers.js`` holds the same tables for the browser (its ``PALETTE`` block is
written by :func:`palette_js`); a parity test checks they agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "viridis",
    "gain_colors",
    "grayscale",
    "blend",
    "css_gradient",
    "diverging_rgb",
    "diverging_hex",
    "GAIN_COLORMAP",
    "NEUTRAL_RGB",
    "PALETTE",
    "MODALITY_COLORS",
    "modality_hex",
    "relative_luminance",
    "contrast_ratio",
    "text_color_for",
    "hex_to_rgb",
    "palette_js",
]

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


#: Name of the diverging colormap of signed gain maps (ColorBrewer, colour-blind safe).
GAIN_COLORMAP = "PuOr"
# PuOr (9 classes), ordered from −1 (purple: lowers p) to +1 (orange: raises p).
_PUOR = np.array(
    [
        [0x54, 0x27, 0x88],
        [0x80, 0x73, 0xAC],
        [0xB2, 0xAB, 0xD2],
        [0xD8, 0xDA, 0xEB],
        [0xF7, 0xF7, 0xF7],
        [0xFE, 0xE0, 0xB6],
        [0xFD, 0xB8, 0x63],
        [0xE0, 0x82, 0x14],
        [0xB3, 0x58, 0x06],
    ],
    dtype=np.float64,
)
#: Colour of "no effect" on the gain scale (and of a map that is not drawn).
NEUTRAL_RGB: tuple[int, int, int] = (0xF7, 0xF7, 0xF7)


def gain_colors(values: np.ndarray) -> np.ndarray:
    """Map signed values in [−1, 1] (any shape) to the PuOr diverging scale, RGB uint8.

    0 is the neutral light grey; −1 full purple, +1 full orange. Values outside [−1, 1]
    are clipped, NaN counts as 0. Divide a gain map by its colour scale first (see
    :meth:`eagle_kit.Explanation.overlay`).
    """
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), -1.0, 1.0)
    x = np.linspace(-1.0, 1.0, len(_PUOR))
    rgb = np.stack([np.interp(v, x, _PUOR[:, c]) for c in range(3)], axis=-1)
    return np.round(rgb).astype(np.uint8)


def grayscale(image: np.ndarray) -> np.ndarray:
    """RGB uint8 ``(..., 3)`` → the same shape in grey (Rec. 601 luma), uint8.

    Gain maps are drawn over a grey copy of the image: a diverging colour blended with a
    coloured object changes hue (orange over a blue square reads as purple).
    """
    rgb = np.asarray(image, dtype=np.float64)
    y = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.repeat(np.round(y).astype(np.uint8)[..., None], 3, axis=-1)


def css_gradient(name: str) -> str:
    """CSS ``linear-gradient`` (left to right) of ``"viridis"`` (0 → 1) or ``"PuOr"`` (−1 → 1),
    for colour bars in HTML views."""
    if name == "viridis":
        stops = [(t, viridis(t)) for t in np.linspace(0, 1, 9)]
    elif name == GAIN_COLORMAP:
        stops = [((t + 1) / 2, gain_colors(t)) for t in np.linspace(-1, 1, len(_PUOR))]
    else:
        raise ValueError(f"Unknown colormap '{name}'. Choose one of: viridis, {GAIN_COLORMAP}.")
    parts = [f"rgb({c[0]},{c[1]},{c[2]}) {t * 100:.1f}%" for t, c in stops]
    return "linear-gradient(to right, " + ", ".join(parts) + ")"


def blend(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``(1 − alpha)·image + alpha·heat``, uint8."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
    out = (1 - alpha) * image.astype(np.float64) + alpha * heat.astype(np.float64)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


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


#: The named colours of every figure, widget and HTML view (hex ``#rrggbb``). Curves use
#: Okabe & Ito's colour-blind-safe bluish green (insertion) and reddish purple (deletion),
#: so they never read as the prior (blue) / visual (red) colours of the reliance scale.
PALETTE: dict[str, str] = {
    "insertion": "#009e73",
    "deletion": "#cc79a7",
    "prior": "#3b4cc0",
    "visual": "#c82828",
    "neutral": "#f2f2f2",
    "ground_truth": "#00e5ff",
    "cause": "#e69f00",
    "outline": "#ffffff",
    "unseen": "#808080",
    "text": "#1f1f1f",
    "muted": "#555555",
    "prompt": "#e69f00",
    "na": "#bdbdbd",
}

#: Chip colour of each token label (:meth:`eagle_kit.Explanation.modality`) in the views of
#: explanations with prompt spans, where the label comes from the three-way split: image
#: (red), prompt (orange), language prior (blue), mixed (light grey), and "n/a" (mid grey:
#: no reading, e.g. no split recorded) — never a colour of evidence.
MODALITY_COLORS: dict[str, str] = {
    "visual": PALETTE["visual"],
    "prompt": PALETTE["prompt"],
    "prior": PALETTE["prior"],
    "mixed": PALETTE["neutral"],
    "n/a": PALETTE["na"],
}


def modality_hex(label: str) -> str:
    """``#rrggbb`` of a token label (:data:`MODALITY_COLORS`; unknown labels read as "n/a")."""
    return MODALITY_COLORS.get(str(label), PALETTE["na"])


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` → ``(r, g, b)`` integers in 0..255.

    Raises:
        ValueError: not a 7-character ``#rrggbb`` string.
    """
    if not (isinstance(colour, str) and len(colour) == 7 and colour.startswith("#")):
        raise ValueError(f"Expected a colour as '#rrggbb'; got {colour!r}.")
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _rgb(colour: Any) -> np.ndarray:
    if isinstance(colour, str):
        return np.asarray(hex_to_rgb(colour), dtype=np.float64)
    arr = np.asarray(colour, dtype=np.float64)
    if arr.shape[-1:] != (3,):
        raise ValueError(
            f"Expected RGB values (..., 3) in 0..255 or '#rrggbb'; got shape {arr.shape}."
        )
    return arr


def relative_luminance(colour: Any) -> np.ndarray | float:
    """WCAG 2 relative luminance of sRGB colours (``#rrggbb`` or ``(..., 3)`` in 0..255)."""
    s = _rgb(colour) / 255.0
    lin = np.where(s <= 0.03928, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    out = lin @ np.array([0.2126, 0.7152, 0.0722])
    return float(out) if np.ndim(out) == 0 else out


def contrast_ratio(a: Any, b: Any) -> np.ndarray | float:
    """WCAG 2 contrast ratio ``(L1 + 0.05) / (L2 + 0.05)`` of two colours (1 … 21).

    Text needs ≥ 4.5:1 on its background (WCAG AA). Broadcasts over ``(..., 3)`` arrays.
    """
    la, lb = np.asarray(relative_luminance(a)), np.asarray(relative_luminance(b))
    out = (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)
    return float(out) if np.ndim(out) == 0 else out


def text_color_for(background: Any) -> str:
    """``"#000000"`` or ``"#ffffff"``, whichever contrasts more with ``background``.

    One of the two always reaches at least 4.58:1 (WCAG AA asks 4.5:1).
    """
    on_black = contrast_ratio(background, (0, 0, 0))
    on_white = contrast_ratio(background, (255, 255, 255))
    return "#000000" if on_black >= on_white else "#ffffff"


def palette_js() -> str:
    """The ``PALETTE`` block of ``widgets/helpers.js``, generated from :data:`PALETTE`.

    A test checks the file holds exactly this; after changing :data:`PALETTE`, paste
    ``print(eagle_kit.colors.palette_js())`` over the block.
    """
    body = "\n".join(f'  {k}: "{v}",' for k, v in PALETTE.items())
    return (
        "// BEGIN PALETTE (generated by eagle_kit.colors.palette_js(); do not edit by hand)\n"
        f"export const PALETTE = Object.freeze({{\n{body}\n}});\n"
        "// END PALETTE"
    )


# the reliance scale's ends and middle (diverging_rgb) are the palette's prior/neutral/visual
_BLUE = np.asarray(hex_to_rgb(PALETTE["prior"]), dtype=np.float64)
_WHITE = np.asarray(hex_to_rgb(PALETTE["neutral"]), dtype=np.float64)
_RED = np.asarray(hex_to_rgb(PALETTE["visual"]), dtype=np.float64)
