"""benchmarks/bench_gpu.py runs end to end at a tiny scale on CPU (the GPU run is one command)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"


@pytest.mark.slow
def test_bench_gpu_runs_both_architectures_at_tiny_scale_on_cpu():
    cmd = [sys.executable, str(SCRIPT), "--scale", "0.03", "--device", "cpu", "--threads", "1"]
    cmd += ["--batch-sizes", "1", "4", "--batches", "1", "--reference-images", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for name in ("qwen2.5-vl-3b", "llava-1.5-7b"):
        section = out.split(f"\n{name}:")[1].split("\n\n")[0]
        assert "cpu, float32" in section
        assert re.search(r"planned batch size: \d+", section)
        rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+n/a on CPU\s+([\d.]+)×", section, re.M)
        assert [int(r[0]) for r in rows] == [1, 4]  # one row per batch size, none shrank
        assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in rows)
        assert re.search(r"reference way: [\d.]+ images/s", section)


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The checkpoints' parameter totals (Qwen2.5-VL-3B-Instruct: 3.75 B; llava-1.5-7b-hf: 7.06 B).
PUBLISHED = {"qwen2.5-vl-3b": 3_754_622_976, "llava-1.5-7b": 7_063_427_072}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_bench_gpu_full_size_is_the_published_architecture(name):
    import torch

    from eagle_kit.testing.tiny_models import build_model

    sizes = _bench_module().ARCHITECTURES[name](1.0)
    model, processor = build_model(**sizes, dtype=torch.bfloat16, device="meta", seed=0)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name]
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert torch.get_default_dtype() == torch.float32  # restored after building
    # 336-px image, 14-px patches: 24 × 24 image tokens, merged 2 × 2 by Qwen2.5-VL
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "a"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    image = np.zeros((336, 336, 3), dtype=np.uint8)
    ids = processor(images=image, text=prompt, return_tensors="pt")["input_ids"]
    image_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    assert int((ids == image_id).sum()) == {"llava-1.5-7b": 24 * 24, "qwen2.5-vl-3b": 12 * 12}[name]


def test_build_model_rejects_unknown_family_and_non_mapping_sizes():
    from eagle_kit.testing.tiny_models import SIZED_FAMILIES, build_model

    with pytest.raises(ValueError, match="Unknown sized family 'gemma3'. Choose one of: llava"):
        build_model("gemma3", text={}, vision={})
    with pytest.raises(TypeError, match="text must be a mapping"):
        build_model(SIZED_FAMILIES[0], text=[("hidden_size", 64)], vision={})
    with pytest.raises(TypeError, match="dtype must be a torch.dtype"):
        build_model(SIZED_FAMILIES[0], text={}, vision={}, dtype="bfloat16")


def test_build_model_seed_gives_the_same_weights_and_leaves_torch_rng_alone():
    import torch

    from eagle_kit.testing.tiny_models import build_model

    sizes = _bench_module().ARCHITECTURES["llava-1.5-7b"](0.03)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first, _ = build_model(**sizes, device="cpu", seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    second, _ = build_model(**sizes, device="cpu", seed=0)
    other, _ = build_model(**sizes, device="cpu", seed=1)
    a, b, c = (m.state_dict() for m in (first, second, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
