"""Widgets with prompt span features (issue 13 review): the payload carries the split's
reading (never the area integral), "n/a" tokens get the neutral grey, and selecting the one
token of an answer switches the overlay to the same gain map the prompt view shows."""

from __future__ import annotations

import re

import numpy as np

import eagle_kit as ek
from eagle_kit.explanation import Explanation, build_dataset
from eagle_kit.text_regions import TextFeatures
from eagle_kit.widgets import Explorer, RegionOverlay, TokenTimeline
from eagle_kit.widgets._encoding import decode_array
from eagle_kit.widgets.static import prompt_state, static_html

PROMPT = "is there a red square ?"


def _yes(*, split: bool = True) -> Explanation:
    """One token "yes", 2 image regions + the span "red", order [2, 0, 1] (span first):
    p(yes) 0 → 0.8 → 0.9 → 1.0. Split full 1.0, no image 0.9, no prompt 0.1, neither 0
    → image ½[(1 − 0.9) + (0.1 − 0)] = 0.1, prompt ½[(1 − 0.1) + (0.9 − 0)] = 0.9, prior 0:
    "prompt". Over image area I_t would be ½(0.8 + 0.9)·½ + ½(0.9 + 1)·½ − 0 = 0.9 ("visual"):
    the span's jump at zero width counted."""
    image = np.zeros((4, 4, 3), np.uint8)
    ins = np.array([[0.0], [0.8], [0.9], [1.0]])
    split_p = {
        "p_full": np.array([1.0]),
        "p_no_image": np.array([0.9]),
        "p_no_prompt": np.array([0.1]),
        "p_neither": np.array([0.0]),
    }
    ds = build_dataset(
        image=image,
        regions=ek.segment(image, 2, "grid"),
        order=np.array([2, 0, 1]),
        insertion=ins,
        deletion=ins[::-1].copy(),
        objective=np.array([0.0, 1.6, 1.8, 2.0]),
        targets=[0],
        tokens=["yes"],
        token_ids=None,
        attrs={"prompt": PROMPT, "answer": "yes"},
        text=TextFeatures(
            spans=[(11, 14)],
            texts=["red"],
            positions=[np.array([3])],
            baseline_id=0,
            baseline_text="<pad>",
        ),
        split=split_p if split else None,
    )
    return Explanation(ds)


def test_payload_reads_the_split_not_the_area_integral() -> None:
    e = _yes()
    area = e.dataset["area"].values
    old = np.trapezoid(e.dataset["insertion"].values[:, 0], area)  # 0.9: what the chip showed
    assert abs(old - 0.9) < 1e-12
    d = TokenTimeline(e).data
    assert d["reading"] == "split"
    assert d["modality"] == ["prompt"]
    np.testing.assert_allclose(decode_array(d["reliance"]), [0.1], atol=1e-6)
    bare = TokenTimeline(_yes(split=False)).data
    assert bare["modality"] == ["n/a"] and np.isnan(decode_array(bare["reliance"])).all()


def test_selecting_the_one_answer_token_switches_the_overlay_to_gain() -> None:
    e = _yes()
    overlay = RegionOverlay(e)
    assert overlay.map_source == "objective" and overlay.shown_kind == "rank"
    overlay.selected = [0]  # exactly the targets: was still the objective's rank map
    assert overlay.map_source == "tokens" and overlay.shown_kind == "gain"
    # gain per region: region 0 +0.1, region 1 +0.1 (image), the span +0.8
    np.testing.assert_allclose(e.region_values([0], kind="gain"), [0.1, 0.1, 0.8])
    np.testing.assert_allclose(overlay.current_map(), np.full((4, 4), 0.1))


def test_static_view_of_a_one_token_selection_shows_gain_everywhere() -> None:
    explorer = Explorer(_yes(), curves="svg")
    explorer.select("yes")
    (panel,) = explorer.panels
    assert prompt_state(panel) == ([0], "gain")
    page = static_html(explorer)
    kinds = dict(re.findall(r'ek-static-(\w+)" data-kind="(\w+)"', page))
    assert kinds.get("map") == "gain" and kinds.get("prompt") == "gain", kinds
    assert "insertion AUC (over features)" in page
    assert "insertion AUC (over area)" not in page


def test_explorer_curves_use_the_axis_of_the_aucs() -> None:
    explorer = Explorer(_yes(), curves="svg")
    (panel,) = explorer.panels
    data = panel.slider.data
    np.testing.assert_allclose(decode_array(data["curve_x"]), [0, 1 / 3, 2 / 3, 1], atol=1e-6)
    np.testing.assert_allclose(decode_array(data["area"]), [0, 0, 0.5, 1], atol=1e-6)
    state = explorer._panels[0]
    assert state["x_label"] == "fraction of the features (regions + spans) inserted / deleted"
    metrics = dict(state["metrics"])
    # p(yes) 0, 0.8, 0.9, 1 over k/N: (0.4 + 0.85 + 0.95) / 3 = 0.7333 (over area: 0.9)
    assert abs(metrics["insertion_auc_features"] - 2.2 / 3) < 1e-9
    assert "insertion_auc" not in metrics
