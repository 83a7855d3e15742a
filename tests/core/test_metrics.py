"""Every metric against values computed by hand (see the comments)."""

from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import metrics

W = [0.1, 0.4, 0.05, 0.3, 0.15]


@pytest.fixture
def expl(column_scorer):
    s = column_scorer(W)
    return ek.explain(
        s, s.image(), regions=s.regions(), search="exact", targets=[0], progress=False
    )


def test_insertion_and_deletion_auc(expl):
    # insertion: area 0, .2, …, 1 against f = 0, .4, .7, .85, .95, 1 (trapezoids of width .2)
    assert metrics.insertion_auc(expl) == pytest.approx(0.2 * (0.2 + 0.55 + 0.775 + 0.9 + 0.975))
    # deletion: 1 − that cumulative sum: 1, .6, .3, .15, .05, 0
    assert metrics.deletion_auc(expl) == pytest.approx(0.2 * (0.8 + 0.45 + 0.225 + 0.1 + 0.025))


def test_highest_confidence_and_aggregation(expl, column_scorer):
    s = column_scorer([0.5, 0.2, 0.1, 0.1, 0.05])  # f(full) = 0.95
    other = ek.explain(
        s, s.image(), regions=s.regions(), search="exact", targets=[0], progress=False
    )
    assert metrics.average_highest_confidence(expl) == pytest.approx(1.0)
    assert metrics.average_highest_confidence([expl, other]) == pytest.approx((1.0 + 0.95) / 2)
    assert metrics.insertion_auc([expl, other]) == pytest.approx(
        (metrics.insertion_auc(expl) + metrics.insertion_auc(other)) / 2
    )


def test_sensitive_tokens_and_their_variants(expl):
    # token 0 rises from 0 to 1 (> 0.2): sensitive; token 1 is a constant 0.9: not
    assert metrics.sensitive_tokens(expl) == [0]
    assert metrics.insertion_auc(expl, "sensitive") == pytest.approx(metrics.insertion_auc(expl))
    assert metrics.insertion_auc(expl, "all") == pytest.approx((0.68 + 0.9) / 2)


def test_sensitive_variant_is_nan_without_sensitive_tokens(column_scorer):
    s = column_scorer([0.05, 0.05, 0.05, 0.05, 0.05])  # f(full) − f(black) = 0.25 …
    e = ek.explain(s, s.image(), regions=s.regions(), targets=[1], progress=False)
    assert metrics.sensitive_tokens(e, threshold=0.3) == []
    e.dataset["p_full"].values[0] = 0.1  # … and with the gain removed, none is sensitive
    assert np.isnan(metrics.insertion_auc(e, "sensitive"))


def test_visual_reliance(expl):
    rel = metrics.visual_reliance(expl)
    # I_0 = AUC − min = 0.68 − 0; the constant token: 0.9 − 0.9 = 0
    np.testing.assert_allclose(rel, [0.68, 0.0], atol=1e-12)
    assert expl.modality() == ["visual", "prior"]


def _grid_expl(best_cell: int):
    """A 32×32 image in a 4×4 grid; the scorer only cares about ``best_cell``."""
    img = np.full((32, 32, 3), 120, np.uint8)
    regions = ek.segment(img, 16, "grid")
    weights = np.full(16, 0.01)
    weights[best_cell] = 0.85

    def scorer(images):
        vis = images[:, 4::8, 4::8, 0].reshape(len(images), 16) > 0
        return (vis @ weights)[:, None]

    return ek.explain(scorer, img, regions=regions, search="exact", progress=False)


def test_point_game_box_and_mask():
    e = _grid_expl(best_cell=6)  # row 1, col 2: pixels y 8..15, x 16..23
    assert e.order[0] == 6
    assert metrics.point_game(e, box=(16, 8, 24, 16)) == 1.0
    assert metrics.point_game(e, box=(0, 0, 8, 8)) == 0.0
    mask = np.zeros((32, 32), bool)
    mask[8:16, 16:24] = True
    assert metrics.point_game(e, mask=mask) == 1.0
    assert metrics.point_game(e, mask=~mask) == 0.0
    assert metrics.point_game(e, box=(16, 8, 24, 16), smooth=None) == 1.0  # smoothed display map
    assert metrics.point_game([e, e], box=[(16, 8, 24, 16), (0, 0, 8, 8)]) == 0.5
    with pytest.raises(ValueError, match="exactly one"):
        metrics.point_game(e)


