"""Ground truth of prompt spans on the embedded model, on a few held-out scenes (the full
measurement is ``benchmarks/prompt_ground_truth.py``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import shapes

SEEDS = (950000, 950001, 950002)
pytestmark = pytest.mark.slow  # ~10 s per scene (two exact searches)


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ek.load_model("shapes")


@pytest.mark.parametrize("seed", SEEDS)
def test_yes_rests_on_the_object_words_and_the_object(model, seed) -> None:
    scene = shapes.make_scene(seed)
    obj = scene.objects[0]
    question = shapes.QUESTION_TEMPLATE.format(colour=obj.colour, shape=obj.shape)
    assert model.generate(scene.image, question, max_new_tokens=1).text == "yes"
    text_only = ek.explain(
        model,
        scene.image,
        prompt=question,
        answer="yes",
        regions="none",
        text_regions="words",
        search="exact",
        progress=False,
    )
    words = [t for t, _, _ in text_only.text_spans]
    assert words == question.split()
    # the word that matters most is the colour or the shape, never "is there a" or "?"
    assert words[int(text_only.order[0])] in (obj.colour, obj.shape)
    gains = dict(zip(words, text_only.text_values(0, kind="gain"), strict=True))
    assert max(gains[obj.colour], gains[obj.shape]) > 0.5
    assert all(abs(gains[w]) < 0.05 for w in ("is", "there", "a"))

    grid = ek.segment(scene.image, 16, "grid")
    joint = ek.explain(
        model,
        scene.image,
        prompt=question,
        answer="yes",
        regions=grid,
        text_regions="words",
        search="exact",
        progress=False,
    )
    d = joint.dataset
    cell = int(np.bincount(grid.labels[obj.mask]).argmax())
    # the first feature is the object's cell or one of its words (never filler or background);
    # the rest of the joint order can put filler early: see the README (interactions)
    first = int(joint.order[0])
    assert first == cell or joint.dataset["region_text"].values[first] in (obj.colour, obj.shape)
    # "yes" rests on the image and on the question, little on the prior
    assert d["reliance_image"].values[0] > 0.3 and d["reliance_prompt"].values[0] > 0.3
    assert d["reliance_prior"].values[0] < 0.1
    total = d["reliance_image"] + d["reliance_prompt"] + d["reliance_prior"]
    np.testing.assert_allclose(total.values, d["p_full"].values, atol=1e-12)


def test_planted_hallucination_rests_on_the_colour_word(model) -> None:
    scene = shapes.hallucination_scene(950000)
    question = shapes.QUESTION_TEMPLATE.format(colour="green", shape="circle")
    assert model.generate(scene.image, question, max_new_tokens=1).text == "yes"
    grid = ek.segment(scene.image, 16, "grid")
    expl = ek.explain(
        model,
        scene.image,
        prompt=question,
        answer="yes",
        regions=grid,
        text_regions="words",
        search="exact",
        progress=False,
    )
    words = [t for t, _, _ in expl.text_spans]
    gains = dict(zip(words, expl.text_values(0, kind="gain"), strict=True))
    # the false "yes" is carried by "green" (a green square is there), not by the filler
    assert max(gains, key=gains.get) == "green" and gains["green"] > 0.5
    assert all(abs(gains[w]) < 0.05 for w in ("is", "there", "a", "?"))
    d = expl.dataset
    assert d["reliance_image"].values[0] > 0.2 and d["reliance_prompt"].values[0] > 0.2
