"""Helpers of the runs tests: tiny scenes, manifests, black-box scorers, fast settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

import eagle_kit as ek

#: The fast settings every test uses: 8 grid regions, exact search (72 images per sample).
FAST = {"n_regions": 8, "segmentation": "grid", "search": "exact"}
FAST_ARGS = ["--n-regions", "8", "--segmentation", "grid", "--search", "exact"]


def save_scene(path: Path, seed: int) -> ek.shapes.Scene:
    scene = ek.shapes.make_scene(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.image).save(path)
    return scene


def write_manifest(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def bright_scorer(images: np.ndarray) -> np.ndarray:
    """A black box: token 0 = brightness of the top-left quadrant, token 1 = of the rest."""
    x = images.astype(np.float64) / 255.0
    h, w = x.shape[1] // 2, x.shape[2] // 2
    tl = x[:, :h, :w].mean(axis=(1, 2, 3))
    rest = (x.sum(axis=(1, 2, 3)) - x[:, :h, :w].sum(axis=(1, 2, 3))) / (
        x[0].size - x[0, :h, :w].size
    )
    return np.stack([tl, rest], axis=1)


def dim_scorer(images: np.ndarray) -> np.ndarray:
    """Another black box with the same outputs, scaled: results must differ from bright's."""
    return 0.5 * bright_scorer(images)
