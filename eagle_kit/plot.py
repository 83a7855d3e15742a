"""Static figures: the one place eagle_kit draws them (matplotlib), for papers and reports.

Every function returns a :class:`matplotlib.figure.Figure` sized for one (3.35 in) or two
(7.0 in) paper columns (``width="single"`` / ``"double"``, or inches), drawn in the house
style (:func:`style`) with the one palette of :mod:`eagle_kit.colors`:

- :func:`overlay` — a map over the image with a colour bar in its units (rank or gain,
  METHOD §5), its span in the title, region outlines, ground truth and the area the model
  never saw (hatched);
- :func:`tokens` — the answer as a strip of tokens coloured by visual reliance (METHOD §6);
- :func:`curves` — insertion/deletion curves with their AUCs (METHOD §8);
- :func:`grid` — methods × samples with one shared colour scale and one colour bar;
- :func:`hallucination` — the diagnosis: cause regions, map, and the image at the
  correction point (METHOD §7).

Save with :func:`save`: PDF/SVG are vector with fonts embedded and text kept as text
(TrueType/Type 42 in PDF, ``<text>`` in SVG), PNG at the ``dpi`` you choose::

    import eagle_kit as ek
    fig = ek.plot.overlay(expl, "square", boxes=[(10, 10, 30, 30)])
    ek.plot.save(fig, "fig1.pdf")            # or .svg, or .png with dpi=600

Odd inputs stay paper-sized: a figure with a layout is at most :data:`MAX_ASPECT` × its
width tall (a tall image gives a narrower panel), titles and labels wrap to the figure and
a long token is cut with "…" (the full text stays in ``fig.ek_texts`` and the saved file's
metadata). Token and user text is drawn as written (``$...$`` is never mathtext).
Characters DejaVu Sans lacks fall back to the installed fonts of :data:`FALLBACK_FONTS`;
characters no font has give one warning naming them (not one per glyph and figure).

``fig.savefig`` works too, but only :func:`save` (or ``with ek.plot.style():``) sets the
font embedding. matplotlib is imported on first use; when no backend is chosen (no
``MPLBACKEND``, no ``matplotlib.use``) the non-interactive Agg backend is used.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .colors import GAIN_COLORMAP, PALETTE, diverging_hex, diverging_rgb, text_color_for
from .errors import InputError
from .explanation import MIN_MAP_SPAN, Explanation, MapInfo, faint_prompt_note

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "overlay",
    "tokens",
    "curves",
    "grid",
    "hallucination",
    "prompt",
    "save",
    "style",
    "figure_size",
    "gain_colormap",
    "to_svg",
    "to_png",
    "STYLE",
    "WIDTHS",
    "RANK_LABEL",
    "MAX_ASPECT",
    "FALLBACK_FONTS",
]

#: Paper column widths in inches: one column of a two-column paper, and the full width.
WIDTHS: dict[str, float] = {"single": 3.35, "double": 7.0}

#: Colour bar label of rank maps (METHOD §5).
RANK_LABEL = "rank value (METHOD §5)"

#: The house style (matplotlib rcParams), applied by :func:`style` and :func:`save` only.
STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.4,
    "hatch.linewidth": 0.6,
    "text.color": PALETTE["text"],
    "axes.labelcolor": PALETTE["text"],
    "axes.edgecolor": PALETTE["text"],
    "xtick.color": PALETTE["text"],
    "ytick.color": PALETTE["text"],
    # vector output: fonts embedded as TrueType (PDF Type 42), text kept as <text> in SVG
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "eagle-kit",  # same figure → same SVG bytes
    "savefig.dpi": 300,
    "figure.dpi": 150,  # notebook display; saving sets its own dpi
    "image.interpolation": "none",  # vector output embeds the pixels as they are
    "image.composite_image": False,  # image and map stay separate layers in PDF/SVG
    # token and user text is drawn as written: "$\\alpha$" stays "$\\alpha$", never mathtext
    "text.parse_math": False,
}

#: Fonts tried after DejaVu Sans for characters it lacks (CJK, symbols, emoji outlines), in
#: this order; only the installed ones are used (matplotlib falls back glyph by glyph).
FALLBACK_FONTS = [
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "Noto Sans Symbols 2",
    "Noto Emoji",
    "Segoe UI Emoji",
    "Segoe UI Symbol",
    "Apple Color Emoji",
    "Arial Unicode MS",
]

_MISSING_NOTED: set[str] = set()

#: Largest figure height as a multiple of its width (a tall image makes a narrower panel,
#: not a taller page).
MAX_ASPECT = 1.4

#: Longest token/quantity text (characters) in titles and labels; longer ones end in "…"
#: (the full text stays in ``fig.ek_texts`` and in the saved file's metadata).
MAX_LABEL_CHARS = 40

#: Zoom the probability axis of :func:`curves` to the data when its maximum is below this.
ZOOM_BELOW = 0.25


def _matplotlib() -> Any:
    """Import matplotlib; pick Agg when no backend was chosen (scripts, servers, CLI)."""
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - a dependency of eagle-kit
        raise ImportError(
            "eagle_kit.plot draws with matplotlib, which is not installed: "
            "pip install 'matplotlib>=3.8'."
        ) from err
    if os.environ.get("MPLBACKEND") is None and not _backend_chosen(matplotlib):
        matplotlib.use("Agg")
    if "IPython" in sys.modules:
        _notebook_display()
    return matplotlib


def _backend_chosen(matplotlib: Any) -> bool:
    """Whether a backend was set (rcParams, matplotlib.use, matplotlibrc), without
    triggering matplotlib's automatic choice."""
    get = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    if get is not None:
        return get() is not None
    return dict.__getitem__(matplotlib.rcParams, "backend") is not getattr(
        matplotlib.rcsetup, "_auto_backend_sentinel", None
    )


def _notebook_display() -> None:
    """In IPython/Jupyter, make a returned Figure display as an image (the inline backend's
    formatter when it is active, else a PNG at 150 dpi in the house style)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    ip = get_ipython()
    if ip is None:
        return
    with contextlib.suppress(Exception):
        import matplotlib_inline.backend_inline  # noqa: F401  (registers its formatter)
    from matplotlib.figure import Figure

    formatter = ip.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
    except KeyError:
        formatter.for_type(Figure, lambda fig: to_png(fig, dpi=150))


@contextlib.contextmanager
def style() -> Iterator[None]:
    """A context in which matplotlib uses the house style (:data:`STYLE`).

    Global rcParams are restored on exit. Figures from this module are created in it; use
    it around your own matplotlib code (or ``fig.savefig``) to match them.
    """
    mpl = _matplotlib()
    # concrete families: matplotlib falls back glyph by glyph along font.family only
    rc = {**STYLE, "font.family": _font_list(), "font.sans-serif": _font_list()}
    with mpl.rc_context(rc), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            missing = []
            for w in caught:
                hit = re.match(r"Glyph \d+ \((.*)\) missing from", str(w.message))
                if hit and issubclass(w.category, UserWarning):
                    missing.append(_char(hit.group(1)))
                else:  # every other warning passes through as it was
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    _note_missing(missing)


def _char(name: str) -> str:
    """matplotlib names a glyph ``\\N{CAT FACE}``: the character itself, with its name."""
    import codecs

    try:
        return f"{codecs.decode(name, 'unicode_escape')} ({name[3:-1]})"
    except (UnicodeDecodeError, ValueError):
        return name


def _font_list() -> list[str]:
    """DejaVu Sans, then the installed fonts of :data:`FALLBACK_FONTS`."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return [*STYLE["font.sans-serif"], *(f for f in FALLBACK_FONTS if f in have)]


def _note_missing(missing: Sequence[str]) -> None:
    """One warning naming the characters no installed font draws (instead of matplotlib's
    one per glyph and figure); each character is named once per session."""
    new = sorted(set(missing) - _MISSING_NOTED)
    if not new:
        return
    _MISSING_NOTED.update(new)
    shown = ", ".join(new[:12]) + (" …" if len(new) > 12 else "")
    warnings.warn(
        f"eagle_kit.plot: no installed font has {len(new)} character(s) of the text "
        f"({shown}); they are drawn as empty boxes. The text itself is kept in SVG/PDF. "
        f"Install a font that covers them (e.g. Noto Sans CJK, Noto Emoji); eagle_kit uses "
        f"any of: {', '.join(FALLBACK_FONTS)}.",
        UserWarning,
        stacklevel=3,
    )


def figure_size(width: str | float = "single", aspect: float = 0.75) -> tuple[float, float]:
    """``(width, height)`` in inches: ``"single"`` (3.35), ``"double"`` (7.0) or inches.

    Raises:
        ValueError: unknown width name or a non-positive size.
    """
    if isinstance(width, str):
        if width not in WIDTHS:
            raise ValueError(
                f"Unknown width {width!r}. Choose one of: {', '.join(WIDTHS)}, or inches."
            )
        w = WIDTHS[width]
    else:
        w = float(width)
    if not (w > 0 and aspect > 0):
        raise ValueError(f"Figure width and aspect must be > 0; got {width!r}, {aspect!r}.")
    return w, w * aspect


def _new_figure(width: str | float, aspect: float, *, layout: str | None = "constrained") -> Figure:
    """A figure ``width`` wide and ``min(aspect, MAX_ASPECT) × width`` tall (laid-out
    figures; the token and prompt strips, ``layout=None``, are as tall as their lines)."""
    _matplotlib()
    if layout is not None:
        aspect = min(aspect, MAX_ASPECT)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figure_size(width, aspect), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Figure, *, fit_height: bool = False) -> Figure:
    """Lay the figure out once (in the house style) and freeze it: every save and display
    of it then has the same geometry, so the same figure gives the same file.

    ``fit_height``: make the figure exactly as tall as its laid-out content (images keep
    their aspect, so a guessed height leaves empty bands above and below them). Figures
    placed box by box (:func:`overlay`, :func:`grid`) are already sized: only frozen.
    """
    fig.draw_without_rendering()
    if fit_height:
        pad = 2 * 4 / 72  # constrained layout's padding around the content, inches
        for _ in range(4):
            w, h = fig.get_size_inches()
            need = min(fig.get_tightbbox().height + pad, MAX_ASPECT * w)
            if abs(need - h) < 0.01:
                break
            fig.set_size_inches(w, need)
            fig.draw_without_rendering()
    fig.set_layout_engine("none")
    _keep_inside(fig)
    return fig


