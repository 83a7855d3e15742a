"""Pure parts of eagle_kit.models: targets, pixel layouts, batching, loading errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eagle_kit.models import AdaptiveBatcher, PixelLayout, load_model
from eagle_kit.models.batching import is_out_of_memory, plan_batch_size
from eagle_kit.models.loading import SHAPES_ENV, resolve_device, resolve_dtype
from eagle_kit.models.tokens import normalize_token, resolve_target_token_ids, resolve_targets

# --------------------------------------------------------------------------- targets


def test_resolve_targets_words_subwords_and_indices() -> None:
    tokens = ["The", " cat", " sat", " on", " the", " ca", "t", "."]
    assert resolve_targets(None, tokens) is None
    # whole words: " ca" + "t" is a second "cat"; "ca" alone is half a word
    assert resolve_targets("cat", tokens) == [1, 5, 6]
    assert resolve_targets("the", tokens) == [0, 4]  # case-insensitive, every occurrence
    assert resolve_targets(["sat", -1], tokens) == [2, 7]
    with pytest.raises(ValueError, match="'ca' is only part of the word 'cat'"):
        resolve_targets("ca", tokens)
    assert resolve_targets("cat.", ["a", " ca", "t", "."]) == [1, 2, 3]  # spelled over sub-words
    assert normalize_token("▁Cat ") == "cat" and normalize_token("Ġdog") == "dog"
    with pytest.raises(ValueError, match=r"'dog' is not a word or phrase.*'cat' \(1\)"):
        resolve_targets("dog", tokens)
    with pytest.raises(ValueError, match="out of range"):
        resolve_targets(8, tokens)
    with pytest.raises(ValueError, match="empty"):
        resolve_targets([], tokens)
    with pytest.raises(TypeError, match="int index, a word"):
        resolve_targets([1.5], tokens)


def test_resolve_target_token_ids() -> None:
    vocab = {"yes": 7, "no": 8, "not sure": 9}

    def encode(text: str) -> list[int]:
        return [vocab[w] for w in text.split()] if all(w in vocab for w in text.split()) else [0, 1]

    assert resolve_target_token_ids(None, [7, 3], encode) == [7, 3]
    assert resolve_target_token_ids({0: "no"}, [7, 3], encode) == [8, 3]
    assert resolve_target_token_ids({-1: 5}, [7, 3], encode, vocab_size=10) == [7, 5]
    with pytest.raises(ValueError, match="is 2 tokens"):
        resolve_target_token_ids({0: "not sure"}, [7], encode)
    with pytest.raises(ValueError, match="not a position"):
        resolve_target_token_ids({2: "no"}, [7, 3], encode)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        resolve_target_token_ids({0: 10}, [7], encode, vocab_size=10)
    with pytest.raises(TypeError, match="dict"):
        resolve_target_token_ids([(0, "no")], [7], encode)
    with pytest.raises(TypeError, match="token id"):
        resolve_target_token_ids({0: 1.0}, [7], encode)


# --------------------------------------------------------------------------- pixel layouts

MEAN = np.array([0.48, 0.46, 0.41], np.float32)
STD = np.array([0.27, 0.26, 0.28], np.float32)


def patchify(image: np.ndarray, patch: int = 4, temporal: int = 2) -> torch.Tensor:
    """A Qwen-like processor: normalise, repeat in time, cut into flattened patches."""
    x = (torch.from_numpy(image).float() / 255 - torch.from_numpy(MEAN)) / torch.from_numpy(STD)
    x = x.permute(2, 0, 1)[None].repeat(temporal, 1, 1, 1)  # T×C×H×W
    t, c, h, w = x.shape
    x = x.reshape(t, c, h // patch, patch, w // patch, patch).permute(2, 4, 0, 1, 3, 5)
    return x.reshape((h // patch) * (w // patch), t * c * patch * patch)


def pad_and_normalise(image: np.ndarray) -> torch.Tensor:
    """A LLaVA-NeXT-like processor: pad to a square with a constant, normalise."""
    x = (torch.from_numpy(image).float() / 255 - torch.from_numpy(MEAN)) / torch.from_numpy(STD)
    x = x.permute(2, 0, 1)
    h, w = x.shape[1:]
    out = torch.full((3, max(h, w), max(h, w)), 0.5)
    out[:, :h, :w] = x
    return out[None]


def resize(image: np.ndarray) -> torch.Tensor:
    """A processor that resamples: composition in its output space would not be exact."""
    x = torch.from_numpy(image).float().permute(2, 0, 1)[None]
    return torch.nn.functional.interpolate(x, size=(12, 12), mode="bilinear", antialias=True) / 255


@pytest.mark.parametrize(
    "process, shape", [(patchify, (16, 24, 3)), (pad_and_normalise, (10, 14, 3))]
)
def test_pixel_layout_composes_exactly(process, shape) -> None:
    layout = PixelLayout.learn(process, shape)
    assert layout is not None and layout.shape == tuple(process(np.zeros(shape, np.uint8)).shape)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    fill = np.full(shape, 17, np.uint8)
    masks = rng.random((5, *shape[:2])) < 0.5
    got = layout.compose(torch.from_numpy(masks.reshape(5, -1)), process(image), process(fill))
    want = torch.cat([process(np.where(m[..., None], image, fill)) for m in masks])
    assert torch.equal(got, want)


def test_pixel_layout_refuses_resampling_processors() -> None:
    assert PixelLayout.learn(resize, (16, 16, 3)) is None


# --------------------------------------------------------------------------- batching


def test_adaptive_batcher_halves_and_remembers() -> None:
    shrunk: list[int] = []
    batcher = AdaptiveBatcher(16, on_shrink=shrunk.append)
    calls: list[tuple[int, int]] = []

    def chunk(a: int, b: int) -> list[int]:
        calls.append((a, b))
        if b - a > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return list(range(a, b))

    parts = batcher.run(10, chunk)
    assert [i for p in parts for i in p] == list(range(10))
    assert batcher.batch_size == 2 and shrunk == [5, 2]
    calls.clear()
    batcher.run(4, chunk)
    assert calls == [(0, 2), (2, 4)]  # starts from what worked
    with pytest.raises(ValueError, match=">= 1"):
        AdaptiveBatcher(0)


def test_out_of_memory_detection() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_plan_batch_size() -> None:
    gib = 2**30
    assert plan_batch_size(free_bytes=8 * gib, per_sample_bytes=gib // 4) == 16  # 0.7·32 → 16
    assert plan_batch_size(free_bytes=gib, per_sample_bytes=4 * gib) == 1
    assert plan_batch_size(free_bytes=1000 * gib, per_sample_bytes=1) == 256
    assert plan_batch_size(free_bytes=gib, per_sample_bytes=0) == 256


# --------------------------------------------------------------------------- loading


def test_device_and_dtype_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("bfloat16", cpu) == torch.bfloat16
    assert resolve_dtype(torch.float16, cpu) == torch.float16
    assert resolve_device("cpu") == cpu
    with pytest.raises(ValueError, match="Unknown dtype 'half'"):
        resolve_dtype("half", cpu)
    with pytest.raises(ValueError, match="Unknown device"):
        resolve_device("gpu0")


def test_load_model_errors(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match="No model folder"):
        load_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        load_model(tmp_path / "empty")
    monkeypatch.setenv(SHAPES_ENV, str(tmp_path / "empty"))
    # the suggested command writes where load_model("shapes") looks
    with pytest.raises(FileNotFoundError) as err:
        load_model("shapes")
    assert f"python -m eagle_kit.shapes.train --out '{tmp_path / 'empty'}'" in str(err.value)
    with pytest.raises(ValueError, match="safetensors"):
        load_model(tmp_path / "empty", use_safetensors=False)


def test_load_model_options(tiny_dir) -> None:
    folder = tiny_dir("llava")
    model = load_model(folder, device="cpu", dtype="bfloat16", batch_size=3)
    assert model.dtype == torch.bfloat16 and model.batch_size == 3 and model.name == folder.name
    assert "LLaVA-1.5" in repr(model)
    image = np.zeros((32, 32, 3), np.uint8)
    scorer = model.prepare(image, prompt="describe the image .", answer="a cat")
    probs = scorer.score_masks(np.ones((2, 32, 32), bool), image)
    assert probs.dtype == np.float64 and probs.shape == (2, 2) and np.all((probs > 0) & (probs < 1))
    assert scorer.metadata["dtype"] == "bfloat16"


def test_shapes_model_resolves_from_the_environment(
    tiny_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SHAPES_ENV, str(tiny_dir("llava")))
    model = load_model("shapes", device="cpu")
    assert model.name == "shapes"


@pytest.mark.gpu
def test_gpu_plans_batch_size_and_matches_cpu(tiny_dir) -> None:
    folder = tiny_dir("qwen2_5_vl")
    gpu = load_model(folder, device="cuda", dtype="float32")
    cpu = load_model(folder, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    masks = np.random.default_rng(1).random((6, 32, 32)) < 0.5
    a = gpu.prepare(image, prompt="describe the image .", answer="a red circle")
    assert a.batch_size >= 1 and not gpu.plan_batch_size
    b = cpu.prepare(image, prompt="describe the image .", answer="a red circle")
    np.testing.assert_allclose(
        a.score_masks(masks, image * 0), b.score_masks(masks, image * 0), atol=1e-4
    )


def test_unavailable_devices_and_unknown_hub_ids_are_clear_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="Unknown device"):
        resolve_device("tpu-ish")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="not a local folder"):
        load_model("no-such-org/no-such-model", device="cpu")
