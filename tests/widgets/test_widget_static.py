"""The Explorer's static view: what nbconvert and GitHub show instead of the widget."""

from __future__ import annotations

import base64
import html
import re
from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from test_widget_js_parity import PRELUDE, run_node

import eagle_kit as ek
from eagle_kit.widgets import Explorer

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: Smallest y span of the widget's curves plot (helpers.js MIN_CURVE_SPAN).
MIN_CURVE_SPAN = 0.1


def curve_domain(curves, min_span=MIN_CURVE_SPAN):
    """Reference of helpers.js ``curveDomain``: ``[0, 1]`` when the data covers most of it,
    else the data's range padded by 8 % and at least ``min_span`` wide, inside ``[0, 1]``."""
    values = np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in curves])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0, False
    lo, hi = float(values.min()), float(values.max())
    pad = 0.08 * (hi - lo)
    lo, hi = max(0.0, lo - pad), min(1.0, hi + pad)
    span = max(min(1.0, min_span), hi - lo)
    if span >= 0.8:
        return 0.0, 1.0, False
    lo = min(max(0.0, (lo + hi) / 2 - span / 2), 1.0 - span)
    return lo, lo + span, True


def nice_ticks(lo, hi, target=5):
    """Reference of helpers.js ``niceTicks``: multiples of 1, 2, 2.5 or 5 × 10^n."""
    mag = 10.0 ** np.floor(np.log10((hi - lo) / target))
    step = next(
        (m * mag for m in (1, 2, 2.5, 5) if (hi - lo) / (m * mag) <= target + 1e-9), 10 * mag
    )
    decimals = 0
    while decimals < 6 and abs(round(step * 10**decimals) - step * 10**decimals) > 1e-6:
        decimals += 1
    i, ticks = int(np.ceil(lo / step - 1e-9)), []
    while i * step <= hi + 1e-9:
        ticks.append(round(i * step, decimals))
        i += 1
    return ticks, decimals


