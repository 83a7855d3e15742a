"""``ek.widgets.PromptView`` shown on its own keeps a static view in saved notebooks.

Viewers without a widget manager (``jupyter nbconvert --to html``, GitHub) cannot draw the
widget: its output cell was empty. The view now leaves the :func:`eagle_kit.plot.prompt`
strip (inline SVG, the prompt's words as text, and a PNG copy) just before the widget, and
its ``_repr_mimebundle_`` carries the same static view as the fallback.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

import eagle_kit as ek
from eagle_kit.widgets import PromptView

PROMPT = "is there a yellow square ?"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def joint() -> ek.Explanation:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    scene = ek.shapes.make_scene(7)  # a blue square, a yellow square, a blue triangle
    return ek.explain(
        model,
        scene.image,
        prompt=PROMPT,
        answer="yes",
        regions=ek.segment(scene.image, 4, "grid"),
        text_regions="words",
        search="exact",
        progress=False,
    )


def svg_words(page: str) -> list[str]:
    """The prompt words drawn as SVG text in the static view(s) of ``page``."""
    return re.findall(r'<g id="prompt-span-\d+">\s*<text[^>]*>([^<]*)</text>', page)


def test_the_bundle_carries_the_widget_and_a_static_fallback(joint) -> None:
    view = PromptView(joint)
    data, metadata = view._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == view.model_id  # the live widget first
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    page = data["text/html"]
    assert f'data-ek-static="{view._static_id}"' in page and 'data-kind="rank"' in page
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    assert svg_words(page) == ["is", "there", "a", "yellow", "square", "?"]  # text, as SVG
    assert "rank value" in page and "no token selected" in page
    assert metadata["text/html"] == {"isolated": False}


def test_the_static_view_follows_the_selection(joint) -> None:
    view = PromptView(joint)
    rank = ek.plot.prompt(joint, None, "rank", width="single")
    assert view.static_png() == ek.plot.to_png(rank, dpi=100)  # the same figure
    view.selected = [0]
    page = view.static_html()
    assert 'data-kind="gain"' in page and "gain of the selected token(s) &#x27;yes&#x27;" in page
    gain = ek.plot.prompt(joint, [0], "gain", width="single")
    assert view.static_png() == ek.plot.to_png(gain, dpi=100)
    assert 'gain in p("yes") (probability)' in page


@pytest.fixture(scope="module")
def folder(joint, tmp_path_factory) -> Path:
    """A notebook that shows two lone PromptViews (no token selected; token 0 selected)."""
    root = tmp_path_factory.mktemp("prompt_view")
    joint.save(root / "joint.nc")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import eagle_kit as ek\n"
            "import eagle_kit.widgets\n"
            "expl = ek.load_explanation('joint.nc')"
        ),
        nbformat.v4.new_code_cell("ek.widgets.PromptView(expl)"),
        nbformat.v4.new_code_cell("ek.widgets.PromptView(expl, selected=[0])"),
    ]
    nbformat.write(nb, root / "view.ipynb")
    return root


def nbconvert(folder: Path, *args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    jupyter = str(Path(sys.executable).parent / "jupyter")
    done = subprocess.run(
        [jupyter, "nbconvert", "--execute", *args, "view.ipynb"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_nbconvert_html_of_a_lone_prompt_view_is_not_empty(folder: Path) -> None:
    nbconvert(folder, "--to", "html")
    page = (folder / "view.html").read_text(encoding="utf-8")
    # each cell shows its static view (the widget manager would come from a CDN: offline,
    # the widget's own output stays empty), the words as text, the selection's kind
    assert page.count('class="ek-static ek-static-prompt"') == 2
    assert 'data-kind="rank"' in page and 'data-kind="gain"' in page
    assert svg_words(page) == ["is", "there", "a", "yellow", "square", "?"] * 2


@pytest.fixture(scope="module")
def executed(folder: Path) -> Path:
    nbconvert(folder, "--to", "notebook", "--output", "run")
    return folder / "run.ipynb"


def test_the_saved_notebook_keeps_a_png_and_one_widget_view_per_cell(executed: Path) -> None:
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells[1:]:
        static, widget = cell.outputs
        assert base64.b64decode(static.data["image/png"])[:4] == b"\x89PNG"
        assert "ek-static-prompt" in static.data["text/html"]
        assert WIDGET_VIEW in widget.data and "text/html" not in widget.data  # no duplicate


@pytest.mark.e2e
def test_where_the_widget_renders_it_hides_its_static_view(executed: Path) -> None:
    """The report's page draws the widget from the saved state (offline); the widget then
    hides the static view shown before it, as in JupyterLab."""
    import concurrent.futures

    from eagle_kit.notebook_report import export_html

    playwright = pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is needed (CI is set: no skipping)")
        pytest.skip("chromium is not installed")
    page_path = export_html(nbformat.read(executed, as_version=4), executed.with_suffix(".html"))
    found: dict[str, object] = {}

    def browse() -> None:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_context(offline=True).new_page()
                page.goto(page_path.as_uri())
                page.wait_for_selector(".ek-prompt-view .ek-prompt-span", timeout=20_000)
                page.wait_for_function(
                    "[...document.querySelectorAll('.ek-static-prompt')].every(n => n.hidden)",
                    timeout=20_000,
                )
                found["views"] = page.eval_on_selector_all(".ek-prompt-view", "n => n.length")
                found["kinds"] = page.eval_on_selector_all(
                    ".ek-prompt-view", "n => n.map(v => v.dataset.kind)"
                )
            finally:
                browser.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(browse).result()
    assert found == {"views": 2, "kinds": ["rank", "gain"]}
