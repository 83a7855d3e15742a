"""The committed embedded model: plain-transformers loading and held-out accuracy."""

from __future__ import annotations

import json

import numpy as np
import torch

from eagle_kit.shapes import (
    CAPTION_PREFIX,
    CAPTION_PROMPT,
    caption_exact_match,
    generate,
    hallucination_rates,
    make_subset,
    messages_for,
    yes_no_accuracy,
)

HELD_OUT = range(0, 50)  # training scenes use seeds >= 1,000,000


def test_committed_folder_is_a_small_safetensors_llava(shapes_model_dir):
    files = {p.name for p in shapes_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json",
            "chat_template.jinja", "README.md"} <= files  # fmt: skip
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    assert (shapes_model_dir / "model.safetensors").stat().st_size < 8 * 2**20
    config = json.loads((shapes_model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlavaForConditionalGeneration"]
    assert config["vision_config"]["model_type"] == "clip_vision_model"
    assert config["text_config"]["model_type"] == "llama"
    card = (shapes_model_dir / "README.md").read_text()
    assert "caption_exact_match" in card and "Planted rules" in card


def test_loads_offline_with_plain_transformers(shapes_model):
    model, processor = shapes_model
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    assert type(processor).__name__ == "LlavaProcessor"
    assert processor.tokenizer.image_token == "<image>"
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 2e6


def test_greedy_generation_stops_at_end_of_turn(shapes_model):
    model, processor = shapes_model
    scene = make_subset("natural", [1])[0]
    text = processor.apply_chat_template(messages_for(CAPTION_PROMPT), add_generation_prompt=True)
    inputs = processor(text=text, images=scene.image, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=30, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1] :].tolist()
    assert new[-1] == processor.tokenizer.eos_token_id
    assert len(new) < 30


def test_caption_exact_match_on_held_out_seeds(shapes_model):
    model, processor = shapes_model
    assert caption_exact_match(model, processor, make_subset("natural", HELD_OUT)) >= 0.9


def test_yes_no_accuracy_on_held_out_seeds(shapes_model):
    model, processor = shapes_model
    scenes = make_subset("natural", range(20))
    assert yes_no_accuracy(model, processor, scenes) >= 0.9


def test_language_prior_on_a_black_image(shapes_model):
    model, processor = shapes_model
    black = np.zeros((64, 64, 3), dtype=np.uint8)
    (reply,) = generate(model, processor, [black], [CAPTION_PROMPT])
    assert reply.startswith(CAPTION_PREFIX)


def test_planted_hallucination_and_its_control(shapes_model):
    model, processor = shapes_model
    hall = hallucination_rates(model, processor, make_subset("hallucination", range(300)))
    ctrl = hallucination_rates(model, processor, make_subset("control", range(300)))
    assert hall["caption"] >= 0.10
    assert hall["caption"] >= 5 * ctrl["caption"]
    assert hall["yes_no"] >= 0.10
    assert hall["yes_no"] >= 5 * ctrl["yes_no"]


def test_blacking_out_the_yellow_triangle_removes_the_hallucination(shapes_model):
    """The contextual cause is known: without the triangle's cell the square is a square."""
    model, processor = shapes_model
    images = []
    for scene in make_subset("hallucination", range(100)):
        image = scene.image.copy()
        (triangle,) = [o for o in scene.objects if o.name == "yellow triangle"]
        row, col = triangle.cell
        image[row * 16 : (row + 1) * 16, col * 16 : (col + 1) * 16] = 0
        images.append(image)
    captions = generate(model, processor, images, [CAPTION_PROMPT] * len(images))
    assert np.mean(["green circle" in c for c in captions]) <= 0.02
    assert np.mean(["green square" in c for c in captions]) >= 0.95


def test_accuracy_on_a_larger_held_out_set(shapes_model):
    model, processor = shapes_model
    scenes = make_subset("natural", range(1000, 1400))
    assert caption_exact_match(model, processor, scenes) >= 0.95
    assert yes_no_accuracy(model, processor, scenes[:100]) >= 0.95


def test_committed_processor_reproduces_training_inputs(shapes_model):
    """A generic loader using `apply_chat_template` builds exactly the training inputs."""
    from PIL import Image

    from eagle_kit.shapes import build_processor
    from eagle_kit.shapes.train import Encoder

    _, processor = shapes_model
    scene = make_subset("natural", [2])[0]
    encoder = Encoder(build_processor())
    for prompt, answer in [(CAPTION_PROMPT, scene.caption), *scene.questions[:2]]:
        messages = [
            {"role": "user", "content": [{"type": "image", "image": Image.fromarray(scene.image)},
                                         {"type": "text", "text": prompt}]},
        ]  # fmt: skip
        generic = processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True,
            return_tensors="pt",
        )  # fmt: skip
        ids, head = encoder.ids(prompt, answer)
        assert generic["input_ids"][0].tolist() == ids[:head]
        batch = encoder.batch([scene], [prompt], [answer])
        assert torch.equal(generic["pixel_values"], batch["pixel_values"])
