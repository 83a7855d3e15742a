"""Fixtures for prompt-span tests: tiny models of each family (built once per session) and a
reference scorer written with plain ``transformers`` — no eagle_kit scoring code."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from eagle_kit.testing.teacher_forcing import answer_distribution

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="package", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def text_tiny_model(tmp_path_factory: pytest.TempPathFactory, device: str) -> Callable[[str], Any]:
    """``text_tiny_model(family)`` → a loaded tiny :class:`VisionLanguageModel`."""
    from eagle_kit.models import load_model
    from eagle_kit.testing.tiny_models import build_tiny_model

    loaded: dict[str, Any] = {}

    def get(family: str) -> Any:
        if family not in loaded:
            folder = build_tiny_model(family, tmp_path_factory.mktemp(f"text-{family}"))
            loaded[family] = load_model(Path(folder), device=device, batch_size=4)
        return loaded[family]

    return get


def reference_text_probs(
    model: Any,
    conversation: list[dict[str, Any]],
    media: np.ndarray,
    answer_ids: list[int],
    replace_positions: list[int],
    baseline_id: int,
) -> np.ndarray:
    """p(answer token t | media, prompt with ``replace_positions`` set to ``baseline_id``,
    answer before t): the processor once on the (masked) media, the token ids edited in place,
    the answer appended, one forward pass with full logits, softmax at the answer positions."""
    dist = answer_distribution(
        model.model,
        model.processor,
        conversation,
        media,
        answer_ids,
        replace_positions=replace_positions,
        baseline_id=baseline_id,
    )
    return dist[torch.arange(len(answer_ids)), torch.tensor(answer_ids)].double().numpy()


@pytest.fixture(scope="session")
def reference_text() -> Callable[..., np.ndarray]:
    return reference_text_probs
