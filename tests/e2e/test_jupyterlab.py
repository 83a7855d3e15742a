"""Click the widgets in a real JupyterLab, check the browser and the kernel agree, then open
the exported page without a kernel. Screenshots: test-artifacts/e2e/*.png."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TIMEOUT_MS = 30_000


class Console:
    """Collects console messages and uncaught exceptions of a page; errors fail the test."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.messages: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def _on_console(self, message: Any) -> None:
        text = f"console.{message.type}: {message.text}"
        self.messages.append(text)
        if message.type == "error":
            self.errors.append(text)

    def check(self) -> None:
        assert not self.errors, "errors in the browser console:\n" + "\n".join(self.errors)


@contextmanager
def diagnosed(page: Any, console: Console, artifacts: Path, name: str) -> Iterator[None]:
    """On failure, save a screenshot and add the console log to the error."""
    try:
        yield
    except BaseException as err:
        page.screenshot(path=str(artifacts / f"failure-{name}.png"), full_page=True)
        log = "\n".join(console.messages[-40:] + console.errors)
        raise AssertionError(f"{err}\n--- browser console ---\n{log}") from err


@contextmanager
def offline_page(browser: Any, artifacts: Path, name: str) -> Iterator[Any]:
    """A page in an offline browser context; afterwards, the page must have made no network
    request and logged no console error (a failure inside saves a screenshot)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, offline=True)
    try:
        page = context.new_page()
        console = Console(page)
        requests: list[str] = []
        local = ("file:", "data:", "blob:")
        page.on("request", lambda r: None if r.url.startswith(local) else requests.append(r.url))
        with diagnosed(page, console, artifacts, name):
            yield page
        assert requests == [], f"the exported page fetched from the network: {requests}"
        console.check()
    finally:
        context.close()


def wait_for_state(
    path: Path, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll the notebook's state file until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                state = json.loads(path.read_text())
            except json.JSONDecodeError:
                state = {}
            if state and predicate(state):
                return state
        time.sleep(0.2)
    raise AssertionError(f"Python-side state never showed {what}; last state: {state}")


def canvas_data(locator: Any) -> str:
    return locator.evaluate("c => c.toDataURL()")


def run_all_cells(page: Any) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


# Kernel start and the fixture notebooks' cells take ~15 s on an idle machine; a loaded CI
# machine can take several times that, so steps wait on signals with a generous deadline and
# fail at once, with the cause, when the notebook shows an error.
STEP_TIMEOUT_S = 180.0
TRACEBACK = "Traceback (most recent call last)"


def wait_step(
    page: Any, lab: Any, locator: Any, what: str, timeout_s: float = STEP_TIMEOUT_S
) -> None:
    """Wait until ``locator`` is visible; fail early on a traceback in the notebook's outputs.

    On timeout the error names the step, the kernels' states and any open dialog."""
    deadline = time.monotonic() + timeout_s
    outputs = page.locator(".jp-OutputArea-output")
    while True:
        try:
            locator.first.wait_for(timeout=2_000)
            return
        except Exception as err:  # playwright's TimeoutError
            if "Timeout" not in type(err).__name__:
                raise
        failed = [t for t in outputs.all_inner_texts() if TRACEBACK in t]
        if failed:
            raise AssertionError(f"a notebook cell failed while waiting for {what}:\n{failed[0]}")
        if time.monotonic() > deadline:
            dialogs = page.locator(".jp-Dialog").all_inner_texts()
            raise AssertionError(
                f"{what}: not there after {timeout_s:.0f} s; kernels: {lab.kernels()}; "
                f"open dialogs: {dialogs or 'none'}"
            )


def open_and_run(page: Any, lab: Any, notebook: str, ready: str) -> None:
    """Open ``notebook`` alone in a fresh workspace, wait for its kernel, run every cell and
    wait for the output line ``ready``.

    A fresh workspace per test: JupyterLab otherwise restores the notebooks an earlier test
    opened, and "Run All Cells" could run one of those instead."""
    workspace = notebook.split(".")[0].replace("_", "-")
    page.goto(lab.url(f"lab/workspaces/{workspace}/tree/{notebook}", "reset"), timeout=90_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text=notebook)
    wait_step(page, lab, tab, f"the {notebook} tab")
    # the kernel must be connected and idle before "Run All Cells" (the toolbar indicator
    # says idle before the kernel even starts, the status bar does not)
    idle = page.locator(".jp-StatusBar-Widget", has_text="| Idle")
    wait_step(page, lab, idle, f"an idle kernel for {notebook}")
    assert page.locator(".jp-NotebookPanel:visible").count() == 1, "more than one notebook open"
    page.keyboard.press("Control+b")  # hide the file browser: more room for the widgets
    run_all_cells(page)
    wait_step(page, lab, page.locator(".jp-OutputArea-output pre", has_text=ready), repr(ready))


