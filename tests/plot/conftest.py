"""Fixtures of the figure tests: small explanations with known structure (no model)."""

from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek

TOKENS = ["A", " red", " square", " on", " blue", "."]


def make_image() -> np.ndarray:
    """48×48: a red square top left, a blue square bottom right."""
    image = np.zeros((48, 48, 3), np.uint8)
    image[4:20, 4:20] = (220, 30, 30)
    image[28:44, 26:44] = (30, 60, 220)
    return image


def scorer(images: np.ndarray) -> np.ndarray:
    """' red' needs the red square, ' blue' the blue one; 'A' and '.' are constant (prior)."""
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


def small_scorer(images: np.ndarray) -> np.ndarray:
    """A photo-like token: p rises from 0.004 to 0.024 as the red square appears."""
    x = images.astype(np.float64) / 255
    red = x[:, 4:20, 4:20, 0].mean(axis=(1, 2))
    return (0.004 + 0.02 * red)[:, None]


def _explain(fn, names, **options) -> ek.Explanation:
    image = make_image()
    regions = ek.segment(image, n_regions=16, method="grid")
    return ek.explain(
        fn, image, regions=regions, search="exact", token_names=names, progress=False, **options
    )


@pytest.fixture(scope="session")
def expl() -> ek.Explanation:
    """Sentence level: every token is a target."""
    return _explain(scorer, TOKENS)


@pytest.fixture(scope="session")
def expl_red() -> ek.Explanation:
    """Word level: the objective is ' red' only."""
    return _explain(scorer, TOKENS, targets=[" red"])


@pytest.fixture(scope="session")
def expl_blue() -> ek.Explanation:
    """Word level: the objective is ' blue' only (its gains are ~ ' red''s in size)."""
    return _explain(scorer, TOKENS, targets=[" blue"])


@pytest.fixture(scope="session")
def expl_small() -> ek.Explanation:
    """One token whose probability stays below 0.03 (a real photo's scale)."""
    return _explain(small_scorer, ["cat"])


@pytest.fixture(scope="session")
def expl_cropped(expl_red) -> ek.Explanation:
    """``expl_red`` with its right 8 columns marked as unseen (cropped by a processor)."""
    ds = expl_red.dataset.copy()
    seen = np.ones(expl_red.labels.shape, np.uint8)
    seen[:, 40:] = 0
    ds["seen"] = (("y", "x"), seen)
    return ek.Explanation(ds)
