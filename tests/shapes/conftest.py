"""Fixtures for the shapes world and the embedded model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL_DIR = Path(__file__).resolve().parents[2] / "data" / "shapes-vlm"


@pytest.fixture(scope="session")
def shapes_model_dir() -> Path:
    """Folder of the committed embedded model (fails, not skips, when it is missing)."""
    if not (MODEL_DIR / "model.safetensors").is_file():
        pytest.fail(
            f"The embedded model is missing from {MODEL_DIR.name}/. "
            "Train it with `python -m eagle_kit.shapes.train --out data/shapes-vlm`."
        )
    return MODEL_DIR


@pytest.fixture(scope="session")
def shapes_model(shapes_model_dir: Path):
    """``(model, processor)`` of the committed model, loaded with plain transformers."""
    from eagle_kit.shapes import load_folder

    return load_folder(shapes_model_dir)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built, untrained shapes model saved to a temporary folder."""
    from eagle_kit.shapes import build_model, build_processor, build_tokenizer
    from eagle_kit.shapes.model import save_pretrained_folder

    folder = tmp_path_factory.mktemp("shapes-untrained")
    tokenizer = build_tokenizer()
    save_pretrained_folder(build_model(tokenizer), build_processor(tokenizer), folder)
    return folder
