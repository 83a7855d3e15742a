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

from eagle_kit.widgets import Explorer
from eagle_kit.widgets.static import MIN_CURVE_SPAN, curve_domain, nice_ticks

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def images(page: str) -> list[Image.Image]:
    return [
        Image.open(BytesIO(base64.b64decode(b64)))
        for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    ]


def test_static_view_shows_every_panel_with_its_map_caption_and_curves(expl, expl_red) -> None:
    explorer = Explorer({"all <tokens>": expl, "red only": expl_red}, width=192)
    explorer.panels[1].overlay.selected = [4]  # same tokens: the selection is shared
    page = explorer.static_html()
    assert page.count("<section") == 2
    assert "all &lt;tokens&gt;" in page and "<tokens>" not in page  # titles are escaped
    for panel in explorer.panels:
        assert html.escape(panel.overlay.map_info().caption()) in page
    assert 'gain in p("blue")'.replace('"', "&quot;") in page  # the colour bar's title
    pngs = images(page)
    assert [im.size for im in pngs] == [(192, 192), (192, 192)]  # 48 px × 4, pixelated
    # the map drawn is the overlay's: region-constant colours of the selected token's gain map
    expected = expl.overlay([4], kind="gain", smooth=0.0, alpha=0.5)
    got = np.asarray(pngs[0].convert("RGB"))[::4, ::4]
    np.testing.assert_array_equal(got, expected)
    assert page.count("<polyline") == 4  # insertion and deletion per panel
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
    import eagle_kit as ek

    photo = np.random.default_rng(1).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    expl = ek.explain(
        lambda x: x[:, :300, :400].mean(axis=(1, 2, 3))[:, None] / 255,
        photo,
        regions=ek.segment(photo, n_regions=4, method="grid"),
        search="exact",
        token_names=["photo"],
        progress=False,
    )
    (img,) = images(Explorer(expl, width=320).static_html())
    assert img.size == (320, 240)
