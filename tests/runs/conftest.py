"""Fixtures of the runs tests (embedded model, 8 grid regions, exact search)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from runs_helpers import save_scene, write_manifest

import eagle_kit as ek


@pytest.fixture(scope="session")
def shapes_model():
    return ek.load_model("shapes", device="cpu")


@pytest.fixture
def scenes(tmp_path: Path) -> tuple[Path, list[ek.shapes.Scene]]:
    """Three scenes as PNGs with a caption manifest carrying boxes and masks."""
    folder = tmp_path / "data"
    lines, scenes = [], []
    for i, seed in enumerate((1, 2, 3)):
        scene = save_scene(folder / "images" / f"scene{i}.png", seed)
        obj = scene.objects[0]
        Image.fromarray(obj.mask.astype(np.uint8) * 255).save(folder / "images" / f"mask{i}.png")
        lines.append(
            {
                "id": f"scene{i}",
                "image": f"images/scene{i}.png",
                "prompt": ek.shapes.CAPTION_PROMPT,
                "targets": [obj.colour, obj.shape],
                "boxes": [list(obj.box)],
                "mask": f"images/mask{i}.png",
            }
        )
        scenes.append(scene)
    write_manifest(folder / "manifest.jsonl", lines)
    return folder / "manifest.jsonl", scenes
