"""The token reading and curve metrics of explanations with prompt span features (issue 13
review): a jump caused by a span inserted before the image regions must not read as visual.

Every expected value is worked out by hand from a hand-built explanation whose three-way
split and curves are known (see the comments); image-only explanations keep METHOD §6/§8.
"""

from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import metrics
from eagle_kit.colors import PALETTE, hex_to_rgb
from eagle_kit.explanation import Explanation, build_dataset
from eagle_kit.text_regions import TextFeatures

PROMPT = "is there a red square ?"


def _text(spans):
    return TextFeatures(
        spans=spans,
        texts=[PROMPT[a:b] for a, b in spans],
        positions=[np.array([i + 1]) for i in range(len(spans))],
        baseline_id=0,
        baseline_text="<pad>",
    )


def _joint(*, split=True) -> Explanation:
    """2 image regions (left/right halves, area 0.5 each) + 1 span ("red"), order [2, 0, 1]:
    the span is inserted first. Tokens:

    0 "the"   jumps when the span comes in: insertion 0 → 1 → 1 → 1; split full 1, no image 1,
              no prompt 0, neither 0 → image ½[(1−1)+(0−0)] = 0, prompt ½[(1−0)+(1−0)] = 1.
    1 "red"   rises with the image: 0 → 0 → 0.6 → 1; full 1, no image 0, no prompt 1,
              neither 0 → image 1, prompt 0.
    2 "."     flat at 0.9 everywhere → prior 0.9.
    3 "big"   full 0.8, no image 0.5, no prompt 0.5, neither 0.2 → image ½[0.3 + 0.3] = 0.3,
              prompt 0.3, prior 0.2: no part ≥ ½·0.8 → mixed.
    4 "x"     full 0.05, no image 0, no prompt 0.05, neither 0 → image 0.05 (all of it) but
              under 0.1 in probability → mixed.
    """
    image = np.zeros((4, 4, 3), np.uint8)
    regions = ek.segment(image, 2, "grid")
    assert regions.n_regions == 2 and np.allclose(regions.areas, [0.5, 0.5])
    ins = np.array(
        [
            [0.0, 0.0, 0.9, 0.2, 0.0],
            [1.0, 0.0, 0.9, 0.4, 0.0],
            [1.0, 0.6, 0.9, 0.6, 0.02],
            [1.0, 1.0, 0.9, 0.8, 0.05],
        ]
    )
    dele = ins[::-1].copy()
    dele[:, 0] = [1.0, 0.0, 0.0, 0.0]  # removing the span first drops "the" at once
    full = ins[-1]
    s = {
        "p_full": full,
        "p_no_image": np.array([1.0, 0.0, 0.9, 0.5, 0.0]),
        "p_no_prompt": np.array([0.0, 1.0, 0.9, 0.5, 0.05]),
        "p_neither": np.array([0.0, 0.0, 0.9, 0.2, 0.0]),
    }
    ds = build_dataset(
        image=image,
        regions=regions,
        order=np.array([2, 0, 1]),
        insertion=ins,
        deletion=dele,
        objective=np.array([0.0, 1.5, 1.8, 2.0]),
        targets=[0],
        tokens=["the", " red", " .", " big", " x"],
        token_ids=None,
        attrs={"prompt": PROMPT},
        text=_text([(11, 14)]),
        split=s if split else None,
    )
    return Explanation(ds)


def _text_only(*, split=True) -> Explanation:
    """Text only: 2 spans ("red", "square"), one token "yes"; split full 0.9, no image 0.1,
    no prompt 0.7, neither 0.1 → image ½[(0.9−0.1)+(0.7−0.1)] = 0.7, prompt
    ½[(0.9−0.7)+(0.1−0.1)] = 0.1, prior 0.1 → "visual" (0.7 ≥ 0.45 and ≥ 0.1)."""
    ins = np.array([[0.1], [0.5], [0.9]])
    s = {
        "p_full": np.array([0.9]),
        "p_no_image": np.array([0.1]),
        "p_no_prompt": np.array([0.7]),
        "p_neither": np.array([0.1]),
    }
    ds = build_dataset(
        image=np.zeros((4, 4, 3), np.uint8),
        regions=None,
        order=np.array([1, 0]),
        insertion=ins,
        deletion=ins[::-1].copy(),
        objective=np.array([0.0, 1.0, 1.8]),
        targets=[0],
        tokens=["yes"],
        token_ids=None,
        attrs={"prompt": PROMPT},
        text=_text([(11, 14), (15, 21)]),
        split=s if split else None,
    )
    return Explanation(ds)


def test_a_span_inserted_first_is_not_visual_evidence():
    e = _joint()
    # the old reading: I_t over image area = 1.0 for "the" (its jump at zero width counts)
    area = e.dataset["area"].values
    np.testing.assert_allclose(area, [0.0, 0.0, 0.5, 1.0])
    assert np.trapezoid(e.dataset["insertion"].values[:, 0], area) == pytest.approx(1.0)
    np.testing.assert_allclose(e.reliance(), [0.0, 1.0, 0.0, 0.3, 0.05], atol=1e-12)
    assert e.modality() == ["prompt", "visual", "prior", "mixed", "mixed"]
    # stored the same way, so widgets and files read the same values
    np.testing.assert_allclose(e.dataset["reliance"].values, e.reliance())
    assert list(e.dataset["modality"].values) == e.modality()
    np.testing.assert_allclose(e.dataset["reliance_prompt"].values, [1.0, 0.0, 0.0, 0.3, 0.0])
    np.testing.assert_allclose(e.dataset["reliance_prior"].values, [0.0, 0.0, 0.9, 0.2, 0.0])
    np.testing.assert_allclose(metrics.visual_reliance(e), e.reliance())


