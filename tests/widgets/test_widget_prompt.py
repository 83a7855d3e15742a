"""Prompt span features inside the Explorer: the prompt view next to the overlay, linked with
the token selection; text-only explanations; the three-way reading in the timeline; the
static view and the exported page."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_widget_export import read_state

import eagle_kit as ek
from eagle_kit import shapes
from eagle_kit.widgets import Explorer, PromptView, TokenTimeline
from eagle_kit.widgets.export import page_state

PROMPT = "is there a red square ?"


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ek.load_model("shapes")


@pytest.fixture(scope="module")
def scene():
    return shapes.make_scene(950003)


@pytest.fixture(scope="module")
def joint(model, scene) -> ek.Explanation:
    return ek.explain(
        model,
        scene.image,
        prompt=PROMPT,
        answer="yes .",
        regions=ek.segment(scene.image, 4, "grid"),
        text_regions="words",
        search="exact",
        progress=False,
    )


@pytest.fixture(scope="module")
def text_only(model, scene) -> ek.Explanation:
    return ek.explain(
        model,
        scene.image,
        prompt=PROMPT,
        answer="yes .",
        regions="none",
        text_regions="words",
        search="exact",
        progress=False,
    )


def _chip_colours(page: str, expl: ek.Explanation) -> dict[str, str]:
    """word → fill colour of its chip in the ek.plot.prompt figures (SVG) of a page."""
    fills = re.findall(r'<g id="prompt-chip-(\d+)">\s*<path[^>]*style="fill: (#[0-9a-f]{6})', page)
    return {expl.text_spans[int(j)][0]: colour for j, colour in fills}


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def test_explorer_has_a_prompt_view_linked_with_the_selection(joint) -> None:
    explorer = Explorer(joint)
    panel = explorer.panels[0]
    assert isinstance(panel.prompt, PromptView) and panel.has_image_map
    state = explorer._panels[0]
    assert state["prompt"] == f"anywidget:{panel.prompt.model_id}" and state["image_map"] is True
    selected_groups = [g["members"] for g in explorer._links if g["attr"] == "selected"]
    assert any(f"anywidget:{panel.prompt.model_id}" in m for m in selected_groups)
    # no selection: the objective's rank values
    np.testing.assert_allclose(panel.prompt.values(), joint.text_values())
    explorer.selected = [0]
    assert panel.prompt.selected == [0]
    np.testing.assert_allclose(panel.prompt.values(), joint.text_values(0, kind="gain"))
    # both ways: selecting in the prompt view moves the explorer, the overlay and the timeline
    panel.prompt.selected = [1]
    assert explorer.selected == [1] and panel.overlay.selected == [1]
    assert panel.timeline.selected == [1]
    np.testing.assert_allclose(panel.prompt.values(), joint.text_values(1, kind="gain"))
    explorer.close()


def test_explorer_without_text_features_has_no_prompt_view(expl) -> None:
    explorer = Explorer(expl)
    assert explorer.panels[0].prompt is None and explorer._panels[0]["prompt"] == ""
    assert "ek-prompt-span" not in explorer.static_html()
    assert "reliance_image" not in explorer.timeline.data  # the split is sent only when recorded


def test_text_only_explanation_opens_with_prompt_and_curves(text_only) -> None:
    explorer = Explorer(text_only)
    panel = explorer.panels[0]
    assert not panel.has_image_map and panel.prompt is not None
    state = explorer._panels[0]
    assert state["image_map"] is False and "prompt spans" in state["x_label"]
    page = explorer.static_html()
    assert "ek-static-map" not in page and "<img" not in page  # no map over the image
    assert set(_chip_colours(page, text_only)) == set(PROMPT.split())
    assert "fraction of prompt spans revealed / removed</text>" in page  # ek.plot.curves' x label
    assert explorer.static_png().startswith(b"\x89PNG")
    explorer.selected = [0]
    np.testing.assert_allclose(panel.prompt.values(), text_only.text_values(0, kind="gain"))
    plotted = Explorer(text_only, curves="plotly")  # explorer.js titles the x axis with this
    assert plotted._panels[0]["x_label"] == "fraction of the prompt spans inserted / deleted"


def test_static_view_recolours_the_prompt_by_the_selected_tokens(joint) -> None:
    """The static view's prompt strip is ek.plot.prompt of what the prompt view shows: the
    objective's rank values with no selection, the selected tokens' gain otherwise."""
    explorer = Explorer(joint)
    before = explorer.static_html()
    rank = _chip_colours(before, joint)
    assert set(rank) == set(PROMPT.split())
    words_shown = " ".join(" ".join(re.findall(r"<text[^>]*>([^<]*)</text>", before)).split())
    assert "prompt words coloured by their rank value for the objective (METHOD §5)" in words_shown
    assert rank == _chip_colours(ek.plot.to_svg(ek.plot.prompt(joint)), joint)
    explorer.selected = [0]
    after = explorer.static_html()
    gain = _chip_colours(after, joint)
    assert gain != rank
    assert gain == _chip_colours(ek.plot.to_svg(ek.plot.prompt(joint, [0], "gain")), joint)
    assert 'gain in p("yes") (probability)</text>' in after  # the colour bar, in its units
    values = joint.text_values(0, kind="gain")
    top = int(np.argmax(np.abs(values)))
    end = ek.plot.gain_colormap()(1.0 if values[top] > 0 else 0.0)  # the scale's end colour
    assert gain[joint.text_spans[top][0]] == _hex([round(255 * c) for c in end[:3]])
    png_rank, png_gain = Explorer(joint).static_png(), explorer.static_png()
    assert png_rank != png_gain


def test_timeline_shows_the_three_way_reading(joint) -> None:
    timeline = TokenTimeline(joint)
    for name in ("reliance_image", "reliance_prompt", "reliance_prior"):
        got = np.frombuffer(timeline.data[name]["data"], "<f4")
        np.testing.assert_allclose(got, joint.dataset[name].values, atol=1e-6)
    page = Explorer(joint).static_html()
    d = joint.dataset
    first = (
        f"p(full) rests on image {d['reliance_image'].values[0]:+.3f}, "
        f"prompt {d['reliance_prompt'].values[0]:+.3f}, prior {d['reliance_prior'].values[0]:+.3f}"
    )
    assert first in page
    assert "what p(full) rests on" in page


def test_exported_page_links_the_prompt_view(joint, tmp_path: Path) -> None:
    explorer = Explorer(joint)
    prompt = explorer.panels[0].prompt
    state = page_state(explorer)
    assert prompt.model_id in state["models"]
    saved = state["models"][prompt.model_id]["state"]
    assert saved["prompt"] == PROMPT and "promptPieces" in saved["_esm"]
    root = state["models"][explorer.model_id]["state"]
    assert root["_browser_links"] is True
    group = next(g for g in root["_links"] if g["attr"] == "selected" and "self" in g["members"])
    assert f"anywidget:{prompt.model_id}" in group["members"]
    page = explorer.save_html(tmp_path / "joint.html").read_text()
    assert read_state(page)["models"][prompt.model_id]["state"]["spans"][3]["text"] == "red"


@pytest.fixture(scope="module")
def caption(model) -> ek.Explanation:
    """The caption prompt explained for " yellow" " square" (tokens 8, 9): the prompt barely
    moves them (largest span gain ≈ +0.00015, measured)."""
    scene = shapes.make_scene(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = model.generate(scene.image, shapes.CAPTION_PROMPT)
    return ek.explain(
        model,
        scene.image,
        prompt=shapes.CAPTION_PROMPT,
        generation=gen,
        regions="none",
        text_regions="words",
        targets=[8, 9],
        search="exact",
        progress=False,
    )


def test_prompt_view_sends_the_threshold_and_the_gains_it_reads(caption, joint) -> None:
    from eagle_kit.explanation import MIN_MAP_SPAN

    view = PromptView(caption)
    assert view.min_span == MIN_MAP_SPAN  # sent from Python, not a second constant
    np.testing.assert_allclose(view.objective_gains, caption.text_values(kind="gain"))
    assert view.objective_name == 'F("yellow" "square")'
    assert view.tokens == list(caption.tokens)
    # the objective F barely moves with the prompt: no colours, with or without the targets
    assert 0 < np.max(np.abs(view.gains())) < MIN_MAP_SPAN and view.faint()
    view.selected = [8, 9]
    np.testing.assert_allclose(view.gains(), caption.text_values([8, 9], kind="gain"))
    assert view.faint()
    page = view.static_html()
    assert "the prompt barely moves it (under 0.01): no colours" in page
    assert 'the prompt barely moves mean p("yellow" "square")' in page  # the strip's note
    assert '<g id="prompt-chip-' not in page  # no coloured chip in the static strip
    # "yes" rests on "red" and "square" (span gains up to ≈ 0.38): coloured
    strong = PromptView(joint, selected=[0])
    assert np.max(np.abs(strong.gains())) > 0.1 and not strong.faint()
    page = strong.static_html()
    assert "barely moves" not in page and '<g id="prompt-chip-' in page
    assert 'gain in p("yes") (probability)</text>' in page
    strong.selected = [1]  # " ." does not move with the prompt at all
    assert strong.faint() and "barely moves" in strong.static_html()


def test_prompt_view_js_decides_faint_as_plot_prompt(caption, joint) -> None:
    """prompt_view.js (promptColouring on the synced traits) colours exactly when
    ek.plot.prompt does, and reads the same largest span gain."""
    from test_widget_js_parity import PRELUDE, run_node

    cases, expected = [], []
    for expl, selections in ((caption, ([], [8, 9], [0], [12])), (joint, ([], [0], [1], [0, 1]))):
        view = PromptView(expl)
        for sel in selections:
            cases.append(
                {
                    "tokenValues": view.token_values,
                    "objective": view.objective,
                    "objectiveGains": view.objective_gains,
                    "selected": sel,
                    "minSpan": view.min_span,
                    "names": [view.tokens, sel, view.objective_name],
                }
            )
            fig = ek.plot.prompt(expl, sel or None, "gain" if sel else "rank")
            expected.append((fig.ek_faint, fig.ek_max_gain, fig.ek_kind))
    script = (
        PRELUDE
        + "const { promptColouring, promptQuantity } = await import('./prompt_view.js');"
        + "console.log(JSON.stringify(input.map((c) => {"
        + " const s = promptColouring(c);"
        + " return [s.faint, s.maxGain, s.kind, promptQuantity(...c.names)]; })));"
    )
    got = run_node(script, cases)
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert [g[2] for g in got] == [e[2] for e in expected]
    np.testing.assert_allclose([g[1] for g in got], [e[1] for e in expected], atol=1e-9)
    assert [g[0] for g in got] == [True, True, False, True, False, False, True, False]
    names = [g[3] for g in got]
    assert names[:2] == ['F("yellow" "square")', 'mean p("yellow" "square")']
    assert names[5] == 'p("yes")' and names[7] == 'mean p("yes" ".")'
