"""Explorer: composition, links between its parts (both ways), grids, the curves (SVG by
default; one shared plotly figure on request)."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from plotly.callbacks import Points

import eagle_kit as ek
from eagle_kit.widgets import AblationSlider, Explorer, RegionOverlay, TokenTimeline


def test_composes_the_three_widgets_curves_and_metrics(expl) -> None:
    explorer = Explorer(expl, curves="plotly")
    (panel,) = explorer.panels
    assert isinstance(panel.timeline, TokenTimeline)
    assert isinstance(panel.overlay, RegionOverlay)
    assert isinstance(panel.slider, AblationSlider)
    assert explorer.timeline is panel.timeline and explorer.figure is panel.figure
    state = explorer._panels[0]
    assert state["timeline"] == f"anywidget:{panel.timeline.model_id}"
    assert explorer._figure == f"anywidget:{panel.figure.model_id}"
    assert state["title"] == "eagle (exact) · scorer"
    metrics = dict(state["metrics"])
    assert metrics["insertion_auc"] == pytest.approx(expl.metrics()["insertion_auc"])


def test_show_and_the_top_level_name_give_an_explorer(expl) -> None:
    assert isinstance(expl.show(), Explorer)
    assert ek.Explorer is Explorer


@pytest.mark.parametrize("part", ["timeline", "overlay", "slider"])
def test_selection_set_anywhere_reaches_every_part(expl, part: str) -> None:
    explorer = Explorer(expl, curves="svg")
    getattr(explorer, part).selected = [2, 4]
    assert explorer.selected == [2, 4]
    assert (
        explorer.timeline.selected
        == explorer.overlay.selected
        == explorer.slider.selected
        == [2, 4]
    )
    explorer.selected = []
    assert getattr(explorer, part).selected == []


def test_k_and_mode_are_linked_both_ways(expl) -> None:
    explorer = Explorer(expl, curves="svg", k=2, selected=[3])
    assert explorer.slider.k == explorer.timeline.k == 2
    assert explorer.overlay.selected == explorer.slider.selected == [3]
    explorer.slider.k = 9
    assert explorer.k == explorer.timeline.k == 9
    explorer.k = 0
    assert explorer.slider.k == 0
    explorer.slider.mode = "deletion"
    assert explorer.mode == "deletion"


def test_exported_pages_get_the_same_link_groups(expl) -> None:
    explorer = Explorer(expl, curves="svg")
    groups = {g["attr"]: g["members"] for g in explorer._links}
    ref = lambda w: f"anywidget:{w.model_id}"  # noqa: E731
    assert groups["selected"] == [
        "self",
        ref(explorer.timeline),
        ref(explorer.overlay),
        ref(explorer.slider),
    ]
    assert groups["k"] == ["self", ref(explorer.timeline), ref(explorer.slider)]
    assert groups["mode"] == ["self", ref(explorer.slider)]
    assert groups["frame"] == [ref(explorer.overlay), ref(explorer.slider)]


def test_invalid_state_is_rejected_before_it_spreads(expl) -> None:
    explorer = Explorer(expl, curves="svg")
    with pytest.raises(traitlets.TraitError, match="Token index 9 is out of range"):
        explorer.selected = [9]
    with pytest.raises(traitlets.TraitError, match=r"k must be in 0..16"):
        explorer.k = 40
    assert explorer.timeline.selected == [] and explorer.slider.k == 4


def test_plotly_figure_marks_k_and_follows_the_selection(expl) -> None:
    explorer = Explorer(expl, curves="plotly")
    fig = explorer.figure
    area = expl.dataset["area"].values
    explorer.k = 7
    assert fig.layout.shapes[0].x0 == fig.layout.shapes[0].x1 == pytest.approx(area[7])
    np.testing.assert_allclose(fig.data[0].y, expl.curve("insertion"))
    explorer.select(" blue")
    np.testing.assert_allclose(fig.data[0].y, expl.curve("insertion", [4]))
    np.testing.assert_allclose(fig.data[1].y, expl.curve("deletion", [4]))
    assert "'blue'" in fig.layout.title.text and "k = 7" in fig.layout.title.text


def test_clicking_a_curve_point_moves_k_everywhere(expl) -> None:
    explorer = Explorer(expl, curves="plotly")
    trace = explorer.figure.data[0]
    trace._dispatch_on_click(
        Points(point_inds=[11], xs=[0.7], ys=[0.5], trace_name="insertion", trace_index=0), None
    )
    assert explorer.k == explorer.slider.k == explorer.timeline.k == 11


def test_grid_links_only_compatible_panels(expl, expl_red, video_expl) -> None:
    explorer = Explorer(
        {"all tokens": expl, "red only": expl_red, "video": video_expl}, curves="svg"
    )
    a, b, c = explorer.panels
    assert [p.title for p in explorer.panels] == ["all tokens", "red only", "video"]
    b.timeline.selected = [1]  # same tokens: linked across panels
    assert a.overlay.selected == [1] and explorer.selected == [1]
    assert c.timeline.selected == []  # other tokens: independent
    c.timeline.selected = [0]
    assert a.timeline.selected == [1] and c.overlay.selected == c.slider.selected == [0]
    a.slider.k = 5  # same number of regions (16): linked; the video has 27
    assert b.slider.k == 5 and c.slider.k != 5
    c.slider.k = 20
    assert c.timeline.k == 20 and a.slider.k == 5
    explorer.mode = "deletion"  # the mode is shared by all
    assert c.slider.mode == "deletion"


def test_input_errors_list_what_is_accepted(expl) -> None:
    with pytest.raises(TypeError, match=r"an eagle_kit.Explanation, a list of them or a dict"):
        Explorer(42)
    with pytest.raises(ValueError, match="at least one explanation"):
        Explorer([])
    with pytest.raises(ValueError, match=r"one title per explanation: 2 expected"):
        Explorer([expl, expl], titles=["only one"])
    with pytest.raises(
        ValueError, match=r"Unknown curves 'matplotlib'. Choose one of: svg, plotly"
    ):
        Explorer(expl, curves="matplotlib")
    with pytest.raises(
        ValueError, match=r"one scorer \(or None\) per explanation: 2 expected; got 1"
    ):
        Explorer([expl, expl], scorer=[None])


def test_svg_curves_are_the_default_and_need_no_figure(expl) -> None:
    explorer = Explorer(expl)
    assert explorer.figure is None and explorer._figure == ""
    explorer.k = 3  # nothing in Python draws the curves then; the links still work
    assert explorer.slider.k == 3


def test_close_closes_the_parts_and_unlinks_them(expl) -> None:
    explorer = Explorer(expl, curves="plotly")
    parts = [explorer.timeline, explorer.overlay, explorer.slider, explorer.figure]
    explorer.close()
    assert explorer.comm is None and all(w.comm is None for w in parts)
    explorer.timeline.selected = [3]
    assert explorer.overlay.selected == []


def test_video_frame_is_shared_by_overlay_and_slider(video_expl) -> None:
    explorer = Explorer(video_expl, curves="svg")
    explorer.overlay.frame = 2
    assert explorer.slider.frame == 2


def test_plotly_on_request_is_one_figure_for_every_panel(expl, expl_red) -> None:
    """plotly.js travels with each FigureWidget: several panels share one figure."""
    explorer = Explorer({"all": expl, "red": expl_red}, curves="plotly")
    fig = explorer.figure
    assert all(p.figure is fig for p in explorer.panels)
    assert [t.name for t in fig.data] == [
        "all: insertion",
        "all: deletion",
        "red: insertion",
        "red: deletion",
    ]
    explorer.panels[1].slider.k = 9  # same regions: k is linked, both markers move
    area = expl.dataset["area"].values
    assert fig.layout.shapes[0].x0 == fig.layout.shapes[1].x0 == pytest.approx(area[9])
    fig.data[3]._dispatch_on_click(
        Points(point_inds=[2], xs=[0.1], ys=[0.5], trace_name="red: deletion", trace_index=3),
        None,
    )
    assert explorer.panels[1].slider.k == 2 and explorer.k == 2


def test_plotly_y_axis_follows_the_data(expl) -> None:
    """A token whose p stays near 0.05–0.3 is not drawn as a flat line on [0, 1]."""
    explorer = Explorer(expl, curves="plotly")
    explorer.select(" on")  # p from 0.6 to 0.8 on every image
    lo, hi = explorer.figure.layout.yaxis.range
    both = np.concatenate([expl.curve("insertion", [3]), expl.curve("deletion", [3])])
    assert lo <= both.min() and hi >= both.max()
    assert hi - lo < 0.5 and "zoomed" in explorer.figure.layout.yaxis.title.text
