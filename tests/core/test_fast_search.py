"""The fast search (lazy greedy + relative early stop + fresh sweep), traced by hand.

Every expected value below is worked out from the scorer's definition, step by step, in the
comments; the property tests compare with the exact greedy search on synthetic scorers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eagle_kit as ek
from eagle_kit import metrics
from eagle_kit.search import FAST_STALL, FAST_TOLERANCE, TINY_GAP, SearchConfig


class Recorder:
    """Wraps a column scorer and records, per call, the kept columns of each image."""

    def __init__(self, scorer):
        self.scorer = scorer
        self.calls: list[list[tuple[int, ...]]] = []

    def __call__(self, images):
        vis = self.scorer.visible(images)
        self.calls.append([tuple(int(j) for j in np.flatnonzero(v)) for v in vis])
        return self.scorer(images)


def _explain(scorer, image, regions, **kw):
    kw.setdefault("targets", [0])
    kw.setdefault("progress", False)
    kw.setdefault("batch_size", 64)
    return ek.explain(scorer, image, regions=regions, **kw)


def test_the_defaults_are_the_documented_ones():
    assert (FAST_TOLERANCE, TINY_GAP, FAST_STALL) == (0.01, 0.01, 0.05)


def test_fast_on_an_additive_scorer_asks_for_these_images(column_scorer):
    # f = Σ w over visible columns (dyadic weights: every sum is exact); black 0, full 1.
    # F(S) = Σ_S w + 1 − Σ_{not S} w = 2 Σ_S w, so a region's gain is always 2 w.
    s = column_scorer([0.125, 0.5, 0.0625, 0.3125])
    rec = Recorder(s)
    expl = _explain(rec, s.image(), s.regions(), search="fast")
    assert rec.calls == [
        [(), (0, 1, 2, 3)],  # the black and the full image
        # step 0 scores every region: gains 2w = .25, 1, .125, .625 → pick 1 (ins .5)
        [(0,), (1,), (2,), (3,), (1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)],
        # step 1: stale bounds 3 (.625) > 0 (.25) > 2 (.125); re-check 3 alone: .625 beats
        # the next stale bound .25 and is no stall (≥ 0.05·gap) → pick 3 (ins .8125)
        [(1, 3), (0, 2)],
        # step 2: re-check 0: .25 > .125 → pick 0 (ins .9375 < 0.99: no early stop); both of
        # its sets, {0, 1, 3} and {2}, were scored at step 0 (removing 2; keeping 2 alone)
    ]  # the curves' prefixes and their complements are all cached: nothing more
    assert expl.order.tolist() == [1, 3, 0, 2]
    assert expl.n_evaluations == 12
    assert "early_stopped_at" not in expl.dataset.attrs


def test_fast_stops_at_both_ends_and_orders_the_tail_by_stale_bounds(column_scorer):
    s = column_scorer([0.125, 0.0, 0.5, 0.0, 0.0, 0.375])
    rec = Recorder(s)
    expl = _explain(rec, s.image(), s.regions(), search="fast")
    assert rec.calls == [
        [(), (0, 1, 2, 3, 4, 5)],
        # step 0: gains 2w = .25, 0, 1, 0, 0, .75 → pick 2 (ins .5, del .5). No image scores
        # below the black one (0): no deletion sweep for that reason
        [
            (0,),
            (1,),
            (2,),
            (3,),
            (4,),
            (5,),
            (1, 2, 3, 4, 5),
            (0, 2, 3, 4, 5),
            (0, 1, 3, 4, 5),
            (0, 1, 2, 4, 5),
            (0, 1, 2, 3, 5),
            (0, 1, 2, 3, 4),
        ],
        # step 1: re-check 5 (bound .75 > .25): pick 5 → ins .875, del .125
        [(2, 5), (0, 1, 3, 4)],
        # step 2: re-check 0 (.25 > 0): pick 0 → ins 1 = full, del 0 = black: stop after
        # FAST_FRESH_TOP = 3 picks, so the tail holds no top rank and needs no sweep
        [(0, 2, 5), (1, 3, 4)],
        # the tail by stale bound: 1, 3, 4 (all 0: id order). Its curve points keep
        # {0,1,2,5} and {0,1,2,3,5} and remove them ({3,4}, {4}); {0,1,2,3,5} (step 0's
        # "remove 4") and {4} (step 0's "keep 4") are cached. All at both ends: accepted
        [(0, 1, 2, 5), (3, 4)],
        # the curves: every prefix and its complement is cached by now
    ]
    assert expl.order.tolist() == [2, 5, 0, 1, 3, 4]
    assert expl.dataset.attrs["early_stopped_at"] == 3
    assert expl.n_evaluations == 2 + 12 + 2 + 2 + 2
    # the curves are complete and right for every prefix
    cum = np.concatenate([[0], np.cumsum(s.w[expl.order])])
    np.testing.assert_allclose(expl.dataset["insertion"].values[:, 0], cum)
    np.testing.assert_allclose(expl.dataset["deletion"].values[:, 0], 1 - cum)


def test_a_stop_before_three_picks_orders_the_tail_by_a_fresh_sweep(column_scorer):
    # the map's top three ranks lie partly in the tail: it is ordered by fresh scores
    s = column_scorer([0.25, 0.0, 0.75, 0.0, 0.0])
    rec = Recorder(s)
    expl = _explain(rec, s.image(), s.regions(), search="fast")
    assert rec.calls == [
        [(), (0, 1, 2, 3, 4)],
        # step 0: gains 2w = .5, 0, 1.5, 0, 0 → pick 2 (ins .75, del .25)
        [
            (0,),
            (1,),
            (2,),
            (3,),
            (4,),
            (1, 2, 3, 4),
            (0, 2, 3, 4),
            (0, 1, 3, 4),
            (0, 1, 2, 4),
            (0, 1, 2, 3),
        ],
        # step 1: re-check 0 (bound .5 > 0): pick 0 → ins 1 = full, del 0 = black: stop
        # after two picks (< FAST_FRESH_TOP = 3)
        [(0, 2), (1, 3, 4)],
        # the deletion sweep: remove {0, 2} and one of 1, 3, 4 — keep {3,4}, {1,4}, {1,3}
        [(3, 4), (1, 4), (1, 3)],
        # all 0: the tail is 1, 3, 4 (ties by id). Its curve points keep {0,1,2} and
        # {0,1,2,3} (cached: step 0's "remove 4") and remove them ({3,4}: the sweep's;
        # {4}: step 0's "keep 4")
        [(0, 1, 2)],
    ]
    assert expl.order.tolist() == [2, 0, 1, 3, 4]
    assert expl.dataset.attrs["early_stopped_at"] == 2
    assert expl.n_evaluations == 2 + 10 + 2 + 3 + 1


def test_a_stall_rechecks_every_region_and_finds_a_hidden_synergy(column_scorer):
    # Insight only: F = f = Σ w + 0.4·[0 and 2 visible]; w = .5, .03, 0, .02 → full .95.
    s = column_scorer([0.5, 0.03, 0.0, 0.02], bonus=0.4, pair=(0, 2))
    rec = Recorder(s)
    expl = _explain(rec, s.image(), s.regions(), search="fast", lambda2=0.0)
    assert rec.calls == [
        [(), (0, 1, 2, 3)],
        # step 0: gains .5, .03, 0, .02 → pick 0
        [(0,), (1,), (2,), (3,), (1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)],
        # step 1: re-check 1 → .03 beats the stale .02, but .03 < 0.05·.95: a stall, so every
        # stale region is re-checked (3, then 2 by stale bound): 2 now gains .4 → pick 2
        [(0, 1), (2, 3)],
        [(0, 3), (0, 2), (1, 2), (1, 3)],
        # step 2: re-check 1 (.03 > .02) is a stall again; the refresh of step 1 changed the
        # pick, so the next refresh is due now: re-check 3 → still 1. Every set of this step
        # ({0,1,2}, {3}, {0,2,3}, {1}) was scored at step 0: no new image.
    ]
    assert expl.order.tolist() == [0, 2, 1, 3]
    assert expl.n_evaluations == 2 + 8 + 2 + 4
    exact = _explain(s, s.image(), s.regions(), search="exact", lambda2=0.0)
    assert exact.order.tolist() == expl.order.tolist()


def test_stale_bounds_alone_would_miss_that_synergy(column_scorer, monkeypatch):
    import eagle_kit.search as search

    s = column_scorer([0.5, 0.03, 0.0, 0.02], bonus=0.4, pair=(0, 2))
    monkeypatch.setattr(search, "FAST_STALL", 0.0)  # never refresh: plain lazy greedy
    expl = _explain(s, s.image(), s.regions(), search="fast", lambda2=0.0)
    # step 1 picks 1 (.03 > stale .02 of 3), step 2 picks 3 (.02 > stale 0 of 2): 2 comes last
    assert expl.order.tolist() == [0, 1, 3, 2]


def test_a_tiny_gap_ranks_by_one_sweep_and_says_so(column_scorer):
    s = column_scorer([0.001, 0.004, 0.002])  # f(full) − f(black) = .007 < TINY_GAP
    rec = Recorder(s)
    with pytest.warns(UserWarning, match="moves the targets by only"):
        expl = _explain(rec, s.image(), s.regions(), search="fast")
    # one sweep at the empty set: F({α}) = 2w − .007 + ... ordered 1, 2, 0
    assert expl.order.tolist() == [1, 2, 0]
    assert expl.dataset.attrs["early_stopped_at"] == 0
    assert "one sweep" in expl.dataset.attrs["search_note"]
    assert rec.calls[1] == [(0,), (1,), (2,), (1, 2), (0, 2), (0, 1)]
    assert expl.n_evaluations == 2 + 6  # the curve's {1, 2} is the sweep's "remove 0"


def test_exact_and_efficient_never_stop_early_on_a_tiny_gap(column_scorer):
    s = column_scorer([0.001, 0.004, 0.002, 0.001])
    for search in ("exact", "efficient"):
        expl = _explain(s, s.image(), s.regions(), search=search, early_stop=0.5)
        assert "early_stopped_at" not in expl.dataset.attrs


def test_early_stop_is_relative_to_the_gap(column_scorer):
    # f = .5 + .1·Σ w: black .5, full .6 (gap .1). With early_stop = .2 the search stops once
    # insertion ≥ .6 − .02 and deletion ≤ .5 + .02 — an absolute .2 would stop at once.
    s = column_scorer([0.05, 0.4, 0.3, 0.15, 0.1])

    def scorer(images):
        out = s(images)
        out[:, 0] = 0.5 + 0.1 * out[:, 0]
        return out

    expl = _explain(scorer, s.image(), s.regions(), search="exact", early_stop=0.2)
    # insertion after the picks 1, 2, 3: .54, .57, .585 ≥ .58 (deletion .515 ≤ .52): stop
    assert expl.dataset.attrs["early_stopped_at"] == 3
    assert expl.order.tolist() == [1, 2, 3, 4, 0]


def test_efficient_search_stops_early_too(column_scorer):
    s = column_scorer([0.45, 0.3, 0.2, 0.02, 0.012, 0.009, 0.006, 0.003])
    kw = dict(search="efficient", search_scope=3, update_step=2, pending_samples=3)
    full = _explain(s, s.image(), s.regions(), **kw)
    early = _explain(s, s.image(), s.regions(), early_stop=0.1, **kw)
    # forward picks 0 (.45), 1 (.75), 2 (.95 ≥ 1 − .1, deletion .05 ≤ .1): stop after 3
    # forward steps; the middle comes from a fresh sweep, the backward picks stay at the end
    assert early.dataset.attrs["early_stopped_at"] == 3
    assert early.order.tolist() == full.order.tolist() == list(np.argsort(-s.w, kind="stable"))
    assert early.n_evaluations < full.n_evaluations


def test_config_accepts_fast_and_checks_early_stop():
    assert SearchConfig(search="fast").search == "fast"
    assert SearchConfig(search="efficient", early_stop=0.1).early_stop == 0.1
    with pytest.raises(ValueError, match="exact, efficient, fast"):
        SearchConfig(search="lazy")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        SearchConfig(search="fast", early_stop=1.5)
    with pytest.raises(ValueError, match="number"):
        SearchConfig(search="fast", early_stop="0.1")


def test_fast_search_resumes_after_ctrl_c(column_scorer, tmp_path):
    s = column_scorer([0.02, 0.11, 0.07, 0.2, 0.05, 0.15, 0.09, 0.13, 0.03, 0.15 - 1 / 1024])
    ckpt = tmp_path / "run.npz"
    reference = _explain(s, s.image(), s.regions(), search="fast", batch_size=4)
    calls = {"n": 0}

    def scorer(images):  # Ctrl-C during the 5th call
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return s(images)

    kw = dict(search="fast", batch_size=4, checkpoint=ckpt)
    with pytest.raises(ek.SearchInterrupted, match="resume"):
        _explain(scorer, s.image(), s.regions(), **kw)
    assert ckpt.exists()
    resumed = _explain(scorer, s.image(), s.regions(), **kw)
    assert resumed.order.tolist() == reference.order.tolist()
    # before the interrupt: the black and full images, then 3 full batches of the first sweep
    assert resumed.dataset.attrs["resumed_images"] == 2 + 3 * 4
    assert resumed.n_evaluations == reference.n_evaluations  # totals over both parts
    assert not ckpt.exists()


# -- properties against exact greedy -------------------------------------------------------


class Additive:
    """f = b + Σ w over visible columns; dyadic values so every sum is exact in floats."""

    def __init__(self, units, base):
        self.w = np.asarray(units, dtype=float) / 64
        self.base = base / 64
        self.n = len(units)

    def image(self):
        return np.full((2, self.n, 3), 200, np.uint8)

    def regions(self):
        return ek.RegionSet.from_labels(np.arange(self.n)[None].repeat(2, 0))

    def __call__(self, images):
        vis = images[:, 0, :, 0] > 0
        return (self.base + vis @ self.w)[:, None]


@st.composite
def additive_problems(draw):
    n = draw(st.integers(2, 9))
    units = draw(st.lists(st.integers(-4, 12), min_size=n, max_size=n))
    neg = -sum(u for u in units if u < 0)
    pos = sum(u for u in units if u > 0)
    base = draw(st.integers(neg, max(neg, 64 - pos)))
    if base + pos > 64:
        units = [min(u, 0) for u in units]  # keep every probability in [0, 1]
    lambdas = draw(st.sampled_from([(1.0, 1.0), (0.5, 1.0), (2.0, 0.5), (1.0, 0.0), (0.0, 1.0)]))
    return Additive(units, base), lambdas


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(additive_problems())
def test_fast_orders_an_additive_scorer_exactly_as_exact(problem):
    scorer, (l1, l2) = problem
    kw = dict(regions=scorer.regions(), progress=False, lambda1=l1, lambda2=l2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny gaps are part of the draw
        exact = ek.explain(scorer, scorer.image(), search="exact", **kw)
        fast = ek.explain(scorer, scorer.image(), search="fast", **kw)
    assert fast.order.tolist() == exact.order.tolist()


def synergy_scorer(n, seed):
    """Non-additive: a sigmoid of weighted evidence, pairwise synergies, a redundant pair."""
    rng = np.random.default_rng(seed)
    w = rng.gamma(0.5, size=n)
    w /= w.sum()
    pairs = rng.choice(n, size=(max(1, n // 3), 2))
    syn = rng.uniform(0.05, 0.3, size=len(pairs))
    red = rng.choice(n, size=2, replace=False)
    offset, prior = rng.uniform(0.25, 0.6), rng.uniform(0.0, 0.9)

    def scorer(images):
        v = (images[:, 0, :, 0] > 0).astype(float)
        z = v @ w + (v[:, pairs[:, 0]] * v[:, pairs[:, 1]]) @ syn
        z = z + 0.2 * np.maximum(v[:, red[0]], v[:, red[1]])
        return (prior + (1 - prior) / (1 + np.exp(-8 * (z - offset))))[:, None]

    return scorer


# Measured over 3000 draws (seed 0–2999, n = 4 + (7919·seed mod 9)) with this scorer: fast's
# insertion AUC was on average 0.06 % below exact's, worse by more than 1 % in 4.3 % of draws,
# 2.7 % below at the 1st percentile and 13.7 % below at worst (n = 10, seed 1443: a synergy
# hidden while progress did not stall). The per-draw bound is that worst case, rounded up.
INSERTION_TOLERANCE = 0.15


def _ratio(n, seed):
    scorer = synergy_scorer(n, seed)
    image = np.full((2, n, 3), 200, np.uint8)
    regions = ek.RegionSet.from_labels(np.arange(n)[None].repeat(2, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        exact = ek.explain(scorer, image, regions=regions, search="exact", progress=False)
        fast = ek.explain(scorer, image, regions=regions, search="fast", progress=False)
    assert fast.n_evaluations <= exact.n_evaluations + 2 * n
    return metrics.insertion_auc(fast) / metrics.insertion_auc(exact) - 1


@settings(max_examples=60, deadline=None)
@given(st.integers(4, 12), st.integers(0, 10_000))
def test_fast_keeps_insertion_auc_close_to_exact_on_non_additive_scorers(n, seed):
    assert _ratio(n, seed) >= -INSERTION_TOLERANCE


def test_fast_insertion_auc_over_fixed_non_additive_draws():
    # the first 200 of the draws above: mean −0.13 %, 7 % of draws worse by > 1 %, worst −5.4 %
    ratios = np.array([_ratio(4 + (7919 * seed) % 9, seed) for seed in range(200)])
    assert ratios.mean() >= -0.005
    assert (ratios < -0.01).mean() <= 0.10
    assert ratios.min() >= -0.08


# -- the tail check: defer a region, search deeper ------------------------------------------


class SetScorer:
    """Column regions; token 0 is ``f(set of visible columns)``, token 1 a constant."""

    def __init__(self, n, f):
        self.n, self.f = n, f

    def image(self):
        return np.full((2, self.n, 3), 200, np.uint8)

    def regions(self):
        return ek.RegionSet.from_labels(np.arange(self.n)[None].repeat(2, 0))

    def visible(self, images):
        return images[:, 0, :, 0] > 0

    def __call__(self, images):
        vis = self.visible(images)
        p = [self.f({int(j) for j in np.flatnonzero(v)}) for v in vis]
        return np.stack([p, np.full(len(p), 0.9)], axis=1)


def test_a_tail_region_that_lowers_insertion_is_deferred_to_the_end():
    # f = .25 + .5·[0] − .25·[0 and 1 and not 2] − .02·[only 3 visible]: black .25, full .75
    # (gap .5, band .025). The last term puts one image (3 alone, .23) below the black score
    # by 4 % of the gap (more than FAST_DEEPER·1 %), so the tail is ordered by a deletion sweep.
    def f(v):
        return 0.25 + 0.5 * (0 in v) - 0.25 * (0 in v and 1 in v and 2 not in v) - 0.02 * (v == {3})

    s = SetScorer(5, f)
    expl = _explain(s, s.image(), s.regions(), search="fast")
    # step 0: F({0}) = .75 + 1 − .25 = 1.5 beats every other region (≤ .25 + 1 − .5) → pick 0:
    # insertion .75 = full, deletion f({1,2,3,4}) = .25 = black: stop. The sweep removes {0, α}:
    # all .25 (0 is gone), ties in id order → tail 1, 2, 3, 4. Its first curve point {0, 1}
    # scores .5, .25 under the full score (band .025): 1 goes to the end → 2, 3, 4, 1, whose
    # points {0,2}, {0,2,3}, {0,2,3,4} all score .75 and whose deletion points .25: accepted.
    assert expl.order.tolist() == [0, 2, 3, 4, 1]
    assert expl.dataset.attrs["early_stopped_at"] == 1
    # 2 ends + 10 (step 0) + 4 (sweep) + 3 new points of tail 1,2,3,4 ({0,1}, {0,1,2},
    # {3,4}) + 3 of tail 2,3,4,1 ({0,2}, {0,2,3}, {1,4}); the curves are all cached then
    assert expl.n_evaluations == 22
    exact = _explain(s, s.image(), s.regions(), search="exact")
    # exact: 0, then 2 (1.5; 1 only 1.25), 1 (ties 1.5: lowest id), 4 (removing all but 3
    # leaves .23: 1.52 > 1.5), 3
    assert exact.order.tolist() == [0, 2, 1, 4, 3]
    assert metrics.insertion_auc(expl) == pytest.approx(metrics.insertion_auc(exact))
    # exact's deletion curve passes .23 (3 alone) where fast's is at .25: one point, 1/5 wide
    assert metrics.deletion_auc(expl) == pytest.approx(metrics.deletion_auc(exact) + 0.02 / 5)


def test_the_search_goes_on_while_deletion_can_still_fall_below_the_black_score(monkeypatch):
    import eagle_kit.search as search

    # f = .5 + .4·[0] − .3·[2 visible, 0 and 3 not]: black .5, full .9 (gap .4). The black
    # image is not the lowest score: {2} or {1, 2} score .2 — and step 0 sees {2} alone at .2.
    def f(v):
        return 0.5 + 0.4 * (0 in v) - 0.3 * (2 in v and 0 not in v and 3 not in v)

    s = SetScorer(4, f)
    expl = _explain(s, s.image(), s.regions(), search="fast")
    # step 0: F = 1.4, .6, .3, .6 (gains over F(∅) = .6: .8, 0, −.3, 0) → pick 0: insertion
    # .9 = full, deletion f({1,2,3}) = .5 = black. {2} alone scored .2 (75 % of the gap
    # under black): the tail is ordered by a sweep, which finds removing {0, 3} gives
    # f({1,2}) = .2, more than FAST_DEEPER·1 % lower: search on, with 3's bound raised to .3.
    # Step 1: 3 gains .3 (F({0,3}) = .9 + 1 − .2) → pick 3 and check again: the sweep
    # removes {0,3,1} → .2 or {0,3,2} → .5 (none lower than now): tail 1, 2; its point
    # {0,1,3} keeps .9 and removes down to .2: accepted.
    assert expl.order.tolist() == [0, 3, 1, 2]
    assert expl.dataset.attrs["early_stopped_at"] == 2
    exact = _explain(s, s.image(), s.regions(), search="exact")
    assert exact.order.tolist() == expl.order.tolist()
    # without the rule there is no sweep: the tail by stale bound is 1, 3, 2 (0, 0, −.3);
    # its deletion points {2,3} (.5) and {2} (.2) stay in the band: deletion .2 at one
    # point only
    monkeypatch.setattr(search, "FAST_DEEPER", 1e9)
    # (and without the map-top rule, which would sweep after one pick anyway)
    monkeypatch.setattr(search, "FAST_FRESH_TOP", 0)
    shallow = _explain(s, s.image(), s.regions(), search="fast")
    assert shallow.order.tolist() == [0, 1, 3, 2]
    assert metrics.deletion_auc(shallow) > metrics.deletion_auc(expl) + 0.3 / 4 - 1e-9


def test_tail_points_that_fall_below_the_black_score_call_for_the_sweep(monkeypatch):
    import eagle_kit.search as search

    # this rule alone: the map-top rule (a stop before three picks sweeps anyway) is off
    monkeypatch.setattr(search, "FAST_FRESH_TOP", 0)

    # f = .5 + .4·[0] − .3·[2 and 3 visible, 0 and 1 not]: no image of step 0 (one region
    # kept, or one removed) scores under black .5, but the image without {0, 1} does (.2)
    def f(v):
        return 0.5 + 0.4 * (0 in v) - 0.3 * (2 in v and 3 in v and 0 not in v and 1 not in v)

    s = SetScorer(4, f)
    rec = Recorder(s)
    expl = _explain(rec, s.image(), s.regions(), search="fast")
    # step 0: gains .8, 0, 0, 0 → pick 0, both ends reached (.9, .5). Tail by stale bound:
    # 1, 2, 3; its first deletion point {2,3} is .2, 75 % of the gap under the point reached:
    # the sweep (remove {0,1} .2, {0,2} .5, {0,3} .5) finds a removal that deep: search on.
    # Step 1: 1 (bound raised to .3) gains .3 → pick 1; stop again: tail 2, 3 by stale
    # bound (0, 0), point {0,1,2} keeps .9 and removes to {3}, .5: nothing under .2 now.
    assert expl.order.tolist() == [0, 1, 2, 3]
    assert expl.dataset.attrs["early_stopped_at"] == 2
    assert rec.calls == [
        [(), (0, 1, 2, 3)],
        [(0,), (1,), (2,), (3,), (1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)],
        # the tail's points: keep {0,1}, {0,1,2} (cached), remove to {2,3}, {3} (cached)
        [(0, 1), (2, 3)],
        # the sweep keeps {2,3} (cached), {1,3}, {1,2}. Step 1 and the second stop use
        # cached images only
        [(1, 3), (1, 2)],
    ]
    exact = _explain(s, s.image(), s.regions(), search="exact")
    assert exact.order.tolist() == expl.order.tolist()