def _keep_inside(fig: Figure) -> None:
    """Shift titles and free texts that stick out of the figure's left or right edge back
    in (a title is centred on its axes, which the layout may place off-centre)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
    for t in texts:
        if not (t.get_visible() and t.get_text().strip()):
            continue
        ext = t.get_window_extent(renderer)
        dx = max(box.x0 + 1 - ext.x0, 0.0) - max(ext.x1 - (box.x1 - 1), 0.0)
        if dx and ext.width <= box.width - 2:
            trans = t.get_transform()
            x, y = trans.transform(t.get_position())
            t.set_position(trans.inverted().transform((x + dx, y)))


# -- placed layouts (overlay, grid): every box computed in inches from the measured texts --

_MARGIN = 0.06  # empty border around the content, inches
_GAP = 0.08  # between neighbouring panels, and between a panel and its colour bar, inches
_BAR = 0.1  # colour bar thickness, inches
_MIN_BAR = 1.0  # a shorter vertical colour bar cannot hold its label: it lies below instead
_TITLE_PAD = 4.0  # points between an image and its title
_LEGEND = 0.2  # height of the ground-truth / not-seen legend under an image, inches


def _lines_height(text: str, size: float) -> float:
    """Height in inches of ``text`` at ``size`` points as matplotlib draws it in the house
    font (measured: one line 1.0 × size, n > 1 lines 1.2 × n × size), with 5 % to spare."""
    n = text.count("\n") + 1
    return size * ((1.2 * n if n > 1 else 1.0) + 0.05) / 72


def _bar_ticks(info: MapInfo, norm: Any) -> tuple[list[float], list[str]]:
    """The colour bar's three ticks: rank 0 (last) / 0.5 / 1 (first); gain −s / 0 / +s."""
    if info.kind == "rank":
        return [0.0, 0.5, 1.0], ["0 last", "0.5", "1 first"]
    s = float(norm.vmax)
    return [-s, 0.0, s], [f"−{s:.3g}", "0", f"+{s:.3g}"]


class _BarPlan:
    """Room a colour bar needs: its ticks, tick labels and (wrapped) label, in inches."""

    def __init__(self, label: str, ticks: list[float], tick_labels: list[str]) -> None:
        self.label, self.ticks, self.tick_labels = label, ticks, tick_labels
        self.size = STYLE["axes.labelsize"]
        self.tick_size = STYLE["ytick.labelsize"]
        self.tick_room = (3.5 + 3.5) / 72  # tick length and pad, inches

    def fitted(self, length: float, vertical: bool) -> str:
        """The label wrapped to a bar ``length`` inches long (3 lines beside, 2 below)."""
        return _fit(self.label, self.size, max(length, 0.3), max_lines=3 if vertical else 2)

    def side(self, length: float) -> float:
        """Width of a vertical bar ``length`` long with everything right of it, and the gap."""
        widest = max(_text_width(t, self.tick_size, False) for t in self.tick_labels)
        text = self.fitted(length, True)
        return _GAP + _BAR + self.tick_room + widest + 4 / 72 + _lines_height(text, self.size)

    def under(self, length: float) -> float:
        """Height of a horizontal bar ``length`` long with everything below it, and the gap."""
        text = self.fitted(length, False)
        ticks = _lines_height("0", self.tick_size)
        return _GAP + _BAR + self.tick_room + ticks + 3 / 72 + _lines_height(text, self.size)

    def draw(
        self,
        fig: Figure,
        mappable: Any,
        rect: tuple[float, float, float, float],
        room: float | tuple[float, float],
    ) -> Any:
        """The colour bar in ``rect`` (x, y, width, height in inches from the bottom left),
        vertical when taller than wide; its label wrapped to ``room`` inches. A vertical
        bar's label may run past the bar's ends where nothing else is: ``room`` is then
        ``(low, high)``, the free stretch of its column (inches from the bottom), and the
        label is centred on the bar as far as that stretch allows."""
        fw, fh = fig.get_size_inches()
        x, y, w, h = rect
        vertical = h > w
        cax = fig.add_axes((x / fw, y / fh, w / fw, h / fh))
        cb = fig.colorbar(mappable, cax=cax, orientation="vertical" if vertical else "horizontal")
        cb.set_ticks(self.ticks, labels=self.tick_labels)
        if not isinstance(room, tuple):
            cb.set_label(self.fitted(room, False), labelpad=2)
        else:
            low, high = room
            text = self.fitted(high - low - 0.04, True)
            half = max(_text_width(t, self.size, False) for t in text.split("\n")) / 2 + 0.02
            mid = min(max(y + h / 2, low + half), high - half)
            widest = max(_text_width(t, self.tick_size, False) for t in self.tick_labels)
            cb.set_label(text)
            # right of the tick labels, as matplotlib would put it, at the chosen height
            cax.yaxis.set_label_coords(
                x + w + self.tick_room + widest + 3 / 72, mid, transform=fig.dpi_scale_trans
            )
        if cb.solids is not None:
            cb.solids.set_alpha(1.0)
        return cb


def _place(fig: Figure, ax: Axes, rect: tuple[float, float, float, float]) -> None:
    """Put ``ax`` at ``rect`` (x, y, width, height in inches from the bottom left)."""
    fw, fh = fig.get_size_inches()
    x, y, w, h = rect
    ax.set_position((x / fw, y / fh, w / fw, h / fh))


def _check(expl: Any, what: str = "expl") -> Explanation:
    if not isinstance(expl, Explanation):
        raise TypeError(
            f"{what} must be an eagle_kit.Explanation (from ek.explain or ek.load_explanation); "
            f"got {type(expl).__name__}."
        )
    return expl


def _names(expl: Explanation, tokens: Any) -> str:
    """``p("red")`` / ``mean p("red" "square")`` of the tokens (default: the targets)."""
    return expl.map_info(expl.targets if tokens is None else tokens, kind="gain").quantity


# -- colour scales -------------------------------------------------------------------------


def _cmap_norm(info: MapInfo, scale: float | None) -> tuple[Any, Any, str]:
    """Colormap, norm and colour-bar label of a map."""
    mpl = _matplotlib()
    from matplotlib.colors import Normalize

    if info.kind == "rank":
        return mpl.colormaps["viridis"], Normalize(0.0, 1.0), RANK_LABEL
    s = info.scale if scale is None else float(scale)
    return gain_colormap(), Normalize(-s, s), f"gain in {_short(info.quantity)} (probability)"


def gain_colormap() -> Any:
    """The gain scale of :func:`eagle_kit.colors.gain_colors` as a matplotlib colormap:
    purple (−: lowers p) → light grey (0) → orange (+: raises p). matplotlib's own
    ``"PuOr"`` runs the other way; this one matches every other view."""
    _matplotlib()
    from matplotlib.colors import LinearSegmentedColormap

    from .colors import _PUOR

    return LinearSegmentedColormap.from_list(f"eagle_{GAIN_COLORMAP}", _PUOR / 255.0, N=256)


def _grey(image: np.ndarray) -> np.ndarray:
    from .colors import grayscale

    return grayscale(image)


def _outline_regions(ax: Axes, labels: np.ndarray, *, color: str, linewidth: float) -> None:
    """Region borders as vector lines along pixel edges."""
    from matplotlib.collections import LineCollection

    segs = []
    ys, xs = np.nonzero(labels[:, 1:] != labels[:, :-1])  # vertical edges
    segs += [((x + 0.5, y - 0.5), (x + 0.5, y + 0.5)) for y, x in zip(ys, xs)]
    ys, xs = np.nonzero(labels[1:, :] != labels[:-1, :])  # horizontal edges
    segs += [((x - 0.5, y + 0.5), (x + 0.5, y + 0.5)) for y, x in zip(ys, xs)]
    if segs:
        ax.add_collection(
            LineCollection(segs, colors=color, linewidths=linewidth, alpha=0.7, zorder=3)
        )


def _mask_outline(ax: Axes, mask: np.ndarray, **kw: Any) -> None:
    m = np.asarray(mask, dtype=float)
    if m.any():
        ax.contour(m, levels=[0.5], **kw)


def _hatch_unseen(ax: Axes, seen: np.ndarray) -> bool:
    """Hatch the pixels the model never saw; True when there were any."""
    unseen = ~np.asarray(seen, bool)
    if not unseen.any():
        return False
    grey = np.zeros((*unseen.shape, 4))
    grey[..., :3] = 0.5
    grey[..., 3] = unseen * 0.55
    ax.imshow(grey, zorder=4)
    ax.contourf(
        unseen.astype(float),
        levels=[0.5, 1.5],
        colors="none",
        hatches=["////"],
        zorder=5,
    )
    return True


def _image_axes(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def _draw_map(
    ax: Axes,
    expl: Explanation,
    tokens: Any,
    *,
    info: MapInfo,
    frame: int,
    alpha: float,
    smooth: float | None,
    scale: float | None,
    outlines: bool,
    boxes: Sequence[Sequence[float]] | None,
    masks: Any,
) -> Any:
    """Image, map, outlines, ground truth and unseen area in ``ax``; the map's AxesImage
    (None when the span is below MIN_MAP_SPAN and no fixed scale is given)."""
    from matplotlib.patches import Rectangle

    image = expl.image
    labels = expl.labels
    if image.ndim == 4:
        if not 0 <= frame < image.shape[0]:
            raise ValueError(f"frame must be in 0..{image.shape[0] - 1}; got {frame}.")
        image, labels = image[frame], labels[frame]
    drawn = info.shown or scale is not None
    if smooth is None:
        smooth = _default_smooth(expl)
    mappable = None
    if drawn:
        cmap, norm, _ = _cmap_norm(info, scale)
        ax.imshow(_grey(image) if info.kind == "gain" else image, zorder=1)
        m = expl.attribution_map(tokens, kind=info.kind, smooth=smooth)
        if m.ndim == 3:
            m = m[frame]
        mappable = ax.imshow(m, cmap=cmap, norm=norm, alpha=alpha, zorder=2)
    else:
        ax.imshow(_grey(image), zorder=1, alpha=0.6)
        if info.image_span is None:
            note = (
                f"the image barely moves\n{_short(info.quantity, 24)}\n(span {info.span:.3f} < "
                f"{MIN_MAP_SPAN:g}):\nno map drawn"
            )
        else:  # a marginal effect along the shared order (see MapInfo.caption)
            note = (
                f"along this order the image\nregions move {_short(info.quantity, 24)}\n"
                f"by {info.image_span:.3f} (< {MIN_MAP_SPAN:g}):\nno map drawn"
            )
        ax.text(
            0.5,
            0.5,
            note,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=7,
            color=PALETTE["text"],
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": PALETTE["muted"]},
            zorder=6,
            clip_on=True,  # a small grid cell: cut at the cell, never over its neighbours
        )
    if outlines:
        _outline_regions(ax, labels, color=PALETTE["outline"], linewidth=0.3)
    handles = []
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    boxes = _check_boxes(boxes, image.shape[:2])
    masks = _check_masks(masks, image.shape[:2])
    if boxes:
        for x0, y0, x1, y1 in boxes:
            ax.add_patch(
                Rectangle(
                    (x0 - 0.5, y0 - 0.5),
                    x1 - x0,
                    y1 - y0,
                    fill=False,
                    edgecolor=PALETTE["ground_truth"],
                    linewidth=1.0,
                    zorder=6,
                )
            )
    if masks is not None:
        for mk in masks if masks.ndim == 3 else [masks]:
            _mask_outline(
                ax, mk, colors=[PALETTE["ground_truth"]], linewidths=1.0, linestyles="--", zorder=6
            )
    if boxes or masks is not None:
        handles.append(Line2D([], [], color=PALETTE["ground_truth"], lw=1.0, label="ground truth"))
    if _hatch_unseen(ax, expl.seen):
        handles.append(
            Patch(facecolor="#bfbfbf", hatch="////", edgecolor=PALETTE["muted"], label="not seen")
        )
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=len(handles),
            handlelength=1.2,
            borderaxespad=0.2,
        )
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    _image_axes(ax)
    return mappable


def _default_smooth(expl: Explanation) -> float:
    """The default Gaussian sigma of a drawn map, pixels: a quarter of a region's side."""
    h, w = expl.labels.shape[-2:]
    return 0.25 * float(np.sqrt(h * w / max(expl.n_regions, 1)))