def svg_texts(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def figures(page: str, part: str) -> list[str]:
    """The inline SVG of each static-view figure of one kind (tokens, map, prompt, curves)."""
    return re.findall(
        rf'<figure class="ek-figure ek-static-{part}"[^>]*>(<svg.*?</svg>)', page, re.S
    )


def test_static_view_shows_every_panel_with_its_map_caption_and_curves(expl, expl_red) -> None:
    explorer = Explorer({"all <tokens>": expl, "red only": expl_red}, width=192)
    explorer.panels[1].overlay.selected = [4]  # same tokens: the selection is shared
    explorer.k = 5
    page = explorer.static_html()
    assert page.count("<section") == 2
    assert "all &lt;tokens&gt;" in page and "<tokens>" not in page  # titles are escaped
    for panel in explorer.panels:
        assert html.escape(panel.overlay.map_info().caption()) in page
    # the figures are ek.plot's, as vector SVG with text as text: the same colour bar label
    # and title as ek.plot.overlay draws for the map the overlay shows
    maps = figures(page, "map")
    assert len(maps) == 2 and all(m.startswith("<svg") for m in maps)
    info = explorer.panels[0].overlay.map_info()
    assert info.kind == "gain"
    expected = ek.plot.overlay(expl, [4], kind="gain")
    assert expected.axes[1].get_xlabel() or expected.axes[1].get_ylabel()
    label = expected.axes[1].get_ylabel() or expected.axes[1].get_xlabel()
    assert label == 'gain in p("blue") (probability)'
    assert label in svg_texts(maps[0])
    assert expected.axes[0].get_title() in " ".join(svg_texts(maps[0])).replace("\n", " ") or all(
        part in svg_texts(maps[0]) for part in expected.axes[0].get_title().split("\n")
    )
    assert "<image" in maps[0]  # the image under the map stays a raster inside the SVG
    tokens = figures(page, "tokens")
    assert len(tokens) == 2 and all(t.strip() in svg_texts(tokens[0]) for t in ("red", "blue"))
    curves = figures(page, "curves")
    auc = ek.metrics.insertion_auc(expl, [4])
    assert f"insertion (AUC {auc:.3f})" in svg_texts(curves[0])  # selected token's curves
    assert "k = 5" in svg_texts(curves[0]) and "k = 5" in svg_texts(curves[1])
    assert "<script" not in page and "<style" not in page  # inline only: GitHub strips both
    assert f'data-ek-static="{explorer._static_id}"' in page


def test_static_png_is_a_picture_of_every_panel(expl, expl_red) -> None:
    img = Image.open(BytesIO(Explorer([expl, expl_red]).static_png())).convert("RGB")
    assert img.width > 2 * 320 and img.height >= 200
    assert len(img.getcolors(maxcolors=1 << 20)) > 50


def test_displaying_the_explorer_shows_the_static_view_then_the_widget(monkeypatch, expl) -> None:
    import IPython.display

    shown: list[tuple[dict, dict]] = []
    monkeypatch.setattr(
        IPython.display,
        "display",
        lambda data, metadata=None, raw=False: shown.append((data, metadata or {})),
    )
    explorer = Explorer(expl)
    explorer._ipython_display_()
    (static, _), (widget, _) = shown
    assert set(static) == {"text/html", "image/png"}
    assert 'class="ek-static"' in static["text/html"]
    assert Image.open(BytesIO(static["image/png"])).width > 300
    assert widget[WIDGET_VIEW]["model_id"] == explorer.model_id


@pytest.mark.parametrize(
    ("curves", "expected"),
    [
        ([[0.012, 0.018, 0.027], [0.027, 0.011]], None),
        ([[0.05, 0.5, 0.95]], (0.0, 1.0, False)),
        ([[0.5, 0.5]], (0.45, 0.55, True)),
        ([[0.99, 1.0]], (0.9, 1.0, True)),
        ([[np.nan]], (0.0, 1.0, False)),
    ],
)
def test_curve_domain_follows_the_data(curves, expected) -> None:
    lo, hi, zoomed = curve_domain([np.asarray(c) for c in curves])
    data = np.concatenate([np.asarray(c) for c in curves])
    if expected is None:  # a photo's p ≈ 0.02: zoomed, holds the data, span has a floor
        assert zoomed and lo <= data.min() and hi >= data.max()
        assert MIN_CURVE_SPAN - 1e-12 <= hi - lo < 0.2
    else:
        assert (lo, hi, zoomed) == pytest.approx(expected)


def test_curve_domain_matches_the_browser() -> None:
    rng = np.random.default_rng(0)
    cases = [
        [rng.uniform(0, 0.03, 9).tolist(), rng.uniform(0, 0.03, 9).tolist()],
        [rng.uniform(0.4, 0.7, 9).tolist()],
        [rng.uniform(0, 1, 9).tolist()],
        [[0.97, 0.99, 1.0]],
        [[0.2, 0.2]],
    ]
    js = run_node(
        PRELUDE
        + "const { curveDomain } = await import('./helpers.js');"
        + "console.log(JSON.stringify(input.map((c) => curveDomain(c))));",
        cases,
    )
    for case, got in zip(cases, js):
        lo, hi, zoomed = curve_domain([np.asarray(c) for c in case])
        assert got["y"] == pytest.approx([lo, hi], abs=1e-12) and got["zoomed"] == zoomed
        ticks, decimals = nice_ticks(lo, hi) if zoomed else ([0, 0.5, 1], 1)
        assert got["ticks"] == pytest.approx(ticks) and got["decimals"] == decimals
        assert all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks) and 2 <= len(ticks) <= 6


def test_photos_are_stored_at_display_size_not_in_full() -> None:
    photo = np.random.default_rng(1).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    expl = ek.explain(
        lambda x: x[:, :300, :400].mean(axis=(1, 2, 3))[:, None] / 255,
        photo,
        regions=ek.segment(photo, n_regions=4, method="grid"),
        search="exact",
        token_names=["photo"],
        progress=False,
    )
    (svg,) = figures(Explorer(expl, width=320).static_html(), "map")
    sizes = [
        Image.open(BytesIO(base64.b64decode(b64))).size
        for b64 in re.findall(r'href="data:image/png;base64,([^"]+)"', svg)
    ]
    assert (320, 240) in sizes and all(max(size) <= 320 for size in sizes), sizes


def test_curves_mark_step_k_and_refuse_a_step_outside_the_curve(expl) -> None:
    """ek.plot.curves(k=...) draws the static view's k line where the slider is."""
    fig = ek.plot.curves(expl, k=7)
    (line,) = [a for a in fig.axes[0].lines if a.get_gid() == "curves-k"]
    assert line.get_xdata()[0] == pytest.approx(expl.dataset["area"].values[7])
    assert "k = 7" in [t.get_text() for t in fig.axes[0].texts]
    with pytest.raises(ValueError, match=r"k must be in 0..16"):
        ek.plot.curves(expl, k=17)
