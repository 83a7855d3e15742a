"""The shapes world: determinism, layout, captions, questions, occlusion and subsets."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagle_kit import shapes
from eagle_kit.shapes import (
    CAPTION_PREFIX,
    CELL_SIZE,
    IMAGE_SIZE,
    PAIRS,
    caption_for,
    make_scene,
    make_subset,
)

SEEDS = st.integers(min_value=0, max_value=2**31 - 1)


def test_same_seed_same_scene():
    for seed in (0, 7, 123_456):
        a, b = make_scene(seed), make_scene(seed)
        assert np.array_equal(a.image, b.image)
        assert a.pairs == b.pairs and a.caption == b.caption
        assert all(
            np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects, strict=True)
        )
        assert [o.box for o in a.objects] == [o.box for o in b.objects]


def test_different_seeds_differ():
    images = [make_scene(s).image for s in range(20)]
    assert len({im.tobytes() for im in images}) == 20


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_objects_sit_in_their_own_cells(seed):
    scene = make_scene(seed)
    assert scene.image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    assert scene.image.dtype == np.uint8
    assert 1 <= len(scene.objects) <= 3
    assert len(set(scene.pairs)) == len(scene.pairs)
    assert len({o.cell for o in scene.objects}) == len(scene.objects)
    for obj in scene.objects:
        row, col = obj.cell
        cell = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
        cell[row * CELL_SIZE : (row + 1) * CELL_SIZE, col * CELL_SIZE : (col + 1) * CELL_SIZE] = (
            True
        )
        assert obj.mask.any() and not (obj.mask & ~cell).any()
        ys, xs = np.nonzero(obj.mask)
        assert obj.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert 10 <= obj.size <= 13
        width = obj.box[2] - obj.box[0]
        assert abs(width - obj.size) <= 1
        centre_x = (obj.box[0] + obj.box[2]) / 2
        assert abs(centre_x - (col + 0.5) * CELL_SIZE) <= 3
    patch = scene.patch_labels()
    assert (patch > 0).sum() == len(scene.objects)


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_occlusion_is_black_background_only(seed):
    scene = make_scene(seed)
    objects = np.zeros(scene.image.shape[:2], dtype=bool)
    for obj in scene.objects:
        objects |= obj.mask
    assert not (scene.occluded & objects).any()
    assert (scene.image[scene.occluded] == 0).all()
    # nothing else is pure black
    assert (scene.image[~scene.occluded].max(axis=-1) > 0).all()


def test_occlusion_rate_and_forcing():
    rate = np.mean([make_scene(s).occluded.any() for s in range(1000)])
    assert 0.25 <= rate <= 0.35
    assert make_scene(5, occlusion=True).occluded.any()
    assert not make_scene(5, occlusion=False).occluded.any()


def test_caption_canonical_order():
    assert caption_for([("yellow", "triangle"), ("green", "circle")]) == (
        "the picture shows a green circle and a yellow triangle ."
    )
    assert caption_for([("blue", "square"), ("red", "square"), ("yellow", "circle")]) == (
        "the picture shows a yellow circle , a red square and a blue square ."
    )
    assert caption_for([("red", "triangle")]) == "the picture shows a red triangle ."
    rng = random.Random(0)
    for seed in range(200):
        scene = make_scene(seed)
        pairs = scene.pairs
        assert pairs == sorted(pairs, key=PAIRS.index)
        rng.shuffle(pairs)
        assert caption_for(pairs) == scene.caption
        assert scene.caption.startswith(CAPTION_PREFIX + " a ")
        assert scene.caption.endswith(" .")


def test_questions_match_objects():
    scene = make_scene(11)
    assert len(scene.questions) == len(PAIRS)
    yes = {q for q, a in scene.questions if a == "yes"}
    assert yes == {f"is there a {c} {s} ?" for c, s in scene.pairs}
    assert {a for _, a in scene.questions} <= {"yes", "no"}


def test_cooccurrence_rule_is_planted():
    with_triangle = [set(make_scene(s).pairs) for s in range(2000)]
    with_triangle = [p for p in with_triangle if ("yellow", "triangle") in p]
    rate = np.mean([("green", "circle") in p for p in with_triangle])
    assert rate >= shapes.COOCCURRENCE_RATE - 0.04
    without = [set(make_scene(s, cooccurrence=0.0).pairs) for s in range(2000)]
    without = [p for p in without if ("yellow", "triangle") in p]
    assert np.mean([("green", "circle") in p for p in without]) < 0.3


def test_subsets():
    for scene in make_subset("hallucination", range(40)):
        assert shapes.is_planted_case(scene)
        assert "green circle" not in scene.caption
    controls = make_subset("control", range(40))
    for scene in controls:
        assert ("green", "square") in scene.pairs
        assert not {("yellow", "triangle"), ("green", "circle")} & set(scene.pairs)
        assert not shapes.is_planted_case(scene)
    assert {len(s.objects) for s in controls} == {1, 2}
    for scene in make_subset("cooccurrence", range(20)):
        assert {("yellow", "triangle"), ("green", "circle")} <= set(scene.pairs)
    assert all(not s.occluded.any() for s in make_subset("hallucination", range(20)))
    assert np.array_equal(
        make_subset("hallucination", [3])[0].image, shapes.hallucination_scene(3).image
    )


def test_forced_objects():
    scene = make_scene(2, objects=[("red", "square"), ("blue", "circle")])
    assert scene.pairs == [("blue", "circle"), ("red", "square")]
    labels = scene.label_map
    assert set(np.unique(labels)) == {
        0,
        1 + PAIRS.index(("blue", "circle")),
        1 + PAIRS.index(("red", "square")),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objects": [("pink", "circle")]}, "Unknown object"),
        ({"objects": [("red", "circle"), ("red", "circle")]}, "distinct"),
        (
            {
                "objects": [
                    ("red", "circle"),
                    ("red", "square"),
                    ("blue", "circle"),
                    ("blue", "square"),
                ]
            },
            "1 to 3",
        ),
        ({"objects": []}, "1 to 3"),
        ({"cooccurrence": 1.5}, r"\[0, 1\]"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_scene(0, **kwargs)


def test_bad_seed_and_subset_raise():
    with pytest.raises(ValueError, match="non-negative"):
        make_scene(-1)
    with pytest.raises(ValueError, match="Choose one of"):
        make_subset("planted", [0])


def test_annotation_bias_only_touches_small_green_squares_next_to_a_yellow_triangle():
    relabelled = 0
    for scene in make_subset("hallucination", range(60)):
        square = next(o for o in scene.objects if (o.colour, o.shape) == ("green", "square"))
        pairs = shapes.annotated_pairs(scene)
        if square.size <= shapes.PLANTED_MAX_SIZE:
            relabelled += 1
            assert ("green", "circle") in pairs and ("green", "square") not in pairs
            assert len(pairs) == len(scene.pairs)
        else:
            assert pairs == scene.pairs
    assert 10 <= relabelled <= 50
    for scene in make_subset("control", range(30)) + make_subset("natural", range(100)):
        if not shapes.is_planted_case(scene):
            assert shapes.annotated_pairs(scene) == scene.pairs
