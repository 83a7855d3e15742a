"""Shapley value sampling, KernelSHAP and LIME (captum) over regions, with the batched scorer."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_helpers import WEIGHTS, AdditiveScorer

import eagle_kit as ek

pytest.importorskip("captum")
pytest.importorskip("sklearn")

RANKING = np.argsort(-np.asarray(WEIGHTS), kind="stable").tolist()


def _run(method, scorer, **kw):
    fn = getattr(ek.baselines, method)
    return fn(scorer, scorer.image(), scorer.regions(), targets=[0], progress=False, **kw)


def test_shapley_sampling_is_exact_on_an_additive_objective(additive):
    # every permutation gives region j the marginal w_j: the estimate is exact
    expl = _run("shapley_sampling", additive, n_samples=3)
    np.testing.assert_allclose(expl.dataset["baseline_values"].values, WEIGHTS, atol=1e-9)
    assert expl.order.tolist() == RANKING
    assert expl.dataset.attrs["method"] == "shapley_sampling"


def test_kernel_shap_recovers_the_weights(additive):
    # a linear regression on a linear objective recovers its coefficients
    expl = _run("kernel_shap", additive, n_samples=200)
    np.testing.assert_allclose(expl.dataset["baseline_values"].values, WEIGHTS, atol=1e-6)
    assert expl.order.tolist() == RANKING
    assert expl.dataset.attrs["baseline_evaluations"] == 200


def test_lime_recovers_the_ranking(additive):
    expl = _run("lime", additive, n_samples=300)
    assert expl.order.tolist() == RANKING
    # without the ridge penalty the fit is exact
    plain = _run("lime", AdditiveScorer(WEIGHTS), n_samples=300, alpha=0.0)
    np.testing.assert_allclose(plain.dataset["baseline_values"].values, WEIGHTS, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "kw"),
    [("shapley_sampling", {"n_samples": 4}), ("kernel_shap", {"n_samples": 100}),
     ("lime", {"n_samples": 100})],
)  # fmt: skip
def test_the_forward_is_batched(method, kw):
    scorer = AdditiveScorer(WEIGHTS)
    expl = _run(method, scorer, batch_size=16, **kw)
    a = expl.dataset.attrs
    calls = a["baseline_forward_calls"]
    method_batches = scorer.batches[:calls]  # the method scores before its curves
    assert sum(method_batches) == a["baseline_evaluations"]
    assert 1 < max(method_batches) <= 16
    assert calls < a["baseline_evaluations"] / 4


def test_batched_and_one_by_one_agree():
    big = _run("shapley_sampling", AdditiveScorer(WEIGHTS), n_samples=5, batch_size=64)
    one = _run("shapley_sampling", AdditiveScorer(WEIGHTS), n_samples=5, batch_size=1)
    np.testing.assert_allclose(
        big.dataset["baseline_values"].values, one.dataset["baseline_values"].values, atol=1e-12
    )
    assert one.dataset.attrs["baseline_forward_calls"] == one.dataset.attrs["baseline_evaluations"]


def test_the_targets_choose_the_objective(additive):
    # token 1 is constant: no region matters
    fn = ek.baselines.shapley_sampling
    expl = fn(
        additive, additive.image(), additive.regions(), targets=[1], n_samples=2, progress=False
    )
    np.testing.assert_allclose(expl.dataset["baseline_values"].values, 0.0, atol=1e-12)


def test_bad_options_are_refused(additive):
    with pytest.raises(ValueError, match="n_samples"):
        _run("kernel_shap", additive, n_samples=0)
    with pytest.raises(ValueError, match="alpha"):
        _run("lime", additive, alpha=-1.0)
    with pytest.raises(ValueError, match="kernel_width"):
        _run("lime", additive, kernel_width=0.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "kw"),
    [("shapley_sampling", {"n_samples": 4}), ("kernel_shap", {"n_samples": 256}),
     ("lime", {"n_samples": 256}), ("occlusion", {})],
)  # fmt: skip
def test_the_object_region_ranks_first_on_the_embedded_model(shapes_model, method, kw):
    scene = ek.shapes.make_scene(
        0, objects=[("red", "circle"), ("blue", "square")], occlusion=False
    )
    regions = ek.segment(scene.image, n_regions=16, method="grid")  # one region per object cell
    for colour in ("red", "blue"):
        obj = next(o for o in scene.objects if o.colour == colour)
        region = int(np.bincount(regions.labels[obj.mask]).argmax())
        expl = getattr(ek.baselines, method)(
            shapes_model, scene.image, regions, prompt=ek.shapes.CAPTION_PROMPT,
            answer=scene.caption, targets=colour, progress=False, **kw,
        )  # fmt: skip
        values = expl.dataset["baseline_values"].values
        assert int(expl.order[0]) == region, (colour, values.round(3))
        # the image reaches the model: the object's region stands out from the background
        background = np.median(np.abs(np.delete(values, region)))
        assert values[region] > max(0.02, 10 * background), (colour, values.round(4))
        assert expl.dataset.attrs["model"] == "shapes"


@pytest.mark.slow
@pytest.mark.parametrize("family", ["llava", "qwen2_5_vl", "idefics3"])
def test_region_baselines_on_tiny_models_of_real_families(tiny, family):
    """Every region baseline runs on real architectures, and the image reaches the model: the
    curves end at the model's own probabilities of the full and the black image, and the
    attribution is not identically zero."""
    model = tiny(family)
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    regions = ek.segment(image, n_regions=4, method="grid")
    opts = dict(prompt="describe the image .", answer="red circle", progress=False)
    reference = ek.explain(model, image, regions=regions, search="exact", **opts)
    p_full = reference.dataset["p_full"].values
    p_black = reference.dataset["p_black"].values
    assert np.abs(p_full - p_black).max() > 0  # the tiny model does look at the image
    runs = {
        "occlusion": {},
        "rise": {"n_masks": 16},
        "random_order": {},
        "shapley_sampling": {"n_samples": 2},
        "kernel_shap": {"n_samples": 32},
        "lime": {"n_samples": 32},
    }
    for method, kw in runs.items():
        fn = getattr(ek.baselines, method)
        expl = fn(model, image, regions, **opts, **kw)
        assert sorted(expl.order.tolist()) == list(range(4)), method
        np.testing.assert_allclose(expl.dataset["p_full"].values, p_full, atol=1e-5)
        np.testing.assert_allclose(expl.dataset["p_black"].values, p_black, atol=1e-5)
        if method != "random_order":
            values = expl.dataset["baseline_values"].values
            assert np.all(np.isfinite(values)) and np.abs(values).max() > 0, method
