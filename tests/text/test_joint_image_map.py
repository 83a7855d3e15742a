"""In a joint image + prompt explanation the image map is drawn only when the image regions
themselves move the quantity: a prompt word's large step must not switch on a map of noise
(a review saw ±0.0006 image gains drawn at full colour under a title "span 1.000")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.explanation import MIN_MAP_SPAN


@pytest.fixture(scope="module")
def prompt_decides() -> ek.Explanation:
    """Seed 7 has a yellow square; "is there a" <image> "yellow square ?" → "yes" rests on the
    word "yellow" (≈ +0.999), the image regions barely move p("yes")."""
    image = ek.shapes.make_scene(7).image
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "is there a"},
                {"type": "image"},
                {"type": "text", "text": "yellow square ?"},
            ],
        }
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
        return ek.explain(
            model,
            image,
            messages=msgs,
            answer="yes",
            regions=ek.segment(image, 16, "grid"),
            text_regions="words",
            search="exact",
            progress=False,
        )


def test_the_image_map_is_not_drawn_when_only_the_prompt_moves_the_token(prompt_decides):
    e = prompt_decides
    info = e.map_info(0, kind="gain")
    gains = e.region_values(0, kind="gain")
    image_steps = gains[e.region_kind == "image"]
    # computed independently: the image regions' steps along the order, summed
    assert info.image_span == pytest.approx(float(np.sum(np.abs(image_steps))), abs=1e-12)
    assert info.span > 0.9 and info.image_span < MIN_MAP_SPAN
    assert not info.shown
    caption = info.caption()
    # a marginal effect along the order, never the claim that the image does not matter
    assert 'Along this order the image regions\' steps move p("yes") by only ' in caption
    assert f"{info.image_span:.3f}" in caption and "no image map shown" in caption
    assert "not whether the image matters" in caption and "barely moves" not in caption
    fig = ek.plot.overlay(e, 0, kind="gain")
    texts = " ".join(t.get_text().replace("\n", " ") for ax in fig.axes for t in ax.texts)
    assert "along this order the image regions move" in texts and "no map drawn" in texts
    assert len(fig.axes) == 1  # no colour bar for a map that is not drawn


def test_the_title_states_what_the_image_regions_move(prompt_decides):
    # the objective F also reads deletion, which the image regions move (≈ 1.0 of ≈ 2.0)
    e = prompt_decides
    info = e.map_info(None, kind="rank")
    assert info.shown and info.image_span > 0.5
    fig = ek.plot.overlay(e, None, kind="rank")
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for a in fig.axes for t in a.texts]
    texts += [a.get_title() for a in fig.axes]
    title = " ".join(texts).replace("\n", " ")
    assert f"image regions move it {info.image_span:.3f} of span {info.span:.3f}" in title


def test_an_image_that_moves_the_token_is_still_drawn_in_a_joint_explanation():
    image = ek.shapes.make_scene(7).image
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
        e = ek.explain(
            model,
            image,
            prompt=ek.shapes.CAPTION_PROMPT,
            answer="the picture shows a blue square , a yellow square and a blue triangle .",
            regions=ek.segment(image, 16, "grid"),
            text_regions="words",
            targets="yellow",
            search="exact",
            progress=False,
        )
    info = e.map_info(e.targets, kind="gain")
    assert info.image_span >= MIN_MAP_SPAN and info.shown


def test_a_prompt_only_explanation_speaks_of_no_image_map() -> None:
    image = ek.shapes.make_scene(0).image
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
        e = ek.explain(
            model,
            image,
            prompt="is there a red circle ?",
            answer="no",
            regions="none",
            text_regions="words",
            search="exact",
            progress=False,
        )
    assert e.map_info(0).caption() == "No image regions (prompt span features only): no image map."
    page = e._repr_html_()
    assert "barely moves" not in page and "image regions' steps" not in page
    with pytest.raises(ValueError, match="prompt span features only"):
        ek.plot.overlay(e, 0)


def test_joint_captions_name_the_image_regions_share_and_the_scale_only_for_gain(
    prompt_decides,
) -> None:
    rank = prompt_decides.map_info(None, kind="rank")
    gain = prompt_decides.map_info(None, kind="gain")
    for info in (rank, gain):
        assert f"the image regions' steps move it by {info.image_span:.3f}" in info.caption()
    assert "colour scale" not in rank.caption()  # a rank map's scale is [0, 1]
    assert "the image map's colour scale" in gain.caption()
