"""Batched scoring on the real architectures, random weights: ready for a GPU.

Builds Qwen2.5-VL-3B and LLaVA-1.5-7B from hand-written configs (their published sizes;
random weights, bfloat16 on a GPU, float32 on CPU; nothing is downloaded), binds one
336×336 image and a short answer, and prints per batch size: masked images scored per
second, peak GPU memory (``torch.cuda.max_memory_allocated``; "n/a on CPU"), and the ratio
against the reference's way (one masked image per forward through the processor,
full-vocabulary logits — the scorer of ``benchmarks/bench_scoring.py``). It also prints the
batch size the planner chose: on a GPU, ``eagle_kit`` measures what one more image costs and
plans the largest power of two that fits; a batch that still runs out of memory is halved and
retried (``eagle_kit.models.batching.AdaptiveBatcher``), and the size that worked is reported.

The published sizes are written out below (:data:`ARCHITECTURES`);
``eagle_kit.testing.tiny_models.build_model``, which also builds the tiny test models, turns
them into the model and its processor.

``--scale`` shrinks hidden sizes and layer counts (head sizes, vocabularies and the image
stay real) so the same code runs on CPU in CI in seconds::

    python benchmarks/bench_gpu.py                               # full size, on the GPU
    python benchmarks/bench_gpu.py --scale 0.03 --device cpu     # tiny, CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
ANSWER = "a red circle on the left"
PROMPT = "describe the image ."
SIZE = 336


def _n(value: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, int(round(value * scale)))


def qwen2_5_vl_3b(scale: float) -> dict[str, Any]:
    """Qwen2.5-VL-3B-Instruct's sizes (by hand), as ``build_model`` keyword arguments."""
    heads = _n(16, scale)
    kv = max(1, min(heads, _n(2, scale)))
    while heads % kv:
        kv -= 1
    v_heads = _n(16, scale)
    depth = _n(32, scale)
    text_hidden = heads * 128  # head size 128 as in the model (the M-RoPE sections need it)
    return {
        "family": "qwen2_5_vl",
        "vision": {
            "depth": depth,
            "hidden_size": v_heads * 80,
            "intermediate_size": _n(3420, scale, 8),
            "num_heads": v_heads,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "out_hidden_size": text_hidden,
            "fullatt_block_indexes": [i for i in (7, 15, 23, 31) if i < depth] or [depth - 1],
            "hidden_act": "silu",
        },
        "text": {
            "vocab_size": 151936,
            "hidden_size": text_hidden,
            "intermediate_size": _n(11008, scale, 8),
            "num_hidden_layers": _n(36, scale),
            "num_attention_heads": heads,
            "num_key_value_heads": kv,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": True,
            "rope_parameters": {
                "rope_type": "default",
                "mrope_section": [16, 24, 24],
                "rope_theta": 1000000.0,
            },
        },
    }


def llava_1_5_7b(scale: float) -> dict[str, Any]:
    """LLaVA-1.5-7B's sizes (CLIP ViT-L/14-336 + Llama-2-7B, by hand) for ``build_model``."""
    v_heads = _n(16, scale)
    heads = _n(32, scale)
    return {
        "family": "llava",
        "vision": {
            "hidden_size": v_heads * 64,
            "intermediate_size": _n(4096, scale, 8),
            "num_hidden_layers": _n(24, scale, 2),  # the features come from layer −2
            "num_attention_heads": v_heads,
            "image_size": SIZE,
            "patch_size": 14,
            "projection_dim": 768,
            "hidden_act": "quick_gelu",
        },
        "text": {
            "vocab_size": 32064,
            "hidden_size": heads * 128,
            "intermediate_size": _n(11008, scale, 8),
            "num_hidden_layers": _n(32, scale),
            "num_attention_heads": heads,
            "num_key_value_heads": heads,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
        },
        "config": {
            "vision_feature_layer": -2,
            "vision_feature_select_strategy": "default",
            "projector_hidden_act": "gelu",
        },
    }


#: Each architecture's sizes at a scale, as keyword arguments of
#: ``eagle_kit.testing.tiny_models.build_model`` (which builds the model and its processor).
ARCHITECTURES = {"qwen2.5-vl-3b": qwen2_5_vl_3b, "llava-1.5-7b": llava_1_5_7b}


def _reference_scorer_class() -> Any:
    spec = importlib.util.spec_from_file_location("bench_scoring", HERE / "bench_scoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ReferenceWayScorer


def _peak(device: Any) -> str:
    import torch

    if device.type != "cuda":
        return "n/a on CPU"
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"


def run(name: str, args: argparse.Namespace) -> list[str]:
    import torch

    import eagle_kit as ek
    from eagle_kit.models.hf import VisionLanguageModel
    from eagle_kit.testing.tiny_models import build_model

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    sizes = ARCHITECTURES[name](args.scale)
    hf, processor = build_model(**sizes, dtype=dtype, device=device, seed=0)
    n_params = sum(p.numel() for p in hf.parameters())
    model = VisionLanguageModel(hf, processor, name=name)  # batch size: planned on a GPU
    image = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    answer_ids = model.tokenizer(ANSWER, add_special_tokens=False)["input_ids"]
    prepared = model.prepare(image, prompt=PROMPT, answer=ANSWER)
    planned = prepared.batch_size
    regions = ek.segment(image, n_regions=64, method="grid")
    rng = np.random.default_rng(1)
    lines = [
        f"\n{name}: {n_params / 1e9:.3f} B parameters (scale {args.scale}), {device}, "
        f"{str(dtype).replace('torch.', '')}, composition {prepared.composition}, "
        f"{len(answer_ids)} answer tokens",
        f"  planned batch size: {planned}"
        + ("" if device.type == "cuda" else " (the planner measures GPU memory; CPU default)"),
    ]
    # the reference's way: one image per forward through the processor
    ref = _reference_scorer_class()(model, image, PROMPT, answer_ids)
    filled = regions.apply(image, rng.random((args.reference_images, 64)) < 0.5, 0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    ref(filled)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    ref_rate = args.reference_images / (time.perf_counter() - t0)
    lines.append(f"  reference way: {ref_rate:.2f} images/s")
    lines.append(f"  {'batch':>6} {'images/s':>10} {'peak memory':>14} {'vs reference':>13}")
    for b in args.batch_sizes:
        prepared.batch_size = b
        keep = rng.random((args.batches * b, 64)) < 0.5
        masks = regions.masks(keep)
        fill = np.zeros_like(image)
        prepared.score_masks(masks[:b], fill)  # warm-up at this size
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        prepared.score_masks(masks, fill)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rate = len(masks) / (time.perf_counter() - t0)
        used = prepared.batch_size
        note = "" if used == b else f"  (out of memory: halved to {used})"
        lines.append(f"  {b:>6} {rate:>10.1f} {_peak(device):>14} {rate / ref_rate:>12.1f}×{note}")
    del hf, model, prepared
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="shrink widths and depths (0, 1]")
    ap.add_argument("--device", default="auto", help="auto (CUDA if available), cuda, cpu …")
    ap.add_argument("--models", nargs="+", default=list(ARCHITECTURES), choices=ARCHITECTURES)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16, 32, 64])
    ap.add_argument("--batches", type=int, default=2, help="timed batches per batch size")
    ap.add_argument("--reference-images", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    if not 0 < args.scale <= 1:
        ap.error(f"--scale must be in (0, 1]; got {args.scale}.")
    if min(args.batch_sizes) < 1:
        ap.error("--batch-sizes must be positive.")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"bench_gpu: torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")
    for name in args.models:
        for line in run(name, args):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
