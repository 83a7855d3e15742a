"""ek.plot layouts: panels side by side do not collide and figures fill their canvas."""

from __future__ import annotations

import io
import itertools
import re
import warnings

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


# -- any aspect, any mix: nothing overlaps, every text on the canvas, paper-sized ----------

#: width:height of the images checked, from a 1:20 strip standing up to a 20:1 strip lying
ASPECTS = {"1:20": (400, 20), "1:15": (600, 40), "1:4": (160, 40), "1:1": (48, 48)}
ASPECTS |= {"4:3": (48, 64), "4:1": (40, 160), "15:1": (40, 600), "20:1": (20, 400)}


@pytest.fixture(scope="module")
def by_aspect() -> dict[str, ek.Explanation]:
    """One explanation per aspect (``ASPECTS``: name → image height, width in pixels)."""
    return {name: _odd_explanation(h, w) for name, (h, w) in ASPECTS.items()}


def _owned_texts(fig) -> list[tuple[object, object]]:
    """``(axes or None, text)`` for every text the renderer draws (see ``_drawn_texts``)."""
    fig.canvas.draw()
    out = [(None, t) for t in fig.texts]
    for ax in fig.axes:
        own = [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        own += ax.texts
        if ax.get_legend() is not None:
            own += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():
            for tick in axis._update_ticks():
                own += [tick.label1, tick.label2]
        out += [(ax, t) for t in own]
    return [(ax, t) for ax, t in out if t.get_visible() and t.get_text().strip()]


def _layout_faults(fig) -> list[str]:
    """What the renderer shows wrong: a text off the canvas, two texts overlapping, a text
    over a panel (image or colour bar; notes inside their own panel are meant to be), two
    panels overlapping. Boxes are shrunk by one pixel: touching is not overlapping."""
    renderer = fig.canvas.get_renderer()
    texts = _owned_texts(fig)
    canvas = fig.bbox
    faults = []

    def inner(box):
        return box.padded(-1.0)

    boxes = [(t, inner(t.get_window_extent(renderer))) for _, t in texts]
    for t, ext in boxes:
        if not (canvas.x0 <= ext.x0 and ext.x1 <= canvas.x1):
            faults.append(f"{t.get_text()!r} off the canvas sideways")
        if not (canvas.y0 <= ext.y0 and ext.y1 <= canvas.y1):
            faults.append(f"{t.get_text()!r} off the canvas at the top or bottom")
    for (ta, ba), (tb, bb) in itertools.combinations(boxes, 2):
        if ba.overlaps(bb):
            faults.append(f"{ta.get_text()!r} overlaps {tb.get_text()!r}")
    panels = [(ax, inner(ax.get_window_extent(renderer))) for ax in fig.axes]
    for (owner, t), (_, ext) in zip(texts, boxes):
        for ax, box in panels:
            if ext.overlaps(box) and not (ax is owner and t in ax.texts):
                faults.append(f"{t.get_text()!r} over panel {fig.axes.index(ax)}")
    for (a, ba), (b, bb) in itertools.combinations(panels, 2):
        if ba.overlaps(bb):
            faults.append(f"panels {fig.axes.index(a)} and {fig.axes.index(b)} overlap")
    return faults


def _image_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def _blank_bands(fig, dpi: int = 100) -> tuple[float, float]:
    """Longest run of empty pixel rows and the empty height above and below the ink, inches."""
    from PIL import Image

    with Image.open(io.BytesIO(plot.to_png(fig, dpi=dpi))) as img:
        a = np.asarray(img.convert("RGB")).astype(int)
    ink = (a < 245).any(axis=2).any(axis=1)
    longest = run = 0
    for has_ink in ink:
        run = 0 if has_ink else run + 1
        longest = max(longest, run)
    ys = np.nonzero(ink)[0]
    return longest / dpi, (len(ink) - (ys.max() - ys.min() + 1)) / dpi


def _check_paper_figure(fig, width: str, tmp_path, name: str) -> None:
    """The checks every figure of this section passes (see the section's title)."""
    w, h = fig.get_size_inches()
    assert w == pytest.approx(plot.WIDTHS[width]), f"{name}: {w:.2f} in wide"
    assert 0.5 <= h <= plot.MAX_ASPECT * plot.WIDTHS[width] + 0.01 and h <= 9.8 + 0.01, name
    assert _layout_faults(fig) == [], name
    for ax in _image_axes(fig):  # every title keeps its words, not only "…"
        assert "span 0." in ax.get_title(), f"{name}: title {ax.get_title()!r}"
    band, spare = _blank_bands(fig)  # the margins are 0.06 in above and below
    assert band <= 0.2 and spare <= 0.25, f"{name}: empty band {band:.2f}, spare {spare:.2f} in"
    pypdf = pytest.importorskip("pypdf")
    path = plot.save(fig, tmp_path / f"{name}.pdf")
    (page,) = pypdf.PdfReader(str(path)).pages
    assert float(page.mediabox.width) == pytest.approx(w * 72, abs=1)
    assert float(page.mediabox.height) == pytest.approx(h * 72, abs=1)
    assert "span" in page.extract_text()  # text stays text: the PDF is vector


@pytest.mark.parametrize("width", ["single", "double"])
@pytest.mark.parametrize("aspect", ["1:20", "1:15", "1:4", "1:1", "4:1", "15:1", "20:1"])
def test_overlay_at_any_aspect_lays_out_without_overlaps(
    by_aspect, aspect, width, tmp_path
) -> None:
    e = by_aspect[aspect]
    h, w = ASPECTS[aspect]
    figures = {
        "rank": plot.overlay(e, width=width),
        "gain, ground truth": plot.overlay(e, 0, width=width, boxes=[(0, 0, w // 3, h // 3)]),
    }
    for name, fig in figures.items():
        _check_paper_figure(fig, width, tmp_path, f"overlay {aspect} {width} {name}")
        image, bar = fig.axes
        renderer = fig.canvas.get_renderer()
        ib, bb = image.get_window_extent(renderer), bar.get_window_extent(renderer)
        # the bar beside the image, as long as the image is tall, or (a wide image: too short
        # a bar for its label) below it, and never shorter than an inch
        if bb.height > bb.width:
            assert bb.x0 > ib.x1 and ib.y0 <= bb.y0 and bb.y1 <= ib.y1
        else:
            assert bb.y1 < ib.y0 and w / h >= 4
        assert max(bb.width, bb.height) / fig.dpi >= 1.0
        # the image fills the page's width or its height allowance: no panel shrunk for nothing
        fw, fh = fig.get_size_inches()
        assert ib.width / fig.dpi >= 0.6 * fw or ib.height / fig.dpi >= 0.6 * fh, name


@pytest.mark.parametrize("aspect", ["1:20", "1:4", "1:1", "4:1", "15:1", "20:1"])
def test_grid_at_any_aspect_lays_out_without_overlaps(by_aspect, aspect, tmp_path) -> None:
    e = by_aspect[aspect]
    for width in ("single", "double"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = plot.grid([[e, e], [e, e]], ["eagle", "m"], ["scene 1", "scene 2"], width=width)
        _check_paper_figure(fig, width, tmp_path, f"grid {aspect} {width}")
        _assert_readable_or_warned(fig, caught, n_cols=2)
        cells = _image_axes(fig)
        assert [c.get_ylabel() for c in cells[::2]] == ["eagle", "m"]
        assert cells[0].get_title().startswith("scene 1\nspan")


@pytest.mark.parametrize("width", ["single", "double"])
def test_grid_of_mixed_aspects_letterboxes_every_cell_into_one_box(
    by_aspect, width, tmp_path
) -> None:
    tall, photo, wide = by_aspect["1:15"], by_aspect["4:3"], by_aspect["20:1"]
    table = [[tall, photo, photo], [photo, wide, tall]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot.grid(table, ["method a", "b"], ["s1", "s2", "s3"], width=width)
    _check_paper_figure(fig, width, tmp_path, f"grid mixed {width}")
    renderer = fig.canvas.get_renderer()
    cells = [c.get_window_extent(renderer) for c in _image_axes(fig)]
    assert len(cells) == 6
    # each image fills its cell's box across or down: a column shares a width (the widest
    # image of the column), a row a height (its tallest image)
    for j in range(3):
        box_w = max(cells[j].width, cells[3 + j].width)
        for i, r in enumerate((cells[:3], cells[3:])):
            box_h = max(c.height for c in r)
            c = r[j]
            assert c.width >= box_w - 2 or c.height >= box_h - 2, (i, j, c.width, c.height)
    # the 20:1 strip's column is the widest: a wide image gets more of its row
    assert cells[4].width > max(cells[3].width, cells[5].width)
    _assert_readable_or_warned(fig, caught, n_cols=3)
    # the tall strip keeps a real size next to 4:3 photos (not a sliver) and stays taller
    # than them; its title keeps its words
    for strip in (cells[0], cells[5]):
        assert strip.height >= max(cells[1].height, cells[3].height) - 2
        assert strip.width / fig.dpi >= 0.1 and strip.height / fig.dpi >= 1.0
    titles = [ax.get_title() for ax in _image_axes(fig)]
    assert [t.split("\n")[0] for t in titles[:3]] == ["s1", "s2", "s3"]


def test_a_one_character_row_label_lies_on_the_canvas_beside_its_row(expl) -> None:
    fig = plot.grid({"m": [expl]})
    assert _layout_faults(fig) == []
    (cell,) = _image_axes(fig)
    renderer = fig.canvas.get_renderer()
    label = cell.yaxis.label.get_window_extent(renderer)
    image = cell.get_window_extent(renderer)
    assert cell.get_ylabel() == "m"
    assert fig.bbox.x0 <= label.x0 and label.x1 <= image.x0  # left of the image, inside
    assert image.y0 <= (label.y0 + label.y1) / 2 <= image.y1  # beside its row


def test_a_wide_overlay_leaves_no_empty_height(by_aspect) -> None:
    # before: 600×40 gave a figure with the colour bar past the image's end and empty height
    fig = plot.overlay(by_aspect["15:1"])
    renderer = fig.canvas.get_renderer()
    content = fig.get_tightbbox(renderer)  # inches
    assert fig.get_figheight() - content.height <= 0.2
    image, bar = fig.axes
    ib, bb = image.get_window_extent(renderer), bar.get_window_extent(renderer)
    assert bb.y1 < ib.y0 and not bb.overlaps(ib) and ib.width / fig.dpi >= 3.0


def test_long_labels_in_a_mixed_grid_wrap_or_cut_without_overlaps(by_aspect, odd) -> None:
    e, strip = odd["long token"], by_aspect["1:20"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot.grid([[e, strip], [strip, e]], [LONG, "m"], [LONG, "b"], tokens=0)
    assert _layout_faults(fig) == []
    _assert_readable_or_warned(fig, caught, n_cols=2)  # two 1:20 strips stacked: named
    first = _image_axes(fig)[0]
    assert first.get_title().split("\n")[0].endswith("…") and "span 0." in first.get_title()
    assert fig.ek_texts["rows"][0] == LONG and fig.ek_texts["cols"][0] == LONG


# -- wide images get more of the row; a cell too small to read is named; labels in full -----

#: the images of the layout review, (height, width) in pixels
REVIEW = {"wide": (50, 1000), "photo": (480, 640), "square": (64, 64), "tall": (600, 40)}


@pytest.fixture(scope="module")
def review() -> dict[str, ek.Explanation]:
    return {name: _odd_explanation(h, w) for name, (h, w) in REVIEW.items()}


def _grid_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if str(w.message).startswith("grid:")]


def _assert_readable_or_warned(fig, caught, n_cols: int) -> list[tuple]:
    """Every cell is drawn at least 0.25 in on its short side, or ONE grid warning names it
    (row, column, image size in px, drawn size in inches) and says how to fix it. Returns
    the small cells ``(row, column, drawn width, drawn height)``, measured by the renderer."""
    renderer = fig.canvas.get_renderer()
    cells = _image_axes(fig)
    small = []
    for k, ax in enumerate(cells):
        box = ax.get_window_extent(renderer)
        w, h = box.width / fig.dpi, box.height / fig.dpi
        if min(w, h) < 0.25 - 0.01:
            small.append((k // n_cols, k % n_cols, w, h, ax.images[0].get_array().shape[:2]))
    found = _grid_warnings(caught)
    if not small:
        assert found == [], found
        return small
    assert len(found) == 1, found
    (message,) = found
    assert f"{len(small)} cell(s)" in message and "Fix:" in message
    named = re.findall(
        r"row (\d+), column (\d+): a (\d+)×(\d+) px image drawn ([\d.]+)×([\d.]+) in", message
    )
    assert len(named) == min(4, len(small)), message
    for (i, j, w, h, (ph, pw)), hit in zip(small, named):
        assert (int(hit[0]), int(hit[1]), int(hit[2]), int(hit[3])) == (i, j, pw, ph), message
        assert float(hit[4]) == pytest.approx(w, abs=0.02) and float(hit[5]) == pytest.approx(
            h, abs=0.02
        )
    return small


def _cell(fig, k: int) -> tuple[float, float]:
    box = _image_axes(fig)[k].get_window_extent(fig.canvas.get_renderer())
    return box.width / fig.dpi, box.height / fig.dpi


@pytest.mark.parametrize(
    "case", ["wide photo square", "wide row over tall row single", "tall beside wide"]
)
def test_wide_cells_are_readable_or_named_and_the_page_follows_its_content(
    review, case, tmp_path
) -> None:
    w, p, s, t = review["wide"], review["photo"], review["square"], review["tall"]
    table, width = {
        "wide photo square": ([[w, p, s]], "double"),
        "wide row over tall row single": ([[w] * 3, [t] * 3], "single"),
        "tall beside wide": ([[t, w]], "double"),
    }[case]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot.grid(table, width=width)
    fw, fh = fig.get_size_inches()
    assert fw == pytest.approx(plot.WIDTHS[width]) and fh <= min(plot.MAX_ASPECT * fw, 9.8) + 0.01
    assert _layout_faults(fig) == [], case
    small = _assert_readable_or_warned(fig, caught, n_cols=len(table[0]))
    # no mostly-white page: the ink spans the figure's height (before: 7×9.8 in for [[t, w]])
    _, cover = _content_fraction(plot.to_png(fig, dpi=100))
    assert cover >= 0.85, f"{case}: content covers {cover:.0%} of the height"
    plot.save(fig, tmp_path / f"{case}.png")
    if case == "wide photo square":  # before: the strip 1.92×0.10 in, the photo as wide
        assert small == []
        (sw, sh), (pw, _) = _cell(fig, 0), _cell(fig, 1)
        assert sh >= 0.25 - 0.01 and sw > 3 * pw and pw >= 0.5
    elif case == "tall beside wide":  # both readable, on a page as tall as the strip
        assert small == []
        (tw, th), (ww, wh) = _cell(fig, 0), _cell(fig, 1)
        assert tw >= 0.24 and wh >= 0.24 and ww > 5.0
        assert fh <= th + 0.6, f"{fh:.2f} in tall for a {th:.2f} in strip"
    else:  # three 20:1 strips side by side cannot be read on 3.35 in: named, fix given
        assert {(i, j) for i, j, *_ in small} == {(0, 0), (0, 1), (0, 2)}
        (message,) = _grid_warnings(caught)
        assert "grid([[a], [b]])" in message and 'width="double"' in message
        assert all(_cell(fig, 3 + j)[0] >= 0.24 for j in range(3))  # the tall strips are fine


LABELS = ["EAGLE exact", "occlusion baseline method", "R", "random order (seed 0)"]


def test_row_labels_wrap_onto_lines_and_are_drawn_in_full(review) -> None:
    w = review["wide"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot.grid([[w, w]] * 4, rows=LABELS, width="single")
    assert _layout_faults(fig) == []
    _assert_readable_or_warned(fig, caught, n_cols=2)
    cells = _image_axes(fig)
    drawn = [c.get_ylabel() for c in cells[::2]]
    # before: "occlusion …" and "random order …"
    assert [" ".join(t.split("\n")) for t in drawn] == LABELS
    assert "…" not in "".join(drawn) and len(set(drawn)) == 4
    assert any("\n" in t for t in drawn)  # wrapped, not cut
    renderer = fig.canvas.get_renderer()
    for ax in cells[::2]:  # beside its row, left of the cells, in the left 30 % (+ margin)
        label = ax.yaxis.label.get_window_extent(renderer)
        image = ax.get_window_extent(renderer)
        assert fig.bbox.x0 <= label.x0 and label.x1 <= image.x0
        assert label.width <= 0.3 * fig.bbox.width
        assert image.y0 - 1 <= (label.y0 + label.y1) / 2 <= image.y1 + 1


def test_a_word_too_long_for_the_room_is_cut_but_never_into_another_label(review) -> None:
    s = review["square"]
    alike = [" " + "x" * 60 + "a", " " + "x" * 60 + "b", "same start " + "y" * 70]
    fig = plot.grid([[s], [s], [s]], rows=alike, width="single")
    assert _layout_faults(fig) == []
    drawn = [c.get_ylabel() for c in _image_axes(fig)]
    assert len(set(drawn)) == 3
    # the two labels that would both read "xxxx…" are kept whole (broken over lines)
    for text, label in zip(drawn[:2], alike[:2]):
        assert "".join(text.split("\n")) == label.strip() and "…" not in text
    # a label of its own kind is cut where its one long word leaves the room
    assert drawn[2].startswith("same start") and drawn[2].endswith("…")
    assert fig.ek_texts["rows"] == alike
