"""Helpers of the widget tests: a toy image, a function scorer with known structure, a fake model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import eagle_kit as ek

TOKENS = ["A", " red", " square", " on", " blue", "."]


def make_image() -> np.ndarray:
    """48×48: a red square top left, a blue square bottom right."""
    image = np.zeros((48, 48, 3), np.uint8)
    image[4:20, 4:20] = (220, 30, 30)
    image[28:44, 26:44] = (30, 60, 220)
    return image


def scorer(images: np.ndarray) -> np.ndarray:
    """p of each of TOKENS: ' red' needs the red square, ' blue' the blue one, 'A' and '.'
    come from the language prior (constant)."""
    x = images.astype(np.float64) / 255
    red = x[:, 4:20, 4:20, 0].mean(axis=(1, 2))
    blue = x[:, 28:44, 26:44, 2].mean(axis=(1, 2))
    n = len(x)
    return np.stack(
        [
            np.full(n, 0.9),
            0.05 + 0.9 * red,
            0.1 + 0.5 * red + 0.3 * blue,
            0.6 + 0.2 * blue,
            0.05 + 0.9 * blue,
            np.full(n, 0.95),
        ],
        axis=1,
    )


def explain(**options: object) -> ek.Explanation:
    image = make_image()
    regions = ek.segment(image, n_regions=16, method="grid")
    return ek.explain(
        scorer,
        image,
        regions=regions,
        search="exact",
        token_names=TOKENS,
        progress=False,
        **options,
    )


@dataclass
class Generation:
    text: str
    tokens: list[str]


class FakeModel:
    """The model interface live mode uses: ``prepare`` → scorer, ``generate`` → answer.

    Answers "Yes" while the red square is visible, "No" otherwise.
    """

    def __init__(self) -> None:
        self.prepared_with: dict[str, object] = {}
        self.generated = 0

    def prepare(self, image: np.ndarray, **options: object):  # noqa: ANN201
        self.prepared_with = {"shape": image.shape, **options}
        return scorer

    def generate(self, image: np.ndarray, prompt: str) -> Generation:
        self.generated += 1
        red = image[4:20, 4:20, 0].mean() > 100
        return Generation("Yes" if red else "No", ["Yes" if red else "No"])
