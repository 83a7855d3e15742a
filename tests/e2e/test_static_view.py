"""A notebook with an Explorer, run by nbclient (as papermill does) and converted with
``jupyter nbconvert --to html``, shows the explanation offline: the Explorer's static view."""

from __future__ import annotations

import json
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

import nbformat
import pytest
from e2e_scenes import TWO_SQUARES
from nbclient import NotebookClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NOTEBOOK = (
    TWO_SQUARES
    + """
import json
# other token texts: the panels' selections are independent
other = ek.explain(scorer, image, regions=regions, search="exact",
                   token_names=["red", "blue", "dot"], progress=False)
explorer = ek.Explorer({"objective": expl, "blue": other})
explorer.panels[1].overlay.selected = [1]
print(json.dumps([p.overlay.map_info().caption() for p in explorer.panels]))
"""
)


def test_nbconvert_html_shows_the_explorer_offline(
    browser: Any, tmp_path: Path, artifacts: Path
) -> None:
    from PIL import Image

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK), nbformat.v4.new_code_cell("explorer")]
    NotebookClient(nb, timeout=240, kernel_name="python3").execute()
    captions = json.loads(nb.cells[0].outputs[-1]["text"])
    assert nb.metadata["widgets"], "the widget state was saved (nbconvert prefers the widget)"
    source = tmp_path / "explorer.ipynb"
    nbformat.write(nb, source)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    page_path = tmp_path / "explorer.html"
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, offline=True)
    try:
        page = context.new_page()
        page.goto(page_path.as_uri())
        static = page.locator(".ek-static")
        static.wait_for(timeout=30_000)
        assert static.is_visible()
        box = static.bounding_box()
        assert box["width"] > 300 and box["height"] > 200, box
        text = static.inner_text()
        for caption in captions:  # which map, its units and its effect size, for each panel
            assert caption in " ".join(text.split()), caption
        # the two colour bars in their units, as text (ek.plot.overlay's labels)
        assert 'gain in p("blue") (probability)' in text and "rank value (METHOD §5)" in text
        # the figures are ek.plot's, inline SVG with text as text: each map has its colour bar
        # labelled in its units, each panel its curves with AUCs in the legend
        maps = static.locator("figure.ek-static-map > svg")
        assert maps.count() == 2 and all(maps.nth(i).is_visible() for i in range(2))
        labels = [" ".join(maps.nth(i).locator("text").all_text_contents()) for i in range(2)]
        assert "rank value (METHOD §5)" in labels[0], labels[0]
        assert 'gain in p("blue") (probability)' in labels[1], labels[1]
        rasters = static.locator("figure.ek-static-map image")
        assert rasters.count() >= 4  # image and map layer per panel
        curves = static.locator("figure.ek-static-curves > svg")
        assert curves.count() == 2 and curves.first.is_visible()
        legend = " ".join(curves.first.locator("text").all_text_contents())
        assert "insertion (AUC" in legend and "deletion (AUC" in legend, legend
        for i in range(maps.count()):  # every map drawn, not blank
            tile = Image.open(BytesIO(maps.nth(i).screenshot())).convert("RGB")
            assert len(tile.getcolors(maxcolors=1 << 20) or []) > 50, f"map {i} is blank"
        shot = Image.open(BytesIO(static.screenshot())).convert("RGB")
        colours = shot.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50, "the static view renders blank"
        shot.save(artifacts / "nbconvert_static_view.png")
    finally:
        context.close()
