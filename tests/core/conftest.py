"""Fake scorers whose optimum is known, for testing the search exactly."""

from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek


class ColumnScorer:
    """Image of ``len(weights)`` columns of ``width`` px; region j = column j.

    Token 0: ``Σ_j w_j·[column j visible] + bonus·[all of `pair` visible]``.
    Token 1: a constant (a language-prior token).
    A column counts as visible when its pixels are not black.
    """

    def __init__(self, weights, *, width=2, bonus=0.0, pair=(), prior=0.9):
        self.w = np.asarray(weights, dtype=float)
        self.width = width
        self.bonus = bonus
        self.pair = list(pair)
        self.prior = prior
        self.calls = 0
        self.images = 0

    @property
    def n(self):
        return len(self.w)

    def image(self):
        return np.full((2, self.n * self.width, 3), 200, np.uint8)

    def regions(self):
        return ek.RegionSet.from_labels(np.repeat(np.arange(self.n), self.width)[None].repeat(2, 0))

    def visible(self, images):
        cols = images[:, 0, :, 0].reshape(len(images), self.n, self.width)
        return cols.max(axis=2) > 0

    def f(self, vis):
        out = vis @ self.w
        if self.pair:
            out = out + self.bonus * vis[:, self.pair].all(axis=1)
        return out

    def __call__(self, images):
        self.calls += 1
        self.images += len(images)
        vis = self.visible(images)
        return np.stack([self.f(vis), np.full(len(images), self.prior)], axis=1)


@pytest.fixture
def column_scorer():
    return ColumnScorer
