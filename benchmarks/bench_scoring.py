"""Benchmark: eagle_kit's batched scorer vs the reference implementation's way of scoring.

The same exact greedy search (``ek.explain(..., search="exact")``) runs twice on the same
model, image, regions and answer:

* **eagle_kit**: the model from ``ek.load_model`` — batched masked images composed in the
  processed tensor space, text tokenised once, prefix key/value cache, logits only at the
  answer positions, out-of-memory-aware batch size;
* **reference way**: a faithful re-implementation of the reference code's scorer — for every
  masked image, a PIL image goes through the full processor (chat text + image), one
  forward pass with the full vocabulary projection over the whole sequence, softmax,
  probabilities read at the answer positions.

It checks that both give the same region order and prints wall time, evaluations per second,
peak memory (``torch.cuda.max_memory_allocated`` on GPU, peak RSS of the worker process on
CPU; "+MB search" is the growth during the search, after loading and generating) and the
wall-time ratio. Each way runs in its own process so peak memory is its own. The exit code
is 1 when any region order differs.

Usage::

    python benchmarks/bench_scoring.py                       # tiny LLaVA + tiny Qwen2.5-VL
    python benchmarks/bench_scoring.py --families llava qwen2_vl gemma3 --regions 16
    python benchmarks/bench_scoring.py --model shapes        # the embedded model, once trained
    python benchmarks/bench_scoring.py --model shapes-arch   # its architecture, random weights
    python benchmarks/bench_scoring.py --model path/to/local/model --prompt "Describe the image."
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_FAMILIES = ("llava", "qwen2_5_vl")
TINY_PROMPT = "describe the image ."


# --------------------------------------------------------------------------- reference way


class ReferenceWayScorer:
    """The reference implementation's scoring, re-implemented: one image per forward.

    For each filled image: PIL conversion, the chat template rendered for the message with
    that image, the processor on chat text + image, the answer ids appended, a forward pass
    computing logits over the whole sequence and vocabulary, a softmax over everything, and
    the answer positions read out.
    """

    def __init__(self, model: Any, media: np.ndarray, prompt: str, answer_ids: list[int]) -> None:
        self.hf = model.model
        self.processor = model.processor
        self.answer_ids = list(answer_ids)
        self.video = media.ndim == 4
        self.prompt = prompt
        self.device = model.device
        self.dtype = model.dtype
        self.tokens = [model.tokenizer.decode([i]) for i in self.answer_ids]

    def _one(self, image: np.ndarray) -> np.ndarray:
        import torch
        from PIL import Image

        kind = "video" if self.video else "image"
        content = [{"type": kind}, {"type": "text", "text": self.prompt}]
        text = self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )
        if self.video:
            enc = self.processor(
                text=[text], videos=[image], do_sample_frames=False, return_tensors="pt"
            )
        else:
            enc = self.processor(text=[text], images=[Image.fromarray(image)], return_tensors="pt")
        n_prompt = enc["input_ids"].shape[1]
        answer = torch.tensor([self.answer_ids], dtype=enc["input_ids"].dtype)
        inputs: dict[str, Any] = {}
        for key, value in enc.items():
            if isinstance(value, torch.Tensor) and value.shape == enc["input_ids"].shape:
                pad = (
                    answer
                    if key == "input_ids"
                    else torch.ones_like(answer)
                    if key == "attention_mask"
                    else torch.zeros_like(answer)
                )
                value = torch.cat([value, pad], dim=1)
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if key.startswith("pixel_values"):
                    value = value.to(self.dtype)
            inputs[key] = value
        with torch.no_grad():
            logits = self.hf(**inputs).logits  # full vocabulary over the whole sequence
            probs = torch.softmax(logits.float(), dim=-1)[0]
        steps = torch.arange(len(self.answer_ids))
        picked = probs[n_prompt - 1 + steps, torch.tensor(self.answer_ids, device=probs.device)]
        return picked.double().cpu().numpy()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.stack([self._one(img) for img in images])


# --------------------------------------------------------------------------- workers


def _peak_memory_mb(device: Any) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _media_for(model: Any, spec: dict[str, Any]) -> tuple[np.ndarray, str]:
    if spec.get("shapes"):
        from eagle_kit.shapes.world import CAPTION_PROMPT, make_scene

        return make_scene(int(spec["seed"])).image, spec.get("prompt") or CAPTION_PROMPT
    h, w = spec["size"]
    rng = np.random.default_rng(int(spec["seed"]))
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return image, spec.get("prompt") or TINY_PROMPT


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one way of scoring in this process and return its figures."""
    import torch

    import eagle_kit as ek

    torch.set_num_threads(int(spec["threads"]))
    model = ek.load_model(spec["model"], device=spec["device"], batch_size=int(spec["batch_size"]))
    image, prompt = _media_for(model, spec)
    gen = model.generate(image, prompt, max_new_tokens=int(spec["max_new_tokens"]))
    regions = ek.segment(image, n_regions=int(spec["regions"]), method="grid")
    if model.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(model.device)
    base_mb = _peak_memory_mb(model.device)
    times, orders = [], []
    for _ in range(int(spec["repeat"])):
        start = time.perf_counter()
        if spec["way"] == "eagle":
            expl = ek.explain(
                model,
                image,
                regions=regions,
                search="exact",
                prompt=prompt,
                generation=gen,
                batch_size=int(spec["batch_size"]),
                progress=False,
            )
            attrs = dict(getattr(expl, "attrs", {}) or {})
            composition = f"{attrs.get('composition')}, prefix cache {attrs.get('prefix_cache')}"
        else:
            scorer = ReferenceWayScorer(model, image, prompt, gen.token_ids)
            expl = ek.explain(
                scorer,
                image,
                regions=regions,
                search="exact",
                batch_size=1,
                progress=False,
                token_names=scorer.tokens,
            )
            composition = "processor per image"
        times.append(time.perf_counter() - start)
        orders.append([int(i) for i in np.asarray(expl.order)])
    if any(o != orders[0] for o in orders):
        raise RuntimeError("the same search gave different orders on repeats")
    seconds = float(np.median(times))
    return {
        "way": spec["way"],
        "seconds": seconds,
        "evaluations": int(expl.n_evaluations),
        "order": orders[0],
        "peak_mb": _peak_memory_mb(model.device),
        "base_mb": base_mb,
        "device": str(model.device),
        "answer": gen.text,
        "n_tokens": len(gen.token_ids),
        "composition": composition,
    }


