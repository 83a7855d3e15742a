"""What a saved notebook keeps: run small notebooks with nbclient (as papermill does) and read
the executed file — its size with a 3-panel Explorer, the static view, no leftover progress
bars."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.notebooks, pytest.mark.timeout(300)]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

SETUP = """
import numpy as np
import eagle_kit as ek

image = np.zeros((48, 48, 3), np.uint8)
image[4:20, 4:20] = (220, 30, 30)
image[28:44, 26:44] = (30, 60, 220)
TOKENS = ["A", " red", " square", " on", " blue", "."]


def scorer(images):
    x = images.astype(float) / 255
    red = x[:, 4:20, 4:20, 0].mean(axis=(1, 2))
    blue = x[:, 28:44, 26:44, 2].mean(axis=(1, 2))
    n = len(x)
    return np.stack([np.full(n, 0.9), 0.05 + 0.9 * red, 0.1 + 0.5 * red + 0.3 * blue,
                     0.6 + 0.2 * blue, 0.05 + 0.9 * blue, np.full(n, 0.95)], axis=1)


def explain(**options):
    regions = ek.segment(image, n_regions=16, method="grid")
    return ek.explain(scorer, image, regions=regions, search="exact", token_names=TOKENS,
                      progress=False, **options)
"""


def run(tmp_path: Path, *cells: str) -> tuple[nbformat.NotebookNode, Path]:
    """Execute the cells in a fresh kernel (widget state stored, as papermill does); save."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    return nb, path


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for cell in nb.cells for o in cell.get("outputs", [])]


def widget_models(nb: nbformat.NotebookNode) -> dict[str, dict]:
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def test_a_three_panel_explorer_keeps_the_notebook_small(tmp_path: Path) -> None:
    """plotly.js used to be embedded once per panel (16 MB for three); SVG curves need none."""
    nb, path = run(
        tmp_path,
        SETUP,
        "ek.Explorer({'all': explain(), 'red': explain(targets=[' red']),"
        " 'blue': explain(targets=[' blue'])})",
    )
    size = path.stat().st_size
    assert size < 1_500_000, f"the saved notebook is {size / 1e6:.2f} MB"
    models = widget_models(nb)
    assert models, "the widget state was not saved (nothing measured)"
    esm = [str(m["state"].get("_esm", "")) for m in models.values()]
    # plotly.js alone is ~4.6 MB; every module of ours is far below 0.5 MB
    assert max(map(len, esm)) < 500_000, "a plotting library is embedded in the notebook"
    views = [o for o in outputs(nb) if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1
    static = [o for o in outputs(nb) if "ek-static" in str(o.get("data", {}).get("text/html", ""))]
    assert len(static) == 1 and "image/png" in static[0]["data"]
    assert static[0]["data"]["text/html"].count("<section") == 3


@pytest.mark.slow
def test_plotly_js_is_saved_once_however_many_plotly_explorers(tmp_path: Path) -> None:
    """curves="plotly": plotly.js travels in one model per kernel, so a saved notebook holds
    it once with one, two or three Explorers (two used to weigh 11.7 MB: once per Explorer)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    header = f"plotly.js v{get_plotlyjs_version()}"  # the first line of plotly.min.js
    library = len(json.dumps(get_plotlyjs()))  # its size as saved (a JSON string)
    sizes = {}
    for n in (1, 2, 3):
        folder = tmp_path / str(n)
        folder.mkdir()
        cells = ["ek.Explorer({'a': explain(), 'b': explain(targets=[' red'])}, curves='plotly')"]
        nb, path = run(folder, SETUP, *(cells * n))
        text = path.read_text(encoding="utf-8")
        assert text.count(header) == 1, f"{n} explorers: plotly.js saved {text.count(header)} times"
        models = widget_models(nb)
        carriers = [m for m in models.values() if len(json.dumps(m["state"])) > 1_000_000]
        assert len(carriers) == 1 and carriers[0]["state"]["source"] == get_plotlyjs()
        roots = [m["state"] for m in models.values() if "_panels" in m["state"]]
        assert len(roots) == n and len({r["_plotly"] for r in roots}) == 1  # all refer to it
        sizes[n] = path.stat().st_size
    print({n: f"{b / 1e6:.2f} MB" for n, b in sizes.items()}, f"plotly.js {library / 1e6:.2f} MB")
    # each further Explorer adds its own state and static view, never plotly.js again
    assert sizes[1] > library
    assert sizes[2] - sizes[1] < 0.3 * library and sizes[3] - sizes[2] < 0.3 * library
    assert sizes[2] < 1.3 * sizes[1] and sizes[3] < 1.6 * sizes[1]  # well under 2× and 3×


def test_progress_bars_leave_nothing_in_the_saved_notebook(tmp_path: Path) -> None:
    """tqdm.auto's widget bar stayed as a frozen widget (its state saved by nbclient)."""
    nb, _ = run(
        tmp_path,
        SETUP,
        "import time\n"
        "from eagle_kit._progress import in_notebook\n"
        "print('in notebook:', in_notebook())\n"
        "def slow(images):\n"
        "    time.sleep(0.02)\n"
        "    return scorer(images)\n"
        "regions = ek.segment(image, n_regions=16, method='grid')\n"
        "expl = ek.explain(slow, image, regions=regions, search='exact', token_names=TOKENS,\n"
        "                  batch_size=4)\n"
        "print('regions:', expl.n_regions)",
    )
    text = "".join(o.get("text", "") for o in outputs(nb) if o["output_type"] == "stream")
    assert "in notebook: True" in text and "regions: 16" in text
    assert not [o for o in outputs(nb) if WIDGET_VIEW in o.get("data", {})]
    assert widget_models(nb) == {}, "widget state of a progress bar was saved"
    shown = [o for o in outputs(nb) if o["output_type"] in ("display_data", "update_display_data")]
    assert shown, "the bar was never displayed (the search was too quick to test anything)"
    assert all(o["data"] == {} for o in shown), "a progress bar is still visible: " + str(shown)
    assert "EAGLE exact" not in json.dumps(nb.cells[-1]["outputs"])