def _smooth_note(sigma: float) -> str:
    return f"map smoothed: Gaussian σ = {sigma:.3g} px" if sigma > 0 else "map not smoothed"


def _check_boxes(boxes: Any, shape: tuple[int, int]) -> list[tuple[float, float, float, float]]:
    """Ground-truth boxes as a list of ``(x0, y0, x1, y1)`` pixel tuples, or a clear error."""
    if boxes is None:
        return []
    try:
        arr = np.asarray(boxes, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(
            "boxes must be a list of (x0, y0, x1, y1) pixel boxes (x1/y1 exclusive), e.g. "
            f"[(10, 10, 30, 30)]; got {boxes!r}."
        ) from err
    if arr.size == 0:
        return []
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(
            "boxes must be a list of (x0, y0, x1, y1) pixel boxes (x1/y1 exclusive), shape "
            f"(K, 4); got shape {tuple(np.shape(boxes))}: {boxes!r}."
        )
    if not np.isfinite(arr).all():
        raise InputError(f"boxes must be finite pixel coordinates; got {boxes!r}.")
    bad = (arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])
    if bad.any():
        raise InputError(
            "every box needs x1 > x0 and y1 > y0 (pixels, (x0, y0, x1, y1)); got "
            f"{arr[bad].tolist()}. Boxes in (x, y, width, height) form: x1 = x + width."
        )
    return [tuple(b) for b in arr.tolist()]


