"""The prompt view in a real JupyterLab and in the exported page: an Explorer of a joint
explanation (the embedded shapes model, "is there a red square ?", the prompt's words and a
2×2 grid as features) shows the prompt's words coloured by value; clicking a token recolours
them by that token's gain, in the browser and in Python; the exported page does the same
offline. A text-only explanation opens with the prompt view and the curves, no map.
Screenshots: test-artifacts/e2e/prompt_*.png."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from test_jupyterlab import (
    TIMEOUT_MS,
    Console,
    diagnosed,
    offline_page,
    open_and_run,
    wait_for_state,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

WORDS = ["is", "there", "a", "red", "square", "?"]


def span_colours(view: Any) -> list[str]:
    return view.locator(".ek-prompt-span").evaluate_all("els => els.map(e => e.style.background)")


def span_values(view: Any) -> list[float]:
    got = view.locator(".ek-prompt-span").evaluate_all("els => els.map(e => e.dataset.value)")
    return [float(v) for v in got]


def click_token_and_check(page: Any, view: Any, token: Any) -> list[float]:
    """Click a token: the prompt view switches from rank to gain colours; its values."""
    assert view.get_attribute("data-kind") == "rank"
    before = span_colours(view)
    token.click()
    page.wait_for_function(
        "el => el.dataset.kind === 'gain'", arg=view.element_handle(), timeout=TIMEOUT_MS
    )
    after = span_colours(view)
    assert len(after) == len(WORDS) and after != before, (before, after)
    assert "gain of the selected token" in view.locator(".ek-prompt-caption").inner_text()
    assert view.get_attribute("data-faint") == "false"  # "yes" rests on the prompt's words
    return span_values(view)


def test_prompt_view_in_jupyterlab_and_in_the_exported_page(
    lab: Any, browser: Any, artifacts: Path
) -> None:
    t0 = time.monotonic()
    state_file = lab.root / "prompt_state.json"
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    try:
        page = context.new_page()
        console = Console(page)
        with diagnosed(page, console, artifacts, "prompt-jupyterlab"):
            open_and_run(page, lab, "prompt_fixture.ipynb", "prompt fixture ready")
            explorer = page.locator(".ek-explorer[data-ready='true']").first
            explorer.wait_for(timeout=TIMEOUT_MS)
            page.mouse.move(1, 1)
            view = explorer.locator(".ek-prompt-view")
            view.wait_for(timeout=TIMEOUT_MS)
            assert view.locator(".ek-prompt-span").all_inner_texts() == WORDS
            assert explorer.locator(".ek-overlay").count() == 1  # next to the map
            token = explorer.locator(".ek-timeline button.ek-token").first
            assert "rests on image" in token.get_attribute("aria-label")  # three-way reading
            assert explorer.locator(".ek-split-bar").count() == 2
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=str(artifacts / "prompt_explorer.png"))
            shown = click_token_and_check(page, view, token)
            state = wait_for_state(
                state_file,
                lambda s: s["selected"] == [0] and s["prompt_selected"] == [0],
                "selected == [0] in the explorer and its prompt view",
            )
            assert state["words"] == WORDS
            assert shown == pytest.approx(state["values"], abs=1e-6)  # browser == Python
            explorer.screenshot(path=str(artifacts / "prompt_explorer_selected.png"))
            # text only: the prompt view and the curves, no map and no slider
            text_only = page.locator(".ek-explorer[data-ready='true']").nth(1)
            text_only.scroll_into_view_if_needed()
            assert text_only.locator(".ek-prompt-view .ek-prompt-span").count() == len(WORDS)
            assert text_only.locator(".ek-overlay").count() == 0
            assert text_only.locator(".ek-slider").count() == 0
            assert text_only.locator(".ek-curves path.ek-line-insertion").count() == 1
            assert "prompt spans" in text_only.locator(".ek-curves svg").inner_html()
        console.check()
    finally:
        context.close()

    export = lab.root / "prompt_export.html"
    assert export.is_file(), "the fixture notebook did not write prompt_export.html"
    with offline_page(browser, artifacts, "prompt-export") as page:
        page.goto(export.as_uri())
        page.locator("body[data-ready='true']").wait_for(state="attached", timeout=TIMEOUT_MS)
        view = page.locator(".ek-prompt-view")
        assert view.locator(".ek-prompt-span").all_inner_texts() == WORDS
        shown = click_token_and_check(page, view, page.locator(".ek-token").first)
        assert shown == pytest.approx(state["values"], abs=1e-6)  # as in the notebook
        page.screenshot(path=str(artifacts / "prompt_export.png"), full_page=True)
    print(f"prompt view e2e: {time.monotonic() - t0:.1f} s in the browser")
