"""Tokenizer, chat template, processor and a few training steps (no committed weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from eagle_kit.shapes import (
    CAPTION_PROMPT,
    PAIRS,
    PIXEL_MEAN,
    PIXEL_STD,
    SPARE_WORDS,
    build_processor,
    build_tokenizer,
    caption_for,
    make_scene,
    messages_for,
    question_for,
)
from eagle_kit.shapes.model import ModelSize
from eagle_kit.shapes.train import Encoder, TrainConfig, main, train

TINY = ModelSize(vision_hidden=32, vision_layers=1, vision_heads=2, vision_intermediate=64,
                 text_hidden=32, text_layers=1, text_heads=2, text_intermediate=64)  # fmt: skip


def test_every_trained_word_and_spare_word_is_known():
    tok = build_tokenizer()
    texts = [CAPTION_PROMPT, caption_for(PAIRS[:3]), "yes no", " ".join(SPARE_WORDS)]
    texts += [question_for(c, s) for c, s in PAIRS]
    for text in texts:
        ids = tok(text)["input_ids"]
        assert tok.unk_token_id not in ids, text
        assert tok.decode(ids) == text
    assert tok("a purple elephant")["input_ids"].count(tok.unk_token_id) == 2


def test_chat_template_renders_training_format():
    processor = build_processor()
    text = processor.apply_chat_template(messages_for(CAPTION_PROMPT), add_generation_prompt=True)
    assert text == "<s><user> <image> describe the picture . <assistant> "
    full = processor.apply_chat_template(messages_for("is there a red circle ?", "no"))
    assert full == "<s><user> <image> is there a red circle ? <assistant> no <end> "
    tokens = processor.tokenizer.convert_ids_to_tokens(
        processor(text=full, images=np.zeros((64, 64, 3), np.uint8))["input_ids"][0]
    )
    assert tokens.count("<image>") == 16
    assert tokens[:2] == ["<s>", "<user>"] and tokens[-2:] == ["no", "<end>"]


def test_training_inputs_equal_generic_chat_template_inputs():
    """What training feeds the model is what `apply_chat_template(tokenize=True)` gives."""
    processor = build_processor()
    scene = make_scene(4)
    messages = [
        {"role": "user", "content": [{"type": "image", "image": Image.fromarray(scene.image)},
                                     {"type": "text", "text": CAPTION_PROMPT}]},
    ]  # fmt: skip
    generic = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    encoder = Encoder(processor)
    ids, head = encoder.ids(CAPTION_PROMPT, scene.caption)
    assert generic["input_ids"][0].tolist() == ids[:head]
    batch = encoder.batch([scene], [CAPTION_PROMPT], [scene.caption])
    assert torch.equal(batch["pixel_values"], generic["pixel_values"])
    answer = processor.tokenizer.convert_ids_to_tokens(ids[head:])
    assert answer == scene.caption.split() + ["<end>"]
    assert batch["labels"][0, :head].eq(-100).all()


def test_black_is_rgb_zero_before_normalisation():
    processor = build_processor()
    pixels = processor.image_processor(images=np.zeros((64, 64, 3), np.uint8), return_tensors="pt")
    expected = -torch.tensor(PIXEL_MEAN) / torch.tensor(PIXEL_STD)
    assert torch.equal(pixels["pixel_values"][0, :, 0, 0], expected)


@pytest.mark.parametrize("source", ["built", "committed"])
def test_both_image_backends_give_identical_pixels(source, tiny_folder, request):
    from transformers import AutoProcessor

    folder = tiny_folder if source == "built" else request.getfixturevalue("shapes_model_dir")
    pil = AutoProcessor.from_pretrained(folder, backend="pil")
    tv = AutoProcessor.from_pretrained(folder, backend="torchvision")
    assert type(pil.image_processor).__name__ != type(tv.image_processor).__name__
    rng = np.random.default_rng(0)
    images = [make_scene(s).image for s in range(8)]
    images += [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(8)]
    a = pil.image_processor(images=images, return_tensors="pt")["pixel_values"]
    b = tv.image_processor(images=images, return_tensors="pt")["pixel_values"]
    assert a.shape == (16, 3, 64, 64)
    assert torch.equal(a, b)


def test_untrained_folder_loads_with_plain_transformers(tiny_folder):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_folder)
    model = AutoModelForImageTextToText.from_pretrained(tiny_folder)
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    assert type(processor).__name__ == "LlavaProcessor"
    inputs = processor(
        text=processor.apply_chat_template(messages_for(CAPTION_PROMPT), add_generation_prompt=True),
        images=make_scene(0).image, return_tensors="pt",
    )  # fmt: skip
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (1, inputs["input_ids"].shape[1], len(processor.tokenizer))


def test_a_few_training_steps_run_and_are_reproducible(tmp_path):
    config = TrainConfig(steps=3, planted_steps=2, batch_size=6, warmup=2, size=TINY)
    logs: list[str] = []
    model_a, _ = train(config, log=logs.append, log_every=1)
    model_b, _ = train(config, log=lambda _m: None)
    assert len(logs) == 5 and all("loss" in line for line in logs)
    assert logs[0].startswith("phase 1") and logs[-1].startswith("phase 2")
    assert np.isfinite(float(logs[-1].split("loss ")[1].split()[0]))
    fresh = type(model_a)(model_a.config)
    changed = [
        not torch.equal(p, q) for p, q in zip(model_a.parameters(), fresh.parameters(), strict=True)
    ]
    assert any(changed)
    for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_train_command_writes_a_loadable_folder(tmp_path):
    from transformers import AutoModelForImageTextToText

    out = tmp_path / "model"
    argv = ["--out", str(out), "--steps", "2", "--planted-steps", "1", "--batch-size", "4"]
    assert main([*argv, "--no-gate"]) == 0
    assert (out / "model.safetensors").is_file()
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt"))
    assert json.loads((out / "config.json").read_text())["model_type"] == "llava"
    AutoModelForImageTextToText.from_pretrained(out)


def test_resuming_after_phase_one_equals_a_full_run(tmp_path):
    from eagle_kit.shapes.model import save_pretrained_folder

    config = TrainConfig(steps=2, planted_steps=2, batch_size=6, warmup=2, size=TINY)
    full, _ = train(config, log=lambda _m: None)
    phase1, processor = train(
        TrainConfig(steps=2, planted_steps=0, batch_size=6, warmup=2, size=TINY),
        log=lambda _m: None,
    )
    save_pretrained_folder(phase1, processor, tmp_path / "phase1")
    resumed, _ = train(config, init=tmp_path / "phase1", log=lambda _m: None)
    for p, q in zip(full.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)


def test_saving_over_a_folder_is_atomic_and_keeps_the_card(tmp_path, monkeypatch):
    from eagle_kit.shapes import build_model, build_processor, build_tokenizer
    from eagle_kit.shapes.model import ModelSize, save_pretrained_folder

    tok = build_tokenizer()
    size = ModelSize(
        vision_hidden=16,
        vision_layers=1,
        vision_heads=2,
        vision_intermediate=32,
        text_hidden=16,
        text_layers=1,
        text_heads=2,
        text_intermediate=32,
    )
    folder = tmp_path / "model"
    save_pretrained_folder(build_model(tok, size, seed=0), build_processor(tok), folder)
    (folder / "README.md").write_text("card")
    first = (folder / "model.safetensors").read_bytes()

    # an interrupted save leaves the previous folder as it was
    model = build_model(tok, size, seed=1)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(model), "save_pretrained", boom)
    with pytest.raises(KeyboardInterrupt):
        save_pretrained_folder(model, build_processor(tok), folder)
    monkeypatch.undo()
    assert (folder / "model.safetensors").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging left behind

    save_pretrained_folder(model, build_processor(tok), folder)
    assert (folder / "model.safetensors").read_bytes() != first
    assert (folder / "README.md").read_text() == "card"
