"""eagle_kit against an independent implementation of METHOD.md (``reference_method.py``).

The scorers are synthetic and deliberately non-additive (products, maxima, pairwise
interactions over region indicators), so that the order of the searches depends on their
exact rules. Orders, curves, maps and the images asked for must be identical.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_method as ref

import eagle_kit as ek
from eagle_kit import metrics
from eagle_kit.search import SearchConfig, estimate_evaluations

KINDS = ("interaction", "product", "max")


def _jitter(bits: int, seed: int) -> float:
    """A fixed pseudo-random number in [0, 1) per (subset, seed): breaks exact ties."""
    h = (bits * 0x9E3779B97F4A7C15 + seed * 0xBF58476D1CE4E5B9) % (1 << 64)
    h ^= h >> 31
    h = (h * 0x94D049BB133111EB) % (1 << 64)
    return (h >> 11) / float(1 << 53)


def make_f(kind: str, n: int, seed: int, n_tokens: int = 2):
    """``f(visible (n,) bool) -> (n_tokens,)`` probabilities, non-additive in the regions."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_tokens, n))
    pairs = rng.integers(0, n, size=(n, 2))
    pw = 2.0 * rng.normal(size=(n_tokens, n))
    groups = [rng.choice(n, size=max(2, n // 3), replace=False) for _ in range(n_tokens * 2)]
    q = rng.uniform(0.2, 0.9, size=n)

    def f(vis: np.ndarray) -> np.ndarray:
        v = vis.astype(float)
        bits = int(sum(1 << int(i) for i in np.flatnonzero(vis)))
        if kind == "interaction":  # logistic of linear + pairwise products
            z = w @ v + pw @ (v[pairs[:, 0]] * v[pairs[:, 1]]) - 0.5 * v.sum() / math.sqrt(n)
            p = 1 / (1 + np.exp(-z))
        elif kind == "product":  # an AND of noisy-ORs: each group needs one of its regions
            ors = np.array([1 - np.prod(1 - q[g] * v[g]) for g in groups])
            p = np.array([ors[2 * t] * ors[2 * t + 1] for t in range(n_tokens)])
        else:  # the strongest visible region, plus a weak pairwise term
            m = np.abs(w) * v
            p = 0.8 * m.max(axis=1) / np.abs(w).max(axis=1)
            p = p + 0.1 * (v[pairs[:, 0]] * v[pairs[:, 1]]).mean()
        p = np.clip(0.98 * p + 0.01, 0, 1)
        return p + 1e-6 * _jitter(bits, seed)

    return f


class ColumnImageScorer:
    """Images ``2×N`` whose column j is region j; scores the columns that are not black."""

    def __init__(self, f, n: int):
        self.f, self.n = f, n
        self.calls = 0
        self.batches: list[int] = []
        self.asked: list[frozenset] = []

    def image(self) -> np.ndarray:
        return np.full((2, self.n, 3), 200, np.uint8)

    def regions(self) -> ek.RegionSet:
        return ek.RegionSet.from_labels(np.arange(self.n)[None].repeat(2, 0))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.batches.append(len(images))
        vis = images[:, 0, :, 0] > 0
        self.asked.extend(frozenset(np.flatnonzero(row).tolist()) for row in vis)
        return np.stack([self.f(row) for row in vis])


def set_f(f, n):
    """The reference's scorer interface: a frozenset of kept regions."""

    def g(kept: frozenset) -> np.ndarray:
        vis = np.zeros(n, dtype=bool)
        vis[list(kept)] = True
        return f(vis)

    return g


def _compare(expl: ek.Explanation, r: ref.Result, scorer: ColumnImageScorer) -> None:
    d = expl.dataset
    assert expl.order.tolist() == r.order
    np.testing.assert_allclose(d["insertion"].values[0], r.black, rtol=0, atol=1e-15)
    np.testing.assert_allclose(d["insertion"].values[1:], r.insertion, rtol=0, atol=1e-15)
    np.testing.assert_allclose(d["deletion"].values[0], r.full, rtol=0, atol=1e-15)
    np.testing.assert_allclose(d["deletion"].values[1:], r.deletion, rtol=0, atol=1e-15)
    np.testing.assert_allclose(d["objective"].values[1:], r.objective, rtol=0, atol=1e-12)
    f0 = float(np.mean(r.black)) + 1 - float(np.mean(r.full))
    np.testing.assert_allclose(
        d["attribution"].values, ref.rank_values(r.order, r.objective, f0), atol=1e-12
    )
    # every image once, and exactly the images the method asks for
    assert len(scorer.asked) == len(set(scorer.asked))
    assert set(scorer.asked) == r.search_images | r.curve_images
    assert d.attrs["n_search_images"] == len(r.search_images)
    assert d.attrs["n_curve_images"] == len(r.curve_images)
    assert d.attrs["n_evaluations"] == len(r.search_images) + len(r.curve_images)


CASES = [
    # (N, search_scope, pending_samples, update_step)
    (6, 10, 8, 5),
    (6, 2, 2, 2),
    (9, 3, 2, 3),
    (9, 10, 8, 5),
    (13, 4, 3, 2),
    (13, 10, 8, 5),
    (20, 10, 8, 5),
    (20, 5, 4, 3),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("n", "scope", "pending", "update"), CASES)
def test_efficient_search_matches_the_independent_implementation(
    kind, seed, n, scope, pending, update
):
    f = make_f(kind, n, seed)
    scorer = ColumnImageScorer(f, n)
    opts = dict(search_scope=scope, pending_samples=pending, update_step=update)
    expl = ek.explain(
        scorer,
        scorer.image(),
        regions=scorer.regions(),
        search="efficient",
        batch_size=7,
        progress=False,
        **opts,
    )
    r = ref.efficient_greedy(set_f(f, n), n, **opts)
    _compare(expl, r, scorer)
    # the estimate counts the search's requests; cache hits can only make it smaller
    est = estimate_evaluations(n, SearchConfig(**opts))
    assert len(r.search_images) <= est <= len(r.search_images) + 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [6, 9, 13])
def test_exact_search_matches_the_independent_implementation(kind, n):
    f = make_f(kind, n, seed=n)
    scorer = ColumnImageScorer(f, n)
    expl = ek.explain(
        scorer,
        scorer.image(),
        regions=scorer.regions(),
        search="exact",
        lambda2=0.5,
        progress=False,
    )
    r = ref.exact_greedy(set_f(f, n), n, lam2=0.5)
    _compare(expl, r, scorer)
    assert r.curve_images == set()  # exact greedy scores every prefix on its way


def _differs_without_the_rule():
    """(kind, seed, n, scope, pending, update) cases where dropping the §4 rule changes
    the order, found with the independent implementation alone."""
    out = []
    for kind in KINDS:
        for seed in range(4):
            for n, scope, pending, update in CASES:
                g = set_f(make_f(kind, n, seed), n)
                opts = dict(search_scope=scope, pending_samples=pending, update_step=update)
                with_rule = ref.efficient_greedy(g, n, **opts).order
                without = ref.efficient_greedy(g, n, backward_rule=False, **opts).order
                if with_rule != without:
                    out.append((kind, seed, n, scope, pending, update))
    return out


def test_the_pending_samples_rule_decides_the_middle_of_the_order():
    cases = _differs_without_the_rule()
    assert len(cases) >= 5  # the rule matters on non-additive scorers
    for kind, seed, n, scope, pending, update in cases[:6]:
        f = make_f(kind, n, seed)
        scorer = ColumnImageScorer(f, n)
        opts = dict(search_scope=scope, pending_samples=pending, update_step=update)
        kw = dict(regions=scorer.regions(), search="efficient", progress=False)
        expl = ek.explain(scorer, scorer.image(), **kw, **opts)
        without = ref.efficient_greedy(set_f(f, n), n, backward_rule=False, **opts)
        with_rule = ref.efficient_greedy(set_f(f, n), n, **opts)
        assert expl.order.tolist() == with_rule.order != without.order


def test_the_reference_defaults_with_64_regions_cost_about_1412_forwards():
    n = 64
    f = make_f("interaction", n, seed=3, n_tokens=1)
    r = ref.efficient_greedy(set_f(f, n), n)
    est = estimate_evaluations(n, SearchConfig())
    assert len(r.search_images) <= est <= len(r.search_images) + 4
    assert abs(est - 1412) <= 30  # METHOD §4: "about 1412 forwards for N = 64"


# -- cost figures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "curve_images"),
    [
        # the efficient search scores every prefix and its complement on its way
        ({"search": "efficient"}, False),
        # an early stop leaves the prefixes after the stop to the curves
        ({"search": "exact", "early_stop": 0.3}, True),
    ],
)
def test_cost_figures_add_up_and_count_batches(options, curve_images):
    n = 13
    f = make_f("product", n, seed=5)
    scorer = ColumnImageScorer(f, n)
    expl = ek.explain(
        scorer, scorer.image(), regions=scorer.regions(), batch_size=5, progress=False, **options
    )
    a = expl.dataset.attrs
    assert a["n_search_images"] + a["n_curve_images"] == a["n_evaluations"] == len(scorer.asked)
    assert (a["n_curve_images"] > 0) == curve_images
    assert a["n_forward_calls"] == scorer.calls
    assert all(b <= 5 for b in scorer.batches)
    assert a["resumed_images"] == 0
    assert a["prepare_seconds"] >= 0 and a["search_seconds"] > 0
    assert a["seconds"] == pytest.approx(a["prepare_seconds"] + a["search_seconds"], abs=2e-4)
    assert "forward calls" in expl.summary()


def test_a_resumed_run_reports_the_totals_of_an_uninterrupted_one(tmp_path):
    n = 20
    f = make_f("interaction", n, seed=7)
    whole_scorer = ColumnImageScorer(f, n)
    kw = dict(regions=whole_scorer.regions(), batch_size=8, progress=False)
    whole = ek.explain(whole_scorer, whole_scorer.image(), **kw)

    part = ColumnImageScorer(f, n)
    state = {"calls": 0}

    def scorer(images):  # the same scorer both times; Ctrl-C arrives during its 30th call
        state["calls"] += 1
        if state["calls"] == 30:
            raise KeyboardInterrupt
        return part(images)

    ckpt = tmp_path / "run.npz"
    with pytest.raises(ek.SearchInterrupted):
        ek.explain(scorer, part.image(), checkpoint=ckpt, **kw)
    first_images, first_calls = len(part.asked), part.calls
    resumed = ek.explain(scorer, part.image(), checkpoint=ckpt, **kw)
    a, b = resumed.dataset.attrs, whole.dataset.attrs
    assert resumed.order.tolist() == whole.order.tolist()
    for name in ("n_evaluations", "n_search_images", "n_curve_images"):
        assert a[name] == b[name], name
    assert a["resumed_images"] == first_images > 0  # all 29 completed calls were saved
    assert a["n_evaluations"] == len(part.asked)  # every image scored once over both parts
    assert a["n_forward_calls"] == part.calls  # 29 calls before the interrupt, the rest after
    assert part.calls > first_calls


def test_forward_calls_are_ceil_of_new_images_over_batch_size_per_request():
    from eagle_kit.search import Evaluator

    sizes = []

    def score_keep(keep):
        sizes.append(len(keep))
        return keep.mean(axis=1, keepdims=True)

    ev = Evaluator(score_keep=score_keep, n_regions=6, batch_size=4)
    rng = np.random.default_rng(0)
    pool = np.unique(rng.random((40, 6)) < 0.5, axis=0)
    requests = [pool[:10], pool[5:8], pool[8:15], pool[:15]]  # overlapping requests
    seen, expected_calls = set(), 0
    for req in requests:
        new = {r.tobytes() for r in req} - seen
        expected_calls += math.ceil(len(new) / 4)
        seen |= new
        ev(req)
    assert ev.n_forward_calls == ev.forward_calls == expected_calls == len(sizes)
    assert sizes == [4, 4, 2, 4, 1] and ev.n_images == ev.n_search_images == len(seen) == 15


def test_a_scored_order_has_only_curve_images():
    n = 9
    f = make_f("max", n, seed=1)
    scorer = ColumnImageScorer(f, n)
    order = np.random.default_rng(0).permutation(n)
    expl = ek.score_order(scorer, scorer.image(), scorer.regions(), order, progress=False)
    a = expl.dataset.attrs
    assert a["n_search_images"] == 0
    # every prefix keep-only and removed, black and full once each: 2(N+1) − 2 distinct
    assert a["n_curve_images"] == a["n_evaluations"] == len(scorer.asked) == 2 * (n + 1) - 2
    assert a["n_forward_calls"] == scorer.calls == 1


# -- mitigation (METHOD §7) ----------------------------------------------------------------


class LabelScorer:
    """Scores images over any label map: region j is visible when its pixels are not black."""

    def __init__(self, f, labels: np.ndarray):
        self.f, self.labels = f, labels
        self.n = int(labels.max()) + 1
        self.index = [np.flatnonzero(labels.ravel() == j) for j in range(self.n)]

    def visible(self, image: np.ndarray) -> np.ndarray:
        flat = image[..., 0].reshape(-1)
        return np.array([flat[ix].any() for ix in self.index])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.stack([self.f(self.visible(img)) for img in images])


def fragmented_labels(n: int, seed: int, shape=(12, 14)) -> np.ndarray:
    """A label map with every region split into several pieces, like the reference's SLICO."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, n, size=(shape[0] // 2, shape[1] // 2))
    blocks.ravel()[:n] = np.arange(n)  # every id occurs
    return blocks.repeat(2, 0).repeat(2, 1)


ANSWERS = ["No.", "no", "NO, it is not", "Not", "Nope", "yes", "Yes.", "'No'", "", "None"]


@pytest.mark.parametrize("seed", range(6))
def test_mitigation_matches_the_independent_implementation(seed):
    n = 9
    labels = fragmented_labels(n, seed)
    f = make_f("interaction", n, seed)
    scorer = LabelScorer(f, labels)
    img = np.full((*labels.shape, 3), 200, np.uint8)
    expl = ek.explain(scorer, img, regions=ek.RegionSet(labels), progress=False)
    rng = np.random.default_rng(seed)
    reply = {}  # a fixed answer per set of kept regions, drawn at random

    def generate(kept: frozenset) -> str:
        if kept not in reply:
            reply[kept] = ANSWERS[rng.integers(len(ANSWERS))]
        return reply[kept]

    def answer(image: np.ndarray) -> str:
        return generate(frozenset(np.flatnonzero(scorer.visible(image)).tolist()))

    area = ek.RegionSet(labels).areas
    for label in ("no", "No", "yes"):
        k, removed = ref.mitigate(expl.order.tolist(), area, generate, label)
        c = metrics.mitigate(expl, answer, label)
        assert c.corrected == (k is not None)
        assert c.area_removed == pytest.approx(removed)
        if k is not None:
            assert c.n_removed == k and len(c.answers) == k + 1


def test_mitigation_first_asks_the_unmodified_image_and_compares_first_words(expl_5):
    seen = []

    def answer(image):
        seen.append(int((image[..., 0] > 0).sum()))
        return "No."  # right from the start

    c = metrics.mitigate(expl_5, answer, "no")
    assert (c.corrected, c.n_removed, c.area_removed) == (True, 0, 0.0)
    assert seen == [expl_5.labels.size]  # one answer, on the whole image
    assert not metrics.mitigate(expl_5, lambda image: "Not at all", "no").corrected
    assert metrics.mitigate(expl_5, lambda image: "NO, it is not", "No").n_removed == 0
    with pytest.raises(ValueError, match="word"):
        metrics.mitigate(expl_5, answer, " ")


@pytest.fixture
def expl_5():
    f = make_f("max", 5, seed=0)
    scorer = ColumnImageScorer(f, 5)
    return ek.explain(scorer, scorer.image(), regions=scorer.regions(), progress=False)


# -- point game (METHOD §8) ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_point_game_readings_match_the_independent_implementation(seed):
    n = 7
    labels = fragmented_labels(n, seed)
    f = make_f(KINDS[seed % 3], n, seed)
    scorer = LabelScorer(f, labels)
    img = np.full((*labels.shape, 3), 200, np.uint8)
    expl = ek.explain(scorer, img, regions=ek.RegionSet(labels), search="exact", progress=False)
    rng = np.random.default_rng(seed)
    d = expl.dataset
    f0 = float(d["objective"].values[0])
    values = ref.rank_values(expl.order.tolist(), d["objective"].values[1:], f0)
    for _ in range(10):
        mask = rng.random(labels.shape) < 0.3
        y0, x0 = rng.integers(0, 8, size=2)
        box = (x0, y0, x0 + 5, y0 + 4)
        in_box = np.zeros(labels.shape, bool)
        in_box[y0 : y0 + 4, x0 : x0 + 5] = True
        for inside, kw in ((mask, {"mask": mask}), (in_box, {"box": box})):
            strict = ref.point_game_strict(labels, expl.order.tolist(), inside)
            paper = ref.point_game_paper(labels, values, inside)
            assert metrics.point_game(expl, **kw) == float(strict)
            assert metrics.point_game(expl, reading="paper", **kw) == float(paper)


def test_the_paper_reading_ties_regions_that_float16_rounds_to_the_top():
    # insight only (λ2 = 0): F = Σ kept weights + 0.6·[regions 2 and 3 both kept]
    weights = np.array([0.3, 4e-5, 2e-5, 1e-5, 0.0])

    def f(vis):
        return np.array([vis @ weights + 0.6 * (vis[2] and vis[3])])

    scorer = ColumnImageScorer(f, 5)
    expl = ek.explain(
        scorer,
        scorer.image(),
        regions=scorer.regions(),
        search="exact",
        lambda2=0.0,
        progress=False,
    )
    # F along the order: 0, .3, .30004, .30006, .90007, .90007
    assert expl.order.tolist() == [0, 1, 2, 3, 4]
    values = expl.dataset["attribution"].values
    # rank 2 and 3 get 1 − 4e-5/.60007 and 1 − 6e-5/.60007: below 1, but 1 in float16
    np.testing.assert_allclose(values[[1, 2]], [1 - 4e-5 / 0.60007, 1 - 6e-5 / 0.60007])
    assert (values[[1, 2]] < 1).all() and (values[[1, 2]].astype(np.float16) == 1).all()
    column_1 = (1, 0, 2, 2)  # x0, y0, x1, y1: region 1 only
    assert metrics.point_game(expl, box=column_1, reading="paper") == 1.0
    assert metrics.point_game(expl, box=column_1, reading="strict") == 0.0
    assert metrics.point_game(expl, box=(3, 0, 4, 2), reading="paper") == 0.0  # region 3: 0
    assert metrics.point_game(expl, box=(0, 0, 1, 2), reading="strict") == 1.0
    with pytest.raises(ValueError, match="reading"):
        metrics.point_game(expl, box=column_1, reading="lenient")
    with pytest.raises(ValueError, match="smooth"):
        metrics.point_game(expl, box=column_1, reading="paper", smooth=None)


def test_the_strict_point_is_the_medoid_of_a_fragmented_region():
    # region 0 (the 1s) is in several pieces; its medoid (4, 3) and the pixel nearest its
    # centroid (3, 3) are different pixels of it
    region_0 = np.array(
        [
            [1, 1, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0, 0],
            [1, 1, 0, 0, 0, 1, 0, 0],
            [1, 0, 0, 1, 0, 0, 0, 0],
            [0, 1, 1, 1, 0, 1, 0, 0],
            [0, 1, 0, 0, 1, 1, 0, 0],
            [0, 0, 1, 1, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 1, 0, 0],
        ]
    )
    labels = 1 - region_0

    def f(vis):
        return np.array([0.9 * vis[0] + 0.1 * vis[1]])

    scorer = LabelScorer(f, labels)
    img = np.full((8, 8, 3), 200, np.uint8)
    expl = ek.explain(
        scorer, img, regions=ek.RegionSet(labels.astype(np.int32)), search="exact", progress=False
    )
    assert expl.order.tolist() == [0, 1]
    assert metrics.max_location(expl) == ref.medoid(labels, 0) == (4, 3)
    assert metrics.max_location(expl, point="centroid") == (3, 3)
    inside = np.zeros((8, 8), bool)
    inside[4, 3] = True
    assert metrics.point_game(expl, mask=inside) == 1.0
    assert metrics.point_game(expl, mask=inside, point="centroid") == 0.0


# -- segmentation (METHOD §2) --------------------------------------------------------------


def _scene_images():
    from eagle_kit import shapes

    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    return [shapes.make_scene(7).image, noisy]


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("n", [20, 64])
def test_reference_slico_gives_exactly_opencvs_labels_without_connectivity(which, n):
    cv2 = pytest.importorskip("cv2")
    image = _scene_images()[which]
    h, w = image.shape[:2]
    slic = cv2.ximgproc.createSuperpixelSLIC(
        np.ascontiguousarray(image),
        algorithm=cv2.ximgproc.SLICO,
        region_size=int(np.floor(np.sqrt(h * w / n))),
        ruler=20.0,
    )
    slic.iterate(20)  # the reference never calls enforceLabelConnectivity
    raw = slic.getLabels()
    rs = ek.segment(image, n_regions=n, enforce_connectivity=False)
    ids = np.unique(raw)
    if len(ids) == raw.max() + 1:  # every cluster kept a pixel: the very same ids
        np.testing.assert_array_equal(rs.labels, raw)
    else:  # empty clusters: the same partition, ids renumbered in order
        np.testing.assert_array_equal(rs.labels, np.searchsorted(ids, raw))
    assert rs.params["enforce_connectivity"] is False


def _pieces(labels: np.ndarray) -> int:
    from scipy.ndimage import label

    return sum(label(labels == r)[1] for r in range(int(labels.max()) + 1))


def test_default_slico_regions_are_connected_and_the_reference_ones_are_not():
    image = _scene_images()[1]
    ours = ek.segment(image, n_regions=64)
    reference = ek.segment(image, n_regions=64, enforce_connectivity=False)
    assert _pieces(ours.labels) == ours.n_regions  # one piece per region
    assert _pieces(reference.labels) > reference.n_regions  # some regions in several pieces
    with pytest.raises(ValueError, match="slico"):
        ek.segment(image, n_regions=16, method="grid", enforce_connectivity=False)


def test_the_medoid_of_a_large_fragmented_region_is_exact():
    # above 4096 pixels the medoid search prunes by convexity; it must still be exact
    rng = np.random.default_rng(3)
    for density, cut in ((0.6, 0), (0.75, 25)):
        region = rng.random((80, 100)) < density
        region[:, :cut] = False
        labels = np.where(region, 0, 1)
        ys, xs = np.nonzero(region)
        assert len(ys) > 4096
        i = metrics._medoid(ys, xs)
        assert (ys[i], xs[i]) == ref.medoid(labels, 0)
