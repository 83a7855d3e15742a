"""Fixtures of the baseline tests: an additive scorer with known Shapley values, the embedded
model, and tiny Hugging Face models (built offline from config classes)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from baseline_helpers import WEIGHTS, AdditiveScorer

import eagle_kit as ek

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture
def additive() -> AdditiveScorer:
    return AdditiveScorer(WEIGHTS)


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shapes_model():
    return ek.load_model("shapes")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, device: str) -> Callable[[str], object]:
    """``tiny(family)`` → a tiny random :class:`VisionLanguageModel` (built once)."""
    from eagle_kit.testing.tiny_models import build_tiny_model

    loaded: dict[str, object] = {}

    def get(family: str) -> object:
        if family not in loaded:
            folder = build_tiny_model(family, tmp_path_factory.mktemp(f"tiny-{family}"))
            loaded[family] = ek.load_model(folder, device=device, batch_size=8)
        return loaded[family]

    return get


@pytest.fixture(scope="session")
def llava_336(tmp_path_factory: pytest.TempPathFactory, device: str) -> object:
    """A tiny LLaVA-1.5-like model at 336 px with 14-px patches (24×24 = 576 image tokens),
    with the tiny LLaVA's tokenizer and chat template."""
    from eagle_kit.testing.tiny_models import build_model

    model, processor = build_model(
        "llava",
        text={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
              "num_attention_heads": 2, "num_key_value_heads": 2,
              "max_position_embeddings": 1024},
        vision={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                "num_attention_heads": 2, "image_size": 336, "patch_size": 14,
                "projection_dim": 16},
        config={"vision_feature_layer": -1},
        seed=0,
    )  # fmt: skip
    folder = Path(tmp_path_factory.mktemp("tiny-llava-336"))
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return ek.load_model(folder, device=device, batch_size=8)