def test_amcr_and_csr_count_never_corrected_samples():
    samples = [0.05, 0.2, None, 0.1]
    assert metrics.amcr(samples) == pytest.approx((0.05 + 0.2 + 1.0 + 0.1) / 4)
    # corrected within 10 %: 0.05 and 0.1 → 2 of 4 (the reference would say 2 of 3)
    assert metrics.csr(samples) == pytest.approx(0.5)
    corr = [metrics.Correction(True, 1, 0.05), metrics.Correction(False, 4, 1.0)]
    assert metrics.amcr(corr) == pytest.approx(0.525)
    assert metrics.csr(corr) == pytest.approx(0.5)


def test_mitigate_removes_the_lowest_ranked_regions_until_the_answer_flips(expl):
    # order [1, 3, 4, 0, 2]: the answer is "yes" while column 0 (rank 4 of 5) is visible
    def answer(img):
        return "Yes." if img[0, 0, 0] > 0 else "No, there is not."

    c = metrics.mitigate(expl, answer, "no")
    assert c.corrected and c.n_removed == 2  # removes 2, then 0
    assert c.area_removed == pytest.approx(0.4)
    # the unmodified image first (METHOD §7), then one answer per removal
    assert c.answers == ["Yes.", "Yes.", "No, there is not."]
    never = metrics.mitigate(expl, lambda img: "yes", "no")
    assert not never.corrected and never.area_removed == 1.0 and never.n_removed == 4
    capped = metrics.mitigate(expl, answer, "no", max_area=0.3)
    assert not capped.corrected and capped.n_removed == 1


def test_score_saliency_matches_eagle_when_the_map_ranks_the_same_regions(expl, column_scorer):
    s = column_scorer(W)
    saliency = np.repeat(np.asarray(W), 2)[None].repeat(2, 0)  # each column's weight
    sal = ek.score_saliency(s, s.image(), saliency, n_steps=5, targets=[0], progress=False)
    assert metrics.insertion_auc(sal) == pytest.approx(metrics.insertion_auc(expl))
    assert metrics.deletion_auc(sal) == pytest.approx(metrics.deletion_auc(expl))
    assert sal.dataset.attrs["method"] == "saliency"
    flat = ek.score_saliency(s, s.image(), -saliency, n_steps=5, targets=[0], progress=False)
    assert metrics.insertion_auc(flat) < metrics.insertion_auc(sal)


def test_rank_correlation(expl):
    m = expl.attribution_map()
    assert metrics.rank_correlation(m, m) == pytest.approx(1.0)
    assert metrics.rank_correlation(m, -m) == pytest.approx(-1.0)


def test_baselines_score_on_the_same_curves(expl, column_scorer):
    from eagle_kit import baselines

    s = column_scorer(W)
    occ = baselines.occlusion(s, s.image(), s.regions(), targets=[0], progress=False)
    assert occ.order.tolist() == [1, 3, 4, 0, 2]  # additive: removal drop = weight
    assert occ.dataset.attrs["method"] == "occlusion"
    assert metrics.insertion_auc(occ) == pytest.approx(metrics.insertion_auc(expl))
    rnd = baselines.random_order(s, s.image(), s.regions(), targets=[0], progress=False)
    assert sorted(rnd.order.tolist()) == [0, 1, 2, 3, 4]
    assert metrics.insertion_auc(rnd) <= metrics.insertion_auc(expl) + 1e-12
    ri = baselines.rise(s, s.image(), s.regions(), targets=[0], n_masks=400, progress=False)
    assert ri.order[0] == 1  # the heaviest column stands out even in random masks
    with pytest.raises(ValueError, match="permutation"):
        ek.score_order(s, s.image(), s.regions(), [0, 0, 1, 2, 3])


def test_point_game_breaks_ties_of_the_map_by_rank(column_scorer):
    # all the gain comes at the last step: every region before it has value 1 (a tie);
    # the top region is the first in the order, not the lowest region id
    s = column_scorer([0.0, 0.0, 0.0, 0.0, 0.0], bonus=1.0, pair=(0, 1, 2, 3, 4))
    img = np.full((2, 10, 3), 200, np.uint8)
    order = [3, 0, 1, 2, 4]
    e = ek.score_order(s, img, s.regions(), order, targets=[0], progress=False)
    assert (e.dataset["attribution"].values[[3, 0, 1, 2]] == 1).all()
    assert metrics.max_location(e)[1] in (6, 7)  # column 3 = pixels 6..7