def _check_masks(masks: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """Ground-truth masks as a ``K×H×W`` bool array matching the image, or a clear error."""
    if masks is None:
        return None
    arr = np.asarray(masks)
    if arr.dtype == object or arr.ndim not in (2, 3) or tuple(arr.shape[-2:]) != tuple(shape):
        raise InputError(
            f"masks must be H×W or K×H×W (bool) with H×W = {shape[0]}×{shape[1]}, the "
            f"image's size in pixels; got shape {arr.shape}."
        )
    return arr.astype(bool)


def _map_title(info: MapInfo, *, short: bool = True) -> str:
    name = "Rank map" if info.kind == "rank" else "Gain map"
    moves = f"span {info.span:.3f} (black {info.black:.2f} → full {info.full:.2f})"
    if info.image_span is not None:  # joint: what the image regions themselves move
        moves = f"image regions move it {info.image_span:.3f} of span {info.span:.3f}"
    return f"{name} · {_short(info.quantity) if short else info.quantity}\n{moves}"


# -- the figures ---------------------------------------------------------------------------


def _lay_out_overlay(
    fig: Figure, ax: Axes, title: str, bar: _BarPlan | None, mappable: Any
) -> None:
    """Size ``fig`` (its width kept, at most :data:`MAX_ASPECT` × width tall) and place the
    image, its title, legend and colour bar so that none overlaps another: the bar stands
    beside the image when that makes it at least ``_MIN_BAR`` long, else it lies below (a
    wide image); a tall image makes a narrower panel, centred."""
    width = fig.get_figwidth()
    x0, x1 = ax.get_xlim()
    y1, y0 = ax.get_ylim()
    aspect = (y1 - y0) / (x1 - x0)  # image height / width
    text = _fit(title, STYLE["axes.titlesize"], width - 2 * _MARGIN)
    ax.set_title(text, pad=_TITLE_PAD)
    top = _lines_height(text, STYLE["axes.titlesize"]) + _TITLE_PAD / 72
    legend = ax.get_legend()
    low = _LEGEND if legend is not None else 0.0
    room = MAX_ASPECT * width - 2 * _MARGIN - top - low  # for the image (and a bar below)

    def image_box(w_max: float, h_max: float) -> tuple[float, float]:
        w = w_max
        if w * aspect > h_max:
            w = h_max / aspect
        return w, w * aspect

    title_w = max(_text_width(t, STYLE["axes.titlesize"], False) for t in text.split("\n"))
    leg_w = 0.0
    if legend is not None:
        leg_w = sum(_text_width(t.get_text(), 7, False) + 0.45 for t in legend.get_texts())

    def column(iw: float, ih: float) -> tuple[float, float]:
        """The free stretch (from the figure's bottom, inches) beside a vertical bar: the
        image's height, and the title's or legend's too when they end short of the bar."""
        reach = iw / 2 + _GAP  # from the image's centre to the bar
        below = _MARGIN + (_LEGEND if legend is not None else 0.0)  # the image's bottom
        start = _MARGIN if leg_w / 2 < reach else below
        return start, below + ih + (top if title_w / 2 < reach else 0.0)

    side = under = 0.0
    vertical = False
    if bar is not None:
        side = bar.side(1.0)
        for _ in range(3):  # the label's lines depend on the bar's length and back
            iw, ih = image_box(width - 2 * _MARGIN - side, room)
            side = bar.side(column(iw, ih)[1] - column(iw, ih)[0] - 0.04)
        vertical = 0.9 * ih >= _MIN_BAR
    if vertical:
        iw, ih = image_box(width - 2 * _MARGIN - side, room)
    else:
        side = 0.0
        length = width - 2 * _MARGIN
        if bar is not None:
            length = min(width - 2 * _MARGIN, max(0.9 * (width - 2 * _MARGIN), 1.6))
            under = bar.under(width - 2 * _MARGIN)
        iw, ih = image_box(width - 2 * _MARGIN, room - under)
    height = 2 * _MARGIN + top + ih + low + under
    fig.set_size_inches(width, height)
    left = (width - iw - side) / 2
    bottom = _MARGIN + under + low
    _place(fig, ax, (left, bottom, iw, ih))
    if legend is not None:  # centred under the image, clear of the bar beside it
        legend.set_bbox_to_anchor((left + iw / 2, bottom - 0.02), transform=fig.dpi_scale_trans)
    if bar is None:
        return
    if vertical:
        margin = max(0.05 * ih, 0.06)
        rect = (left + iw + _GAP, bottom + margin, _BAR, ih - 2 * margin)
        bar.draw(fig, mappable, rect, column(iw, ih))
    else:
        top_of_bar = _MARGIN + under - _GAP
        rect = ((width - length) / 2, top_of_bar - _BAR, length, _BAR)
        bar.draw(fig, mappable, rect, width - 2 * _MARGIN)


def overlay(
    expl: Explanation,
    tokens: Any = None,
    *,
    kind: str | None = None,
    ax: Axes | None = None,
    frame: int = 0,
    alpha: float = 0.5,
    smooth: float | None = None,
    scale: float | None = None,
    boxes: Sequence[Sequence[float]] | None = None,
    masks: Any = None,
    outlines: bool = True,
    colorbar: bool = True,
    title: str | None = None,
    width: str | float = "single",
) -> Figure:
    """A map over the image with its colour bar in the map's units (METHOD §5).

    Rank maps: viridis over the image, colour bar ``"rank value (METHOD §5)"`` from 0 (last
    region) to 1 (first). Gain maps: PuOr over a grey copy of the image, symmetric around 0,
    colour bar ``"gain in <quantity> (probability)"`` naming the mapped quantity
    (:attr:`MapInfo.quantity`: ``F(...)``, the objective, without ``tokens``; ``p(...)``
    with them) from ``−scale`` to ``+scale`` (default the
    largest single gain, :attr:`MapInfo.scale`). The title names the map and its span (how
    much the image moves the quantity). When the span is below
    :data:`eagle_kit.explanation.MIN_MAP_SPAN` (and no ``scale`` is given) no map is drawn:
    the figure says the image barely moves the quantity instead of stretching noise.

    Args:
        expl: the explanation.
        tokens, kind: which map (see :meth:`eagle_kit.Explanation.attribution_map`): the
            objective's rank map by default, a gain map for tokens.
        ax: draw into these axes (the colour bar is added next to them); default a new figure.
        frame: which frame of a video explanation.
        alpha: weight of the map's colours over the image, in [0, 1].
        smooth: Gaussian sigma in pixels; default a quarter of a region's side (METHOD §5's
            display: a smoothed heat map). The default title says the sigma used
            ("map smoothed: Gaussian σ = … px"); ``smooth=0`` draws the regions as they are.
        scale: gain maps: half-width of the colour scale in probability (e.g. 1.0 to compare
            figures); rank maps are always in [0, 1].
        boxes: ground-truth boxes ``(x0, y0, x1, y1)`` in pixels (x1/y1 exclusive), shape
            ``(K, 4)``.
        masks: ground-truth masks, ``H×W`` or ``K×H×W`` bool, the image's size; outlined
            dashed.
        outlines: draw the region borders.
        colorbar: draw the colour bar.
        title: replaces the default title (map, quantity and span).
        width: ``"single"``, ``"double"`` or inches (ignored when ``ax`` is given).

    The figure is ``width`` wide and at most :data:`MAX_ASPECT` × ``width`` tall whatever
    the image's shape (1:20 to 20:1 and beyond), and exactly as tall as its content: the
    colour bar stands beside the image, as long as the image is tall, or, for a wide image
    (a bar beside it would be under an inch), lies below it; a tall image makes a narrower
    panel, centred. Titles and labels wrap to the room they have, a long token is cut with
    "…" (``fig.ek_texts`` keeps the full title and quantity; :func:`save` writes the title
    into the file's metadata).

    Returns:
        The figure; ``fig.axes[0]`` holds the image, ``fig.axes[1]`` the colour bar (its
        label is the y label when it stands, the x label when it lies);
        ``fig.ek_smooth`` the sigma used (pixels).

    Raises:
        TypeError: ``expl`` is not an Explanation.
        ValueError: bad ``kind``, ``tokens``, ``alpha``, ``scale``, ``smooth`` or ``frame``;
            ``boxes`` not ``(K, 4)`` pixel boxes with x1 > x0, y1 > y0; ``masks`` not the
            image's ``H×W``.
    """
    _check(expl)
    if expl.n_image_regions == 0:
        raise ValueError(
            "This explanation has prompt span features only (regions='none'): there is no "
            "image map to draw. Use ek.plot.prompt(expl) for the prompt's words."
        )
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
    info = expl.map_info(tokens, kind=kind)
    if scale is not None:
        if info.kind != "gain":
            raise ValueError(
                "scale sets a gain map's colour range; rank maps are always in [0, 1]. "
                "Use kind='gain' or drop scale."
            )
        if not scale > 0:
            raise ValueError(f"scale must be > 0 (probability); got {scale}.")
    sigma = _default_smooth(expl) if smooth is None else float(smooth)
    if not sigma >= 0:
        raise ValueError(f"smooth is a Gaussian sigma in pixels, >= 0; got {smooth}.")
    with style():
        own = ax is None
        if own:  # sized and laid out by _lay_out_overlay once the map is drawn
            fig = _new_figure(width, 1.0, layout=None)
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        else:
            fig = ax.figure
        mappable = _draw_map(
            ax,
            expl,
            tokens,
            info=info,
            frame=frame,
            alpha=alpha,
            smooth=sigma,
            scale=scale,
            outlines=outlines,
            boxes=boxes,
            masks=masks,
        )
        full_title = title
        if title is None:
            note = f"\n{_smooth_note(sigma)}" if mappable is not None else ""
            title, full_title = _map_title(info) + note, _map_title(info, short=False) + note
        if own:
            _, norm, label = _cmap_norm(info, scale)
            bar = (
                _BarPlan(label, *_bar_ticks(info, norm))
                if colorbar and mappable is not None
                else None
            )
            _lay_out_overlay(fig, ax, title, bar, mappable)
            _finish(fig)
        else:
            # the title fits the panel and its colour bar
            room = 1.2 * ax.get_position().width * fig.get_figwidth()
            ax.set_title(_fit(title, STYLE["axes.titlesize"], room))
            if colorbar and mappable is not None:
                _, norm, label = _cmap_norm(info, scale)
                cb = fig.colorbar(mappable, ax=ax, shrink=0.9, fraction=0.05, pad=0.03)
                cb.set_label(label)
                if cb.solids is not None:
                    cb.solids.set_alpha(1.0)
                ticks, tick_labels = _bar_ticks(info, norm)
                cb.set_ticks(ticks, labels=tick_labels)
    fig.ek_map_info = info  # type: ignore[attr-defined]
    fig.ek_smooth = sigma  # type: ignore[attr-defined]
    fig.ek_texts = {"title": full_title, "quantity": info.quantity}  # type: ignore[attr-defined]
    return fig


def _text_width(text: str, size: float, bold: bool) -> float:
    """Width of ``text`` in inches at ``size`` points in the house font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(family=STYLE["font.sans-serif"], weight="bold" if bold else "normal")
    try:
        x1 = TextPath((0, 0), text, size=size, prop=prop).get_extents().x1
    except (AttributeError, TypeError, ValueError):  # no outline at all (e.g. "\u200b")
        x1 = 0.6 * size * len(text)
    return max(x1, size * 0.3) / 72.0


def _wrap(text: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` inches at ``size`` points."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(f"{lines[-1]} {word}", size, False) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _short(text: str, limit: int | None = None) -> str:
    """``text`` cut to ``limit`` characters (default :data:`MAX_LABEL_CHARS`) with "…"."""
    limit = MAX_LABEL_CHARS if limit is None else limit
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _ellipsize(text: str, size: float, width: float, *, bold: bool = False) -> str:
    """One line cut (with "…") to at most ``width`` inches at ``size`` points."""
    if _text_width(text, size, bold) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if _text_width(text[:mid].rstrip() + "…", size, bold) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…"


def _fit(text: str, size: float, width: float, *, max_lines: int = 4) -> str:
    """``text`` wrapped to ``width`` inches at ``size`` points: each of its lines broken at
    spaces, a word too long for the width cut with "…", at most ``max_lines`` lines."""
    out: list[str] = []
    for line in text.split("\n"):
        if _text_width(line, size, False) <= width:
            out.append(line)
        else:
            out += [_ellipsize(part, size, width) for part in _wrap(line, size, width)]
    if len(out) > max_lines:
        out = [*out[: max_lines - 1], _ellipsize(out[max_lines - 1] + " …", size, width)]
    return "\n".join(out)


def _chip_text(token: str) -> str:
    """What a chip shows: the token without surrounding spaces; visible marks for the rest."""
    # a lone surrogate is no character any font can draw: shown as U+FFFD
    token = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in token)
    shown = token.strip()
    if shown:
        return shown
    if "\n" in token:
        return "⏎"
    return "␣" if token else "∅"


def _strip_texts(
    ax: Axes,
    margin: float,
    title_h: float,
    title_lines: Sequence[str],
    note_y: float,
    cut_note: str | None,
    gid: str,
) -> None:
    """A chip strip's title, and the note under its last line when it was cut at max_height."""
    ax.text(
        margin,
        title_h * 0.5,
        "\n".join(title_lines),
        ha="left",
        va="center",
        fontsize=STYLE["axes.titlesize"],
    )
    if cut_note:
        ax.text(
            margin,
            note_y,
            cut_note,
            ha="left",
            va="center",
            fontsize=7,
            color=PALETTE["muted"],
            gid=gid,
        )


def _check_max_height(max_height: Any) -> None:
    if (
        isinstance(max_height, bool)
        or not isinstance(max_height, (int, float, np.integer, np.floating))
        or not np.isfinite(max_height)
        or max_height <= 0
    ):
        raise ValueError(f"max_height must be a positive number of inches; got {max_height!r}.")


def tokens(
    expl: Explanation,
    *,
    width: str | float = "double",
    fontsize: float = 8,
    legend: bool = True,
    title: str | None = None,
    token_range: tuple[int, int] | None = None,
    max_height: float = 9.0,
) -> Figure:
    """The answer as a strip of token chips coloured by their reading (METHOD §6).

    Image regions only: visual reliance I_t — blue = language prior (reliance near 0), grey,
    red = visual evidence (reliance ≥ 0.6), the scale of
    :func:`eagle_kit.colors.diverging_rgb`, with that legend bar. With prompt span features:
    the token's label from the three-way split (:meth:`eagle_kit.Explanation.modality`) in
    :data:`eagle_kit.colors.MODALITY_COLORS` — image red, prompt orange, language prior blue,
    mixed light grey — with a legend of those swatches. A token with no reading ("n/a") is
    the neutral grey, with its own legend entry, never a colour of evidence. Target tokens
    are bold and underlined. Text on each chip is black or white, whichever contrasts more (WCAG ≥
    4.5:1, :func:`eagle_kit.colors.text_color_for`). Below the strip, a legend bar from
    "prior" to "visual". Chips wrap onto as many lines as the width needs, up to
    ``max_height``: a longer answer is cut after the last line that fits, and a note under the
    strip names the tokens not shown and the ``token_range`` that draws them.

    Args:
        expl: the explanation.
        width: ``"single"``, ``"double"`` or inches.
        fontsize: chip text size in points.
        legend: draw the legend bar.
        title: replaces the default title.
        token_range: ``(start, stop)`` token indices to draw (``stop`` excluded); default
            every token.
        max_height: the figure's largest height in inches (a page's text height is ~9 in).

    Returns:
        The figure; ``fig.axes[0]`` holds the strip, ``fig.axes[1]`` the legend bar;
        ``fig.ek_shown`` is the ``(start, stop)`` of the tokens drawn.

    Raises:
        ValueError: ``token_range`` outside ``0 … n_tokens`` or empty; ``max_height`` too
            small for one line of chips.
    """
    _check(expl)
    n_tokens = len(expl.tokens)
    start, stop = (0, n_tokens) if token_range is None else token_range
    if not (
        isinstance(start, (int, np.integer))
        and isinstance(stop, (int, np.integer))
        and 0 <= start < stop <= n_tokens
    ):
        raise ValueError(
            f"token_range must be (start, stop) with 0 <= start < stop <= {n_tokens} (the "
            f"answer's tokens); got {token_range!r}."
        )
    _matplotlib()
    from matplotlib.patches import FancyBboxPatch

    from .colors import modality_hex
    from .explanation import has_text_features

    words = [_chip_text(t) for t in expl.tokens]
    rel = expl.reliance()
    mod = expl.modality()
    split = has_text_features(expl.dataset)
    chip = [
        modality_hex(mod[i])
        if split or mod[i] == "n/a" or not np.isfinite(rel[i])
        else diverging_hex(float(rel[i]))
        for i in range(len(words))
    ]
    targets = set(expl.targets)
    w_in = figure_size(width)[0]
    # a token wider than the strip is cut with "…" (its chip keeps the gid token-<i>)
    words = [_ellipsize(wd, fontsize, w_in - 0.2, bold=i in targets) for i, wd in enumerate(words)]
    pad, gap, margin = 0.04, 0.035, 0.05
    line_h = fontsize / 72.0 * 2.0
    lines: list[list[tuple[int, float]]] = [[]]
    x = margin
    for i in range(int(start), int(stop)):
        cw = _text_width(words[i], fontsize, i in targets) + 2 * pad
        if lines[-1] and x + cw > w_in - margin:
            lines.append([])
            x = margin
        lines[-1].append((i, cw))
        x += cw + gap
    if title is None:
        title = (
            "tokens coloured by what p(token) rests on (three-way split); framed bold = targets"
            if split
            else "tokens coloured by visual reliance I_t (METHOD §6); framed bold = targets"
        )
        if (start, stop) != (0, n_tokens):
            title += f" (tokens {start}–{stop - 1} of {n_tokens})"
    title_lines = _wrap(title, STYLE["axes.titlesize"], w_in - 2 * margin)
    title_h = 0.08 + 0.14 * len(title_lines)
    legend_h = 0.5 if legend else 0.0
    note_h = 0.34  # two lines of 7 pt
    _check_max_height(max_height)
    fit = int((max_height - title_h - legend_h - 0.05 - note_h) // line_h)
    cut_note = None
    if len(lines) > fit:
        if fit < 1:
            raise ValueError(
                f"max_height={max_height} in leaves no room for a line of chips; give at least "
                f"{title_h + legend_h + 0.05 + note_h + line_h:.2f} in."
            )
        lines = lines[:fit]
        hidden = lines[-1][-1][0] + 1
        cut_note = (
            f"tokens {hidden}–{stop - 1} not shown (height capped at {max_height:g} in):\n"
            f"pass token_range=({hidden}, {stop}) to draw them"
        )
    shown = (int(start), int(lines[-1][-1][0]) + 1)
    strip_h = len(lines) * line_h + (note_h if cut_note else 0.0)
    h_in = title_h + strip_h + legend_h + 0.05
    with style():
        fig = _new_figure(w_in, h_in / w_in, layout=None)
        ax = fig.add_axes((0, (legend_h + 0.05) / h_in, 1, (strip_h + title_h) / h_in))
        ax.set_xlim(0, w_in)
        ax.set_ylim(strip_h + title_h, 0)
        ax.set_axis_off()
        for row, items in enumerate(lines):
            x = margin
            y = title_h + row * line_h + 0.12 * line_h
            for i, cw in items:
                bg = chip[i]
                ax.add_patch(
                    FancyBboxPatch(
                        (x, y),
                        cw,
                        0.76 * line_h,
                        boxstyle="round,pad=0,rounding_size=0.025",
                        facecolor=chip[i],
                        gid=f"chip-{i}-{mod[i]}",
                        edgecolor=PALETTE["text"] if i in targets else "none",
                        linewidth=0.6,
                    )
                )
                ax.text(
                    x + cw / 2,
                    y + 0.38 * line_h,
                    words[i],
                    ha="center",
                    va="center_baseline",
                    fontsize=fontsize,
                    color=text_color_for(bg),
                    fontweight="bold" if i in targets else "normal",
                    gid=f"token-{i}",
                )
                x += cw + gap
        _strip_texts(
            ax,
            margin,
            title_h,
            title_lines,
            title_h + len(lines) * line_h + note_h * 0.5,
            cut_note,
            "tokens-cut-note",
        )
        if legend and split:
            _modality_legend(fig, 0.06 / h_in, ["visual", "prompt", "prior", "mixed", "n/a"])
        elif legend:  # room for the "prior" and "visual" labels on either side
            lw = min(2.6, w_in - 2 * margin - 1.0)
            lax = fig.add_axes(((w_in - lw) / 2 / w_in, 0.32 / h_in, lw / w_in, 0.1 / h_in))
            _reliance_legend(fig, lax)
            if "n/a" in mod:
                _modality_legend(fig, 0.02 / h_in, ["n/a"])
        _finish(fig)
    fig.ek_shown = shown  # type: ignore[attr-defined]
    return fig


_MODALITY_WORDS = {
    "visual": "image",
    "prompt": "prompt",
    "prior": "language prior",
    "mixed": "mixed",
    "n/a": "n/a (no reading)",
}


def _modality_legend(fig: Figure, y: float, labels: Sequence[str]) -> None:
    """Swatches of the token labels (:data:`eagle_kit.colors.MODALITY_COLORS`) in one row at
    figure height ``y`` (fraction)."""
    from matplotlib.patches import Patch

    from .colors import modality_hex

    handles = [
        Patch(
            facecolor=modality_hex(m),
            edgecolor=PALETTE["muted"],
            linewidth=0.4,
            label=_MODALITY_WORDS[m],
        )
        for m in labels
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, y),
        ncol=len(handles),
        fontsize=6,
        frameon=False,
        handlelength=1.0,
        columnspacing=1.0,
        title="chip colour: what p(token) rests on" if len(labels) > 1 else None,
        title_fontsize=6,
    )


def _reliance_legend(fig: Figure, lax: Axes) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    vals = np.linspace(0, 0.6, 121)
    cmap = ListedColormap([np.asarray(diverging_rgb(v)) / 255 for v in vals])
    cb = fig.colorbar(
        ScalarMappable(norm=Normalize(0, 0.6), cmap=cmap), cax=lax, orientation="horizontal"
    )
    cb.set_ticks([0, 0.2, 0.4, 0.6], labels=["0", "0.2", "0.4", "≥ 0.6"])
    cb.outline.set_linewidth(0.4)
    lax.tick_params(labelsize=6, length=2, pad=1)
    lax.set_title("visual reliance I_t", fontsize=6, pad=2)
    lax.text(
        -0.02,
        0.5,
        "prior",
        transform=lax.transAxes,
        ha="right",
        va="center",
        fontsize=7,
        color=PALETTE["prior"],
        fontweight="bold",
    )
    lax.text(
        1.02,
        0.5,
        "visual",
        transform=lax.transAxes,
        ha="left",
        va="center",
        fontsize=7,
        color=PALETTE["visual"],
        fontweight="bold",
    )


def _curves_x_label(expl: Explanation) -> str:
    """What the curves' x axis (``area``) measures: image area or the prompt spans' share."""
    if not expl.n_image_regions:
        return "fraction of prompt spans revealed / removed"
    if expl.text_spans:
        return "features revealed / removed (regions + spans)"
    return "area revealed / removed"


def curves(
    expl: Explanation,
    tokens: Any = None,
    *,
    ax: Axes | None = None,
    width: str | float = "single",
    zoom: bool | None = None,
    k: int | None = None,
) -> Figure:
    """Insertion and deletion curves of ``tokens`` (default: the targets), METHOD §8.

    x (labelled "area revealed / removed"): fraction of the image area, 0–1, revealed
    (insertion, solid) or removed (deletion, dashed) in the order of the explanation — for
    joint image + prompt explanations the fraction of the features (``feature_fraction``; a
    prompt span adds no image area; labelled "features revealed / removed"), for text-only
    ones (``regions="none"``) the fraction of the prompt spans (labelled so, like the
    Explorer); y: the tokens' mean probability. The legend gives each curve's AUC over that
    same axis (:func:`eagle_kit.metrics.insertion_auc` / ``deletion_auc``; "AUC over
    features" with prompt spans, :func:`eagle_kit.metrics.curve_x`). When every value is below
    0.25 (a real photo's p ≈ 0.02), the y axis is zoomed to the data and the title says so
    ("y axis zoomed: 0–…"); ``zoom=False`` keeps 0–1, ``zoom=True`` always zooms. Labels and
    title fit a panel a third of a two-column figure wide (``ax=`` in a 1×3 grid).
    ``k`` marks step k (k regions inserted / deleted) with a dotted line labelled
    "k = …", as the Explorer's slider shows it.

    Returns:
        The figure; ``fig.axes[0]`` holds the curves.

    Raises:
        ValueError: ``k`` outside 0..N (N regions).
    """
    from . import metrics

    _check(expl)
    area = metrics.curve_x(expl)  # image area; the fraction of features with prompt spans
    over = " over features" if metrics.curve_x_name(expl) == "features" else ""
    if k is not None and not 0 <= int(k) < len(area):
        raise ValueError(
            f"k must be in 0..{len(area) - 1} (the number of regions inserted or deleted); got {k}."
        )
    ins, dele = expl.curve("insertion", tokens), expl.curve("deletion", tokens)
    quantity = _names(expl, tokens)
    top = float(max(ins.max(), dele.max()))
    zoomed = top < ZOOM_BELOW if zoom is None else bool(zoom)
    with style():
        own = ax is None
        fig = ax.figure if ax is not None else _new_figure(width, 0.72)
        if ax is None:
            ax = fig.add_subplot()
        i_auc = metrics.insertion_auc(expl, tokens)
        d_auc = metrics.deletion_auc(expl, tokens)
        ax.plot(
            area,
            ins,
            color=PALETTE["insertion"],
            linestyle="-",
            label=f"insertion (AUC{over} {i_auc:.3f})",
        )
        ax.plot(
            area,
            dele,
            color=PALETTE["deletion"],
            linestyle="--",
            label=f"deletion (AUC{over} {d_auc:.3f})",
        )
        ax.set_xlim(0, 1)
        # one short line: it stays inside a third of a two-column figure (panels side by side)
        ax.set_xlabel(_curves_x_label(expl))
        ax.set_ylabel(
            _fit(
                f"{_short(quantity)} (probability)",
                STYLE["axes.labelsize"],
                max(0.9 * ax.get_position().height * fig.get_figheight(), 0.8),
            )
        )
        title = "insertion / deletion curves"
        if zoomed:
            hi = max(top * 1.12, 1e-6)
            ax.set_ylim(0, hi)
            title += f"\ny axis zoomed: 0–{hi:.3g}"
        else:
            ax.set_ylim(0, 1.02)
            ax.set_yticks(np.linspace(0, 1, 6))  # no tick (or label) beyond the axis
        if k is not None:
            x = float(area[int(k)])
            ax.axvline(x, color=PALETTE["text"], linestyle=":", linewidth=0.8, gid="curves-k")
            ax.text(
                x + 0.02 if x < 0.7 else x - 0.02,
                0.97,
                f"k = {int(k)}",
                transform=ax.get_xaxis_transform(),
                ha="left" if x < 0.7 else "right",
                va="top",
                fontsize=STYLE["legend.fontsize"],
            )
        ax.legend(loc="best")
        ax.set_title(title)
        if own:
            _finish(fig)
    fig.ek_zoomed = zoomed  # type: ignore[attr-defined]
    return fig


def _as_rows(
    explanations: Any, rows: Sequence[str] | None, cols: Sequence[str] | None
) -> tuple[list[list[Explanation]], list[str], list[str]]:
    if isinstance(explanations, Mapping):
        rows = list(rows) if rows is not None else [str(k) for k in explanations]
        table = [list(v) if not isinstance(v, Explanation) else [v] for v in explanations.values()]
    elif isinstance(explanations, Explanation):
        table = [[explanations]]
    else:
        items = list(explanations)
        if items and all(isinstance(e, Explanation) for e in items):
            table = [items]
        else:
            table = [list(r) if not isinstance(r, Explanation) else [r] for r in items]
    if not table or not all(table):
        raise ValueError("grid needs at least one explanation in every row.")
    n_cols = len(table[0])
    if any(len(r) != n_cols for r in table):
        raise ValueError(
            f"Every row of the grid needs the same number of explanations; got "
            f"{[len(r) for r in table]}."
        )
    for r in table:
        for e in r:
            _check(e, "every grid cell")
    rows = list(rows) if rows is not None else [""] * len(table)
    cols = list(cols) if cols is not None else [""] * n_cols
    if len(rows) != len(table) or len(cols) != n_cols:
        raise ValueError(
            f"rows/cols label the grid's {len(table)} rows and {n_cols} columns; got "
            f"{len(rows)} row and {len(cols)} column labels."
        )
    return table, [str(r) for r in rows], [str(c) for c in cols]


#: a cell drawn less than this on its short side (inches) is hard to read: grid widens its
#: column or row where the others can spare it, and warns when even so it stays smaller
READABLE = 0.25
_LABEL_SHARE = 0.3  # row labels may take up to this share of the figure's width
_LABEL_LINES = 4  # lines of a row label before it is cut (unless cutting makes it ambiguous)


def _balanced(text: str, size: float, room: float) -> list[str]:
    """``text`` wrapped at spaces to at most ``room`` inches, as few lines as that allows and
    each as narrow as that number of lines allows (no long line over a one-word line)."""
    lines = _wrap(text, size, room)
    lo = max(_text_width(w, size, False) for w in text.split() or [""])
    hi = room
    if len(lines) < 2 or lo >= hi:
        return lines
    for _ in range(12):  # narrowest width giving the same number of lines
        mid = (lo + hi) / 2
        if len(_wrap(text, size, mid)) <= len(lines):
            hi = mid
        else:
            lo = mid
    return _wrap(text, size, hi)


def _broken(word: str, size: float, room: float) -> list[str]:
    """``word`` broken into pieces at most ``room`` inches wide (nothing cut)."""
    out = [""]
    for ch in word:
        if out[-1] and _text_width(out[-1] + ch, size, False) > room:
            out.append("")
        out[-1] += ch
    return out


def _row_label(label: str, size: float, room: float, *, whole: bool = False) -> str:
    """A row label written across, wrapped at spaces onto lines at most ``room`` inches
    wide; a word longer than that is cut with "…", and at most ``_LABEL_LINES`` lines are
    kept, unless ``whole``: then long words are broken and every line kept (nothing lost)."""
    lines: list[str] = []
    for line in _balanced(label, size, room):
        if _text_width(line, size, False) <= room:
            lines.append(line)
        elif whole:
            lines += _broken(line, size, room)
        else:
            lines.append(_ellipsize(line, size, room))
    if len(lines) > _LABEL_LINES and not whole:
        last = _ellipsize(lines[_LABEL_LINES - 1] + " …", size, room)
        lines = [*lines[: _LABEL_LINES - 1], last]
    return "\n".join(lines)


def _row_labels(
    labels: list[str], heights: list[float], size: float, room: float
) -> tuple[list[str], bool]:
    """The row labels as drawn and whether they are written up their rows (else across).

    Up the row when every row is tall enough to hold its label in full in two lines (the
    narrowest choice); otherwise all across, wrapped to ``room`` inches (rows grow to hold
    them). Labels that differ are never drawn alike: such labels are kept whole."""
    up = [_fit(lab, size, h, max_lines=2) if h >= 0.6 else None for lab, h in zip(labels, heights)]
    if all(t is not None and t.split() == lab.split() for t, lab in zip(up, labels) if lab):
        return [t or "" for t in up], False
    shown = [_row_label(lab, size, room) if lab else "" for lab in labels]
    for i, lab in enumerate(labels):
        twins = [j for j, t in enumerate(shown) if t == shown[i] and labels[j] != lab]
        for j in [i, *twins] if twins else []:
            shown[j] = _row_label(labels[j], size, room, whole=True)
    return shown, True


def _label_size(text: str, size: float, flat: bool) -> tuple[float, float]:
    """``(width, height)`` in inches a row label takes beside its row, with its gap to the
    cells (``flat``: written across; else up the row)."""
    if not text:
        return 0.0, 0.0
    widest = max(_text_width(t, size, False) for t in text.split("\n"))
    if flat:
        return widest + 4 / 72, _lines_height(text, size)
    return _lines_height(text, size) + 3 / 72, widest


def _share(widths: np.ndarray, need: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``widths`` with the columns short of ``need`` widened, the width taken from the other
    columns as far as they stay at least ``keep`` (and their own need); the sum is kept."""
    w = widths.astype(float).copy()
    short = need > w + 1e-9
    spare = np.where(short, 0.0, np.clip(w - np.maximum(keep, need), 0.0, None))
    extra = float((need - w)[short].sum())
    give = min(extra, float(spare.sum()))
    if give > 0:
        w[~short] -= spare[~short] * give / spare.sum()
        w[short] += (need - w)[short] * give / extra
    return w


def _lay_out_grid(
    fig: Figure,
    axes: list[list[Axes]],
    aspects: np.ndarray,
    col_labels: list[str],
    stats: list[list[str]],
    row_labels: list[str],
    bar: _BarPlan,
    mappable: Any,
) -> np.ndarray:
    """Size ``fig`` (its width kept, at most :data:`MAX_ASPECT` × width tall, as tall as its
    content) and place the cells so that nothing overlaps; return each cell's drawn image
    size, ``(n_rows, n_cols, 2)`` (width, height) in inches.

    ``aspects``: each cell's image height / width. Columns share the width in proportion
    to the square root of their widest image's width / height (so images of any aspect get
    about the same area: a column of 20:1 strips is wider than one of photos, which is
    wider than one of 1:15 strips), at least as wide as their titles' "span"/"σ" lines. A
    column whose image would be drawn less than :data:`READABLE` on its short side is
    widened to reach it as far as the other columns can spare (each keeps at least half its
    share). A row is as tall as its images need, fitted (letterboxed) into their columns,
    but an image no taller than an image of the same area would be (a tall strip beside
    photos does not stretch its row), unless it needs more to be :data:`READABLE` wide; and
    at least as tall as its row label. Pages too tall for :data:`MAX_ASPECT` lower every
    row and narrow each column to what its images then need. Titles wrap to their column;
    row labels are written up their rows when every row holds its label that way, else
    across, wrapped at spaces to at most ``_LABEL_SHARE`` of the width. The shared colour
    bar stands beside the cells, or lies below them when beside them it would be shorter
    than ``_MIN_BAR``."""
    width = fig.get_figwidth()
    n_r, n_c = aspects.shape
    t_size, l_size = 7.0, STYLE["axes.labelsize"]
    gaps = (n_c - 1) * _GAP
    weight = np.sqrt(1.0 / aspects).max(axis=0)  # equal area: width ∝ 1 / sqrt(aspect)
    # a column shows its "span ..." and "σ = ... px" lines uncut and unbroken
    floor = np.array(
        [
            max(_text_width(ln, t_size, False) for s in col for ln in s.split("\n")) + 0.06
            for col in zip(*stats)
        ]
    )
    readable = (READABLE / np.minimum(aspects, 1.0)).max(axis=0)
    words = [w for lab in row_labels for w in lab.split()]
    longest_word = max((_text_width(w, l_size, False) for w in words), default=0.0)

    def label_room(side: float) -> float:
        """Width row labels may wrap to: up to ``_LABEL_SHARE`` of the figure, less when the
        columns need that width for their titles (but never less than the longest word)."""
        spare = width - 2 * _MARGIN - side - gaps - float(floor.sum()) - 4 / 72
        return min(_LABEL_SHARE * width - 4 / 72, max(longest_word, spare))

    def title(i: int, j: int, cw: float) -> str:
        head = f"{col_labels[j]}\n" if i == 0 and col_labels[j] else ""
        return _fit(head + stats[i][j], t_size, cw - 0.05, max_lines=6)

    def title_room(cw: np.ndarray) -> list[float]:
        """Height of each row's titles wrapped to the columns, with the pad."""
        return [
            max(_lines_height(title(i, j, cw[j]), t_size) for j in range(n_c)) + _TITLE_PAD / 72
            for i in range(n_r)
        ]

    def row_heights(cw: np.ndarray, scale: float, labels_h: list[float]) -> list[float]:
        """Each row's height: its images fitted to their columns, none taller than an image
        of the same area (``scale`` squared) nor a tall strip taller than both the row's
        median image and what it needs to be readable wide; at least its label's height."""
        across = cw * aspects  # each image as wide as its column
        equal = np.minimum(across, scale * np.sqrt(aspects))
        readable = READABLE * np.maximum(aspects, 1.0)  # short side READABLE
        fitted = np.maximum(equal, np.minimum(across, readable))
        typical = np.median(equal, axis=1, keepdims=True)
        tall = np.minimum(fitted, np.maximum(typical, readable))
        fitted = np.where(aspects > 1.0, tall, fitted)
        return [max(h, lh) for h, lh in zip(fitted.max(axis=1), labels_h)]

    def cells(
        left: float, side: float, under: float, labels_h: list[float]
    ) -> tuple[np.ndarray, list[float], list[float]]:
        """Column widths, title heights and row heights when the row labels take ``left``,
        the bar ``side`` beside or ``under`` below the cells (inches)."""
        avail = max(width - 2 * _MARGIN - left - side - gaps, 0.1 * n_c)
        cw = _share(avail * weight / weight.sum(), floor, floor)
        scale = avail / weight.sum()  # sqrt of the area every image would get
        cw = _share(cw, np.maximum(floor, readable), np.maximum(floor, 0.5 * cw))
        tops = title_room(cw)
        heights = row_heights(cw, scale, labels_h)
        for _ in range(3):
            room = MAX_ASPECT * width - 2 * _MARGIN - sum(tops) - (n_r - 1) * _GAP - under
            if sum(heights) <= room + 1e-6:
                break
            # too tall for the page: lower rows (not below their labels), and columns no
            # wider than their images then need
            free = sum(h for h, lh in zip(heights, labels_h) if h > lh)
            fixed = sum(heights) - free
            f = max(room - fixed, 0.1 * n_r) / max(free, 1e-9)
            heights = [h * f if h > lh else h for h, lh in zip(heights, labels_h)]
            heights = [max(h, lh) for h, lh in zip(heights, labels_h)]
            drawn = np.minimum(cw[None, :], np.array(heights)[:, None] / aspects)
            cw = np.maximum(drawn.max(axis=0), np.minimum(cw, floor))
            tops = title_room(cw)
        return cw, tops, heights

    left, side, under = 0.0, bar.side(2.0), 0.0
    labels_h = [0.0] * n_r
    cw, tops, heights = cells(left, side, under, labels_h)
    # decided once (the bar's place must not flip between the passes below)
    vertical = 0.9 * (sum(heights) + sum(tops[1:]) + (n_r - 1) * _GAP) >= _MIN_BAR
    side = side if vertical else 0.0
    length = 0.0
    shown, flat = _row_labels(row_labels, heights, l_size, label_room(side))
    for _ in range(3):  # texts wrap to the boxes, whose size depends on the texts' room
        sizes = [_label_size(t, l_size, flat) for t in shown]
        left = max(w for w, _ in sizes)
        labels_h = [h if flat else 0.0 for _, h in sizes]
        cw, tops, heights = cells(left, side, under, labels_h)
        if vertical:  # its label may use the whole height: nothing else is in its column
            side = bar.side(sum(tops) + sum(heights) + (n_r - 1) * _GAP - 0.04)
        else:
            length = min(cw.sum() + gaps, max(0.9 * (cw.sum() + gaps), 1.6))
            under = bar.under(length)
        # the rows and the bar may have changed: the labels' way and room with them
        shown, flat = _row_labels(row_labels, heights, l_size, label_room(side))
    sizes = [_label_size(t, l_size, flat) for t in shown]
    left = max(w for w, _ in sizes)
    labels_h = [h if flat else 0.0 for _, h in sizes]
    cw, tops, heights = cells(left, side, under, labels_h)
    if not vertical:
        length = min(cw.sum() + gaps, max(0.9 * (cw.sum() + gaps), 1.6))
    height = 2 * _MARGIN + sum(tops) + sum(heights) + (n_r - 1) * _GAP + under
    fig.set_size_inches(width, height)
    x0 = (width - (left + cw.sum() + gaps + side)) / 2 + left  # the cells' left edge
    xs = x0 + np.concatenate([[0.0], np.cumsum(cw + _GAP)[:-1]])
    y = height - _MARGIN
    from matplotlib.transforms import blended_transform_factory

    for i, row in enumerate(axes):
        y -= tops[i] + heights[i]
        for j, ax in enumerate(row):
            _place(fig, ax, (xs[j], y, cw[j], heights[i]))
            ax.set_anchor("C")
            ax.set_title(title(i, j, cw[j]), fontsize=t_size, pad=_TITLE_PAD)
        if shown[i]:
            ax = row[0]
            if flat:  # written across, right-aligned to the cells
                ax.set_ylabel(shown[i], fontsize=l_size, rotation=0, ha="right", va="center")
            else:
                ax.set_ylabel(shown[i], fontsize=l_size)
            # in the labels' own column, right next to the cells, centred on the row
            at = blended_transform_factory(fig.transFigure, ax.transAxes)
            ax.yaxis.set_label_coords((x0 - 2 / 72) / width, 0.5, transform=at)
        y -= _GAP
    cells_top = height - _MARGIN - tops[0]
    cells_bottom = y + _GAP
    right = x0 + cw.sum() + gaps
    if vertical:
        span = cells_top - cells_bottom
        rect = (right + _GAP, cells_bottom + 0.05 * span, _BAR, 0.9 * span)
        bar.draw(fig, mappable, rect, (_MARGIN, height - _MARGIN))
    else:
        mid = (x0 + right) / 2
        rect = (mid - length / 2, _MARGIN + under - _GAP - _BAR, length, _BAR)
        bar.draw(fig, mappable, rect, max(length, 2 * min(mid, width - mid) - 2 * _MARGIN))
    drawn_w = np.minimum(cw[None, :], np.array(heights)[:, None] / aspects)
    return np.stack([drawn_w, drawn_w * aspects], axis=-1)


def _warn_unreadable(drawn: np.ndarray, shapes: list[list[tuple[int, int]]], width: float) -> None:
    """One UserWarning naming the cells drawn less than :data:`READABLE` on their short side."""
    small = [
        (i, j)
        for i in range(drawn.shape[0])
        for j in range(drawn.shape[1])
        if drawn[i, j].min() < READABLE - 0.005
    ]
    if not small:
        return
    cells = "; ".join(
        f"row {i}, column {j}: a {shapes[i][j][1]}×{shapes[i][j][0]} px image drawn "
        f"{drawn[i, j, 0]:.2f}×{drawn[i, j, 1]:.2f} in"
        for i, j in small[:4]
    ) + (f"; and {len(small) - 4} more" if len(small) > 4 else "")
    fixes = []
    wide = any(drawn[i, j, 0] > drawn[i, j, 1] for i, j in small)
    if wide and drawn.shape[1] > 1:  # a wide strip gets the whole width in a row of its own
        fixes.append("one image per row: grid([[a], [b]]) instead of grid([[a, b]])")
    if not all(drawn[i, j, 0] > drawn[i, j, 1] for i, j in small) and drawn.shape[0] > 1:
        fixes.append("tall strips side by side in one row: grid([[a, b]])")
    if width < WIDTHS["double"] - 0.01:
        fixes.append('a wider figure: width="double"')
    fixes.append("or crop the strips to a less extreme aspect")
    warnings.warn(
        f"grid: {len(small)} cell(s) drawn less than {READABLE} in on the short side, too "
        f"small to read ({cells}). Fix: {'; '.join(fixes)}.",
        UserWarning,
        stacklevel=3,
    )


def grid(
    explanations: Any,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
    *,
    tokens: Any = None,
    kind: str | None = None,
    scale: float | None = None,
    alpha: float = 0.5,
    outlines: bool = False,
    width: str | float = "double",
) -> Figure:
    """Explanations in a grid (rows: methods, columns: samples) with ONE colour scale.

    Args:
        explanations: a list of rows (each a list of explanations), a dict
            ``{method: [explanation per sample]}``, or one flat list (one row).
        rows, cols: labels of the rows (e.g. method names) and columns (e.g. sample ids).
        tokens, kind: which map of every cell (see :meth:`eagle_kit.Explanation.map_info`);
            all cells must give the same kind.
        scale: gain maps: half-width of the shared colour scale in probability; default the
            largest single gain over all cells. Rank maps share [0, 1].
        alpha, outlines: as in :func:`overlay`.
        width: ``"single"``, ``"double"`` or inches.

    The figure is ``width`` wide, at most :data:`MAX_ASPECT` × ``width`` tall and as tall as
    its content. Cells may mix aspects: columns share the width in proportion to the square
    root of their widest image's width / height, so images of any aspect get about the same
    area (a column of 20:1 strips is wider than one of photos), and a column whose image
    would be less than :data:`READABLE` (0.25 in) on its short side is widened to reach it
    where the other columns can spare the width. Each image is fitted into its column's
    width and its row's height (letterboxed); a row is as tall as its images need, a tall
    strip no taller than the row's other images or than it needs to be readable wide.
    Images that still end up less than :data:`READABLE` on their short side (say 20:1
    strips three to a row at single width) are named, with their size in pixels and
    inches and the fix, in ONE ``UserWarning``. Cell titles wrap to their column. Row
    labels are written up their rows when every row holds its label that way, else across,
    wrapped at spaces onto lines up to 30 % of the width (rows grow to hold them). Titles
    and labels are cut with "…" only when one word is too long, and two different row
    labels are never cut alike (``fig.ek_texts`` keeps them in full). Each cell title gives
    the map's span and smoothing sigma in pixels. The colour bar stands right of the cells,
    or lies below them when the cells are less than about an inch tall.

    Returns:
        The figure; one image axes per cell (row-major), then the one colour bar, labelled
        as :func:`overlay`'s with the mapped quantity (``F(...)`` for the objective,
        ``p(...)`` for tokens; "each cell's ..." when the cells map different ones). Every
        cell's map uses the same ``vmin``/``vmax``.

    Raises:
        ValueError: ragged rows, mismatched labels, cells of different map kinds, or a
            cell without image regions (prompt span features only).

    Warns:
        UserWarning: cells drawn less than :data:`READABLE` on their short side.
    """
    table, row_labels, col_labels = _as_rows(explanations, rows, cols)
    for i, r in enumerate(table):
        for j, e in enumerate(r):
            if e.n_image_regions == 0:
                raise ValueError(
                    f"grid cell (row {i}, column {j}) has prompt span features only "
                    "(regions='none'): there is no image map to draw. Use "
                    "ek.plot.prompt(expl) or expl.text_values(...) for it."
                )
    infos = [[e.map_info(tokens, kind=kind) for e in r] for r in table]
    kinds = {i.kind for r in infos for i in r}
    if len(kinds) != 1:
        raise ValueError(f"All grid cells must show the same map kind; got {sorted(kinds)}.")
    (the_kind,) = kinds
    if the_kind == "gain" and scale is None:
        scale = max(i.scale for r in infos for i in r)
    elif scale is not None and the_kind != "gain":
        raise ValueError("scale sets a gain map's colour range; rank maps share [0, 1].")
    with style():
        # sized and laid out by _lay_out_grid once the maps are drawn
        fig = _new_figure(width, 1.0, layout=None)
        axes = [[fig.add_axes((0.0, 0.0, 1.0, 1.0)) for _ in r] for r in table]
        stats = [["" for _ in r] for r in table]  # each cell's span and smoothing
        mappable = None
        for i, r in enumerate(table):
            for j, e in enumerate(r):
                ax = axes[i][j]
                info = infos[i][j]
                m = _draw_map(
                    ax,
                    e,
                    tokens,
                    info=info,
                    frame=0,
                    alpha=alpha,
                    smooth=None,
                    scale=scale if the_kind == "gain" else None,
                    outlines=outlines,
                    boxes=None,
                    masks=None,
                )
                mappable = mappable or m
                stats[i][j] = f"span {info.span:.3f}" + (
                    f"\nσ = {_default_smooth(e):.3g} px" if m is not None else ""
                )
        info0 = infos[0][0]
        if mappable is None:  # nothing drawn anywhere: still one bar of the shared scale
            from matplotlib.cm import ScalarMappable

            cmap, norm, _ = _cmap_norm(info0, scale)
            mappable = ScalarMappable(norm=norm, cmap=cmap)
        cmap, norm, label = _cmap_norm(info0, scale)
        quantities = {i.quantity for r in infos for i in r}
        if the_kind == "gain" and len(quantities) > 1:
            label = (
                "gain in each cell's objective F"
                if tokens is None
                else "gain in p(each cell's tokens) (probability)"
            )
        shapes = [[tuple(e.labels.shape[-2:]) for e in r] for r in table]
        aspects = np.array([[h / w for h, w in r] for r in shapes])
        bar = _BarPlan(label, *_bar_ticks(info0, norm))
        drawn = _lay_out_grid(fig, axes, aspects, col_labels, stats, row_labels, bar, mappable)
        _finish(fig)
    _warn_unreadable(drawn, shapes, fig.get_figwidth())
    fig.ek_texts = {"rows": row_labels, "cols": col_labels}  # type: ignore[attr-defined]
    return fig


def hallucination(
    diagnosis: Any,
    correction: Any = None,
    *,
    tail: int | None = None,
    width: str | float = "double",
) -> Figure:
    """The hallucination diagnosis of METHOD §7 in three labelled panels.

    (a) the cause regions — the tail of the order (the regions the correction removed, or
    the last ``tail`` regions) outlined on the image; (b) the diagnosis's map (the correct
    answer's objective, rank map with its colour bar); (c) the mitigation step: the image
    at the correction point (the tail removed) with the answer given there.

    Args:
        diagnosis: a :class:`eagle_kit.shapes.analysis.HallucinationDiagnosis` (its
            ``correct`` explanation and ``correction`` are used) or the diagnosis
            :class:`eagle_kit.Explanation` (targets = the correct answer's token).
        correction: a :class:`eagle_kit.metrics.Correction` (from
            :func:`eagle_kit.metrics.mitigate`); default the diagnosis's.
        tail: how many lowest-ranked regions are the cause; default the number the
            correction removed (at least 1), else a tenth of the regions.
        width: ``"single"``, ``"double"`` or inches.

    Raises:
        TypeError: ``diagnosis`` is neither.
    """
    from .metrics import Correction

    if isinstance(diagnosis, Explanation):
        expl = diagnosis
    elif isinstance(getattr(diagnosis, "correct", None), Explanation):
        expl = diagnosis.correct
        if correction is None:
            correction = getattr(diagnosis, "correction", None)
    else:
        raise TypeError(
            "hallucination() takes a diagnosis (with .correct and .correction) or the "
            f"diagnosis Explanation; got {type(diagnosis).__name__}."
        )
    if correction is not None and not isinstance(correction, Correction):
        raise TypeError(
            f"correction must be an eagle_kit.metrics.Correction; got {type(correction).__name__}."
        )
    n = expl.n_regions
    if tail is None:
        if correction is not None and correction.corrected:
            tail = max(1, correction.n_removed)
        else:
            tail = max(1, n // 10)
    if not 1 <= tail <= n:
        raise ValueError(f"tail must be in 1..{n}; got {tail}.")
    cause = np.isin(expl.labels, expl.order[n - tail :])
    if cause.ndim == 3:
        cause = cause[0]
    image = expl.image[0] if expl.image.ndim == 4 else expl.image
    n_panels = 3 if correction is not None else 2
    h, w = image.shape[:2]
    with style():
        fig = _new_figure(width, (h / w) / (n_panels + 0.3) + 0.12)
        axes = fig.subplots(1, n_panels, squeeze=True)
        # a title line wider than its panel (one column: ~0.8 in each) wraps inside it
        room = 72 * (fig.get_figwidth() - 1.0) / n_panels

        def fit(title: str) -> str:
            size = STYLE["axes.titlesize"]
            return "\n".join(
                "\n".join(_wrap(line, size, room / 72))
                if _text_width(line, size, False) * 72 > room
                else line
                for line in title.split("\n")
            )

        ax = axes[0]
        dim = np.where(cause[..., None], image, (0.35 * image + 0.65 * 255)).astype(np.uint8)
        ax.imshow(dim)
        _mask_outline(ax, cause, colors=[PALETTE["cause"]], linewidths=1.2)
        _image_axes(ax)
        area = float(expl.dataset["region_area"].values[expl.order[n - tail :]].sum())
        ax.set_title(fit(f"(a) cause: the {tail} lowest-ranked\nregion(s), {area:.1%} of the area"))
        overlay(
            expl,
            ax=axes[1],
            title=fit(
                "(b) " + _map_title(expl.map_info()) + f"\n{_smooth_note(_default_smooth(expl))}"
            ),
        )
        if correction is not None:
            ax = axes[2]
            k = correction.n_removed
            ax.imshow(expl.image if k == 0 else expl.masked_image(n - k, "insertion"))
            _image_axes(ax)
            answer = correction.answers[-1] if correction.answers else ""
            short = answer if len(answer) <= 26 else answer[:25].rstrip() + "…"
            if correction.corrected:
                head = (
                    f"(c) mitigation: {k} region(s) removed\n"
                    f"({correction.area_removed:.1%} of the area); answer:\n“{short}”"
                )
            else:
                head = f"(c) not corrected after\n{k} removal(s); answer:\n“{short}”"
            ax.set_title(fit(head))
        _finish(fig, fit_height=True)
    return fig


# -- saving --------------------------------------------------------------------------------


def save(
    fig: Figure,
    path: str | os.PathLike,
    *,
    dpi: int = 300,
    format: str | None = None,
) -> Path:
    """Save a figure: vector PDF/SVG (fonts embedded, text as text) or PNG at ``dpi``.

    PDF embeds the fonts as TrueType (Type 42), SVG keeps text as ``<text>`` elements and
    raster parts (the image under a map) as embedded images; both carry no creation date,
    so the same figure gives the same file. PNG records ``dpi`` in the file.

    Args:
        fig: a figure (from this module or any matplotlib figure).
        path: ``.pdf``, ``.svg``, ``.png`` (or ``.eps``); the folder is created.
        dpi: resolution of PNG output and of raster parts inside vector output.
        format: overrides the suffix.

    Raises:
        ValueError: unknown format or ``dpi`` ≤ 0.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in ("pdf", "svg", "png", "eps"):
        raise ValueError(f"Save figures as pdf, svg, png or eps; got {fmt or path.name!r}.")
    if not dpi > 0:
        raise ValueError(f"dpi must be > 0; got {dpi}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "pdf": {"CreationDate": None, "ModDate": None, "Creator": "eagle_kit"},
        "svg": {"Date": None, "Creator": "eagle_kit"},
        "png": {"Software": "eagle_kit"},
        "eps": {"CreationDate": None},
    }[fmt]
    full = getattr(fig, "ek_texts", {}).get("title")
    if full and fmt in ("pdf", "svg"):  # the full title, even when the drawn one is cut
        meta["Title"] = full
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with style():
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)
    os.replace(tmp, path)
    return path


def to_svg(fig: Figure) -> str:
    """The figure as SVG text (for inline HTML), fonts as ``<text>`` in the house font."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "eagle_kit"})
    text = buf.getvalue().decode("utf-8")
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE for inlining
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)


def to_png(fig: Figure, *, dpi: int = 150) -> bytes:
    """The figure as PNG bytes at ``dpi``."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": "eagle_kit"})
    return buf.getvalue()


def prompt(
    expl: Explanation,
    tokens: Any = None,
    kind: str | None = None,
    *,
    width: str | float = "double",
    fontsize: float = 8,
    title: str | None = None,
    max_height: float = 9.0,
) -> Figure:
    """The prompt as a strip of its span features coloured by value, with a colour bar
    (or a note that the prompt barely moves the quantity: then no colours). A prompt too
    long for ``max_height`` inches is cut after the last line that fits, with a note naming
    the spans not shown (``fig.ek_values`` still holds every span's value).

    For explanations made with ``ek.explain(..., text_regions=...)``: each prompt span
    (word, sentence or your span) is a chip coloured by :meth:`Explanation.text_values` —
    the same values and scales as the image map. ``kind="rank"`` (default for the
    objective): the METHOD §5 rank value in [0, 1], viridis, colour bar from 0 (last in the
    order) to 1 (first). ``kind="gain"`` (default for ``tokens``): each span's marginal
    effect on p(tokens) along the shared order, in probability, signed, on the PuOr scale
    symmetric around 0 with half-width the largest absolute span value (as
    :meth:`Explanation.prompt_html`). Text between the spans is drawn uncoloured.

    As with the image map (:data:`eagle_kit.explanation.MIN_MAP_SPAN`), a prompt that
    barely moves the mapped quantity is not coloured: when the largest absolute span gain
    — :meth:`Explanation.text_values` with ``kind="gain"`` for ``tokens``, i.e. each span's
    step of the objective F for ``tokens=None`` (the curve the rank values are read from)
    and of p(tokens) otherwise — is below ``MIN_MAP_SPAN``, the chips get no colour, the
    words are drawn muted and the colour bar is replaced by the note "the prompt barely
    moves <quantity> (largest span gain …, under 0.01): no colours shown", for either
    ``kind`` (a rank value stretched over a flat curve is noise too).

    Args:
        expl: an explanation with prompt span features.
        tokens: ``None`` for the objective, or token indices/texts (see
            :meth:`Explanation.region_values`).
        kind: ``"rank"`` or ``"gain"``; default as above.
        width: ``"single"``, ``"double"`` or inches.
        fontsize: chip text size in points.
        title: replaces the default title (what the colours show).
        max_height: the figure's largest height in inches.

    Returns:
        The figure; ``fig.axes[0]`` holds the strip (each chip's text has the ``gid``
        ``"prompt-span-<j>"``, ``j`` the span's index in :attr:`Explanation.text_spans`),
        ``fig.axes[1]`` the colour bar (absent when the prompt barely moves the quantity).
        ``fig.ek_values`` holds the span values ``(S,)``, ``fig.ek_kind`` the kind,
        ``fig.ek_max_gain`` the largest span gain (signed, largest in magnitude, probability)
        and ``fig.ek_faint`` whether it is below ``MIN_MAP_SPAN`` (no colours drawn).

    Raises:
        TypeError: ``expl`` is not an Explanation.
        ValueError: the explanation has no prompt span features; bad ``kind`` or token.

    Example:
        >>> fig = ek.plot.prompt(expl, "yes")  # doctest: +SKIP
    """
    _check(expl)
    spans = expl.text_spans
    if not spans:
        raise ValueError(
            "ek.plot.prompt needs an explanation with prompt span features: "
            "ek.explain(..., text_regions='words') (or 'sentences', or [(start, end), ...])."
        )
    kind = expl._map_kind(tokens, kind)
    values = expl.text_values(tokens, kind=kind)
    mpl = _matplotlib()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import FancyBboxPatch

    # below MIN_MAP_SPAN the spans barely move the quantity: no colours (as the image map)
    gains = values if kind == "gain" else expl.text_values(tokens, kind="gain")
    top = int(np.argmax(np.abs(gains))) if len(gains) else -1
    max_gain = float(gains[top]) if top >= 0 else 0.0
    faint = not abs(max_gain) >= MIN_MAP_SPAN
    if kind == "gain":
        s = float(np.max(np.abs(values))) or 1.0
        cmap, norm = gain_colormap(), Normalize(-s, s)
        quantity = expl.map_info(tokens, kind="gain").quantity
        label = f"gain in {quantity} (probability)"
    else:
        cmap, norm = mpl.colormaps["viridis"], Normalize(0.0, 1.0)
        label = "rank value in [0, 1] (METHOD §5)"
    text = str(expl.attrs.get("prompt", ""))
    pieces: list[tuple[str, int]] = []  # (text, span index or -1)
    at = 0
    for j in sorted(range(len(spans)), key=lambda j: spans[j][1]):
        _, start, end = spans[j]
        if text[at:start].strip():
            pieces.append((text[at:start].strip(), -1))
        pieces.append((text[start:end] or spans[j][0], j))
        at = end
    if text[at:].strip():
        pieces.append((text[at:].strip(), -1))
    w_in = figure_size(width)[0]
    pieces = [(_ellipsize(wd, fontsize, w_in - 0.2), j) for wd, j in pieces]
    pad, gap, margin = 0.04, 0.035, 0.05
    line_h = fontsize / 72.0 * 2.0
    lines: list[list[tuple[int, float]]] = [[]]
    x = margin
    for i, (word, _) in enumerate(pieces):
        cw = _text_width(_chip_text(word), fontsize, False) + 2 * pad
        if lines[-1] and x + cw > w_in - margin:
            lines.append([])
            x = margin
        lines[-1].append((i, cw))
        x += cw + gap
    if title is None:
        who = "the objective" if tokens is None else expl.map_info(tokens, kind="gain").quantity
        if faint:  # the note under the strip gives the numbers
            by = (
                f"gain on {who} (probability)"
                if kind == "gain"
                else f"rank value for {who} (METHOD §5)"
            )
            title = f"prompt words by their {by}: not coloured, the prompt barely moves it"
        else:
            title = (
                f"prompt words coloured by their gain on {who} (probability)"
                if kind == "gain"
                else f"prompt words coloured by their rank value for {who} (METHOD §5)"
            )
    title_lines = _wrap(title, STYLE["axes.titlesize"], w_in - 2 * margin)
    title_h = 0.08 + 0.14 * len(title_lines)
    legend_h = 0.55
    note_h = 0.2
    _check_max_height(max_height)
    room = max_height - title_h - legend_h - 0.05
    cut_note = None
    if len(lines) * line_h > room + 1e-9:
        fit = int((room - note_h) // line_h)
        if fit < 1:
            raise ValueError(
                f"max_height={max_height} in leaves no room for a line of chips; give at least "
                f"{title_h + legend_h + 0.05 + note_h + line_h:.2f} in."
            )
        lines = lines[:fit]
        drawn = [pieces[i][1] for line in lines for i, _ in line if pieces[i][1] >= 0]
        first_hidden = (max(drawn) + 1) if drawn else 0
        cut_note = (
            f"prompt spans {first_hidden}–{len(values) - 1} not shown (height capped at "
            f"{max_height:g} in)"
        )
        hidden = np.abs(np.asarray(values[first_hidden:], dtype=float))
        if hidden.size and hidden.max() >= np.abs(np.asarray(values, dtype=float)).max():
            j = first_hidden + int(np.argmax(hidden))
            cut_note += f"; the largest value is among them (span {j}, {values[j]:+.3g})"
    strip_h = len(lines) * line_h + (note_h if cut_note else 0.0)
    h_in = title_h + strip_h + legend_h + 0.05
    with style():
        fig = _new_figure(w_in, h_in / w_in, layout=None)
        ax = fig.add_axes((0, (legend_h + 0.05) / h_in, 1, (strip_h + title_h) / h_in))
        ax.set_xlim(0, w_in)
        ax.set_ylim(strip_h + title_h, 0)
        ax.set_axis_off()
        for row, items in enumerate(lines):
            x = margin
            y = title_h + row * line_h + 0.12 * line_h
            for i, cw in items:
                word, j = pieces[i]
                coloured = j >= 0 and not faint
                if coloured:
                    rgba = cmap(norm(values[j]))
                    rgb = tuple(int(round(255 * c)) for c in rgba[:3])
                    ax.add_patch(
                        FancyBboxPatch(
                            (x, y),
                            cw,
                            0.76 * line_h,
                            boxstyle="round,pad=0,rounding_size=0.025",
                            facecolor=rgba,
                            edgecolor="none",
                            gid=f"prompt-chip-{j}",
                        )
                    )
                ax.text(
                    x + cw / 2,
                    y + 0.38 * line_h,
                    _chip_text(word),
                    ha="center",
                    va="center_baseline",
                    fontsize=fontsize,
                    color=text_color_for(rgb) if coloured else PALETTE["muted"],
                    gid=f"prompt-span-{j}" if j >= 0 else None,
                )
                x += cw + gap
        _strip_texts(
            ax,
            margin,
            title_h,
            title_lines,
            title_h + len(lines) * line_h + note_h * 0.5,
            cut_note,
            "prompt-cut-note",
        )
        if faint:
            note = faint_prompt_note(expl.map_info(tokens, kind="gain").quantity, max_gain)
            fig.text(
                0.5,
                0.3 / h_in,
                "\n".join(_wrap(note, 7, w_in - 2 * margin)),
                ha="center",
                va="center",
                fontsize=7,
                color=PALETTE["muted"],
                gid="prompt-faint-note",
            )
        else:
            lw = min(2.6, w_in - 2 * margin)
            lax = fig.add_axes(((w_in - lw) / 2 / w_in, 0.3 / h_in, lw / w_in, 0.1 / h_in))
            cb = fig.colorbar(
                ScalarMappable(norm=norm, cmap=cmap), cax=lax, orientation="horizontal"
            )
            cb.outline.set_linewidth(0.4)
            if kind == "rank":
                cb.set_ticks([0, 0.5, 1], labels=["0 last", "0.5", "1 first"])
            else:
                s = norm.vmax
                cb.set_ticks([-s, 0, s], labels=[f"−{s:.3g}", "0", f"+{s:.3g}"])
            lax.tick_params(labelsize=6, length=2, pad=1)
            lax.set_title(label, fontsize=6, pad=2)
        _finish(fig)
    fig.ek_values = np.asarray(values, dtype=np.float64)  # type: ignore[attr-defined]
    fig.ek_kind = kind  # type: ignore[attr-defined]
    fig.ek_max_gain = max_gain  # type: ignore[attr-defined]
    fig.ek_faint = faint  # type: ignore[attr-defined]
    return fig
