"""``ek.explain`` driving the Hugging Face scorer end to end (image and video)."""

from __future__ import annotations

import numpy as np
import torch

import eagle_kit as ek

PROMPT = "describe the image ."


class OneByOne:
    """The reference way: processor + full forward for each filled image."""

    def __init__(self, model, media, prompt, answer_ids, reference_probs) -> None:
        self.args = (model, prompt, list(answer_ids))
        self.ref = reference_probs

    def __call__(self, images: np.ndarray) -> np.ndarray:
        model, prompt, ids = self.args
        return np.stack([self.ref(model, img, prompt, ids, ids) for img in images])


def test_explain_with_model_equals_explain_with_reference_scorer(
    tiny_model, image_for, reference_probs
) -> None:
    model = tiny_model("llava")
    image = image_for("llava", seed=11)
    regions = ek.segment(image, n_regions=4, method="grid")
    expl = ek.explain(
        model,
        image,
        regions=regions,
        search="exact",
        prompt=PROMPT,
        answer="a red circle",
        progress=False,
    )
    scorer = model.prepare(image, prompt=PROMPT, answer="a red circle")
    ref = ek.explain(
        OneByOne(model, image, PROMPT, scorer.answer_ids, reference_probs),
        image,
        regions=regions,
        search="exact",
        batch_size=1,
        progress=False,
        token_names=scorer.tokens,
    )
    assert list(expl.order) == list(ref.order)
    assert expl.tokens == ["a", " red", " circle"]  # each token's text in the answer
    np.testing.assert_allclose(expl.curve("insertion"), ref.curve("insertion"), atol=1e-5)
    np.testing.assert_allclose(expl.curve("deletion"), ref.curve("deletion"), atol=1e-5)
    assert expl.attrs["model"] == model.name and expl.attrs["scorer"] == "hf"


def test_explain_forwards_targets_and_generation(tiny_model, image_for) -> None:
    model = tiny_model("qwen2_5_vl")
    image = image_for("qwen2_5_vl", seed=12)
    gen = model.generate(image, PROMPT, max_new_tokens=4)
    word = gen.tokens[-1]
    expl = ek.explain(
        model,
        image,
        regions=ek.segment(image, n_regions=4, method="grid"),
        search="exact",
        prompt=PROMPT,
        generation=gen,
        targets=word,
        progress=False,
    )
    assert expl.tokens == gen.tokens
    key = word.strip().lower()  # a word selects every occurrence, whatever its spacing/case
    assert [expl.tokens[i] for i in expl.targets] == [
        t for t in gen.tokens if t.strip().lower() == key
    ]


def test_explain_video_over_spatio_temporal_regions(tiny_model) -> None:
    model = tiny_model("qwen2_5_vl")
    frames = np.random.default_rng(5).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    regions = ek.segment(frames, n_regions=4, method="grid")
    assert regions.n_regions >= 4
    expl = ek.explain(
        model,
        frames,
        regions=regions,
        search="efficient",
        prompt="describe the video .",
        answer="a cat",
        progress=False,
    )
    assert sorted(expl.order.tolist()) == list(range(regions.n_regions))
    assert expl.n_evaluations > 0


def test_exact_search_order_matches_reference_way_on_every_family(
    tiny_model, image_for, reference_probs
) -> None:
    from eagle_kit.testing.tiny_models import TINY_FAMILIES

    for family in TINY_FAMILIES:
        model = tiny_model(family)
        image = image_for(family, seed=13)
        regions = ek.segment(image, n_regions=6, method="grid")
        expl = ek.explain(
            model,
            image,
            regions=regions,
            search="exact",
            prompt=PROMPT,
            answer="two blue squares",
            progress=False,
        )
        ids = model.prepare(image, prompt=PROMPT, answer="two blue squares").answer_ids
        ref = ek.explain(
            OneByOne(model, image, PROMPT, ids, reference_probs),
            image,
            regions=regions,
            search="exact",
            batch_size=1,
            progress=False,
        )
        assert list(expl.order) == list(ref.order), family
        with torch.no_grad():
            np.testing.assert_allclose(expl.curve("insertion"), ref.curve("insertion"), atol=1e-5)
