"""CPU threads while scoring: one for small models unless the user chose; always restored."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import eagle_kit as ek
from eagle_kit import threads as ek_threads
from eagle_kit.models.hf import ModelScorer

PROMPT = "describe the image ."


@pytest.fixture
def fresh_threads(monkeypatch):
    """Two torch threads, no user choice recorded, no thread variables in the environment."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(ek_threads, "_state", {"user": None, "initial": None, "told": False})
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def seen_threads(monkeypatch):
    """Threads torch had at each forward pass of a model scorer."""
    seen: list[int] = []
    forward = ModelScorer._forward

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(ModelScorer, "_forward", spy)
    return seen


def _explain(model, image, **kw):
    return ek.explain(
        model,
        image,
        prompt=PROMPT,
        answer="a cat",
        regions=ek.segment(image, 4, "grid"),
        search="exact",
        progress=False,
        **kw,
    )


def test_small_cpu_model_scores_with_one_thread_and_says_so_once(
    tiny_model, image_for, fresh_threads, seen_threads
) -> None:
    model = tiny_model("llava")
    with pytest.warns(ek_threads.ThreadsNotice, match=r"1 thread.*threads=N.*--threads N"):
        _explain(model, image_for("llava"))
    assert seen_threads and set(seen_threads) == {1}
    assert torch.get_num_threads() == 2  # restored
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek_threads.ThreadsNotice)  # said once per process
        _explain(model, image_for("llava", seed=1))


def test_explicit_threads_and_set_threads_are_obeyed(
    tiny_model, image_for, fresh_threads, seen_threads
) -> None:
    model = tiny_model("llava")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ek_threads.ThreadsNotice)
        _explain(model, image_for("llava"), threads=2)
        assert set(seen_threads) == {2}
        seen_threads.clear()
        ek.set_threads(2)
        try:
            _explain(model, image_for("llava"))
        finally:
            ek.set_threads(None)
    assert set(seen_threads) == {2}


def test_a_users_torch_setting_or_environment_is_left_alone(
    tiny_model, image_for, fresh_threads, seen_threads, monkeypatch
) -> None:
    model = tiny_model("llava")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _explain(model, image_for("llava"))
    assert set(seen_threads) == {2}


def test_large_models_and_plain_functions_keep_torchs_threads(
    tiny_model, image_for, fresh_threads, seen_threads, monkeypatch
) -> None:
    monkeypatch.setattr(ek_threads, "SMALL_MODEL_PARAMETERS", 10)
    _explain(tiny_model("llava"), image_for("llava"))
    assert set(seen_threads) == {2}
    during: list[int] = []

    def scorer(x: np.ndarray) -> np.ndarray:
        during.append(torch.get_num_threads())
        return x.mean(axis=(1, 2, 3))[:, None] / 255

    img = image_for("llava")
    ek.explain(scorer, img, regions=ek.segment(img, 4, "grid"), search="exact", progress=False)
    assert set(during) == {2}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_threads_are_refused(bad) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="threads must be a positive int"):
        ek.explain(lambda x: x.mean(axis=(1, 2, 3))[:, None], img, threads=bad, progress=False)
    with pytest.raises(ValueError, match="threads must be a positive int"):
        ek.set_threads(bad)


def test_cli_has_threads() -> None:
    from eagle_kit.cli import build_parser

    args = build_parser().parse_args(
        ["explain", "x.png", "--prompt", "p", "--out", "o", "--threads", "1"]
    )
    assert args.threads == 1
