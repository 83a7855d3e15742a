"""LLaVA-CAM and the TAM-style token activation map: true vision grids, valid maps, scored."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import metrics
from eagle_kit.baselines import rank_gaussian_filter, vision_grid

PROMPT = "describe the image ."
ANSWER = "red circle"


def test_rank_gaussian_filter_spans_median_and_mean():
    from scipy import ndimage

    a = np.random.default_rng(0).random((7, 9))
    # weights concentrated on the middle rank: a median filter
    np.testing.assert_allclose(
        rank_gaussian_filter(a, size=3, sigma=1e-3), ndimage.median_filter(a, 3, mode="mirror")
    )
    # flat weights: a mean filter
    np.testing.assert_allclose(
        rank_gaussian_filter(a, size=3, sigma=1e6), ndimage.uniform_filter(a, 3, mode="mirror")
    )
    spike = np.zeros((5, 5))
    spike[2, 2] = 1.0
    assert rank_gaussian_filter(spike, sigma=1.0).max() < 0.05  # an isolated spike is removed
    with pytest.raises(ValueError, match="odd"):
        rank_gaussian_filter(a, size=2)


def _n_image_tokens(model, scorer) -> int:
    ids = scorer.model_inputs()["input_ids"][0].numpy()
    return int((ids == model.image_token_id).sum())


def _check_map(expl, image, n_steps):
    m = expl.dataset["baseline_map"].values
    assert m.shape == image.shape[:2]
    assert np.all(np.isfinite(m))
    assert m.max() > m.min()  # not constant
    assert expl.n_regions == n_steps
    assert np.all(np.isfinite(expl.dataset["insertion"].values))
    a = expl.dataset.attrs
    assert a["baseline_seconds"] > 0 and a["baseline_peak_memory_bytes"] >= 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "shape", "grid"),
    [("llava", (32, 32), (1, 4, 4)), ("qwen2_5_vl", (32, 32), (1, 4, 4)),
     ("qwen2_5_vl", (32, 56), (1, 4, 7))],
)  # fmt: skip
def test_cam_and_tam_on_tiny_models(tiny, family, shape, grid):
    model = tiny(family)
    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    scorer = model.prepare(image, prompt=PROMPT, answer=ANSWER)
    got, offset = vision_grid(model, scorer.model_inputs())
    # independent: LLaVA 32 px / patch 8 = 4; Qwen 4-px patches merged 2×2: (h/8, w/8)
    assert got == grid and offset == 0
    assert got[0] * got[1] * got[2] == _n_image_tokens(model, scorer)
    for fn, method in ((ek.baselines.llava_cam, "llava_cam"),
                       (ek.baselines.token_activation_map, "tam")):  # fmt: skip
        expl = fn(model, image, prompt=PROMPT, answer=ANSWER, n_steps=16, progress=False)
        assert expl.dataset.attrs["method"] == method
        assert f'"grid": {list(grid)}' in expl.dataset.attrs["baseline_options"]
        _check_map(expl, image, 16)


@pytest.mark.slow
def test_llava_1_5_grid_at_336_px_is_24_by_24(llava_336):
    image = np.random.default_rng(2).integers(0, 256, (336, 336, 3), dtype=np.uint8)
    scorer = llava_336.prepare(image, prompt=PROMPT, answer=ANSWER)
    assert _n_image_tokens(llava_336, scorer) == 576
    assert vision_grid(llava_336, scorer.model_inputs()) == ((1, 24, 24), 0)
    cam = ek.baselines.llava_cam(llava_336, image, prompt=PROMPT, answer=ANSWER, progress=False)
    _check_map(cam, image, 64)
    assert '"layer": 1' in cam.dataset.attrs["baseline_options"]  # middle of 3 layers
    tam = ek.baselines.token_activation_map(
        llava_336, image, prompt=PROMPT, answer=ANSWER, progress=False
    )
    _check_map(tam, image, 64)


@pytest.mark.slow
def test_cam_grid_covers_only_what_a_centre_crop_shows(tiny):
    model = tiny("llava")
    image = np.random.default_rng(3).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    with pytest.warns(ek.NativeSizeWarning):
        expl = ek.baselines.llava_cam(model, image, prompt=PROMPT, answer=ANSWER, progress=False)
    m = expl.dataset["baseline_map"].values
    # the model sees columns 8..39: the 8 columns cropped on each side get the map's minimum
    assert np.all(m[:, :8] == m.min()) and np.all(m[:, 40:] == m.min())
    assert m[:, 8:40].max() > m.min()


@pytest.mark.slow
def test_cam_and_tam_on_the_embedded_model(shapes_model):
    scene = ek.shapes.make_scene(
        0, objects=[("red", "circle"), ("blue", "square")], occlusion=False
    )
    for fn in (ek.baselines.llava_cam, ek.baselines.token_activation_map):
        expl = fn(
            shapes_model, scene.image, prompt=ek.shapes.CAPTION_PROMPT, answer=scene.caption,
            targets="red", progress=False,
        )  # fmt: skip
        _check_map(expl, scene.image, 64)
        assert expl.dataset.attrs["model"] == "shapes"
        assert '"grid": [1, 4, 4]' in expl.dataset.attrs["baseline_options"]  # 64 px / 16 px
        assert 0 <= metrics.insertion_auc(expl) <= 1 and 0 <= metrics.deletion_auc(expl) <= 1
        assert expl.tokens[expl.targets[0]].strip() == "red"
        assert "evaluations" in expl.summary()
    # without an answer, the model's greedy caption is generated once and explained
    gen = shapes_model.generate(scene.image, ek.shapes.CAPTION_PROMPT)
    cam = ek.baselines.llava_cam(
        shapes_model, scene.image, prompt=ek.shapes.CAPTION_PROMPT, progress=False
    )
    assert cam.dataset.attrs["answer"] == gen.text


def test_gradient_baselines_refuse_what_they_cannot_explain(additive):
    with pytest.raises(TypeError, match="load_model"):
        ek.baselines.llava_cam(additive, additive.image(), prompt=PROMPT)
    import torch

    fake = SimpleNamespace(model_type="blip", config=None, image_token_id=4, name="x")
    with pytest.raises(ValueError, match="No vision-token grid"):
        vision_grid(fake, {"input_ids": torch.tensor([[1, 4, 4, 2]])})


@pytest.mark.slow
def test_bad_layer_and_video_are_refused(shapes_model):
    image = ek.shapes.make_scene(0).image
    with pytest.raises(ValueError, match="layer"):
        ek.baselines.llava_cam(shapes_model, image, prompt=PROMPT, answer="red", layer=1)
    with pytest.raises(ValueError, match="video"):
        ek.baselines.llava_cam(shapes_model, np.stack([image, image]), prompt=PROMPT, answer="red")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "grid", "base_only"),
    [
        ("llava_next", (1, 4, 4), True),  # base grid 32/8; anyres tiles follow it
        ("llava_onevision", (1, 4, 4), True),  # SigLIP: no CLS token to skip
        ("qwen2_vl", (1, 4, 4), False),  # 4-px patches merged 2×2
        ("qwen3_vl", (1, 4, 4), False),
        ("internvl", (1, 2, 2), False),  # 32/8 · downsample 0.5
        ("idefics3", (1, 2, 2), False),  # 32/8 / scale factor 2
        ("smolvlm", (1, 2, 2), False),
        ("gemma3", (1, 2, 2), False),  # √(mm_tokens_per_image = 4)
    ],
)
def test_vision_grids_of_the_other_families(tiny, family, grid, base_only):
    from eagle_kit.testing.tiny_models import native_size

    model = tiny(family)
    image = np.random.default_rng(4).integers(0, 256, (*native_size(family), 3), dtype=np.uint8)
    scorer = model.prepare(image, prompt=PROMPT, answer=ANSWER)
    assert vision_grid(model, scorer.model_inputs()) == (grid, 0)
    n = _n_image_tokens(model, scorer)
    size = grid[1] * grid[2]
    assert (n > size) if base_only else (n == size)
    tam = ek.baselines.token_activation_map(
        model, image, prompt=PROMPT, answer=ANSWER, n_steps=16, progress=False
    )
    assert tam.dataset["baseline_map"].shape == image.shape[:2]
    assert np.all(np.isfinite(tam.dataset["baseline_map"].values))


def _upsample(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import torch

    t = torch.from_numpy(grid.astype(np.float64))[None, None]
    return torch.nn.functional.interpolate(t, size=shape, mode="bilinear")[0, 0].numpy()


@pytest.mark.slow
@pytest.mark.parametrize("family", ["llava", "qwen2_5_vl"])
def test_cam_and_tam_match_a_reference_written_with_hooks(tiny, family):
    """Grad-CAM from a forward hook on the decoder layer and TAM from the model's own full
    logits at the image positions (the logit lens, computed by the model's head)."""
    import torch

    model = tiny(family)
    image = np.random.default_rng(5).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    scorer = model.prepare(image, prompt=PROMPT, answer=ANSWER, targets=[1])
    inputs = scorer.model_inputs()
    ids = inputs["input_ids"][0].numpy()
    pos = torch.from_numpy(np.flatnonzero(ids == model.image_token_id))
    layers = model.model.model.language_model.layers
    captured = {}
    hook = layers[0].register_forward_hook(
        lambda m, i, o: captured.update(a=o[0] if isinstance(o, tuple) else o)
    )
    try:
        logits = model.model(**inputs).logits[0]
    finally:
        hook.remove()
    token = scorer.token_ids[1]
    y = logits[-len(scorer.token_ids) + 1, token]  # the answer's second token, teacher-forced
    (g,) = torch.autograd.grad(y, captured["a"])
    a = captured["a"][0, pos].detach().double()
    cam = torch.relu(a @ g[0, pos].double().mean(0)).numpy().reshape(4, 4)
    expl = ek.baselines.llava_cam(
        model, image, prompt=PROMPT, answer=ANSWER, targets=[1], n_steps=16, progress=False
    )
    np.testing.assert_allclose(
        expl.dataset["baseline_map"].values, _upsample(cam, (32, 32)), rtol=1e-5, atol=1e-9
    )

    lens = logits[pos, token].detach().double().numpy().reshape(4, 4)
    lens = (lens - lens.min()) / (lens.max() - lens.min())
    ref = _upsample(rank_gaussian_filter(lens), (32, 32))
    tam = ek.baselines.token_activation_map(
        model, image, prompt=PROMPT, answer=ANSWER, targets=[1], n_steps=16, progress=False
    )
    np.testing.assert_allclose(tam.dataset["baseline_map"].values, ref, rtol=1e-5, atol=1e-9)
