"""The OpenAI-compatible API scorer against a small local server serving a tiny model.

The server (``openai_server.py``) computes log-probabilities with transformers directly; the
API scorer's probabilities must equal the Hugging Face scorer's for the same tiny model
(PNG transport is lossless; tolerance 1e-5 for float32 rounding).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from openai_server import TinyOpenAIServer

import eagle_kit as ek
from eagle_kit.models import OpenAIScorer
from eagle_kit.models.api import APIError

ATOL = 1e-5
PROMPT = "describe the image ."


@pytest.fixture(scope="module")
def served(tiny_model):
    model = tiny_model("llava")
    with TinyOpenAIServer(model.model, model.processor, name="tiny-llava", flavor="vllm") as url:
        yield model, url


@pytest.fixture(scope="module")
def served_openai(tiny_model):
    model = tiny_model("llava")
    with TinyOpenAIServer(model.model, model.processor, name="tiny-llava", flavor="openai") as url:
        yield model, url


def test_prompt_logprobs_mode_equals_hf_scorer(served, image_for, random_masks) -> None:
    model, url = served
    image = image_for("llava", seed=21)
    api = OpenAIScorer("tiny-llava", base_url=url, max_workers=4)
    scorer = api.prepare(image, prompt=PROMPT, answer="a red circle on the left", targets="circle")
    hf = model.prepare(image, prompt=PROMPT, answer="a red circle on the left", targets="circle")
    assert scorer.mode == "prompt_logprobs" and scorer.metadata["mode"] == "prompt_logprobs"
    assert scorer.answer_ids == hf.answer_ids and scorer.token_ids == hf.token_ids
    assert [t.strip() for t in scorer.tokens] == [t.strip() for t in hf.tokens]
    assert scorer.default_targets == hf.default_targets == [2]
    masks = random_masks(5, image.shape[:2], seed=4)
    fill = np.zeros_like(image)
    composed = np.where(masks[..., None], image, fill)
    np.testing.assert_allclose(scorer(composed), hf.score_masks(masks, fill), atol=ATOL)


def test_continuation_mode_equals_hf_scorer_for_the_targets(
    served, image_for, random_masks
) -> None:
    model, url = served
    image = image_for("llava", seed=22)
    vocab = model.model.get_output_embeddings().out_features
    api = OpenAIScorer("tiny-llava", base_url=url, mode="continuation", top_logprobs=vocab)
    gen = api.generate(image, PROMPT, max_new_tokens=4)
    hf_gen = model.generate(image, PROMPT, max_new_tokens=4)
    assert gen.text == hf_gen.text
    assert [t.strip() for t in gen.tokens] == [t.strip() for t in hf_gen.tokens]
    scorer = api.prepare(image, prompt=PROMPT, answer="a red circle", targets=["red", "circle"])
    assert scorer.mode == "continuation"
    assert [t.strip() for t in scorer.tokens] == [
        "red",
        "circle",
    ] and scorer.default_targets is None
    hf = model.prepare(image, prompt=PROMPT, answer="a red circle")
    masks = random_masks(3, image.shape[:2], seed=8)
    fill = np.full_like(image, 40)
    want = hf.score_masks(masks, fill)[:, [1, 2]]
    np.testing.assert_allclose(scorer(np.where(masks[..., None], image, fill)), want, atol=ATOL)


def test_openai_flavour_falls_back_to_first_token_continuation(
    served_openai, image_for, teacher_forcing
) -> None:
    model, url = served_openai
    image = image_for("llava", seed=23)
    api = OpenAIScorer("tiny-llava", base_url=url)  # auto
    scorer = api.prepare(image, prompt="is there a cat ?", answer="Yes", target_token_ids={0: "No"})
    assert scorer.mode == "continuation" and [t.strip() for t in scorer.tokens] == ["No"]
    got = scorer(image[None])[0, 0]
    dist = teacher_forcing(
        model, image, "is there a cat ?", [model.tokenizer.convert_tokens_to_ids("Yes")]
    )[0]
    no = model.tokenizer.convert_tokens_to_ids("No")
    in_top20 = no in torch.argsort(dist, descending=True)[:20].tolist()
    assert got == pytest.approx(float(dist[no]) if in_top20 else 0.0, abs=ATOL)
    with pytest.raises(APIError, match="HTTP 400.*prompt_logprobs"):
        OpenAIScorer("tiny-llava", base_url=url, mode="prompt_logprobs").prepare(
            image, prompt=PROMPT, answer="a cat"
        )
    with pytest.raises(APIError, match="continue_final_message"):
        # A second answer position needs a partial assistant message, which OpenAI refuses.
        OpenAIScorer("tiny-llava", base_url=url).prepare(
            image, prompt=PROMPT, answer="a cat", answer_tokens=["a", " cat"], targets=1
        )(image[None])
    with pytest.raises(ValueError, match="do not join"):
        api.prepare(image, prompt=PROMPT, answer="a cat", answer_tokens=["a", "dog"])
    with pytest.raises(ValueError, match="Cannot tokenise"):
        api.prepare(image, prompt=PROMPT, answer="a cat")


def test_explain_with_api_scorer_matches_hf(served, image_for) -> None:
    model, url = served
    image = image_for("llava", seed=24)
    regions = ek.segment(image, n_regions=4, method="grid")
    api = OpenAIScorer("tiny-llava", base_url=url, max_workers=4)
    a = ek.explain(
        api,
        image,
        regions=regions,
        search="exact",
        prompt=PROMPT,
        answer="two blue squares",
        progress=False,
    )
    b = ek.explain(
        model,
        image,
        regions=regions,
        search="exact",
        prompt=PROMPT,
        answer="two blue squares",
        progress=False,
    )
    assert list(a.order) == list(b.order)
    np.testing.assert_allclose(a.curve("insertion"), b.curve("insertion"), atol=ATOL)
    assert a.attrs["scorer"] == "openai"


def test_api_errors_are_clear(served, image_for) -> None:
    _, url = served
    image = image_for("llava")
    with pytest.raises(APIError, match="Cannot reach"):
        OpenAIScorer("tiny-llava", base_url="http://127.0.0.1:9/v1", timeout=2).generate(
            image, PROMPT
        )
    with pytest.raises(APIError, match="does not exist"):
        OpenAIScorer("other", base_url=url).generate(image, PROMPT)
    api = OpenAIScorer("tiny-llava", base_url=url)
    with pytest.raises(ValueError, match="no image placeholder"):
        api.prepare(
            image,
            messages=[{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
            answer="a",
        )
    scorer = api.prepare(image, prompt=PROMPT, answer="a cat")
    with pytest.raises(ValueError, match="prepared image's size"):
        scorer(np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(TypeError, match="token text"):
        api.prepare(image, prompt=PROMPT, answer="a cat", target_token_ids={0: 5})
    with pytest.raises(ValueError, match="Unknown mode"):
        OpenAIScorer("tiny-llava", base_url=url, mode="fast")
