"""Video (frames ``F×H×W×3``) for the families that take it, over spatio-temporal masks."""

from __future__ import annotations

import numpy as np
import pytest

from eagle_kit.testing.tiny_models import VIDEO_FAMILIES

ATOL = 1e-5
PROMPT = "describe the video ."


def _frames(seed: int = 0, n: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("family", VIDEO_FAMILIES)
def test_video_scores_equal_independent_teacher_forcing(
    tiny_model, family: str, random_masks, reference_probs
) -> None:
    model = tiny_model(family)
    frames = _frames()
    gen = model.generate(frames, PROMPT, max_new_tokens=3)
    assert len(gen.token_ids) >= 1
    scorer = model.prepare(frames, generation=gen)
    assert scorer.composition == "layout" and scorer.metadata["n_visual_tokens"] > 0
    masks = random_masks(4, frames.shape[:-1], seed=3)
    fill = np.zeros_like(frames)
    got = scorer.score_masks(masks, fill)
    for i, mask in enumerate(masks):
        want = reference_probs(
            model,
            np.where(mask[..., None], frames, fill),
            PROMPT,
            scorer.answer_ids,
            scorer.token_ids,
        )
        np.testing.assert_allclose(got[i], want, atol=ATOL)
    scorer.batch_size = 1
    np.testing.assert_allclose(scorer(np.where(masks[..., None], frames, fill)), got, atol=ATOL)
    # Removing one frame changes the scores: every frame reaches the model.
    only_first = masks[:1].copy()
    only_first[0, 1:] = False
    assert not np.allclose(scorer.score_masks(only_first, fill), got[:1], atol=1e-7)


def test_video_frame_count_must_stay_constant(tiny_model) -> None:
    model = tiny_model("qwen2_5_vl")
    scorer = model.prepare(_frames(), prompt=PROMPT, answer="a cat")
    with pytest.raises(ValueError, match=r"shape \(B, 4, 32, 32, 3\)"):
        scorer(np.zeros((1, 2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"masks must have shape \(B, 4, 32, 32\)"):
        scorer.score_masks(np.ones((1, 32, 32), bool), np.zeros((4, 32, 32, 3), np.uint8))


def test_video_placeholder_is_required(tiny_model) -> None:
    model = tiny_model("qwen2_vl")
    image_only = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}
    ]
    with pytest.raises(ValueError, match="no video placeholder"):
        model.prepare(_frames(), messages=image_only, answer="a cat")


@pytest.mark.parametrize("n_frames", [1, 2, 3])
@pytest.mark.parametrize("family", VIDEO_FAMILIES)
def test_videos_of_any_length_are_explained(
    tiny_model, family: str, n_frames: int, reference_probs, random_masks
) -> None:
    """1, 2 or an odd number of frames: exact scores, frames repeated (and said) where the
    processor groups frames in temporal pairs."""
    import warnings

    import eagle_kit as ek

    model = tiny_model(family)
    frames = _frames(seed=n_frames, n=n_frames)
    group = model.temporal_patch_size
    assert group == (2 if family.startswith("qwen") else 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scorer = model.prepare(frames, prompt=PROMPT, answer="a cat")
    said = [str(w.message) for w in caught if "temporal_patch_size" in str(w.message)]
    assert bool(said) == (n_frames % group != 0)
    if said:
        assert f"this {n_frames}-frame video is given to it as {n_frames + 1} frames" in said[0]
    assert scorer.composition == "layout"
    masks = random_masks(3, frames.shape[:-1], seed=5)
    fill = np.zeros_like(frames)
    got = scorer.score_masks(masks, fill)
    for i, mask in enumerate(masks):
        masked = np.where(mask[..., None], frames, fill)
        if n_frames % group:  # the model is given the last frame once more, masked alike
            masked = np.concatenate([masked, masked[-1:]], axis=0)
        want = reference_probs(model, masked, PROMPT, scorer.answer_ids, scorer.token_ids)
        np.testing.assert_allclose(got[i], want, atol=ATOL)
    regions = ek.RegionSet.video_grid(frames.shape[:-1], rows=1, cols=2)
    expl = ek.explain(
        model,
        frames,
        regions=regions,
        prompt=PROMPT,
        answer="a cat",
        search="exact",
        progress=False,
    )
    assert expl.image.shape == frames.shape
    assert np.isfinite(expl.dataset["insertion"].values).all()
