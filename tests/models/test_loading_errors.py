"""Model loading and scoring fail early with errors that say what is wrong and how to fix it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.models.loading import load_model


def test_a_folder_without_processor_files_names_them(tmp_path) -> None:
    folder = tmp_path / "llava-bare"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(FileNotFoundError) as err:
        load_model(folder, device="cpu")
    msg = str(err.value)
    assert "llava-bare" in msg and "processor cannot be loaded" in msg
    assert "image processor (preprocessor_config.json or processor_config.json)" in msg
    assert "tokenizer (tokenizer.json" in msg and "save_pretrained" in msg
    assert "huggingface.co" not in msg
    # with the tokenizer present only the image processor is named
    (folder / "tokenizer.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no image processor") as err:
        load_model(folder, device="cpu")
    assert "tokenizer (" not in str(err.value)


@pytest.fixture(scope="module")
def shapes():
    return ek.load_model("shapes", device="cpu")


def test_a_prompt_longer_than_the_model_positions_is_a_clear_error(shapes) -> None:
    limit = shapes.max_positions()
    assert limit == 128  # the embedded model's max_position_embeddings
    image = np.full((64, 64, 3), 255, np.uint8)
    long_prompt = "describe the shape " * 60
    with pytest.raises(ValueError, match=r"longer than the 128 positions") as err:
        shapes.prepare(image, prompt=long_prompt, answer="a red square")
    n = int(str(err.value).split("The input is ")[1].split()[0])
    assert n > 128 and "answer tokens" not in str(err.value)  # caught before the answer
    # a prompt that fits with an answer that does not: both lengths named
    answer = " a red square" * 60
    n_answer = len(shapes._encode_answer(answer)["input_ids"])
    with pytest.raises(ValueError, match=rf"\+ {n_answer} answer tokens = \d+ tokens, longer"):
        shapes.prepare(image, prompt="what shape is it?", answer=answer)
    with pytest.raises(ValueError, match=r"longer than the 128 positions"):
        shapes.generate(image, long_prompt)
    # a prompt that fits still works
    assert shapes.generate(image, "what shape is it?", max_new_tokens=2).text is not None


def _n_prompt(shapes, image, prompt: str) -> int:
    _, inputs = shapes._encode(image, shapes._conversation(prompt, None, False))
    return int(inputs["input_ids"].shape[-1])


def test_generation_keeps_prompt_and_answer_inside_the_model_positions(shapes) -> None:
    image = np.full((64, 64, 3), 255, np.uint8)
    prompt = "what shape is it ? " * 20
    n_prompt = _n_prompt(shapes, image, prompt)
    room = 128 - n_prompt
    assert 1 <= room < 64, room  # the prompt fits, the default 64 new tokens would not
    match = rf"max_new_tokens=64 lowered to {room}: the prompt is {n_prompt}"
    with pytest.warns(UserWarning, match=match):
        gen = shapes.generate(image, prompt)
    assert len(gen.token_ids) <= room
    if gen.token_ids:  # the answer it gave can be explained: prompt + answer fit
        expl = ek.explain(
            shapes,
            image,
            prompt=prompt,
            generation=gen,
            regions=ek.segment(image, 4, "grid"),
            search="exact",
            progress=False,
        )
        assert len(expl.tokens) == len(gen.token_ids)
    # a prompt that fills every position leaves no room for an answer
    words = next(k for k in range(1, 200) if _n_prompt(shapes, image, "red " * k) >= 128)
    full = "red " * words
    assert _n_prompt(shapes, image, full) == 128, "no prompt of exactly 128 tokens"
    with pytest.raises(ValueError, match="fills all 128 positions.*no room for an answer"):
        shapes.generate(image, full)


def test_a_prompt_with_the_image_placeholder_is_refused_as_input(shapes) -> None:
    image = np.full((64, 64, 3), 255, np.uint8)
    with pytest.raises(ek.InputError, match=r"placeholder '<image>'.*Remove '<image>'"):
        shapes.prepare(image, prompt="<image> what shape is it?", answer="a red square")
    with pytest.raises(ek.InputError, match="placeholder '<image>'"):
        shapes.generate(image, "what is <image> here?")
    assert issubclass(ek.InputError, ValueError)  # code catching ValueError keeps working
