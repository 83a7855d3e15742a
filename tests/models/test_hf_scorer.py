"""The Hugging Face scorer on tiny random models of every family.

Tolerances: all tiny models run in float32 on CPU. Scores of the same masked image computed
in different batch compositions, or through the layout vs the processor, agree to 1e-5
absolute (float32 rounding in batched matmuls); the teacher-forcing reference below is an
independent computation and agrees to the same tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eagle_kit.models import Generation, ModelScorer
from eagle_kit.testing.tiny_models import TINY_FAMILIES, native_size

ATOL = 1e-5


def assert_matches_reference(got, model, image, masks, fill, scorer, reference_probs) -> None:
    """Each row of ``got`` equals the independent teacher-forcing computation of its mask."""
    for i, mask in enumerate(masks):
        want = reference_probs(
            model,
            np.where(mask[..., None], image, fill),
            PROMPT,
            scorer.answer_ids,
            scorer.token_ids,
        )
        np.testing.assert_allclose(got[i], want, atol=ATOL)


PROMPT = "describe the image ."


@pytest.fixture(params=TINY_FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return request.param


def test_generation_round_trips(tiny_model, family: str, image_for, teacher_forcing) -> None:
    model = tiny_model(family)
    image = image_for(family)
    gen = model.generate(image, PROMPT, max_new_tokens=5)
    assert isinstance(gen, Generation)
    assert 1 <= len(gen.token_ids) <= 5 and len(gen.tokens) == len(gen.token_ids)
    assert gen.prompt == PROMPT
    assert model.tokenizer.decode(gen.token_ids, skip_special_tokens=True).strip() == gen.text
    assert model.generate(image, PROMPT, max_new_tokens=5) == gen  # greedy is deterministic
    scorer = model.prepare(image, generation=gen)
    assert scorer.answer_ids == gen.token_ids and scorer.token_ids == gen.token_ids
    assert scorer.tokens == gen.tokens
    assert scorer.metadata["answer"] == gen.text and scorer.metadata["prompt"] == PROMPT
    # The answer text tokenises back to the generated ids (word-level tokenizer).
    assert model.prepare(image, prompt=PROMPT, answer=gen.text).answer_ids == gen.token_ids
    # Greedy: on the full image each generated token is the most likely allowed one, and
    # the scorer reads exactly its probability.
    dist = teacher_forcing(model, image, PROMPT, gen.token_ids)
    suppressed = list(model.model.generation_config.suppress_tokens or [])
    dist[:, suppressed] = -1.0
    assert dist.argmax(dim=-1).tolist() == gen.token_ids
    full = scorer(image[None])[0]
    np.testing.assert_allclose(full, dist.max(dim=-1).values.double().numpy(), atol=ATOL)


def test_scores_equal_independent_teacher_forcing(
    tiny_model, family: str, image_for, random_masks, teacher_forcing, reference_probs
) -> None:
    model = tiny_model(family)
    image = image_for(family)
    answer = "a red circle on the left"
    scorer = model.prepare(image, prompt=PROMPT, answer=answer)
    assert isinstance(scorer, ModelScorer) and scorer.composition == "layout"
    masks = random_masks(4, image.shape[:2])
    fill = np.zeros_like(image)
    got = scorer.score_masks(masks, fill)
    assert got.shape == (4, 6)
    assert_matches_reference(got, model, image, masks, fill, scorer, reference_probs)


def test_batched_equals_one_by_one(tiny_model, family: str, image_for, random_masks) -> None:
    model = tiny_model(family)
    image = image_for(family, seed=3)
    scorer = model.prepare(image, prompt=PROMPT, answer="two blue squares")
    masks = random_masks(7, image.shape[:2], seed=5)
    fill = np.full_like(image, 128)
    scorer.batch_size = 7
    batched = scorer.score_masks(masks, fill)
    scorer.batch_size = 1
    single = scorer.score_masks(masks, fill)
    np.testing.assert_allclose(batched, single, atol=ATOL)
    composed = np.where(masks[..., None], image, fill)
    scorer.batch_size = 3
    np.testing.assert_allclose(scorer(composed), batched, atol=ATOL)
    # Every row differs: the masks really reach the model.
    assert len({tuple(np.round(r, 7)) for r in batched}) == len(batched)


def test_processor_path_when_the_processor_resizes(
    tiny_model, family: str, image_for, random_masks, reference_probs
) -> None:
    model = tiny_model(family)
    h, w = native_size(family)
    image = image_for(family, seed=4, size=(h + 9, w + 5))
    scorer = model.prepare(image, prompt=PROMPT, answer="a cat")
    assert scorer.composition == "processor"
    masks = random_masks(3, image.shape[:2], seed=2)
    fill = np.zeros_like(image)
    got = scorer.score_masks(masks, fill)
    assert_matches_reference(got, model, image, masks, fill, scorer, reference_probs)


def test_prefix_cache_is_exact(tiny_model, family: str, image_for, random_masks) -> None:
    model = tiny_model(family)
    image = image_for(family, seed=6)
    if not model.family.prefix_cache:
        assert not model.prefix_cache
        assert model.prepare(image, prompt=PROMPT, answer="a cat").metadata["prefix_cache"] == 0
        with pytest.raises(ValueError, match="not exact"):
            model.prefix_cache = True
        return
    masks = random_masks(3, image.shape[:2], seed=6)
    fill = np.zeros_like(image)
    before = model.prefix_cache
    try:
        model.prefix_cache = True
        cached = model.prepare(image, prompt=PROMPT, answer="the sky is blue")
        model.prefix_cache = False
        plain = model.prepare(image, prompt=PROMPT, answer="the sky is blue")
    finally:
        model.prefix_cache = before
    assert plain.metadata["prefix_cache"] == 0
    # LLaVA-1.5 and NeXT prompts start with a single-token prefix: nothing worth caching.
    assert cached.metadata["prefix_cache"] == int(family not in ("llava", "llava_next"))
    np.testing.assert_allclose(
        cached.score_masks(masks, fill), plain.score_masks(masks, fill), atol=ATOL
    )


def test_out_of_memory_halves_and_remembers(
    tiny_model, monkeypatch: pytest.MonkeyPatch, image_for, random_masks
) -> None:
    model = tiny_model("llava")
    image = image_for("llava")
    scorer = model.prepare(image, prompt=PROMPT, answer="a red circle", batch_size=8)
    masks = random_masks(8, image.shape[:2])
    fill = np.zeros_like(image)
    want = scorer.score_masks(masks, fill)
    real_forward = model.model.forward
    sizes: list[int] = []

    def limited(*args, **kwargs):
        batch = kwargs["input_ids"].shape[0]
        sizes.append(batch)
        if batch > 2:
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (simulated)"
            )
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(model.model, "forward", limited)
    got = scorer.score_masks(masks, fill)
    np.testing.assert_allclose(got, want, atol=ATOL)
    assert sizes[:3] == [8, 4, 2] and set(sizes[3:]) == {2}
    assert scorer.batch_size == 2 and model.batch_size == 2  # remembered for the next prepare
    assert model.prepare(image, prompt=PROMPT, answer="a red circle").batch_size == 2

    def always(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(model.model, "forward", always)
    with pytest.raises(MemoryError, match="single masked image"):
        scorer.score_masks(masks[:2], fill)
    with pytest.raises(ValueError):
        scorer.batch_size = 0


def test_other_errors_are_not_swallowed(
    tiny_model, monkeypatch: pytest.MonkeyPatch, image_for, random_masks
) -> None:
    model = tiny_model("llava")
    image = image_for("llava")
    scorer = model.prepare(image, prompt=PROMPT, answer="a red circle")

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(model.model, "forward", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        scorer.score_masks(random_masks(2, image.shape[:2]), np.zeros_like(image))


def test_wrong_image_size_is_a_clear_error(tiny_model, image_for) -> None:
    model = tiny_model("qwen2_5_vl")
    image = image_for("qwen2_5_vl")
    scorer = model.prepare(image, prompt=PROMPT, answer="a cat")
    with pytest.raises(ValueError, match=r"shape \(B, 32, 32, 3\).*constant"):
        scorer(np.zeros((2, 40, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"masks must have shape \(B, 32, 32\)"):
        scorer.score_masks(np.ones((2, 16, 16), bool), np.zeros_like(image))
    with pytest.raises(TypeError, match="bool"):
        scorer.score_masks(np.ones((2, 32, 32), np.uint8), np.zeros_like(image))
    with pytest.raises(ValueError, match="fill_image"):
        scorer.score_masks(np.ones((2, 32, 32), bool), np.zeros((16, 16, 3), np.uint8))


@pytest.mark.parametrize("fam", ["llava", "qwen2_5_vl"])
def test_prompt_without_image_placeholder_is_a_clear_error(tiny_model, fam: str, image_for) -> None:
    model = tiny_model(fam)
    image = image_for(fam)
    no_image = [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]
    with pytest.raises(ValueError, match=r"no image placeholder.*\{'type': 'image'\}"):
        model.prepare(image, messages=no_image, answer="a cat")
    with pytest.raises(ValueError, match="no image placeholder"):
        model.generate(image, messages=no_image)
    with pytest.raises(ValueError, match="prompt is needed"):
        model.prepare(image, answer="a cat")


def test_custom_messages_are_used(tiny_model, image_for) -> None:
    model = tiny_model("qwen2_5_vl")
    image = image_for("qwen2_5_vl")
    messages = [
        {"role": "system", "content": "You are a helpful picture describer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "what is in it ?"}, {"type": "image"}],
        },
    ]
    scorer = model.prepare(image, messages=messages, answer="a dog")
    assert "describer" in scorer.metadata["chat_text"]
    assert scorer.metadata["chat_text"].index("what") < scorer.metadata["chat_text"].index(
        "<|image_pad|>"
    )
    gen = model.generate(image, messages=messages, max_new_tokens=3)
    assert gen.prompt is None and gen.messages == messages
    again = model.prepare(image, generation=gen)
    assert again.metadata["chat_text"] == scorer.metadata["chat_text"]


def test_targets_words_indices_and_errors(tiny_model, image_for) -> None:
    model = tiny_model("llava")
    image = image_for("llava")
    scorer = model.prepare(
        image, prompt=PROMPT, answer="a red circle and a blue square", targets="a"
    )
    assert scorer.default_targets == [0, 4]
    assert model.prepare(
        image, prompt=PROMPT, answer="a red circle", targets=["circle", 0]
    ).default_targets == [0, 2]
    assert model.prepare(
        image, prompt=PROMPT, answer="a red circle", targets=-1
    ).default_targets == [2]
    assert model.prepare(image, prompt=PROMPT, answer="a red circle").default_targets is None
    with pytest.raises(
        ValueError, match=r"'dog' is not a word or phrase.*'a' \(0\), 'red' \(1\), 'circle' \(2\)"
    ):
        model.prepare(image, prompt=PROMPT, answer="a red circle", targets="dog")
    with pytest.raises(ValueError, match="out of range"):
        model.prepare(image, prompt=PROMPT, answer="a red circle", targets=3)


def test_target_token_ids_score_another_token(
    tiny_model, image_for, random_masks, reference_probs
) -> None:
    model = tiny_model("qwen2_5_vl")
    image = image_for("qwen2_5_vl")
    no_id = model.tokenizer.convert_tokens_to_ids("No")
    by_text = model.prepare(
        image, prompt="is there a cat ?", answer="Yes", target_token_ids={0: "No"}
    )
    by_id = model.prepare(
        image, prompt="is there a cat ?", answer="Yes", target_token_ids={0: no_id}
    )
    assert by_text.token_ids == by_id.token_ids == [no_id]
    assert by_text.answer_ids == [model.tokenizer.convert_tokens_to_ids("Yes")]
    assert by_text.tokens == ["No"] and "scored" in by_text.metadata["target_token_ids"]
    masks = random_masks(2, image.shape[:2])
    fill = np.zeros_like(image)
    got = by_text.score_masks(masks, fill)
    for i, mask in enumerate(masks):
        want = reference_probs(
            model,
            np.where(mask[..., None], image, fill),
            "is there a cat ?",
            by_text.answer_ids,
            [no_id],
        )
        np.testing.assert_allclose(got[i], want, atol=ATOL)
    with pytest.raises(ValueError, match="not one"):
        model.prepare(image, prompt=PROMPT, answer="Yes", target_token_ids={0: "red circle"})
    with pytest.raises(ValueError, match="not a position"):
        model.prepare(image, prompt=PROMPT, answer="Yes", target_token_ids={1: "No"})
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.prepare(image, prompt=PROMPT, answer="Yes", target_token_ids={0: 10**6})


def test_include_end_records_the_end_of_turn_token(tiny_model, image_for, reference_probs) -> None:
    model = tiny_model("qwen2_5_vl")
    image = image_for("qwen2_5_vl")
    end = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.end_of_turn_id() == end
    scorer = model.prepare(image, prompt=PROMPT, answer="a cat", include_end=True)
    assert scorer.answer_ids[-1] == end and len(scorer.tokens) == 3
    got = scorer(image[None])[0]
    np.testing.assert_allclose(
        got, reference_probs(model, image, PROMPT, scorer.answer_ids, scorer.token_ids), atol=ATOL
    )


def test_generation_must_match_prompt(tiny_model, image_for) -> None:
    model = tiny_model("llava")
    image = image_for("llava")
    gen = model.generate(image, PROMPT, max_new_tokens=2)
    with pytest.raises(ValueError, match="generation answers"):
        model.prepare(image, prompt="what is in it ?", generation=gen)
    with pytest.raises(ValueError, match="not both"):
        model.prepare(image, generation=gen, answer="a cat")
    with pytest.raises(TypeError, match="Generation"):
        model.prepare(image, prompt=PROMPT, generation="a cat")


def test_video_frames_are_refused_by_image_only_families(tiny_model) -> None:
    model = tiny_model("llava")
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="does not take video"):
        model.prepare(frames, prompt=PROMPT, answer="a cat")


def test_api_generation_is_refused_with_a_hint(tiny_model, image_for) -> None:
    model = tiny_model("llava")
    gen = Generation(text="a cat", tokens=["a", " cat"], token_ids=[-1, -1], prompt=PROMPT)
    with pytest.raises(ValueError, match="answer=gen.text"):
        model.prepare(image_for("llava"), generation=gen)


def test_metadata_with_custom_messages(tiny_model, image_for) -> None:
    model = tiny_model("llava")
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "what is in it ?"}],
        }
    ]
    meta = model.prepare(image_for("llava"), messages=messages, answer="a cat").metadata
    assert meta["prompt"] == "what is in it ?" and "messages" in meta
    assert all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in meta.values())
