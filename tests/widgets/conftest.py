"""Fixtures for the widget tests: small explanations from function scorers (no model)."""

from __future__ import annotations

import numpy as np
import pytest
from widget_fixtures import FakeModel, explain

import eagle_kit as ek


@pytest.fixture(scope="session")
def expl() -> ek.Explanation:
    """Sentence level: every token is a target."""
    return explain()


@pytest.fixture(scope="session")
def expl_red() -> ek.Explanation:
    """Word level: the objective is the token ' red' only."""
    return explain(targets=[" red"])


@pytest.fixture(scope="session")
def video_expl() -> ek.Explanation:
    """Three 24×24 frames; the token depends on a square in frame 1."""
    frames = np.zeros((3, 24, 24, 3), np.uint8)
    frames[1, :12, :12] = 255

    def video_scorer(x: np.ndarray) -> np.ndarray:
        return np.stack(
            [x[:, 1, :12, :12].mean(axis=(1, 2, 3)) / 255, np.full(len(x), 0.5)], axis=1
        )

    regions = ek.segment(frames, n_regions=8, method="grid")
    return ek.explain(
        video_scorer,
        frames,
        regions=regions,
        search="exact",
        token_names=["square", "the"],
        progress=False,
    )


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()