def test_widgets_in_jupyterlab_and_in_the_exported_page(
    lab: Any, browser: Any, artifacts: Path
) -> None:
    """Run the fixture notebook, drive the widgets, then open the page the notebook exported."""
    # tall enough for the whole explorer to be on screen for its screenshot
    context = browser.new_context(viewport={"width": 1500, "height": 1700})
    try:
        page = context.new_page()
        console = Console(page)
        with diagnosed(page, console, artifacts, "jupyterlab"):
            check_jupyterlab(page, lab, artifacts)
        console.check()
    finally:
        context.close()

    export = lab.root / "explorer_export.html"
    assert export.is_file(), "the fixture notebook did not write explorer_export.html"
    with offline_page(browser, artifacts, "export") as page:
        check_exported_page(page, export, artifacts)


def check_jupyterlab(page: Any, lab: Any, artifacts: Path) -> None:
    state_file = lab.root / "widget_state.json"
    open_and_run(page, lab, "explorer_fixture.ipynb", "fixture ready")
    explorer = page.locator(".ek-explorer[data-ready='true']").first
    explorer.wait_for(timeout=TIMEOUT_MS)
    page.locator(".ek-explorer[data-ready='true']").nth(2).wait_for(timeout=TIMEOUT_MS)  # grids
    # the pointer, left over the grid by "Run All", would hover tokens (whose details line
    # changes the layout) while the notebook scrolls
    page.mouse.move(1, 1)
    timeline = explorer.locator(".ek-timeline")
    overlay = explorer.locator(".ek-overlay")
    slider = explorer.locator(".ek-slider")
    # the curves are drawn by the explorer itself (SVG, no plotly)
    explorer.locator(".ek-curves path.ek-line-insertion").first.wait_for(timeout=TIMEOUT_MS)
    assert explorer.locator(".ek-slot-figure").count() == 0
    # the static view (for nbconvert/GitHub) sits before the widget and is hidden once it renders
    static = page.locator(".ek-static").first
    static.wait_for(state="attached", timeout=TIMEOUT_MS)
    assert static.is_hidden(), "the static view still shows next to the live widget"
    initial = wait_for_state(state_file, lambda s: s["selected"] == [], "the initial state")
    assert overlay.get_attribute("data-map-source") == "objective"
    assert overlay.locator(".ek-boxes rect").count() == 1  # ground-truth box from Python
    assert overlay.locator("canvas.ek-mask").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0)"
    ), "the ground-truth mask outline was not drawn"
    explorer.scroll_into_view_if_needed()
    explorer.screenshot(path=str(artifacts / "explorer.png"))

    # -- click a token: the overlay switches to that token's map, in the browser and in Python
    heat = overlay.locator("canvas.ek-heat")
    heat_before = canvas_data(heat)
    token = timeline.locator("button.ek-token").nth(1)
    assert token.get_attribute("aria-pressed") == "false"
    assert "p(black)" in token.get_attribute("aria-label")
    token.click()
    page.wait_for_function(
        "el => el.dataset.mapSource === 'tokens' && el.dataset.selected === '1'",
        arg=overlay.element_handle(),
        timeout=TIMEOUT_MS,
    )
    assert token.get_attribute("aria-pressed") == "true"
    assert canvas_data(heat) != heat_before, "the heat map did not change after selecting a token"
    state = wait_for_state(
        state_file,
        lambda s: (
            s["selected"] == [1] and s["overlay_selected"] == [1] and s["timeline_selected"] == [1]
        ),
        "selected == [1] in the explorer, timeline and overlay",
    )
    assert state["overlay_map_source"] == "tokens"

    # -- keyboard: Shift+ArrowRight extends the selection to token 2
    token.focus()
    page.keyboard.press("Shift+ArrowRight")
    wait_for_state(
        state_file, lambda s: s["selected"] == [1, 2], "selected == [1, 2] after Shift+ArrowRight"
    )

    # -- hover the map: rank, gain in probability and rank value of the region under the
    # pointer, and which map is shown (a token selection shows its gain map by default)
    overlay.locator(".ek-stage").hover(position={"x": 10, "y": 10})
    page.wait_for_function(
        "el => el.dataset.hoverRegion === '0'", arg=overlay.element_handle(), timeout=TIMEOUT_MS
    )
    assert overlay.get_attribute("data-map-kind") == "gain"
    assert re.fullmatch(
        r"Region 0: rank \d+ of 16\. Gain in mean p\(“red” “square”\): [+−]\d\.\d{3} "
        r"\(probability\)\. Rank value \(METHOD §5\): \d\.\d{3}\. Shown: gain map\.",
        overlay.locator(".ek-readout").inner_text(),
    )

    # -- move the slider three steps: the masked image, the curves and Python's k follow
    k0 = initial["k"]
    masked = slider.locator("canvas.ek-masked")
    masked_before = canvas_data(masked)
    slider.locator("input.ek-k").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"el => el.dataset.k === '{k0 + 3}'", arg=slider.element_handle(), timeout=TIMEOUT_MS
    )
    assert canvas_data(masked) != masked_before, "the masked image did not change with k"
    state = wait_for_state(
        state_file, lambda s: s["k"] == k0 + 3 and s["slider_k"] == k0 + 3, f"k == {k0 + 3}"
    )
    assert explorer.locator(".ek-curves").get_attribute("data-k") == str(k0 + 3)
    explorer.screenshot(path=str(artifacts / "explorer_after.png"))

    check_grid_layout(page, artifacts)

    # -- live mode: the standalone slider re-scores the masked image in the kernel
    live = page.locator(".ek-slider[data-live='true']").last
    live.scroll_into_view_if_needed()
    live.locator("input.ek-k").focus()
    page.keyboard.press("ArrowRight")
    state = wait_for_state(
        state_file, lambda s: s["live_step"] == [3, "insertion"], "live re-scoring at k == 3"
    )
    assert state["live_probs"] == pytest.approx(state["expected_live_probs"])
    live.locator(".ek-live-status", has_text="re-scored").wait_for(timeout=TIMEOUT_MS)
    shown = live.locator("td.ek-live-col").first.inner_text()
    assert float(shown) == pytest.approx(state["live_probs"][0], abs=1e-3)
    live.screenshot(path=str(artifacts / "live_slider.png"))


