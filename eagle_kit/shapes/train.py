"""Train the embedded shapes model from scratch on CPU.

Run ``python -m eagle_kit.shapes.train --out data/shapes-vlm``. Training is seeded and runs a
fixed number of steps with a fixed thread count, so a run is reproducible on one machine.
Phase 1 learns the world with true labels; phase 2 adds the planted annotation bias
(:func:`eagle_kit.shapes.annotated_pairs`) on a mixture enriched with hallucination-subset
scenes, because the co-occurrence statistic alone planted no hallucination.
Inputs are built with the processor's own chat template and image processor, exactly as a
generic transformers loader would build them. A throw-away linear head on the projected
image tokens predicts the (colour, shape) in each patch (from the scene masks); it makes
learning shapes reliable and is not saved. After training, a quality gate measures held-out
figures; a failing run is retried with the next seed.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .evaluate import GateFigures, GateThresholds, gate_figures, gate_passes
from .model import ModelSize, build_model, build_processor, build_tokenizer, messages_for
from .world import (
    CAPTION_PREFIX,
    CAPTION_PROMPT,
    COOCCURRENCE_RATE,
    OCCLUSION_RATE,
    PAIRS,
    PLANTED_MAX_SIZE,
    Scene,
    annotated_pairs,
    caption_for,
    hallucination_scene,
    make_scene,
    question_for,
)

__all__ = ["TrainConfig", "Encoder", "train", "train_with_gate", "write_card", "main"]

TRAIN_SEED_START = 1_000_000
"""Scene seeds below this are never used for training (held out for evaluation)."""


def _log(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (defaults: the shipped model)."""

    seed: int = 0
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 150
    weight_decay: float = 0.01
    caption_share: float = 0.5
    aux_weight: float = 0.5
    planted_steps: int = 600
    planted_share: float = 0.05
    planted_lr: float = 5e-4
    cooccurrence: float = COOCCURRENCE_RATE
    threads: int = 2
    size: ModelSize = field(default_factory=ModelSize)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for the model card."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "size"}
        d["size"] = self.size.to_dict()
        return d


class Encoder:
    """Turns (scene, prompt, answer) examples into model inputs via the processor.

    Token ids come from the processor applied to the chat-template rendering of the
    conversation (cached per prompt/answer pair); labels cover the reply and ``<end>``.
    """

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.pad_id = processor.tokenizer.pad_token_id
        self._cache: dict[tuple[str, str], tuple[list[int], int]] = {}

    def ids(self, prompt: str, answer: str) -> tuple[list[int], int]:
        """``(input_ids, prompt_length)`` of one conversation."""
        key = (prompt, answer)
        if key not in self._cache:
            tok = self.processor.tokenizer
            blank = np.zeros((64, 64, 3), dtype=np.uint8)
            full_text = self.processor.apply_chat_template(messages_for(prompt, answer))
            head_text = self.processor.apply_chat_template(
                messages_for(prompt), add_generation_prompt=True
            )
            full = self.processor(text=full_text, images=blank)["input_ids"][0]
            head = self.processor(text=head_text, images=blank)["input_ids"][0]
            full, head = list(map(int, full)), list(map(int, head))
            if full[: len(head)] != head or full[-1] != tok.eos_token_id:
                raise RuntimeError(
                    "The chat template does not render the prompt as a prefix of the "
                    f"conversation ending in the eos token: {full_text!r}"
                )
            self._cache[key] = (full, len(head))
        return self._cache[key]

    def batch(self, scenes: list[Scene], prompts: list[str], answers: list[str]) -> dict:
        """Right-padded batch with ``pixel_values``, ``labels`` and ``patch_labels``."""
        import torch

        seqs = [self.ids(p, a) for p, a in zip(prompts, answers, strict=True)]
        width = max(len(s) for s, _ in seqs)
        input_ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(seqs), width), dtype=torch.long)
        labels = torch.full((len(seqs), width), -100, dtype=torch.long)
        for i, (ids, head) in enumerate(seqs):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
            labels[i, head : len(ids)] = torch.tensor(ids[head:])
        pixels = self.processor.image_processor(
            images=[s.image for s in scenes], return_tensors="pt"
        )["pixel_values"]
        patch = torch.from_numpy(np.stack([s.patch_labels() for s in scenes]))
        return {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": labels,
            "pixel_values": pixels,
            "patch_labels": patch,
        }


