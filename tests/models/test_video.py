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