def check_grid_layout(page: Any, artifacts: Path) -> None:
    """Three explanations side by side: one row of panels, as rendered (not the arithmetic)."""
    grid = page.locator(".ek-explorer[data-ready='true']").nth(1)
    grid.scroll_into_view_if_needed()
    grid.wait_for(timeout=TIMEOUT_MS)
    boxes = [grid.locator(".ek-panel").nth(i).bounding_box() for i in range(3)]
    assert all(b is not None and b["width"] > 100 for b in boxes), boxes
    tops = [b["y"] for b in boxes]
    lefts = [b["x"] for b in boxes]
    assert max(tops) - min(tops) <= 1, f"panels are not in one row: {boxes}"
    assert lefts[0] < lefts[1] < lefts[2], f"panels do not go left to right: {boxes}"
    assert lefts[1] >= lefts[0] + boxes[0]["width"] and lefts[2] >= lefts[1] + boxes[1]["width"]
    grid.screenshot(path=str(artifacts / "explorer_grid.png"))

    # curves="plotly": a plotly chart in each panel, plotly.js evaluated once for the page
    plotted = page.locator(".ek-explorer[data-ready='true']").nth(2)
    plotted.scroll_into_view_if_needed()
    plotted.locator(".ek-slot-curves .js-plotly-plot .main-svg").first.wait_for(timeout=TIMEOUT_MS)
    assert plotted.locator(".ek-panel").count() == 2
    for i in range(2):
        chart = plotted.locator(".ek-panel").nth(i).locator(".ek-slot-curves .js-plotly-plot")
        assert chart.count() == 1
        assert chart.locator(".scatterlayer .trace").count() == 2
        legend = chart.locator(".legendtext").all_text_contents()
        assert legend == ["insertion", "deletion"], legend
    assert plotted.locator(".ek-curves-svg").count() == 0  # no SVG curves beside them
    assert page.evaluate("() => globalThis.__eagleKitPlotly instanceof Map")
    assert page.evaluate("() => globalThis.__eagleKitPlotly.size") == 1


