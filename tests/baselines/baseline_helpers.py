"""Helpers of the baseline tests: an additive scorer with known attributions."""

from __future__ import annotations

import numpy as np

import eagle_kit as ek


class AdditiveScorer:
    """Image of ``len(weights)`` columns of 2 px; region j = column j.

    Token 0: ``base + Σ_j w_j·[column j visible]`` — additive, so every region's Shapley
    value, occlusion drop and KernelSHAP/LIME coefficient is ``w_j``. Token 1: a constant.
    Records the size of every batch it is called with.
    """

    def __init__(self, weights, *, base=0.05):
        self.w = np.asarray(weights, dtype=float)
        self.base = base
        self.batches: list[int] = []

    @property
    def n(self) -> int:
        return len(self.w)

    def image(self) -> np.ndarray:
        return np.full((2, 2 * self.n, 3), 200, np.uint8)

    def regions(self) -> ek.RegionSet:
        labels = np.repeat(np.arange(self.n), 2)[None].repeat(2, 0)
        return ek.RegionSet.from_labels(labels)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(len(images))
        visible = images[:, 0, :, 0].reshape(len(images), self.n, 2).max(axis=2) > 0
        return np.stack([self.base + visible @ self.w, np.full(len(images), 0.5)], axis=1)


WEIGHTS = [0.05, 0.30, 0.01, 0.15, 0.20, 0.02, 0.12, 0.08]
