"""Fixtures for model tests: tiny random models of each family, built once per session.

Every tiny model is built from its architecture's config classes with a word-level
tokenizer and the family's processors, saved with ``save_pretrained`` and loaded back with
``eagle_kit.load_model`` — nothing is downloaded (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from eagle_kit.testing.teacher_forcing import answer_distribution

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _reference_distribution(
    model, media: np.ndarray, prompt: str, answer_ids: list[int]
) -> torch.Tensor:
    """Teacher forcing written directly with transformers: processor per image, full logits.

    Returns the ``L×V`` next-token distributions at the answer positions.
    """
    kind = "video" if media.ndim == 4 else "image"
    messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": prompt}]}]
    return answer_distribution(model.model, model.processor, messages, media, answer_ids)


def _reference_probs(
    model, media: np.ndarray, prompt: str, answer_ids: list[int], scored_ids: list[int]
) -> np.ndarray:
    """Probability of ``scored_ids[t]`` at answer position ``t`` (independent computation)."""
    dist = _reference_distribution(model, media, prompt, answer_ids)
    return dist[torch.arange(len(scored_ids)), torch.tensor(scored_ids)].double().numpy()


@pytest.fixture(scope="package", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run far faster on one thread, and the test machine's cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``tiny_dir(family)`` → folder of that family's tiny model (built on first use)."""
    from eagle_kit.testing.tiny_models import build_tiny_model

    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            built[family] = build_tiny_model(family, tmp_path_factory.mktemp(f"tiny-{family}"))
        return built[family]

    return get


@pytest.fixture(scope="session")
def tiny_model(tiny_dir: Callable[[str], Path], device: str) -> Callable[[str], object]:
    """``tiny_model(family)`` → a :class:`VisionLanguageModel` (loaded once per session)."""
    from eagle_kit.models import load_model

    loaded: dict[str, object] = {}

    def get(family: str) -> object:
        if family not in loaded:
            loaded[family] = load_model(tiny_dir(family), device=device, batch_size=8)
        model = loaded[family]
        model.batch_size = 8
        return model

    return get


def _image_for(family: str, seed: int = 0, size: tuple[int, int] | None = None) -> np.ndarray:
    """A random image at the tiny model's native size (or ``size``)."""
    from eagle_kit.testing.tiny_models import native_size

    h, w = size or native_size(family)
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _random_masks(n: int, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """``n`` random keep-masks of ``[F×]H×W`` made of 8-px blocks (so regions have borders),
    drawn independently per frame; the first keeps everything, the second nothing."""
    rng = np.random.default_rng(seed)
    h, w = shape[-2], shape[-1]
    frames = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    masks = np.zeros((n, frames, h, w), bool)
    for i in range(n):
        for f in range(frames):
            cells = rng.random((-(-h // 8), -(-w // 8))) < 0.5
            masks[i, f] = np.kron(cells, np.ones((8, 8), bool))[:h, :w]
    masks[0] = True
    if n > 1:
        masks[1] = False
    return masks.reshape(n, *shape)


@pytest.fixture(scope="session")
def image_for() -> Callable[..., np.ndarray]:
    """``image_for(family, seed=0, size=None)`` → a random ``H×W×3`` uint8 image."""
    return _image_for


@pytest.fixture(scope="session")
def random_masks() -> Callable[..., np.ndarray]:
    """``random_masks(n, shape, seed=1)`` → ``n×shape`` bool keep-masks (first all, second none)."""
    return _random_masks


@pytest.fixture(scope="session")
def teacher_forcing() -> Callable[..., torch.Tensor]:
    """``teacher_forcing(model, media, prompt, answer_ids)`` → ``L×V`` distributions, computed
    directly with transformers (processor per image, full logits)."""
    return _reference_distribution


@pytest.fixture(scope="session")
def reference_probs() -> Callable[..., np.ndarray]:
    """``reference_probs(model, media, prompt, answer_ids, scored_ids)`` → ``L`` probabilities."""
    return _reference_probs
