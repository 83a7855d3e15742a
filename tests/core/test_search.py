"""The searches against fake scorers whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.search import SearchConfig, estimate_evaluations

W = [0.1, 0.4, 0.05, 0.3, 0.15]  # additive weights, sum 1


def test_exact_greedy_orders_an_additive_scorer_by_weight(column_scorer):
    s = column_scorer(W)
    expl = ek.explain(
        s, s.image(), regions=s.regions(), search="exact", targets=[0], progress=False
    )
    # F(S) = Σ_S w + 1 − Σ_{not S} w = 2 Σ_S w: greedy takes the heaviest column first
    assert expl.order.tolist() == [1, 3, 4, 0, 2]
    # N(N+1) requests; the last two steps ask for sets step 0 already scored (the complements
    # and singletons of the two last regions), which the cache answers: N(N+1) − 4 images.
    assert expl.n_evaluations == 5 * 6 - 4
    np.testing.assert_allclose(expl.dataset["objective"].values, [0, 0.8, 1.4, 1.7, 1.9, 2.0])


def test_attribution_values_follow_marginal_gains(column_scorer):
    s = column_scorer(W)
    expl = ek.explain(
        s, s.image(), regions=s.regions(), search="exact", targets=[0], progress=False
    )
    # C = F (monotone), C_N = 2, C_1 = 0.8: value_k = (2 − C_k) / 1.2
    expected = {1: 1.0, 3: 0.5, 4: 0.25, 0: 0.1 / 1.2, 2: 0.0}
    attr = expl.dataset["attribution"].values
    for region, value in expected.items():
        assert attr[region] == pytest.approx(value)
    amap = expl.attribution_map()
    assert amap.shape == (2, 10)
    assert amap[0, 2] == pytest.approx(1.0) and amap[1, 5] == 0.0


def test_exact_search_finds_a_synergy_the_efficient_scope_misses(column_scorer):
    # Insight only (λ2 = 0): f = Σ w + 0.30·[0, 1 and 5 visible]... see the trace below.
    s = column_scorer([0.25, 0.20, 0.12, 0.06, 0.02, 0.05], bonus=0.30, pair=(0, 1, 5))
    kw = dict(regions=s.regions(), targets=[0], lambda2=0.0, progress=False)
    exact = ek.explain(s, s.image(), search="exact", **kw)
    # step 0: w → 0 (.25); step 1: 1 (.45 vs .37 for 2); step 2: {0,1}+5 = .80 > .57 for 2
    assert exact.order.tolist() == [0, 1, 5, 2, 3, 4]
    eff = ek.explain(
        s, s.image(), search="efficient", search_scope=1, update_step=3, pending_samples=2, **kw
    )
    # Hand trace of the efficient search (scope 1, full update every 3 steps, 2 pending):
    # step 0 (full update): F = w → sorted [0, 1, 2, 3, 5, 4]; pick 0.
    #   backward (first): the worst of step 0's scores other than 0 → drop 4.
    # step 1: scope = [1] → pick 1.
    #   backward: pending = last 2 of [2, 3, 5] = [3, 5];
    #   keep all−{4,3} → .25+.20+.12+.05+.30 = .92; keep all−{4,5} → .63 → drop 3.
    # step 2: scope = [2] → pick 2 (5, the synergy, is outside the scope). One region left: 5.
    # order = forward [0, 1, 2] + [5] + backward reversed [3, 4]
    assert eff.order.tolist() == [0, 1, 2, 5, 3, 4]
    # evaluations: black+full 2, step 0 12, step 1 2, backward 4, step 2 2; the curve's prefixes
    # are all cached ({0,1,2,3,5} = complement of {4}, scored at step 0).
    assert eff.n_evaluations == 22


def test_efficient_search_agrees_with_exact_on_an_additive_scorer(column_scorer):
    s = column_scorer([0.02, 0.11, 0.07, 0.2, 0.05, 0.15, 0.09, 0.13, 0.03, 0.15 - 1e-3])
    kw = dict(regions=s.regions(), targets=[0], progress=False)
    exact = ek.explain(s, s.image(), search="exact", **kw)
    eff = ek.explain(
        s, s.image(), search="efficient", search_scope=3, update_step=2, pending_samples=3, **kw
    )
    assert eff.order.tolist() == exact.order.tolist() == list(np.argsort(-s.w, kind="stable"))
    assert eff.n_evaluations < exact.n_evaluations


def test_curves_are_complete_and_consistent(column_scorer):
    s = column_scorer(W)
    expl = ek.explain(
        s, s.image(), regions=s.regions(), search="efficient", search_scope=2, progress=False
    )
    d = expl.dataset
    cum = np.concatenate([[0], np.cumsum(s.w[expl.order])])
    np.testing.assert_allclose(d["insertion"].values[:, 0], cum)
    np.testing.assert_allclose(d["deletion"].values[:, 0], 1 - cum)
    np.testing.assert_allclose(d["area"].values, np.linspace(0, 1, 6))
    assert d["p_black"].values[0] == 0 and d["p_full"].values[0] == pytest.approx(1)


def test_batched_and_one_by_one_scoring_agree(column_scorer):
    # the efficient search asks for the same images whatever the batch size (the fast
    # search's lazy chunks grow up to batch_size // 2, so its requests depend on it)
    s1, s2 = column_scorer(W), column_scorer(W)
    kw = dict(search="efficient", progress=False)
    a = ek.explain(s1, s1.image(), regions=s1.regions(), batch_size=1, **kw)
    b = ek.explain(s2, s2.image(), regions=s2.regions(), batch_size=64, **kw)
    assert a.order.tolist() == b.order.tolist()
    # the fake scorer's own matmul may differ in the last bit between batch shapes
    np.testing.assert_allclose(
        a.dataset["insertion"].values, b.dataset["insertion"].values, atol=1e-12
    )
    assert s1.images == s2.images  # same distinct images scored
    assert s1.calls == s1.images and s2.calls < s1.calls / 4  # batches, not one by one


def test_batches_never_exceed_batch_size(column_scorer):
    sizes = []
    s = column_scorer(W)

    def scorer(images):
        sizes.append(len(images))
        return s(images)

    ek.explain(scorer, s.image(), regions=s.regions(), search="exact", batch_size=3, progress=False)
    assert max(sizes) == 3


def test_early_stop_stops_expanding_and_keeps_full_curves(column_scorer):
    s = column_scorer([0.6, 0.3, 0.05, 0.03, 0.02])
    kw = dict(regions=s.regions(), targets=[0], search="exact", progress=False)
    full = ek.explain(s, s.image(), **kw)
    early = ek.explain(s, s.image(), early_stop=0.15, **kw)
    # after 2 steps insertion = .9 >= 1 − .15: the rest keep their last-step order
    assert early.dataset.attrs["early_stopped_at"] == 2
    assert early.order.tolist() == full.order.tolist() == [0, 1, 2, 3, 4]
    assert early.n_evaluations < full.n_evaluations
    np.testing.assert_allclose(early.dataset["insertion"].values, full.dataset["insertion"].values)


def test_estimate_matches_the_counted_evaluations_for_64_regions():
    rng = np.random.default_rng(0)
    w = rng.random(64)
    w /= w.sum()
    labels = np.arange(64).reshape(8, 8).repeat(2, 0).repeat(2, 1)
    img = np.full((16, 16, 3), 100, np.uint8)

    def scorer(images):
        vis = images[:, ::2, ::2, 0].reshape(len(images), 64) > 0
        return (vis @ w)[:, None]

    expl = ek.explain(scorer, img, regions=ek.RegionSet(labels), search="efficient", progress=False)
    cfg = SearchConfig()
    est = estimate_evaluations(64, cfg)
    assert abs(expl.n_evaluations - est) / est < 0.1
    assert 1200 < expl.n_evaluations < 1600  # METHOD: about 1412 for N = 64


def test_interrupted_search_resumes_from_its_checkpoint(column_scorer, tmp_path):
    s = column_scorer([0.02, 0.11, 0.07, 0.2, 0.05, 0.15, 0.09, 0.13, 0.03, 0.15])
    ckpt = tmp_path / "run.npz"
    reference = ek.explain(
        s, s.image(), regions=s.regions(), search="exact", batch_size=4, progress=False
    )

    calls = {"n": 0, "stop_at": 8}

    def scorer(images):  # the same scorer both times; Ctrl-C arrives during its 8th call
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt
        return s(images)

    kw = dict(regions=s.regions(), search="exact", batch_size=4, progress=False, checkpoint=ckpt)
    with pytest.raises(ek.SearchInterrupted, match="resume"):
        ek.explain(scorer, s.image(), **kw)
    assert ckpt.exists()
    resumed = ek.explain(scorer, s.image(), **kw)
    assert resumed.order.tolist() == reference.order.tolist()
    # calls before the interrupt: the black and full images (2), then 6 full batches of 4
    assert resumed.dataset.attrs["resumed_images"] == 2 + 6 * 4
    # the cost figures are totals over both parts, as for the uninterrupted run
    for name in ("n_evaluations", "n_search_images", "n_curve_images"):
        assert resumed.dataset.attrs[name] == reference.dataset.attrs[name], name
    # 7 calls completed before the interrupt, the rest after it
    assert resumed.dataset.attrs["n_forward_calls"] == calls["n"] - 1
    assert not ckpt.exists()  # removed once the result exists


def test_checkpoint_of_another_run_is_refused(column_scorer, tmp_path):
    s = column_scorer(W)
    ckpt = tmp_path / "run.npz"

    def scorer(images):
        if len(images) > 2:
            raise KeyboardInterrupt
        return s(images)

    with pytest.raises(ek.SearchInterrupted):
        ek.explain(scorer, s.image(), regions=s.regions(), progress=False, checkpoint=ckpt)
    other = s.image()
    other[0, 0] = 1
    with pytest.raises(ValueError, match="another run"):
        ek.explain(scorer, other, regions=s.regions(), progress=False, checkpoint=ckpt)


def test_fills(column_scorer):
    s = column_scorer(W)
    seen = []

    def scorer(images):
        seen.append(images.copy())
        return s(images)

    ek.explain(scorer, s.image(), regions=s.regions(), fill=(10, 20, 30), progress=False)
    first = seen[0][0]  # the black image, in the chosen fill
    assert (first.reshape(-1, 3) == [10, 20, 30]).all()