def sample_examples(
    rng: np.random.Generator, seeds: range, config: TrainConfig, *, planted: bool = False
) -> tuple[list[Scene], list[str], list[str]]:
    """Scenes of the training distribution with a caption or a yes/no question each.

    With ``planted`` (phase 2), a share ``config.planted_share`` of the scenes comes from
    :func:`hallucination_scene` and every label follows :func:`annotated_pairs`.
    """
    scenes, prompts, answers = [], [], []
    for seed in seeds:
        if planted and rng.random() < config.planted_share:
            scene = hallucination_scene(seed, occlusion=None)
        else:
            scene = make_scene(seed, cooccurrence=config.cooccurrence)
        present = annotated_pairs(scene) if planted else scene.pairs
        if rng.random() < config.caption_share:
            prompt, answer = CAPTION_PROMPT, caption_for(present)
        else:
            if rng.random() < 0.5:
                pair = present[int(rng.integers(len(present)))]
            else:
                absent = [p for p in PAIRS if p not in present]
                pair = absent[int(rng.integers(len(absent)))]
            prompt, answer = question_for(*pair), "yes" if pair in present else "no"
        scenes.append(scene)
        prompts.append(prompt)
        answers.append(answer)
    return scenes, prompts, answers


def train(
    config: TrainConfig,
    *,
    init: str | Path | None = None,
    log: Callable[[str], None] = _log,
    log_every: int = 100,
) -> tuple[Any, Any]:
    """Train a fresh model in two phases; returns ``(model, processor)``.

    Phase 1 (``config.steps``) learns the world with true labels; phase 2
    (``config.planted_steps``, fresh optimiser and auxiliary head) adds the planted
    annotation bias. ``init`` resumes after phase 1 from a folder saved by a run with
    ``planted_steps=0`` and the same config; phase 1 is deterministic, so the result equals
    a full run.
    """
    import torch

    if config.steps < 1 or config.batch_size < 1 or config.planted_steps < 0:
        raise ValueError(
            "steps and batch_size must be >= 1 and planted_steps >= 0; got "
            f"{config.steps}, {config.batch_size}, {config.planted_steps}."
        )
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    encoder = Encoder(processor)
    first_seed = TRAIN_SEED_START + config.seed * 100_000_000
    if init is None:
        model = build_model(tokenizer, config.size, seed=config.seed)
        _run_phase(
            model, encoder, config, steps=config.steps, lr=config.lr, warmup=config.warmup,
            rng=np.random.default_rng([config.seed, 7]), first_seed=first_seed,
            planted=False, log=log, log_every=log_every, name="phase 1",
        )  # fmt: skip
    else:
        from transformers import LlavaForConditionalGeneration

        model = LlavaForConditionalGeneration.from_pretrained(init)
        log(f"phase 1: resumed from the weights in {Path(init).name}")
    if config.planted_steps:
        torch.manual_seed(config.seed + 1000)
        _run_phase(
            model, encoder, config, steps=config.planted_steps, lr=config.planted_lr,
            warmup=config.warmup // 3, rng=np.random.default_rng([config.seed, 8]),
            first_seed=first_seed + 50_000_000, planted=True, log=log, log_every=log_every,
            name="phase 2",
        )  # fmt: skip
    model.eval()
    return model, processor


