"""Explorers with ``curves="plotly"`` in shared notebooks: plotly.js is saved once per
notebook, and the exported pages work offline in Chromium — ``eagle-kit report``'s page draws
every panel's plotly curves from the saved widget state, ``jupyter nbconvert --to html``'s
page shows the static view's curves."""

from __future__ import annotations

import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

import nbformat
import pytest
from e2e_scenes import TWO_SQUARES

pytestmark = [pytest.mark.e2e, pytest.mark.notebooks, pytest.mark.timeout(300)]

SETUP = TWO_SQUARES

CELLS = [
    SETUP,
    'ek.Explorer({"objective": expl, "blue": expl}, curves="plotly")',
    'ek.Explorer(expl, curves="plotly")',
]


#: a plotly chart of the notebook's own: its page then loads plotly.js for the chart, and the
#: Explorers use that copy (the page still holds plotly.js once)
CHART = """
import plotly.graph_objects as go
go.Figure(go.Bar(x=[0, 1, 2], y=[0.2, 0.5, 0.9]))
"""


@pytest.fixture(scope="module", params=["explorers", "explorers and a chart"])
def report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, bool]:
    """``eagle-kit report`` of a notebook with two plotly Explorers (three panels), and
    whether it shows a plotly chart too."""
    from eagle_kit.notebook_report import run_report

    root = tmp_path_factory.mktemp("plotly_once")
    nb = nbformat.v4.new_notebook()
    cells = CELLS + ([CHART] if request.param != "explorers" else [])
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    source = root / "plotly_explorers.ipynb"
    nbformat.write(nb, source)
    run_report(source, root / "out", cwd=root, timeout=240)
    return root / "out", request.param != "explorers"


def _header() -> str:
    from plotly.offline import get_plotlyjs_version

    return f"plotly.js v{get_plotlyjs_version()}"  # first line of plotly.min.js


def _offline_page(browser: Any, path: Path) -> tuple[Any, Any, list[str], list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, offline=True)
    page = context.new_page()
    network: list[str] = []
    errors: list[str] = []
    page.on(
        "request",
        lambda r: (
            network.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    return context, page, network, errors


def test_report_page_draws_every_panels_plotly_curves_offline(
    report: tuple[Path, bool], browser: Any, artifacts: Path
) -> None:
    from PIL import Image

    report, with_chart = report
    executed = (report / "plotly_explorers.ipynb").read_text(encoding="utf-8")
    if not with_chart:  # (a plotly chart's own notebook output may carry plotly.js too)
        assert executed.count(_header()) == 1  # the saved notebook holds plotly.js once
    html_path = report / "plotly_explorers.html"
    assert html_path.read_text(encoding="utf-8").count(_header()) == 1  # and so does its page
    context, page, network, errors = _offline_page(browser, html_path)
    try:
        page.wait_for_function(
            "document.querySelectorAll('.ek-page-widget[data-ready=true]').length === 2",
            timeout=60_000,
        )
        panels = page.locator(".ek-panel")
        assert panels.count() == 3
        for i in range(3):  # each panel draws its own curves with plotly, both traces
            panel = panels.nth(i)
            chart = panel.locator(".ek-slot-curves .js-plotly-plot")
            assert chart.count() == 1, f"panel {i} has no plotly chart"
            traces = chart.locator(".scatterlayer .trace")
            assert traces.count() == 2
            for t in range(2):
                d = traces.nth(t).locator("path.js-line").get_attribute("d") or ""
                assert d.count("L") >= 3, f"panel {i}, trace {t} drew no curve: {d!r}"
                assert traces.nth(t).locator(".points path").count() == 17  # steps 0..16
            legend = chart.locator(".legendtext").all_text_contents()
            assert legend == ["insertion", "deletion"], legend
            shot = Image.open(BytesIO(chart.screenshot())).convert("RGB")
            assert len(shot.getcolors(maxcolors=1 << 20) or []) > 20, f"panel {i} is blank"
        # the static views are hidden once the widgets draw
        statics = page.locator(".ek-static")
        assert statics.count() == 2 and all(statics.nth(i).is_hidden() for i in range(2))
        # clicking a point of the curves moves k (the page links the parts without a kernel)
        chart = panels.first.locator(".js-plotly-plot")
        curves = panels.first.locator(".ek-curves-plotly")
        before = curves.get_attribute("data-k")
        chart.scroll_into_view_if_needed()
        point = chart.locator(".scatterlayer .trace").first.locator(".points path").nth(12)
        box = point.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x - 3, y)
        page.mouse.move(x, y)  # plotly finds the hovered point, then takes the click
        chart.locator(".hoverlayer .hovertext").first.wait_for(timeout=10_000)
        page.mouse.click(x, y)
        page.wait_for_function(
            "el => el.dataset.k === '12'", arg=curves.element_handle(), timeout=10_000
        )
        assert before != "12"
        assert "k = 12" in (chart.locator(".gtitle").text_content() or "")
        if with_chart:
            assert page.locator(".js-plotly-plot .barlayer .point").count() == 3
        name = "report_plotly_explorers" + ("_chart" if with_chart else "")
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert network == [], network
    assert errors == [], errors


def test_nbconvert_page_keeps_plotly_once_and_shows_the_curves_offline(
    report: tuple[Path, bool], browser: Any, tmp_path: Path
) -> None:
    """Plain nbconvert: the widget state (plotly.js once) is in the page, but drawing the
    widgets needs the widget manager from a CDN; offline the static view shows the curves."""
    report, with_chart = report
    source = tmp_path / "plotly_explorers.ipynb"
    source.write_bytes((report / "plotly_explorers.ipynb").read_bytes())
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    html_path = tmp_path / "plotly_explorers.html"
    if not with_chart:
        assert html_path.read_text(encoding="utf-8").count(_header()) == 1
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, offline=True)
    try:
        page = context.new_page()
        page.goto(html_path.as_uri())
        statics = page.locator(".ek-static")
        statics.first.wait_for(timeout=30_000)
        assert statics.count() == 2
        curves = page.locator(".ek-static figure.ek-static-curves > svg")
        assert curves.count() == 3  # one per panel, drawn by ek.plot.curves
        for i in range(3):
            assert curves.nth(i).is_visible()
            legend = " ".join(curves.nth(i).locator("text").all_text_contents())
            assert "insertion (AUC" in legend and "deletion (AUC" in legend, legend
    finally:
        context.close()