def _run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"worker failed ({spec['way']} on {spec['model']}):\n{done.stderr[-4000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- driver


def _targets(args: argparse.Namespace, tmp: Path) -> list[tuple[str, dict[str, Any]]]:
    from eagle_kit.testing.tiny_models import build_tiny_model, native_size

    out = []
    for family in args.families:
        folder = build_tiny_model(family, tmp / family)
        out.append((f"tiny {family}", {"model": str(folder), "size": list(native_size(family))}))
    for path in args.model:
        if path == "shapes":
            out.append(("shapes (embedded)", {"model": "shapes", "shapes": True}))
        elif path == "shapes-arch":
            # The embedded model's architecture and processor with untrained weights: the same
            # compute per forward pass, available before the trained model exists.
            from eagle_kit.shapes.model import (
                build_model,
                build_processor,
                build_tokenizer,
                save_pretrained_folder,
            )

            tok = build_tokenizer()
            folder = tmp / "shapes-arch"
            save_pretrained_folder(build_model(tok), build_processor(tok), folder)
            out.append(("shapes architecture (untrained)", {"model": str(folder), "shapes": True}))
        else:
            out.append((Path(path).name, {"model": path, "size": list(args.size)}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--families",
        nargs="*",
        default=list(DEFAULT_FAMILIES),
        help="tiny families to build and run",
    )
    parser.add_argument("--model", nargs="*", default=[], help="local model folders, or 'shapes'")
    parser.add_argument(
        "--regions", type=int, default=24, help="grid regions (exact search: N(N+1) evaluations)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs per way; the median is shown")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads, the same for both ways"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument(
        "--size", type=int, nargs=2, default=[336, 336], help="image size for --model folders"
    )
    parser.add_argument("--prompt", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    rows = []
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for label, target in _targets(args, Path(tmp)):
            spec = {
                **target,
                "regions": args.regions,
                "batch_size": args.batch_size,
                "threads": args.threads,
                "device": args.device,
                "max_new_tokens": args.max_new_tokens,
                "prompt": args.prompt,
                "seed": args.seed,
                "repeat": args.repeat,
            }
            ours = _run_worker({**spec, "way": "eagle"})
            ref = _run_worker({**spec, "way": "reference"})
            same = ours["order"] == ref["order"]
            failed |= not same
            ratio = ref["seconds"] / ours["seconds"]
            rows.append(
                {
                    "model": label,
                    "eagle": ours,
                    "reference": ref,
                    "ratio": ratio,
                    "same_order": same,
                }
            )
            print(
                f"\n{label}  ({ours['device']}, {args.threads} thread(s), {args.regions} regions, "
                f"exact search, median of {args.repeat}, "
                f"{ours['n_tokens']} answer tokens: {ours['answer']!r})"
            )
            print(f"  eagle_kit inputs: {ours['composition']}")
            print(
                f"  {'way':<16}{'evals':>7}{'wall s':>9}{'evals/s':>10}{'peak MB':>10}{'+MB search':>12}"
            )
            for name, r in (("eagle_kit", ours), ("reference way", ref)):
                print(
                    f"  {name:<16}{r['evaluations']:>7}{r['seconds']:>9.2f}"
                    f"{r['evaluations'] / r['seconds']:>10.1f}{r['peak_mb']:>10.0f}"
                    f"{r['peak_mb'] - r['base_mb']:>12.0f}"
                )
            print(
                f"  wall-time ratio (reference / eagle_kit): {ratio:.1f}x   same region order: {same}"
            )
    if args.json is not None:
        from eagle_kit.tables import write_json

        write_json(args.json, rows)  # plain numbers, rounded; NaN as null
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
