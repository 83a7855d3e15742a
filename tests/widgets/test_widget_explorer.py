"""Explorer: composition, links between its parts (both ways), grids, the curves (SVG by
default; plotly charts on request, plotly.js in one model per kernel)."""

from __future__ import annotations

import pytest
import traitlets

import eagle_kit as ek
from eagle_kit.widgets import AblationSlider, Explorer, RegionOverlay, TokenTimeline
from eagle_kit.widgets._plotly import PlotlyLibrary, plotly_library


def test_composes_the_three_widgets_curves_and_metrics(expl) -> None:
    explorer = Explorer(expl, curves="plotly")
    (panel,) = explorer.panels
    assert isinstance(panel.timeline, TokenTimeline)
    assert isinstance(panel.overlay, RegionOverlay)
    assert isinstance(panel.slider, AblationSlider)
    assert explorer.timeline is panel.timeline and explorer.curves == "plotly"
    state = explorer._panels[0]
    assert state["timeline"] == f"anywidget:{panel.timeline.model_id}"
    assert explorer._plotly == f"anywidget:{plotly_library().model_id}"
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


def test_svg_curves_are_the_default_and_need_no_plotly(expl) -> None:
    explorer = Explorer(expl)
    assert explorer.curves == "svg" and explorer._plotly == ""
    explorer.k = 3  # nothing in Python draws the curves then; the links still work
    assert explorer.slider.k == 3


def test_close_closes_the_parts_and_unlinks_them(expl) -> None:
    explorer = Explorer(expl, curves="plotly")
    parts = [explorer.timeline, explorer.overlay, explorer.slider]
    explorer.close()
    assert explorer.comm is None and all(w.comm is None for w in parts)
    assert plotly_library().comm is not None  # shared by other explorers: left open
    explorer.timeline.selected = [3]
    assert explorer.overlay.selected == []


def test_video_frame_is_shared_by_overlay_and_slider(video_expl) -> None:
    explorer = Explorer(video_expl, curves="svg")
    explorer.overlay.frame = 2
    assert explorer.slider.frame == 2


def test_plotly_explorers_share_one_plotly_js_model(expl, expl_red) -> None:
    """anywidget saves each widget's module with it: plotly.js in every explorer would be
    saved once per explorer. One model per kernel carries it; every explorer refers to it."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    first = Explorer({"all": expl, "red": expl_red}, curves="plotly")
    second = Explorer(expl, curves="plotly")
    library = plotly_library()
    assert isinstance(library, PlotlyLibrary)
    assert first._plotly == second._plotly == f"anywidget:{library.model_id}"
    assert library.source == get_plotlyjs() and library.version == get_plotlyjs_version()
    assert len(library.source) > 1_000_000
    # nothing else carries a plotting library: every module of ours is small
    for part in (first, *(w for p in first.panels for w in (p.timeline, p.overlay, p.slider))):
        assert len(part._esm) < 500_000
    # a closed library (e.g. all widgets closed) is made again on next use
    library.close()
    third = Explorer(expl, curves="plotly")
    assert plotly_library() is not library and third._plotly.endswith(plotly_library().model_id)
