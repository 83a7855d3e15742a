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

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

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
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, offline=True)
    try:
        page = context.new_page()
        console = Console(page)
        requests: list[str] = []
        page.on(
            "request",
            lambda r: (
                requests.append(r.url)
                if not r.url.startswith(("file:", "data:", "blob:"))
                else None
            ),
        )
        with diagnosed(page, console, artifacts, "export"):
            check_exported_page(page, export, artifacts)
        assert requests == [], f"the exported page fetched from the network: {requests}"
        console.check()
    finally:
        context.close()


def check_jupyterlab(page: Any, lab: Any, artifacts: Path) -> None:
    state_file = lab.root / "widget_state.json"
    page.goto(lab.url("lab/tree/explorer_fixture.ipynb"), timeout=60_000)
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    # the kernel must be connected and idle before "Run All Cells" (the toolbar indicator
    # says idle before the kernel even starts, the status bar does not)
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60_000)
    page.keyboard.press("Control+b")  # hide the file browser: more room for the widgets
    run_all_cells(page)

    explorer = page.locator(".ek-explorer[data-ready='true']")
    explorer.wait_for(timeout=TIMEOUT_MS)
    page.locator(".jp-OutputArea-output pre", has_text="fixture ready").wait_for(timeout=TIMEOUT_MS)
    timeline = explorer.locator(".ek-timeline")
    overlay = explorer.locator(".ek-overlay")
    slider = explorer.locator(".ek-slider")
    # the plotly FigureWidget child rendered inside the explorer
    explorer.locator(".ek-slot-curves .main-svg").first.wait_for(timeout=TIMEOUT_MS)
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

    # -- hover the map: rank and marginal gain of the region under the pointer
    overlay.locator(".ek-stage").hover(position={"x": 10, "y": 10})
    page.wait_for_function(
        "el => el.dataset.hoverRegion === '0'", arg=overlay.element_handle(), timeout=TIMEOUT_MS
    )
    assert re.fullmatch(
        r"Region 0: rank \d+ of 16, marginal gain [+−]\d\.\d{3}, value \d\.\d{3}\.",
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
    assert state["figure_k_x"] == pytest.approx(state["area"][k0 + 3])
    explorer.screenshot(path=str(artifacts / "explorer_after.png"))

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
    page.screenshot(path=str(artifacts / "export.png"), full_page=True)