def test_no_split_means_no_reading_never_the_area_integral():
    e = _joint(split=False)
    assert np.isnan(e.reliance()).all()
    assert e.modality() == ["n/a"] * 5


def test_text_only_reads_the_split_and_n_a_without_it():
    e = _text_only()
    np.testing.assert_allclose(e.reliance(), [0.7])
    assert e.modality() == ["visual"]
    bare = _text_only(split=False)
    assert np.isnan(bare.reliance()).all() and bare.modality() == ["n/a"]


def test_curve_metrics_of_text_features_integrate_over_features():
    e = _joint()
    np.testing.assert_allclose(metrics.curve_x(e), [0, 1 / 3, 2 / 3, 1])
    # insertion of "the": trapezoids of width 1/3 over 0, 1, 1, 1 → 1/6 + 1/3 + 1/3 = 5/6
    # (over image area it was 1.0: the span's jump at zero width counted in full)
    assert metrics.insertion_auc(e) == pytest.approx(5 / 6)
    # deletion 1, 0, 0, 0 against 1 − k/N → 1/6 (over image area: 0)
    assert metrics.deletion_auc(e) == pytest.approx(1 / 6)
    s = e.metrics()
    assert set(s) == {
        "insertion_auc_features",
        "deletion_auc_features",
        "highest_confidence",
        "insertion_auc_features_sensitive",
        "deletion_auc_features_sensitive",
    }
    assert s["insertion_auc_features"] == pytest.approx(5 / 6)
    assert metrics.metric_label("insertion_auc_features") == "insertion AUC (over features)"
    assert metrics.metric_label("deletion_auc_features_sensitive") == (
        "deletion AUC (over features), sensitive tokens"
    )
    assert metrics.metric_label("insertion_auc") == "insertion AUC (over area)"
    assert metrics.insertion_auc([e, e]) == pytest.approx(5 / 6)


def test_area_and_feature_aucs_do_not_average(column_scorer):
    s = column_scorer([0.5, 0.5])
    img = ek.explain(s, s.image(), regions=s.regions(), search="exact", progress=False)
    assert metrics.curve_x_name(img) == "area" and "insertion_auc" in img.metrics()
    with pytest.raises(ValueError, match="different axes"):
        metrics.insertion_auc([img, _joint()])


def test_image_only_reading_is_unchanged(column_scorer):
    s = column_scorer([0.1, 0.4, 0.05, 0.3, 0.15])
    e = ek.explain(s, s.image(), regions=s.regions(), search="exact", progress=False)
    d = e.dataset
    ins = d["insertion"].values
    want = np.trapezoid(ins, d["area"].values, axis=0) - ins.min(axis=0)
    np.testing.assert_allclose(e.reliance(), want)
    np.testing.assert_allclose(metrics.curve_x(e), d["area"].values)


def test_files_of_earlier_versions_are_read_with_the_split(tmp_path):
    e = _joint()
    ds = e.dataset.copy()
    ds["reliance"] = (("token",), np.array([0.67, 1.0, 0.0, 0.4, 0.0]))  # the old area reading
    ds["modality"] = (("token",), np.array(["visual"] * 5))
    path = Explanation(ds).save(tmp_path / "old.nc")
    back = ek.load_explanation(path)
    np.testing.assert_allclose(back.dataset["reliance"].values, [0.0, 1.0, 0.0, 0.3, 0.05])
    assert list(back.dataset["modality"].values)[:3] == ["prompt", "visual", "prior"]


def _chip_colours(html: str) -> list[str]:
    import re

    return re.findall(r'data-modality="[^"]*" style="background:(#[0-9a-f]{6})', html)


def test_notebook_chips_and_legend():
    joint = _joint()
    html = joint._repr_html_()
    assert _chip_colours(joint.caption_html()) == [
        PALETTE["prompt"],
        PALETTE["visual"],
        PALETTE["prior"],
        PALETTE["neutral"],
        PALETTE["neutral"],
    ]
    assert "n/a: no reading" in html and "language prior" in html
    assert "insertion AUC (over features)" in html
    bare = _text_only(split=False)
    assert _chip_colours(bare.caption_html()) == [PALETTE["na"]]  # not the visual red
    assert "n/a: no reading" in bare._repr_html_()


def test_token_strip_figure_colours(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.patches import FancyBboxPatch

    for e, want in (
        (_joint(), ["prompt", "visual", "prior", "neutral", "neutral"]),
        (_text_only(split=False), ["na"]),
        (_text_only(), ["visual"]),
    ):
        fig = ek.plot.tokens(e)
        chips = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
        got = [tuple(round(c * 255) for c in p.get_facecolor()[:3]) for p in chips]
        assert got == [hex_to_rgb(PALETTE[k]) for k in want]
        labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert labels == ["image", "prompt", "language prior", "mixed", "n/a (no reading)"]


def test_metrics_command_on_a_folder_mixing_both_kinds(tmp_path, column_scorer, capsys):
    import csv

    from eagle_kit.cli import main

    s = column_scorer([0.5, 0.5])
    img = ek.explain(s, s.image(), regions=s.regions(), search="exact", progress=False)
    img.save(tmp_path / "a_image.nc")
    _joint().save(tmp_path / "b_joint.nc")
    assert main(["metrics", str(tmp_path)]) == 0
    with open(tmp_path / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["insertion_auc"] != "" and rows[0]["insertion_auc_features"] == ""
    assert rows[1]["insertion_auc"] == "" and float(rows[1]["insertion_auc_features"]) == (
        pytest.approx(5 / 6, abs=1e-4)
    )
    assert "insertion_auc_features" in capsys.readouterr().out
