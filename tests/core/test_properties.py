"""Invariants of any search on any scorer (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import eagle_kit as ek


@st.composite
def problems(draw):
    n = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**16))
    search = draw(st.sampled_from(["exact", "efficient"]))
    t = draw(st.integers(1, 3))
    return n, seed, search, t


@settings(max_examples=40, deadline=None)
@given(problems())
def test_search_invariants(problem):
    n, seed, search, t = problem
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(n), rng.integers(1, 4, n)))
    width = len(labels)
    img = np.full((2, width, 3), 50, np.uint8)
    w = rng.random((n, t))
    inter = rng.random(t)

    def scorer(images):  # non-additive: a sigmoid of weighted visible regions
        vis = np.stack(
            [[images[b, 0, labels == r, 0].max() > 0 for r in range(n)] for b in range(len(images))]
        )
        z = vis @ w - 0.5 * w.sum(0) + inter * vis.all(axis=1, keepdims=True)
        return 1 / (1 + np.exp(-4 * z))

    rs = ek.RegionSet.from_labels(np.stack([labels, labels]))
    e = ek.explain(
        scorer,
        img,
        regions=rs,
        search=search,
        search_scope=2,
        update_step=2,
        pending_samples=2,
        progress=False,
    )
    d = e.dataset
    assert sorted(e.order.tolist()) == list(range(n))
    area = d["area"].values
    assert area[0] == 0 and area[-1] == 1 and np.all(np.diff(area) > 0)
    for var in ("insertion", "deletion"):
        v = d[var].values
        assert v.shape == (n + 1, t) and v.min() >= 0 and v.max() <= 1
    np.testing.assert_allclose(d["insertion"].values[0], d["deletion"].values[-1])  # black
    np.testing.assert_allclose(d["insertion"].values[-1], d["deletion"].values[0])  # full
    attr = d["attribution"].values
    assert attr.min() >= 0 and attr.max() <= 1
    assert attr[e.order[0]] == 1 and attr[e.order[-1]] == 0
    assert np.all(np.diff(attr[e.order]) <= 1e-12)  # non-increasing along the order
    if search == "exact":
        assert e.n_evaluations <= n * (n + 1)
