"""ek.plot draws user and token text as written, validates ground truth and says how a map
was smoothed."""

from __future__ import annotations

import re

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.metrics import Correction

plot = ek.plot

MATH = ["$\\alpha$", " $x^2$", " cost $5 and $6", " ☃", "."]


def _scorer(images: np.ndarray) -> np.ndarray:
    """Token 1 ("$\\alpha$") needs the red square top left; the others are constant."""
    red = images[:, 4:20, 4:20, 0].astype(float).mean(axis=(1, 2)) / 255
    flat = np.full(len(images), 0.5)
    return np.stack([flat, 0.05 + 0.9 * red, flat, flat, flat, flat], axis=1)


@pytest.fixture(scope="module")
def expl_math() -> ek.Explanation:
    image = np.zeros((48, 48, 3), np.uint8)
    image[4:20, 4:20] = (220, 30, 30)
    regions = ek.segment(image, n_regions=16, method="grid")
    return ek.explain(
        _scorer,
        image,
        regions=regions,
        search="exact",
        token_names=["A", *MATH],
        targets=["$\\alpha$"],
        progress=False,
    )


def _texts(fig):
    fig.canvas.draw()
    return [t for t in fig.findobj(lambda a: type(a).__name__ == "Text") if t.get_text()]


def test_dollar_signs_in_tokens_are_drawn_as_written_not_as_mathtext(expl_math) -> None:
    figures = [
        plot.tokens(expl_math),
        plot.overlay(expl_math, "$\\alpha$"),
        plot.curves(expl_math, "$\\alpha$"),
        plot.grid([[expl_math]], ["$row$"], ["$col$"], tokens="$\\alpha$"),
        plot.hallucination(expl_math, Correction(True, 2, 0.1, ["a $\\beta$ answer"])),
    ]
    for fig in figures:
        for t in _texts(fig):
            shown, is_math = t._preprocess_math(t.get_text())
            assert not is_math and shown == t.get_text(), t.get_text()
    chips = {t.get_gid(): t.get_text() for t in figures[0].axes[0].texts if t.get_gid()}
    assert chips["token-1"] == "$\\alpha$" and chips["token-3"] == "cost $5 and $6"
    # the SVG carries the token text itself, not the rendered α
    svg = plot.to_svg(figures[0])
    assert "$\\alpha$" in svg and "α" not in svg
    assert "$\\alpha$" in figures[1].axes[0].get_title()


def test_bad_boxes_and_masks_say_what_is_expected(expl_red) -> None:
    with pytest.raises(ValueError, match=r"\(x0, y0, x1, y1\) pixel boxes.*\(K, 4\)"):
        plot.overlay(expl_red, boxes=[[1, 2, 3]])
    with pytest.raises(ValueError, match=r"x1 > x0 and y1 > y0"):
        plot.overlay(expl_red, boxes=[(10, 10, 5, 30)])
    with pytest.raises(ValueError, match=r"pixel boxes"):
        plot.overlay(expl_red, boxes=[("a", 1, 2, 3)])
    with pytest.raises(ValueError, match=r"H×W = 48×48"):
        plot.overlay(expl_red, masks=np.ones((10, 10), bool))
    # right input: one box as a flat tuple or an array, drawn as one rectangle
    for boxes in ((4, 4, 20, 20), np.array([[4, 4, 20, 20]])):
        fig = plot.overlay(expl_red, boxes=boxes)
        rects = [p for p in fig.axes[0].patches if type(p).__name__ == "Rectangle"]
        assert len(rects) == 1 and rects[0].get_width() == 16


def test_the_figure_states_the_smoothing(expl_red) -> None:
    # 48×48 pixels, 16 regions: a region's side is 12 px, the default sigma a quarter: 3 px
    fig = plot.overlay(expl_red)
    assert fig.ek_smooth == pytest.approx(3.0)
    assert "map smoothed: Gaussian σ = 3 px" in fig.axes[0].get_title()
    assert "σ = 1.5 px" in plot.overlay(expl_red, smooth=1.5).axes[0].get_title()
    assert "map not smoothed" in plot.overlay(expl_red, smooth=0).axes[0].get_title()
    cell = plot.grid([[expl_red]]).axes[0].get_title()
    assert re.search(r"σ = 3 px", cell)
    hall = plot.hallucination(expl_red)
    assert "σ = 3 px" in hall.axes[1].get_title().replace("\n", " ")
    with pytest.raises(ValueError, match="smooth"):
        plot.overlay(expl_red, smooth=-1)
