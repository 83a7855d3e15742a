"""Traits of TokenTimeline, RegionOverlay and AblationSlider, and the errors they raise."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
import xarray as xr

from eagle_kit.widgets import AblationSlider, RegionOverlay, TokenTimeline, decode_array

WIDGETS = [TokenTimeline, RegionOverlay, AblationSlider]


# -- inputs ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", WIDGETS)
def test_accepts_an_explanation_or_its_dataset(cls, expl) -> None:
    a, b = cls(expl), cls(expl.dataset)
    assert a.tokens == b.tokens == ["A", " red", " square", " on", " blue", "."]
    assert decode_array(a.data["insertion"]).shape == (17, 6)


@pytest.mark.parametrize("cls", WIDGETS)
def test_rejects_other_inputs_with_the_fix(cls, expl) -> None:
    with pytest.raises(TypeError, match=r"expects an eagle_kit.Explanation .* got ndarray"):
        cls(np.zeros(3))
    with pytest.raises(TypeError, match=r"use eagle_kit.Explorer\(\[expl_a, expl_b\]\)"):
        cls([expl, expl])
    with pytest.raises(ValueError, match="not an EAGLE explanation: it lacks"):
        cls(xr.Dataset({"image": (("y", "x"), np.zeros((2, 2)))}))


@pytest.mark.parametrize("cls", WIDGETS)
def test_data_is_derived_and_read_only(cls, expl) -> None:
    widget = cls(expl)
    with pytest.raises(traitlets.TraitError, match="derived from the explanation"):
        widget.data = {}


# -- selection ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", WIDGETS)
def test_selection_is_sorted_unique_and_validated(cls, expl) -> None:
    widget = cls(expl)
    widget.selected = [4, 1, 4]
    assert widget.selected == [1, 4]
    with pytest.raises(
        traitlets.TraitError,
        match=r"Token index 6 is out of range: this explanation records 6 tokens \(indices 0..5\)",
    ):
        widget.selected = [1, 6]
    with pytest.raises(traitlets.TraitError, match="Token index -1 is out of range"):
        widget.selected = [-1]
    with pytest.raises(traitlets.TraitError):
        widget.selected = ["red"]  # type: ignore[list-item]
    assert widget.selected == [1, 4]  # unchanged after the errors


def test_select_by_text_or_index(expl) -> None:
    timeline = TokenTimeline(expl)
    timeline.select("red", 4)
    assert timeline.selected == [1, 4]
    with pytest.raises(
        traitlets.TraitError,
        match=r"'cat' is not a word or phrase of the answer.*'A' \(0\), 'red' \(1\)",
    ):
        timeline.select("cat")
    timeline.select()
    assert timeline.selected == []


# -- TokenTimeline -----------------------------------------------------------------------
def test_timeline_carries_reliance_probabilities_and_modality(expl) -> None:
    timeline = TokenTimeline(expl)
    ds = expl.dataset
    d = timeline.data
    np.testing.assert_allclose(decode_array(d["reliance"]), ds["reliance"].values, atol=1e-6)
    np.testing.assert_allclose(decode_array(d["p_black"]), ds["p_black"].values, atol=1e-6)
    np.testing.assert_allclose(decode_array(d["p_full"]), ds["p_full"].values, atol=1e-6)
    np.testing.assert_allclose(decode_array(d["area"]), ds["area"].values, atol=1e-6)
    assert d["modality"] == ["prior", "visual", "visual", "mixed", "visual", "prior"]
    assert d["targets"] == [0, 1, 2, 3, 4, 5]
    assert timeline.k == 4  # a quarter of 16 regions
    with pytest.raises(traitlets.TraitError, match=r"k must be in 0..16 .* got 17"):
        timeline.k = 17


# -- RegionOverlay -----------------------------------------------------------------------
def test_overlay_shows_the_objective_map_until_tokens_are_selected(expl_red) -> None:
    overlay = RegionOverlay(expl_red)
    assert overlay.map_source == "objective"
    np.testing.assert_allclose(overlay.current_map(), expl_red.attribution_map())
    # exactly the objective's target is a token selection too (issue 13 review: the prompt
    # view showed its gain while the overlay stayed on the objective's rank map)
    overlay.selected = [1]
    assert overlay.map_source == "tokens" and overlay.shown_kind == "gain"
    np.testing.assert_allclose(overlay.current_map(), expl_red.attribution_map([1], kind="gain"))
    overlay.selected = [4]
    assert overlay.map_source == "tokens"
    np.testing.assert_allclose(overlay.current_map(), expl_red.token_attribution_map([4]))
    # the blue square gets weight in the blue token's map, none in the objective's (red)
    assert overlay.current_map()[36, 35] > 0.1
    assert expl_red.attribution_map()[36, 35] == 0


def test_overlay_shows_rank_for_the_objective_gain_for_tokens_unless_toggled(expl_red) -> None:
    overlay = RegionOverlay(expl_red)
    assert overlay.map_kind == "auto" and overlay.shown_kind == "rank"
    overlay.selected = [4]
    assert overlay.shown_kind == "gain" and overlay.map_info().kind == "gain"
    np.testing.assert_allclose(overlay.current_map(), expl_red.attribution_map([4], kind="gain"))
    assert overlay.current_map().min() >= 0 and overlay.map_info().span > 0.5  # units: p
    overlay.map_kind = "rank"
    np.testing.assert_allclose(overlay.current_map(), expl_red.attribution_map([4], kind="rank"))
    overlay.selected = []
    overlay.map_kind = "gain"
    np.testing.assert_allclose(overlay.current_map(), expl_red.attribution_map(kind="gain"))
    assert "Gain map" in overlay.map_info().caption()
    with pytest.raises(traitlets.TraitError):
        overlay.map_kind = "effect"


def test_overlay_payload_matches_the_dataset(expl) -> None:
    d = RegionOverlay(expl).data
    ds = expl.dataset
    np.testing.assert_array_equal(decode_array(d["image"]), ds["image"].values)
    np.testing.assert_array_equal(decode_array(d["labels"]), ds["labels"].values)
    assert d["labels"]["dtype"] == "uint16"
    np.testing.assert_array_equal(decode_array(d["order"]), ds["order"].values)
    np.testing.assert_array_equal(decode_array(d["attribution"]), ds["attribution"].values)
    np.testing.assert_array_equal(decode_array(d["objective"]), ds["objective"].values)


def test_overlay_controls_validate(expl) -> None:
    overlay = RegionOverlay(expl, opacity=0.3, colormap="magma")
    assert (overlay.opacity, overlay.colormap) == (0.3, "magma")
    with pytest.raises(traitlets.TraitError, match="opacity"):
        overlay.opacity = 1.5
    with pytest.raises(traitlets.TraitError, match=r"expected any of \['viridis', 'magma'"):
        overlay.colormap = "jet"
    with pytest.raises(traitlets.TraitError, match="frame must be in 0..0"):
        overlay.frame = 1


def test_ground_truth_boxes_and_mask(expl) -> None:
    mask = np.zeros((48, 48), bool)
    mask[4:20, 4:20] = True
    overlay = RegionOverlay(
        expl,
        boxes=[(4, 4, 20, 20, "red square"), {"x0": 26, "y0": 28, "x1": 44, "y1": 44}],
        mask=mask,
    )
    assert overlay.boxes == [
        {"x0": 4.0, "y0": 4.0, "x1": 20.0, "y1": 20.0, "label": "red square"},
        {"x0": 26.0, "y0": 28.0, "x1": 44.0, "y1": 44.0, "label": ""},
    ]
    np.testing.assert_array_equal(decode_array(overlay.mask), mask.astype(np.uint8))
    with pytest.raises(
        traitlets.TraitError,
        match=r"mask has shape \(10, 10\); the image's label map is \(48, 48\)",
    ):
        overlay.mask = np.zeros((10, 10))
    with pytest.raises(traitlets.TraitError, match="Box 0 is empty or flipped"):
        overlay.boxes = [(10, 10, 5, 20)]
    with pytest.raises(traitlets.TraitError, match=r"Box 0 must be \(x0, y0, x1, y1\[, label\]\)"):
        overlay.boxes = [(1, 2, 3)]
    with pytest.raises(traitlets.TraitError, match="Box 0 must have numeric x0, y0, x1, y1"):
        overlay.boxes = [{"x0": 1}]
    overlay.mask = {}  # clearing is allowed
    assert overlay.mask == {}


# -- AblationSlider ----------------------------------------------------------------------
def test_slider_reads_the_recorded_curves_at_k(expl) -> None:
    slider = AblationSlider(expl, k=3, mode="deletion")
    np.testing.assert_array_equal(slider.recorded_probs(), expl.dataset["deletion"].values[3])
    np.testing.assert_array_equal(slider.masked_image(), expl.masked_image(3, "deletion"))
    slider.mode = "insertion"
    np.testing.assert_array_equal(slider.recorded_probs(), expl.dataset["insertion"].values[3])
    for k in (0, 16):
        slider.k = k
    with pytest.raises(traitlets.TraitError, match=r"k must be in 0..16"):
        slider.k = -1
    with pytest.raises(traitlets.TraitError, match=r"expected any of \['insertion', 'deletion'\]"):
        slider.mode = "keep"
    assert slider.has_scorer is False and slider.live is False


# -- video -------------------------------------------------------------------------------
def test_video_frames_are_sent_whole_and_selectable(video_expl) -> None:
    overlay = RegionOverlay(video_expl)
    assert overlay.data["image"]["shape"] == [3, 24, 24, 3]
    assert overlay.data["labels"]["shape"] == [3, 24, 24]
    overlay.frame = 2
    with pytest.raises(traitlets.TraitError, match="frame must be in 0..2"):
        overlay.frame = 3
    slider = AblationSlider(video_expl, k=1)
    assert slider.masked_image().shape == (3, 24, 24, 3)
