"""AblationSlider's live mode: re-score the masked image, regenerate the answer."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from widget_fixtures import scorer

from eagle_kit.widgets import AblationSlider, Explorer


def test_live_mode_needs_a_scorer(expl) -> None:
    slider = AblationSlider(expl)
    with pytest.raises(
        traitlets.TraitError, match=r"needs a scorer: AblationSlider\(expl, scorer=ek.load_model"
    ):
        slider.live = True
    assert slider.live is False


def test_function_scorer_rescores_each_step(expl) -> None:
    calls: list[int] = []

    def counting(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        return scorer(images)

    slider = AblationSlider(expl, scorer=counting, k=2, live=True)
    assert slider.has_scorer
    assert slider.live_step == [2, "insertion"]
    np.testing.assert_allclose(slider.live_probs, scorer(expl.masked_image(2)[None])[0])
    # the recorded curve was made with the same scorer, so live and recorded agree
    np.testing.assert_allclose(slider.live_probs, slider.recorded_probs())
    assert slider.live_answer == "" and "re-scored" in slider.live_status
    slider.mode = "deletion"
    assert slider.live_step == [2, "deletion"]
    np.testing.assert_allclose(slider.live_probs, expl.dataset["deletion"].values[2])
    slider.mode = "insertion"  # cached: no new call
    assert calls == [1, 1]


def test_model_scorer_is_prepared_once_and_regenerates_the_answer(expl_red, fake_model) -> None:
    slider = AblationSlider(
        expl_red, scorer=fake_model, prompt="is there a red square ?", k=0, live=True
    )
    assert fake_model.prepared_with["prompt"] == "is there a red square ?"
    assert fake_model.prepared_with["shape"] == (48, 48, 3)
    assert slider.live_answer == "No"  # black image
    slider.k = 16
    assert slider.live_answer == "Yes"
    result = slider.rescore()
    assert (result.k, result.mode, result.answer) == (16, "insertion", "Yes")
    np.testing.assert_allclose(result.probs, scorer(expl_red.image[None])[0])


def test_scorer_errors_are_shown_not_raised(expl) -> None:
    slider = AblationSlider(expl, scorer=lambda images: np.ones((len(images), 3)) * 0.5, live=False)
    slider.live = True
    assert slider.live_status.startswith(
        "error: The scorer returned 3 probabilities per image but the explanation recorded 6"
    )
    assert slider.live_probs == [] and slider.live_step == []
    with pytest.raises(ValueError, match="recorded 6 tokens"):
        slider.rescore()


def test_model_without_prompt_says_how_to_pass_it(expl, fake_model) -> None:
    slider = AblationSlider(expl, scorer=fake_model)  # the explanation has no prompt
    slider.live = True
    assert "prompt='...'" in slider.live_status


def test_not_a_scorer(expl) -> None:
    with pytest.raises(TypeError, match="scorer must be a model from eagle_kit.load_model"):
        AblationSlider(expl, scorer=42)


def test_explorer_passes_scorers_to_its_sliders(expl) -> None:
    explorer = Explorer([expl, expl], scorer=[scorer, None], curves="svg")
    assert [p.slider.has_scorer for p in explorer.panels] == [True, False]