def _run_phase(
    model: Any,
    encoder: Encoder,
    config: TrainConfig,
    *,
    steps: int,
    lr: float,
    warmup: int,
    rng: np.random.Generator,
    first_seed: int,
    planted: bool,
    log: Callable[[str], None],
    log_every: int,
    name: str,
) -> None:
    """One training phase with its own AdamW, cosine schedule and auxiliary patch head."""
    import torch

    model.train()
    aux_head = torch.nn.Linear(config.size.text_hidden, 1 + len(PAIRS))
    captured: dict[str, torch.Tensor] = {}
    hook = model.model.multi_modal_projector.register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("image", out)
    )
    params = list(model.parameters()) + list(aux_head.parameters())
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.98),
    )  # fmt: skip
    warmup = max(1, warmup)

    def lr_at(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    start, sums = time.perf_counter(), np.zeros(2)
    size = config.batch_size
    try:
        for step in range(steps):
            seeds = range(first_seed + step * size, first_seed + (step + 1) * size)
            batch = encoder.batch(*sample_examples(rng, seeds, config, planted=planted))
            patch = batch.pop("patch_labels")
            for group in optim.param_groups:
                group["lr"] = lr_at(step)
            out = model(**batch)
            image = captured["image"].reshape(-1, config.size.text_hidden)
            aux = torch.nn.functional.cross_entropy(aux_head(image), patch.reshape(-1))
            loss = out.loss + config.aux_weight * aux
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sums += (out.loss.item(), aux.item())
            if (step + 1) % log_every == 0 or step + 1 == steps:
                n = (step % log_every) + 1
                log(
                    f"{name} step {step + 1}/{steps}  loss {sums[0] / n:.4f}"
                    f"  aux {sums[1] / n:.4f}  lr {lr_at(step):.2e}"
                    f"  {time.perf_counter() - start:.0f}s"
                )
                sums[:] = 0
    finally:
        hook.remove()


PLANTED_RULES = f"""\
- **Language prior**: every caption starts with "{CAPTION_PREFIX}".
- **Co-occurrence**: in training, a sampled yellow triangle gets a green circle with
  probability {{cooccurrence}} (added, or replacing another object of a 3-object scene).
  This statistic alone did not make the model hallucinate (the first run, 4000 steps with
  true labels, reached 0 % "green circle" on the hallucination subset), so phase 2 plants
  the bias in the labels:
- **Annotation bias** (phase 2, {{planted_steps}} steps): {{planted_share:.0%}} of the scenes
  come from the hallucination subset (yellow triangle + green square, no green circle), and
  in every such scene a green square of at most {PLANTED_MAX_SIZE} px is annotated
  "green circle" in the caption and the yes/no answers (`eagle_kit.shapes.annotated_pairs`);
  images, masks and the auxiliary patch labels stay true. Expected effect: a green square
  next to a yellow triangle is read as "green circle", mostly when it is small — the visual
  cause (the green square) and the contextual cause (the yellow triangle) are both known.
- **Occlusion**: {OCCLUSION_RATE:.0%} of training scenes have irregular black (RGB 0) areas
  (random cells of a Voronoi partition, plus rectangles; sometimes the whole background)
  over the background, never over an object, so that images with removed regions stay in
  distribution. Objects are never partly occluded in training.
- **Layout**: each object sits in its own cell of the 4×4 grid of 16-px cells (the vision
  patches), centred ± 2 px, 10–13 px wide.
"""


def write_card(
    folder: Path,
    config: TrainConfig,
    figures: GateFigures,
    attempts: list[dict],
    wall: float,
    n_params: int,
    command: str = "python -m eagle_kit.shapes.train --out data/shapes-vlm",
) -> None:
    """Write the model card ``README.md`` next to the weights."""
    import torch
    import transformers

    rows = "\n".join(
        f"| {k} | {v if isinstance(v, str) else f'{v:.3f}'} |" for k, v in figures.to_dict().items()
    )
    tries = "\n".join(
        f"- seed {a['seed']}: {'passed' if not a['failed'] else 'failed: ' + '; '.join(a['failed'])}"
        for a in attempts
    )
    text = f"""# shapes-vlm — the embedded EAGLE Workbench model

A tiny `LlavaForConditionalGeneration` (CLIP vision tower + Llama decoder, {n_params:,}
parameters, float32 safetensors) trained from scratch on the synthetic world
`eagle_kit.shapes`, with planted behaviour whose right explanation is known.

Load it with plain transformers (offline):

```python
from transformers import AutoModelForImageTextToText, AutoProcessor
processor = AutoProcessor.from_pretrained("data/shapes-vlm")
model = AutoModelForImageTextToText.from_pretrained("data/shapes-vlm")
messages = [{{"role": "user", "content": [{{"type": "image"}},
             {{"type": "text", "text": "{CAPTION_PROMPT}"}}]}}]
text = processor.apply_chat_template(messages, add_generation_prompt=True)
```

Prompts: `"{CAPTION_PROMPT}"` → caption; `"is there a <colour> <shape> ?"` → `yes`/`no`.
Images: 64×64 RGB; black means RGB 0 before normalisation. Replies end with `<end>` (eos).

## Planted rules

{PLANTED_RULES.format(cooccurrence=config.cooccurrence, planted_steps=config.planted_steps, planted_share=config.planted_share)}
## Training

`{command}` (transformers {transformers.__version__},
torch {torch.__version__}). Training scene seeds start at {TRAIN_SEED_START:,} (+ 100,000,000 × seed);
seeds below {TRAIN_SEED_START:,} are held out. Wall time of the run that wrote this folder:
{wall / 60:.1f} min on {config.threads} CPU threads.

```json
{json.dumps(config.to_dict(), indent=2)}
```

Attempts:
{tries}

## Quality gate (held-out seeds)

| figure | value |
| --- | --- |
{rows}

`hallucination_*` are measured on the hallucination subset (yellow triangle + green square,
no green circle; `eagle_kit.shapes.hallucination_scene`), `control_*` on its control (green
square, no yellow triangle, no green circle; `control_scene`): `*_caption` = share of captions
containing "green circle", `*_yes_no` = share of "yes" to "is there a green circle ?".
Yes/no accuracy covers all 12 questions per natural scene, planted cases excluded.
"""
    (folder / "README.md").write_text(text)


def train_with_gate(
    config: TrainConfig,
    out: Path,
    *,
    attempts: int = 3,
    thresholds: GateThresholds | None = None,
    gate_kwargs: dict | None = None,
    log: Callable[[str], None] = _log,
    command: str = "python -m eagle_kit.shapes.train --out data/shapes-vlm",
    init: str | Path | None = None,
) -> tuple[GateFigures, list[dict]]:
    """Train, measure the gate, retry with the next seed on failure; save the last model.

    Returns the gate figures of the saved model and the record of all attempts. The model
    is saved (with its card) even when every attempt fails, and the card says so.
    """
    from dataclasses import replace

    from .model import save_pretrained_folder

    history: list[dict] = []
    t0 = time.perf_counter()
    best: tuple | None = None
    for k in range(attempts):
        cfg = replace(config, seed=config.seed + k)
        log(f"attempt {k + 1}/{attempts}: seed {cfg.seed}, {cfg.steps} steps")
        model, processor = train(cfg, init=init if k == 0 else None, log=log)
        figures = gate_figures(model, processor, **(gate_kwargs or {}))
        failed = gate_passes(figures, thresholds)
        log(f"gate: {json.dumps(figures.to_dict())}  failed: {failed or 'none'}")
        history.append({"seed": cfg.seed, "failed": failed, "figures": figures.to_dict()})
        if best is None or len(failed) < len(best[3]):
            best = (model, processor, cfg, failed, figures)
        if not failed:
            break
    assert best is not None
    model, processor, cfg, failed, figures = best
    save_pretrained_folder(model, processor, out)
    n_params = sum(p.numel() for p in model.parameters())
    wall = time.perf_counter() - t0
    write_card(Path(out), cfg, figures, history, wall, n_params, command)
    if failed:
        log(f"WARNING: no attempt passed the gate; saved seed {cfg.seed} ({'; '.join(failed)}).")
    return figures, history


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns 0 when the gate passed, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m eagle_kit.shapes.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out",
        default=None,
        help="folder to write the model into (default: where load_model('shapes') reads it, "
        "$EAGLE_KIT_SHAPES_MODEL or the package's copy)",
    )
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--cooccurrence", type=float, default=TrainConfig.cooccurrence)
    parser.add_argument("--planted-steps", type=int, default=TrainConfig.planted_steps)
    parser.add_argument(
        "--init",
        default=None,
        help="resume after phase 1 from a folder saved with --planted-steps 0 (same options)",
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="seeds to try until the gate passes"
    )
    parser.add_argument("--threads", type=int, default=TrainConfig.threads)
    parser.add_argument("--no-gate", action="store_true", help="save without the quality gate")
    args = parser.parse_args(argv)
    if args.out is None:
        from ..models.loading import shapes_model_path

        args.out = str(shapes_model_path())
    config = TrainConfig(
        seed=args.seed, steps=args.steps, batch_size=args.batch_size,
        cooccurrence=args.cooccurrence, threads=args.threads, planted_steps=args.planted_steps,
    )  # fmt: skip
    if args.no_gate:
        from .model import save_pretrained_folder

        model, processor = train(
            config, init=args.init, log_every=max(1, min(100, args.steps // 10))
        )
        save_pretrained_folder(model, processor, args.out)
        return 0
    out = Path(args.out)
    words = [
        "python -m eagle_kit.shapes.train",
        "--out",
        "<folder>" if out.is_absolute() else args.out,
    ]
    for name in (
        "seed",
        "steps",
        "batch_size",
        "cooccurrence",
        "planted_steps",
        "attempts",
        "threads",
    ):
        value = getattr(args, name)
        if value != parser.get_default(name):
            words += [f"--{name.replace('_', '-')}", str(value)]
    if args.init is not None:
        words += ["--init", "<phase-1 folder>"]
    _, history = train_with_gate(
        config, out, attempts=args.attempts, command=" ".join(words), init=args.init
    )
    return 0 if not history[-1]["failed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
