"""ek.plot: every figure is a matplotlib Figure with the axes, titles and colour bars a paper
needs, saves as vector PDF/SVG (fonts embedded, text as text) and as PNG at the chosen dpi."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import eagle_kit as ek
from eagle_kit import metrics
from eagle_kit.colors import PALETTE, contrast_ratio, diverging_rgb, gain_colors, hex_to_rgb
from eagle_kit.metrics import Correction

plot = ek.plot


def map_image(ax):
    """The scalar map drawn in ``ax`` (the AxesImage with a colormap over 2-D data)."""
    maps = [im for im in ax.images if im.get_array().ndim == 2]
    assert len(maps) == 1, f"expected one map layer, got {len(maps)}"
    return maps[0]


def rgb_of(colour) -> np.ndarray:
    return np.round(np.asarray(matplotlib.colors.to_rgb(colour)) * 255).astype(int)


# -- overlay ---------------------------------------------------------------------------------
def test_rank_overlay_has_a_colour_bar_in_rank_units_and_the_span_in_its_title(expl) -> None:
    fig = plot.overlay(expl)
    info = expl.map_info()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax, cax = fig.axes
    assert cax.get_ylabel() == "rank value (METHOD §5)"
    assert f"span {info.span:.3f}" in ax.get_title() and "Rank map" in ax.get_title()
    im = map_image(ax)
    assert (im.norm.vmin, im.norm.vmax) == (0.0, 1.0) and im.get_cmap().name == "viridis"
    assert [t.get_text() for t in cax.get_yticklabels()] == ["0 last", "0.5", "1 first"]
    # the map drawn is the explanation's own rank map (smoothed as the views smooth it)
    np.testing.assert_allclose(
        im.get_array(), expl.attribution_map(kind="rank", smooth=0.25 * np.sqrt(48 * 48 / 16))
    )


def test_gain_overlay_is_symmetric_in_probability_and_uses_the_package_scale(expl_red) -> None:
    fig = plot.overlay(expl_red, " red")
    info = expl_red.map_info(" red")
    ax, cax = fig.axes
    assert cax.get_ylabel() == 'gain in p("red") (probability)'
    im = map_image(ax)
    assert im.norm.vmin == pytest.approx(-info.scale) and im.norm.vmax == pytest.approx(info.scale)
    assert "Gain map" in ax.get_title() and f"span {info.span:.3f}" in ax.get_title()
    # same colours as every other view: −1 purple, 0 light grey, +1 orange
    for v in (-1.0, -0.5, 0.0, 0.5, 1.0):
        got = np.round(np.asarray(im.get_cmap()((v + 1) / 2)[:3]) * 255)
        assert np.abs(got - gain_colors(v)).max() <= 2, v
    # the fixed scale of the issue: ±1 probability, comparable across figures
    im1 = map_image(plot.overlay(expl_red, " red", scale=1.0).axes[0])
    assert (im1.norm.vmin, im1.norm.vmax) == (-1.0, 1.0)


def test_a_map_the_image_barely_moves_is_not_drawn_and_says_so(expl) -> None:
    fig = plot.overlay(expl, "A")  # constant p = 0.9: span 0
    assert expl.map_info("A").span < ek.explanation.MIN_MAP_SPAN
    assert len(fig.axes) == 1  # no colour bar
    ax = fig.axes[0]
    assert not [im for im in ax.images if im.get_array().ndim == 2]
    assert any("barely moves" in t.get_text() for t in ax.texts)


def test_overlay_marks_ground_truth_regions_and_the_cropped_area(expl_cropped) -> None:
    mask = np.zeros((48, 48), bool)
    mask[28:44, 26:44] = True
    fig = plot.overlay(expl_cropped, " red", boxes=[(4, 4, 20, 20)], masks=mask)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ground truth", "not seen"]
    boxes = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(boxes) == 1 and tuple(rgb_of(boxes[0].get_edgecolor())) == hex_to_rgb(
        PALETTE["ground_truth"]
    )
    hatched = [c for c in ax.collections if getattr(c, "hatches", None) == ["////"]]
    assert hatched, "the unseen area is hatched"
    # region outlines: one line segment per pixel edge between two regions (grid of 4×4)
    lines = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    assert any(len(c.get_segments()) == 2 * 3 * 48 for c in lines)


def test_overlay_checks_its_input(expl) -> None:
    with pytest.raises(TypeError, match="Explanation"):
        plot.overlay(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="rank maps are always in"):
        plot.overlay(expl, scale=1.0)
    with pytest.raises(ValueError, match="Unknown width 'wide'"):
        plot.overlay(expl, width="wide")
    with pytest.raises(ValueError, match="alpha"):
        plot.overlay(expl, alpha=2)


@pytest.mark.parametrize(("width", "inches"), [("single", 3.35), ("double", 7.0), (5, 5.0)])
def test_figures_are_sized_for_paper_columns(expl, width, inches) -> None:
    for fig in (plot.overlay(expl, width=width), plot.curves(expl, width=width)):
        assert fig.get_figwidth() == pytest.approx(inches)


# -- tokens ----------------------------------------------------------------------------------
def test_token_strip_colours_each_token_by_reliance_with_readable_text(expl_red) -> None:
    fig = plot.tokens(expl_red)
    strip, legend = fig.axes
    rel = expl_red.reliance()
    chips = strip.patches
    texts = [t for t in strip.texts if (t.get_gid() or "").startswith("token-")]
    assert len(chips) == len(texts) == len(expl_red.tokens)
    assert [t.get_text() for t in texts] == [s.strip() for s in expl_red.tokens]
    for i, (chip, text) in enumerate(zip(chips, texts)):
        face = rgb_of(chip.get_facecolor())
        assert np.abs(face - diverging_rgb(float(rel[i]))).max() <= 1
        assert contrast_ratio(face, rgb_of(text.get_color())) >= 4.5
        assert (text.get_fontweight() == "bold") == (i in expl_red.targets)
    labels = [t.get_text() for t in legend.texts]
    assert "prior" in labels and "visual" in labels
    assert "visual reliance" in legend.get_title()


def test_token_strip_wraps_long_answers_inside_one_column(expl) -> None:
    long = ek.Explanation(expl.dataset.assign_coords(token_text=("token", ["word"] * 6)))
    wide, narrow = plot.tokens(long, width="double"), plot.tokens(long, width=1.2)
    assert narrow.get_figwidth() == pytest.approx(1.2)
    assert narrow.get_figheight() > wide.get_figheight()  # more lines
    fig_w = narrow.get_figwidth() * narrow.dpi
    renderer = narrow.canvas.get_renderer()  # an Agg canvas: figures draw without pyplot
    for patch in narrow.axes[0].patches:
        box = patch.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig_w + 0.5


# -- curves ----------------------------------------------------------------------------------
def test_curves_carry_their_aucs_labelled_axes_and_the_palette(expl_red) -> None:
    fig = plot.curves(expl_red, " red")
    ax = fig.axes[0]
    ins, dele = ax.get_lines()
    assert ins.get_color() == PALETTE["insertion"] and dele.get_color() == PALETTE["deletion"]
    assert dele.get_linestyle() == "--"
    np.testing.assert_allclose(ins.get_ydata(), expl_red.curve("insertion", " red"))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        f"insertion (AUC {metrics.insertion_auc(expl_red, ' red'):.3f})",
        f"deletion (AUC {metrics.deletion_auc(expl_red, ' red'):.3f})",
    ]
    assert "revealed" in ax.get_xlabel() and "removed" in ax.get_xlabel()
    assert ax.get_ylabel() == 'p("red") (probability)' and ax.get_ylim() == (0, 1.02)


def test_curves_of_a_small_probability_are_zoomed_and_say_so(expl_small) -> None:
    fig = plot.curves(expl_small)
    ax = fig.axes[0]
    top = max(expl_small.curve("insertion").max(), expl_small.curve("deletion").max())
    assert top < 0.03
    lo, hi = ax.get_ylim()
    assert lo == 0 and top < hi < 1.2 * top  # the curve fills the axis: not a flat line
    assert "y axis zoomed: 0–" in ax.get_title()
    assert plot.curves(expl_small, zoom=False).axes[0].get_ylim() == (0, 1.02)


def _texts_inside(fig) -> list[str]:
    """Texts of ``fig`` that stick out of it (clipped in the saved file)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    out = []
    for text in fig.findobj(matplotlib.text.Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        ext = text.get_window_extent(renderer)
        if ext.x0 < box.x0 - 1 or ext.x1 > box.x1 + 1 or ext.y0 < box.y0 - 1 or ext.y1 > box.y1 + 1:
            out.append(text.get_text())
    return out


def test_no_label_is_clipped_in_one_column(expl, expl_red, expl_small, expl_cropped) -> None:
    figs = [
        plot.curves(expl_small),
        plot.curves(expl_red, " red"),
        plot.overlay(expl_cropped, " red", boxes=[(4, 4, 20, 20)]),
        plot.overlay(expl),
        plot.tokens(expl, width="single"),
        plot.grid([[expl_red, expl]], width="single"),
        plot.hallucination(
            expl_red, Correction(True, 3, 0.19, ["the picture shows a green square ."])
        ),
    ]
    for fig in figs:
        assert _texts_inside(fig) == []


# -- grid ------------------------------------------------------------------------------------
def test_grid_shares_one_colour_scale_and_one_colour_bar(expl_red, expl_blue, expl) -> None:
    table = {"eagle": [expl_red, expl_blue], "again": [expl_blue, expl]}
    fig = plot.grid(table, cols=["scene 1", "scene 2"], tokens=" red")
    cells, bars = fig.axes[:4], fig.axes[4:]
    assert len(bars) == 1 and bars[0].get_ylabel() == 'gain in p("red") (probability)'
    drawn = [im for ax in cells for im in ax.images if im.get_array().ndim == 2]
    expected = max(e.map_info(" red").scale for e in (expl_red, expl_blue, expl))
    assert len(drawn) == sum(
        e.map_info(" red").shown for e in (expl_red, expl_blue, expl, expl_blue)
    )
    assert {(im.norm.vmin, im.norm.vmax) for im in drawn} == {(-expected, expected)}
    assert cells[0].get_ylabel() == "eagle" and cells[2].get_ylabel() == "again"
    assert cells[0].get_title().startswith("scene 1") and cells[1].get_title().startswith("scene 2")
    # rank maps share [0, 1]
    rank = plot.grid([[expl_red, expl_blue]])
    assert {
        (im.norm.vmin, im.norm.vmax)
        for ax in rank.axes[:2]
        for im in ax.images
        if im.get_array().ndim == 2
    } == {(0.0, 1.0)}
    assert rank.axes[2].get_ylabel() == "rank value (METHOD §5)"
    mixed = plot.grid([[expl_red, expl_blue]], kind="gain")  # F("red"), F("blue"): one scale
    assert mixed.axes[2].get_ylabel() == "gain in each cell's objective F"


def test_grid_colour_bar_names_the_quantity_mapped_as_overlay_does(expl_red) -> None:
    # kind="gain" without tokens maps the objective F, not p(targets): the bar must say F
    for tokens in (None, " red", [" red", " square"]):
        info = expl_red.map_info(tokens, kind="gain")
        fig = plot.grid([[expl_red, expl_red]], tokens=tokens, kind="gain")
        label = fig.axes[2].get_ylabel()
        assert label == f"gain in {info.quantity} (probability)"
        assert label == plot.overlay(expl_red, tokens, kind="gain").axes[1].get_ylabel()
    assert plot.grid([[expl_red]], kind="gain").axes[1].get_ylabel().startswith('gain in F("red")')


def test_grid_refuses_ragged_or_mislabelled_tables(expl, expl_red) -> None:
    with pytest.raises(ValueError, match="same number of explanations"):
        plot.grid([[expl, expl_red], [expl]])
    with pytest.raises(ValueError, match="row and 1 column labels"):
        plot.grid([[expl, expl_red]], rows=["a"], cols=["x"])
    with pytest.raises(TypeError, match="grid cell"):
        plot.grid([[expl, "not an explanation"]])


# -- hallucination ---------------------------------------------------------------------------
def test_hallucination_figure_labels_cause_map_and_mitigation(expl_red) -> None:
    n = expl_red.n_regions
    fix = Correction(True, 3, 0.19, ["yes", "yes", "yes", "no"])
    fig = plot.hallucination(expl_red, fix)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("(a) cause: the 3 lowest-ranked")
    assert titles[1].startswith("(b) Rank map")
    assert titles[2].startswith("(c) mitigation: 3 region(s) removed") and "“no”" in titles[2]
    long = Correction(True, 3, 0.19, ["the picture shows a green square ."])
    assert "“the picture shows a green…”" in plot.hallucination(expl_red, long).axes[2].get_title()
    assert fig.axes[3].get_ylabel() == "rank value (METHOD §5)"  # the map's colour bar
    np.testing.assert_array_equal(
        fig.axes[2].images[0].get_array(), expl_red.masked_image(n - 3, "insertion")
    )
    area = expl_red.dataset["region_area"].values[expl_red.order[n - 3 :]].sum()
    assert f"{area:.1%}" in titles[0]
    assert len(plot.hallucination(expl_red).axes) == 3  # no correction: cause and map only
    # a diagnosis object (as eagle_kit.shapes.analysis returns) brings its own correction
    from types import SimpleNamespace

    diag = SimpleNamespace(correct=expl_red, correction=Correction(False, 5, 1.0, ["yes"] * 6))
    titles = [ax.get_title() for ax in plot.hallucination(diag).axes]
    assert titles[2].startswith("(c) not corrected after") and titles[0].startswith(
        f"(a) cause: the {max(1, n // 10)} lowest-ranked"
    )
    with pytest.raises(TypeError, match="diagnosis"):
        plot.hallucination("x")


# -- saving ----------------------------------------------------------------------------------
def test_pdf_is_vector_with_embedded_truetype_fonts_and_real_text(expl_red, tmp_path) -> None:
    pypdf = pytest.importorskip("pypdf")
    path = plot.save(plot.overlay(expl_red, " red"), tmp_path / "fig.pdf")
    reader = pypdf.PdfReader(str(path))
    (page,) = reader.pages
    fonts = page["/Resources"]["/Font"]
    kinds = set()
    for ref in fonts.values():
        font = ref.get_object()
        kinds.add(font["/Subtype"])
        desc = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        assert "/FontFile2" in desc["/FontDescriptor"].get_object(), "TrueType font embedded"
    assert "/Type3" not in kinds and kinds <= {"/Type0", "/TrueType"}
    text = page.extract_text()
    assert "gain in p" in text and "Gain map" in text and "span" in text
    # rasters: the 48×48 image and map at their own resolution, and the thin colour bar
    # gradient; never a bitmap of the page
    box = page.mediabox
    assert float(box.width) == pytest.approx(3.35 * 72, abs=1)
    sizes = sorted(img.image.size for img in page.images)
    assert sizes.count((48, 48)) == 2 and all(min(s) <= 48 for s in sizes)
    content = page.get_contents().get_data()
    assert b" re" in content and b" l\n" in content  # vector paths: frames, outlines


def test_svg_keeps_text_as_text_and_files_are_reproducible(expl, tmp_path) -> None:
    fig = plot.overlay(expl)
    path = plot.save(fig, tmp_path / "fig.svg")
    root = ET.parse(path).getroot()
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "rank value (METHOD §5)" in texts
    again = plot.save(plot.overlay(expl), tmp_path / "again.svg")
    assert path.read_bytes() == again.read_bytes()
    pdf1 = plot.save(fig, tmp_path / "a.pdf").read_bytes()
    assert pdf1 == plot.save(fig, tmp_path / "b.pdf").read_bytes()


@pytest.mark.parametrize("dpi", [150, 600])
def test_png_honours_the_dpi(expl, tmp_path, dpi) -> None:
    from PIL import Image

    fig = plot.curves(expl)
    path = plot.save(fig, tmp_path / "c.png", dpi=dpi)
    with Image.open(path) as img:
        assert img.info["dpi"] == pytest.approx((dpi, dpi), abs=0.05)  # stored per metre
        assert img.width == round(fig.get_figwidth() * dpi)


def test_save_refuses_unknown_formats(expl, tmp_path) -> None:
    with pytest.raises(ValueError, match="pdf, svg, png or eps"):
        plot.save(plot.curves(expl), tmp_path / "c.jpg")
    with pytest.raises(ValueError, match="dpi"):
        plot.save(plot.curves(expl), tmp_path / "c.png", dpi=0)


def test_the_style_is_scoped_not_global(expl, tmp_path) -> None:
    before = dict(matplotlib.rcParams)
    plot.save(plot.overlay(expl), tmp_path / "f.pdf")
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()
    with plot.style():
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["svg.fonttype"] == "none"


def test_import_is_light_and_agg_is_only_a_default(tmp_path) -> None:
    code = (
        "import sys, eagle_kit as ek; light = 'matplotlib' not in sys.modules;"
        "import numpy as np; import matplotlib;"
        "fig = ek.plot.figure_size('single'); ek.plot._matplotlib();"
        "print(light, matplotlib.get_backend().lower())"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["MPLCONFIGDIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["True", "agg"]
    env["MPLBACKEND"] = "svg"  # a backend the user chose stays
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["True", "svg"]


def test_to_svg_and_to_png_for_inline_html(expl) -> None:
    from PIL import Image

    svg = plot.to_svg(plot.curves(expl))
    assert svg.startswith("<svg") and "<text" in svg and "insertion (AUC" in svg
    png = plot.to_png(plot.curves(expl), dpi=100)
    with Image.open(io.BytesIO(png)) as img:
        assert img.width == round(3.35 * 100)


def test_readme_paper_figures_block_uses_the_module(tmp_path) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "## Paper figures" in text and "ek.plot.save(" in text


def test_overlay_of_a_video_draws_the_chosen_frame() -> None:
    frames = np.zeros((3, 24, 24, 3), np.uint8)
    frames[1, :12, :12] = 255

    def video_scorer(x: np.ndarray) -> np.ndarray:
        return x[:, 1, :12, :12].mean(axis=(1, 2, 3))[:, None] / 255

    regions = ek.segment(frames, n_regions=8, method="grid")
    video = ek.explain(
        video_scorer,
        frames,
        regions=regions,
        search="exact",
        token_names=["square"],
        progress=False,
    )
    fig = plot.overlay(video, "square", frame=1, smooth=0)
    im = map_image(fig.axes[0])
    np.testing.assert_allclose(im.get_array(), video.attribution_map("square", smooth=0)[1])
    with pytest.raises(ValueError, match="frame must be in 0..2"):
        plot.overlay(video, frame=3)
