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


# -- odd inputs: tall/wide images and long tokens stay paper-sized and on the canvas ------


def _odd_explanation(h: int, w: int, name: str = " red") -> ek.Explanation:
    """An h×w image whose top-left third drives token ``name`` (no model)."""
    image = np.zeros((h, w, 3), np.uint8)
    image[: h // 3, : w // 3] = (220, 30, 30)

    def score(images: np.ndarray) -> np.ndarray:
        red = images[:, : h // 3, : w // 3, 0].astype(float).mean(axis=(1, 2)) / 255
        return np.stack([0.1 + 0.8 * red, np.full(len(images), 0.5)], axis=1)

    regions = ek.segment(image, n_regions=8, method="grid")
    return ek.explain(
        score, image, regions=regions, search="exact", token_names=[name, "."], progress=False
    )


def _drawn_texts(fig):
    """Every text the renderer draws: titles, labels, free texts, legends and the tick
    labels inside their axis' view (matplotlib keeps, but does not draw, the others)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = [t for t in fig.texts]
    for ax in fig.axes:
        out += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        out += ax.texts
        if ax.get_legend() is not None:
            out += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():
            for tick in axis._update_ticks():
                out += [tick.label1, tick.label2]
    for leg in fig.legends:
        out += [*leg.get_texts(), leg.get_title()]
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in out
        if t.get_visible() and t.get_text().strip()
    ]


def _outside(fig) -> list[str]:
    box = fig.bbox
    return [
        text
        for text, ext in _drawn_texts(fig)
        if ext.x0 < box.x0 - 1 or ext.x1 > box.x1 + 1 or ext.y0 < box.y0 - 1 or ext.y1 > box.y1 + 1
    ]


LONG = " " + "x" * 80  # an 80-character token


@pytest.fixture(scope="module")
def odd() -> dict[str, ek.Explanation]:
    return {
        "tall": _odd_explanation(600, 40),
        "wide": _odd_explanation(40, 600),
        "long token": _odd_explanation(48, 48, LONG),
    }


@pytest.mark.parametrize("case", ["tall", "wide", "long token"])
def test_odd_inputs_give_paper_sized_figures_with_every_text_on_the_canvas(odd, case) -> None:
    e = odd[case]
    figures = {
        "overlay": plot.overlay(e),
        "overlay gain": plot.overlay(e, 0),
        "overlay double": plot.overlay(e, width="double"),
        "grid": plot.grid([[e, e], [e, e]], ["method a", "method b"], ["s1", "s2"]),
        "grid gain": plot.grid([[e]], tokens=0, kind="gain", width="single"),
        "curves": plot.curves(e, 0),
        "hallucination": plot.hallucination(e, Correction(True, 2, 0.25, ["a red square"])),
        "tokens": plot.tokens(e, width="single"),
    }
    for name, fig in figures.items():
        w, h = fig.get_size_inches()
        assert w == pytest.approx(plot.WIDTHS["double" if "double" in name else "single"]) or (
            w == pytest.approx(plot.WIDTHS["double"]) and name in ("grid", "hallucination")
        ), f"{case} {name}: {w:.2f} in wide"
        assert h <= plot.MAX_ASPECT * w + 0.01, f"{case} {name}: {w:.2f}×{h:.2f} in"
        assert _outside(fig) == [], f"{case} {name}: texts off the canvas"


def test_a_tall_image_no_longer_makes_a_tall_page(odd) -> None:
    # before: overlay 3.35×37.9 in and grid 7×47.2 in for a 600×40 image
    assert plot.overlay(odd["tall"]).get_size_inches()[1] <= 1.4 * 3.35 + 0.01
    assert plot.grid([[odd["tall"]] * 2] * 2).get_size_inches()[1] <= 1.4 * 7.0 + 0.01


def test_a_long_token_is_cut_in_the_figure_and_kept_in_full(odd, tmp_path) -> None:
    e = odd["long token"]
    fig = plot.overlay(e, 0)
    assert "…" in fig.axes[0].get_title() and "x" * 80 not in fig.axes[0].get_title()
    assert "x" * 80 in fig.ek_texts["title"] and "x" * 80 in fig.ek_map_info.quantity
    svg = plot.save(fig, tmp_path / "long.svg").read_text()
    assert "x" * 80 in svg  # the full title, in the SVG's metadata
    strip = plot.tokens(e, width="single")
    chip = next(t for t in strip.axes[0].texts if t.get_gid() == "token-0")
    assert chip.get_text().endswith("…")
    ext = chip.get_window_extent(strip.canvas.get_renderer())
    assert strip.bbox.x0 <= ext.x0 and ext.x1 <= strip.bbox.x1
