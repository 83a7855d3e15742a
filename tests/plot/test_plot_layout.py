"""ek.plot layouts: panels side by side do not collide and figures fill their canvas."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import eagle_kit as ek
from eagle_kit.metrics import Correction

plot = ek.plot


def _axes_texts(ax, renderer) -> list[tuple[str, object]]:
    """Visible non-empty texts of one axes (labels, title, tick labels, legend) and boxes."""
    texts = [ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title]
    texts += ax.get_xticklabels() + ax.get_yticklabels()
    if ax.get_legend() is not None:
        texts += ax.get_legend().get_texts()
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in texts
        if t.get_visible() and t.get_text().strip()
    ]


def _collisions(fig) -> list[tuple[str, str]]:
    """Pairs of texts of different axes whose boxes overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    per_axes = [_axes_texts(ax, renderer) for ax in fig.axes]
    hits = []
    for a, b in itertools.combinations(per_axes, 2):
        for (ta, ba), (tb, bb) in itertools.product(a, b):
            if ba.overlaps(bb):
                hits.append((ta, tb))
    return hits


@pytest.mark.parametrize("layout", ["constrained", "tight"])
@pytest.mark.parametrize("aspect", [0.3, 0.36])
def test_curves_side_by_side_at_double_width_do_not_collide(
    expl_red, expl_small, layout, aspect
) -> None:
    for e in (expl_red, expl_small):  # expl_small: the zoomed y axis says so in the title
        with plot.style():
            fig = Figure(figsize=plot.figure_size("double", aspect), layout=layout)
            FigureCanvasAgg(fig)
            for ax in fig.subplots(1, 3):
                plot.curves(e, ax=ax)
        assert _collisions(fig) == []
        # whatever the layout engine: the x label and title stay within their panel
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            for text in (ax.xaxis.label, ax.title):
                assert text.get_window_extent(renderer).width <= ax.bbox.width, text.get_text()
        # the x label still says what x is: the area revealed (insertion) or removed (deletion)
        label = fig.axes[0].get_xlabel()
        assert "area revealed" in label and "removed" in label and "\n" not in label


def _content_fraction(png: bytes) -> tuple[float, float]:
    """Fraction of the width and height covered by the non-white pixels' bounding box."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        a = np.asarray(img.convert("RGB")).astype(int)
    ink = (a < 245).any(axis=2)
    ys, xs = np.nonzero(ink)
    return (xs.max() - xs.min() + 1) / a.shape[1], (ys.max() - ys.min() + 1) / a.shape[0]


def _figures(expl, expl_red, expl_cropped):
    fix = Correction(True, 3, 0.19, ["the picture shows a green square ."])
    return {
        "overlay rank": plot.overlay(expl),
        "overlay gain": plot.overlay(expl_red, " red"),
        "overlay marks": plot.overlay(expl_cropped, " red", boxes=[(4, 4, 20, 20)]),
        "overlay double": plot.overlay(expl, width="double"),
        "hallucination": plot.hallucination(expl_red, fix),
        "hallucination single": plot.hallucination(expl_red, fix, width="single"),
        "hallucination no fix": plot.hallucination(expl_red),
    }


def test_overlay_and_hallucination_fill_their_canvas(expl, expl_red, expl_cropped) -> None:
    for name, fig in _figures(expl, expl_red, expl_cropped).items():
        fw, fh = _content_fraction(plot.to_png(fig, dpi=100))
        assert fw >= 0.85 and fh >= 0.85, f"{name}: content covers {fw:.0%} × {fh:.0%}"


@pytest.mark.parametrize("width", ["single", "double"])
def test_hallucination_panel_titles_do_not_collide(expl_red, width) -> None:
    fix = Correction(True, 3, 0.19, ["the picture shows a green square ."])
    fig = plot.hallucination(expl_red, fix, width=width)
    assert _collisions(fig) == []
    box = fig.bbox
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:  # nothing clipped by the figure's edge
        ext = ax.title.get_window_extent(renderer)
        assert box.x0 - 1 <= ext.x0 and ext.x1 <= box.x1 + 1 and ext.y1 <= box.y1 + 1