def check_downloads_and_zoom(page: Any, artifacts: Path) -> None:
    """Download the overlay and the curves (PNG, SVG); zoom the overlay with buttons and keys."""
    from io import BytesIO

    from PIL import Image

    overlay = page.locator(".ek-overlay")
    got: dict[str, bytes] = {}
    for scope, fmt in (
        ("overlay", "png"),
        ("overlay", "svg"),
        ("curves", "png"),
        ("curves", "svg"),
    ):
        root = overlay if scope == "overlay" else page.locator(".ek-curves")
        with page.expect_download(timeout=TIMEOUT_MS) as info:
            root.locator(f"button.ek-download[data-format='{fmt}']").click()
        download = info.value
        data = Path(download.path()).read_bytes()
        assert download.suggested_filename.endswith(f".{fmt}"), download.suggested_filename
        got[f"{scope}.{fmt}"] = data
        (artifacts / f"download-{scope}.{fmt}").write_bytes(data)
    for name in ("overlay.png", "curves.png"):
        img = Image.open(BytesIO(got[name])).convert("RGB")
        assert img.width >= 200 and img.height >= 150, (name, img.size)
        colours = img.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 20, f"{name} is blank"
    overlay_svg = got["overlay.svg"].decode()
    assert overlay_svg.startswith("<svg") and '<image href="data:image/png;base64,' in overlay_svg
    assert "<linearGradient" in overlay_svg  # the colour bar travels with the map
    curves_svg = got["curves.svg"].decode()
    assert curves_svg.startswith("<svg") and curves_svg.count("<path") >= 2
    assert 'stroke="' in curves_svg  # styles inlined: the file looks the same outside the page

    zoomed = overlay.locator(".ek-zoom")
    assert zoomed.evaluate("el => el.style.transform") == ""
    overlay.locator("button.ek-zoom-in").click()
    page.wait_for_function("el => el.dataset.zoom === '1.25'", arg=overlay.element_handle())
    assert "scale(1.25)" in zoomed.evaluate("el => el.style.transform")
    size_before = overlay.locator(".ek-stage").bounding_box()
    overlay.locator(".ek-stage").focus()
    page.keyboard.press("+")
    page.wait_for_function("el => el.dataset.zoom === '1.563'", arg=overlay.element_handle())
    assert overlay.locator(".ek-stage").bounding_box() == size_before  # zoom inside the frame
    assert zoomed.evaluate("el => el.getBoundingClientRect().width") > size_before["width"] * 1.5
    page.keyboard.press("0")
    page.wait_for_function("el => el.dataset.zoom === '1'", arg=overlay.element_handle())
    assert zoomed.evaluate("el => el.style.transform") == ""


def check_exported_page(page: Any, export: Path, artifacts: Path) -> None:
    page.goto(export.as_uri())
    page.locator("body[data-ready='true']").wait_for(state="attached", timeout=TIMEOUT_MS)
    overlay = page.locator(".ek-overlay")
    assert overlay.get_attribute("data-map-source") == "objective"
    heat_before = canvas_data(overlay.locator("canvas.ek-heat"))
    page.locator(".ek-token").nth(4).click()
    page.wait_for_function(
        "el => el.dataset.mapSource === 'tokens' && el.dataset.selected === '4'",
        arg=overlay.element_handle(),
        timeout=TIMEOUT_MS,
    )
    assert canvas_data(overlay.locator("canvas.ek-heat")) != heat_before
    # the slider's probability table follows the selection (linked without a kernel)
    assert page.locator(".ek-slider tbody tr").count() == 1
    curves = page.locator(".ek-curves")
    assert curves.get_attribute("data-k") != "16"
    page.locator("input.ek-k").focus()
    page.keyboard.press("End")
    page.wait_for_function(
        "() => document.querySelector('.ek-curves').dataset.k === '16'", timeout=TIMEOUT_MS
    )
    page.locator(".ek-mode[data-mode='deletion']").click()
    assert page.locator(".ek-slider").get_attribute("data-mode") == "deletion"
    assert page.locator(".ek-live").is_hidden()  # no kernel, no live mode
    # the y axis follows the data: " on" moves p between 0.6 and 0.6 + 0.2·220/255 only
    page.locator(".ek-token").nth(3).click()
    page.wait_for_function(
        "() => document.querySelector('.ek-curves').dataset.zoomed === 'true'", timeout=TIMEOUT_MS
    )
    curves = page.locator(".ek-curves")
    lo, hi = float(curves.get_attribute("data-y-min")), float(curves.get_attribute("data-y-max"))
    assert 0.5 < lo < 0.6 and 0.6 + 0.2 * 220 / 255 < hi < 0.9, (lo, hi)
    assert curves.locator(".ek-y-label").text_content() == "mean p (zoomed)"
    assert "zoomed to" in curves.locator("figcaption").inner_text()
    check_downloads_and_zoom(page, artifacts)
    page.screenshot(path=str(artifacts / "export.png"), full_page=True)
