"""Ground-truth evaluation of a shapes model with plain transformers (no EAGLE needed).

Every function takes a model and processor as loaded by
``AutoModelForImageTextToText.from_pretrained`` / ``AutoProcessor.from_pretrained`` and
talks to them only through the chat template, the processor and ``model.generate``, so the
figures hold for any loader that does the same.

Example:
    >>> model, processor = load_folder("data/shapes-vlm")  # doctest: +SKIP
    >>> caption_exact_match(model, processor, make_subset("natural", range(50)))  # doctest: +SKIP
    0.98
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .model import messages_for
from .world import (
    CAPTION_PROMPT,
    PLANTED_EFFECT,
    Scene,
    is_planted_case,
    make_subset,
    question_for,
)

__all__ = [
    "GateFigures",
    "GateThresholds",
    "load_folder",
    "generate",
    "caption_exact_match",
    "yes_no_accuracy",
    "hallucination_rates",
    "gate_figures",
    "gate_passes",
]

HALLUCINATED_WORDS = f"{PLANTED_EFFECT[0]} {PLANTED_EFFECT[1]}"
HALLUCINATION_QUESTION = question_for(*PLANTED_EFFECT)


@dataclass(frozen=True)
class GateThresholds:
    """Minimum figures a trained model must reach (issue 4's targets)."""

    caption_exact_match: float = 0.95
    yes_no_accuracy: float = 0.95
    hallucination_rate: float = 0.10
    hallucination_ratio: float = 5.0


def load_folder(folder: str | Path, *, device: str = "cpu") -> tuple[Any, Any]:
    """Load ``(model, processor)`` from a saved folder with the transformers Auto classes."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"No model in {folder} (config.json missing). Train one with "
            f"`python -m eagle_kit.shapes.train --out {folder}`."
        )
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder).to(device).eval()
    return model, processor


def generate(
    model: Any,
    processor: Any,
    images: Sequence[np.ndarray],
    prompts: Sequence[str],
    *,
    batch_size: int = 128,
    max_new_tokens: int = 24,
) -> list[str]:
    """Greedy replies for ``(image, prompt)`` pairs, decoded without special tokens.

    Args:
        model: a LLaVA-style ``generate``-capable model.
        processor: its processor (with the chat template).
        images: ``H×W×3`` uint8 RGB images.
        prompts: one prompt per image.
        batch_size: pairs per ``generate`` call.
        max_new_tokens: reply length limit.
    """
    import torch

    if len(images) != len(prompts):
        raise ValueError(f"Got {len(images)} images but {len(prompts)} prompts; give one each.")
    replies: list[str] = []
    device = next(model.parameters()).device
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        texts = [
            processor.apply_chat_template(messages_for(p), add_generation_prompt=True)
            for p in prompts[chunk]
        ]
        inputs = processor(
            text=texts, images=list(images[chunk]), padding=True, return_tensors="pt"
        ).to(device)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new = out[:, inputs["input_ids"].shape[1] :]
        replies += [s.strip() for s in processor.batch_decode(new, skip_special_tokens=True)]
    return replies


def caption_exact_match(
    model: Any, processor: Any, scenes: Sequence[Scene], *, batch_size: int = 128
) -> float:
    """Share of scenes whose greedy caption equals :attr:`Scene.caption` exactly."""
    if not scenes:
        raise ValueError("caption_exact_match needs at least one scene.")
    replies = generate(
        model, processor, [s.image for s in scenes], [CAPTION_PROMPT] * len(scenes),
        batch_size=batch_size,
    )  # fmt: skip
    return float(np.mean([r == s.caption for r, s in zip(replies, scenes, strict=True)]))


def yes_no_accuracy(
    model: Any,
    processor: Any,
    scenes: Sequence[Scene],
    *,
    exclude_planted: bool = True,
    batch_size: int = 256,
) -> float:
    """Accuracy over all 12 yes/no questions of each scene.

    Args:
        exclude_planted: leave out the planted case (yellow triangle + green square without
            green circle), where wrong answers are the point.
    """
    if exclude_planted:
        scenes = [s for s in scenes if not is_planted_case(s)]
    if not scenes:
        raise ValueError("yes_no_accuracy needs at least one scene (after exclusion).")
    images, prompts, answers = [], [], []
    for s in scenes:
        for q, a in s.questions:
            images.append(s.image)
            prompts.append(q)
            answers.append(a)
    replies = generate(model, processor, images, prompts, batch_size=batch_size, max_new_tokens=2)
    return float(np.mean([r == a for r, a in zip(replies, answers, strict=True)]))


def hallucination_rates(
    model: Any, processor: Any, scenes: Sequence[Scene], *, batch_size: int = 128
) -> dict[str, float]:
    """How often the model reports a green circle that is not there.

    Returns:
        ``caption``: share of captions containing "green circle"; ``yes_no``: share of
        "yes" to "is there a green circle ?". Scenes that hold a green circle raise.
    """
    if not scenes:
        raise ValueError("hallucination_rates needs at least one scene.")
    if any(PLANTED_EFFECT in s.pairs for s in scenes):
        raise ValueError("Scenes with a real green circle cannot measure its hallucination.")
    images = [s.image for s in scenes]
    captions = generate(
        model, processor, images, [CAPTION_PROMPT] * len(scenes), batch_size=batch_size
    )
    answers = generate(
        model, processor, images, [HALLUCINATION_QUESTION] * len(scenes),
        batch_size=batch_size, max_new_tokens=2,
    )  # fmt: skip
    return {
        "caption": float(np.mean([HALLUCINATED_WORDS in c for c in captions])),
        "yes_no": float(np.mean([a == "yes" for a in answers])),
    }


@dataclass(frozen=True)
class GateFigures:
    """Figures of the quality gate, on held-out seeds."""

    caption_exact_match: float
    yes_no_accuracy: float
    hallucination_caption: float
    control_caption: float
    hallucination_yes_no: float
    control_yes_no: float
    seeds: str

    def to_dict(self) -> dict[str, float | str]:
        """Plain dict, for the model card."""
        return asdict(self)


def gate_figures(
    model: Any,
    processor: Any,
    *,
    start: int = 900_000,
    n_captions: int = 400,
    n_questions: int = 100,
    n_subset: int = 300,
) -> GateFigures:
    """Measure the gate figures on held-out seeds ``start ..`` (never used in training).

    Caption exact match on ``n_captions`` natural scenes; yes/no accuracy on all questions of
    ``n_questions`` natural scenes (planted cases excluded); hallucination rates on
    ``n_subset`` scenes of the hallucination subset and of its control.
    """
    natural = make_subset("natural", range(start, start + n_captions))
    hall = hallucination_rates(
        model, processor, make_subset("hallucination", range(start, start + n_subset))
    )
    ctrl = hallucination_rates(
        model, processor, make_subset("control", range(start, start + n_subset))
    )
    return GateFigures(
        caption_exact_match=caption_exact_match(model, processor, natural),
        yes_no_accuracy=yes_no_accuracy(model, processor, natural[:n_questions]),
        hallucination_caption=hall["caption"],
        control_caption=ctrl["caption"],
        hallucination_yes_no=hall["yes_no"],
        control_yes_no=ctrl["yes_no"],
        seeds=f"natural {start}..{start + n_captions - 1}; subsets {start}..{start + n_subset - 1}",
    )


def gate_passes(figures: GateFigures, thresholds: GateThresholds | None = None) -> list[str]:
    """Names of the failed gate criteria (empty list = the model passes)."""
    t = thresholds or GateThresholds()
    failed = []
    if figures.caption_exact_match < t.caption_exact_match:
        failed.append(
            f"caption exact match {figures.caption_exact_match:.3f} < {t.caption_exact_match}"
        )
    if figures.yes_no_accuracy < t.yes_no_accuracy:
        failed.append(f"yes/no accuracy {figures.yes_no_accuracy:.3f} < {t.yes_no_accuracy}")
    if figures.hallucination_caption < t.hallucination_rate:
        failed.append(
            f"hallucination rate {figures.hallucination_caption:.3f} < {t.hallucination_rate}"
        )
    if figures.hallucination_caption < t.hallucination_ratio * figures.control_caption:
        failed.append(
            f"hallucination rate {figures.hallucination_caption:.3f} < "
            f"{t.hallucination_ratio}× control {figures.control_caption:.3f}"
        )
    return failed
