"""PromptView traits: the prompt's spans and their values, linked with the token selection."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import traitlets

import eagle_kit as ek
from eagle_kit import shapes


@pytest.fixture(scope="module")
def expl():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    scene = shapes.make_scene(950001)
    return ek.explain(
        model,
        scene.image,
        prompt="is there a red triangle ?",
        answer="yes .",
        regions=ek.segment(scene.image, 4, "grid"),
        text_regions="words",
        search="exact",
        progress=False,
    )


def test_prompt_view_values_follow_the_selection(expl) -> None:
    from eagle_kit.widgets import PromptView, TokenTimeline, link_prompt_view

    view = PromptView(expl)
    assert view.prompt == "is there a red triangle ?"
    assert [s["text"] for s in view.spans] == view.prompt.split()
    np.testing.assert_allclose(view.values(), expl.text_values())
    timeline = TokenTimeline(expl)
    link = link_prompt_view(timeline, view)
    timeline.selected = [0]
    assert view.selected == [0]
    np.testing.assert_allclose(view.values(), expl.text_values(0, kind="gain"))
    timeline.selected = [0, 1]
    both = np.mean([expl.text_values(t, kind="gain") for t in (0, 1)], axis=0)
    np.testing.assert_allclose(view.values(), both)
    # a selection of both tokens reads the same as the map of both (mean insertion curve)
    np.testing.assert_allclose(view.values(), expl.text_values([0, 1], kind="gain"), atol=1e-12)
    link.unlink()
    with pytest.raises(traitlets.TraitError, match="token indices"):
        view.selected = [5]


def test_prompt_view_needs_text_features(expl) -> None:
    from eagle_kit.widgets import PromptView

    image = np.zeros((16, 16, 3), np.uint8)
    plain = ek.explain(
        lambda x: x.mean(axis=(1, 2, 3))[:, None] / 255,
        image,
        regions=ek.segment(image, 4, "grid"),
        search="exact",
        progress=False,
    )
    with pytest.raises(ValueError, match="text_regions"):
        PromptView(plain)
    html = expl.prompt_html()
    assert html.count('class="ek-prompt-span"') == 6 and "triangle" in html


def test_joint_gain_map_scale_and_caption_are_over_image_regions(expl) -> None:
    n_img = expl.n_image_regions
    for tokens in (None, 0, 1):
        info = expl.map_info(tokens, kind="gain")
        gains = expl.region_values(tokens, kind="gain")
        top = int(np.argmax(np.abs(gains[:n_img])))
        assert info.scale == pytest.approx(max(abs(gains[top]), 1e-12))
        assert abs(info.image_max_gain) == pytest.approx(abs(gains[top]))
        every = int(np.argmax(np.abs(gains)))
        assert abs(info.max_gain) == pytest.approx(abs(gains[every]))
        if not info.shown:
            continue
        if every >= n_img:  # a prompt word holds the largest gain: the caption names it
            word = expl.text_spans[every - n_img][0]
            assert f'prompt span "{word}"' in info.caption()
        else:
            assert f"({info.max_gain_feature})" == f"(region {every})"
        assert f"the image regions' steps move it by {info.image_span:.3f}, the largest " in (
            info.caption()
        )
        assert f"{info.image_max_gain:+.3f} (region {info.image_max_gain_region}, the image" in (
            info.caption()
        )
        np.testing.assert_array_equal(
            expl.overlay(tokens, kind="gain"), expl.overlay(tokens, kind="gain", scale=info.scale)
        )
