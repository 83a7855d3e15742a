"""EAGLE on the shapes world, where the right answer is known.

Shared by the demo (``eagle-kit demo``), the notebooks and ``benchmarks/shapes_eval.py``:
finding a hallucinated caption, explaining an object's tokens, locating objects in a region
order, and diagnosing and mitigating the planted "green circle" hallucination (METHOD §7).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import metrics
from ..api import explain
from ..explanation import Explanation
from ..regions import RegionSet, segment
from .world import (
    CAPTION_PROMPT,
    PLANTED_CAUSE,
    PLANTED_EFFECT,
    PLANTED_VISUAL,
    Scene,
    hallucination_scene,
)

__all__ = [
    "word_indices",
    "object_rank",
    "find_hallucinating_scene",
    "HallucinationDiagnosis",
    "diagnose_caption",
    "PRIOR_WORDS",
]

PRIOR_WORDS = ("the", "picture", "shows")
"""The planted language prior: every caption starts with these words."""


def word_indices(tokens: Sequence[str], words: Sequence[str]) -> list[int]:
    """Indices of the first run of ``words`` (consecutive, whitespace-insensitive) in ``tokens``.

    Returns ``[]`` when the run does not occur.
    """
    toks = [t.strip() for t in tokens]
    n = len(words)
    for i in range(len(toks) - n + 1):
        if toks[i : i + n] == list(words):
            return list(range(i, i + n))
    return []


def covering_regions(regions: RegionSet, mask: np.ndarray, *, min_share: float = 0.5) -> list[int]:
    """Regions that are mostly the object (≥ ``min_share`` of their pixels), or, if none is,
    the region holding most of the object's pixels."""
    labels = regions.labels
    inside = np.bincount(labels[mask], minlength=regions.n_regions)
    sizes = np.bincount(labels.ravel(), minlength=regions.n_regions)
    cover = np.flatnonzero(inside >= min_share * sizes)
    if len(cover) == 0 and inside.any():
        cover = np.array([int(np.argmax(inside))])
    return [int(r) for r in cover]


def object_rank(expl: Explanation, mask: np.ndarray) -> int:
    """The best (lowest) rank in ``expl.order`` of a region covering the object ``mask``."""
    cover = set(covering_regions(expl.regions, mask))
    if not cover:
        raise ValueError("the object mask is empty.")
    ranks = [k for k, r in enumerate(expl.order.tolist()) if r in cover]
    return int(min(ranks))


def find_hallucinating_scene(
    model: Any, seeds: Iterable[int], *, only_planted: bool = True, max_new_tokens: int = 24
) -> tuple[Scene, Any] | None:
    """The first planted scene (yellow triangle + green square) whose caption says
    "green circle", with its generation; ``None`` if no seed hallucinates.

    With ``only_planted`` the scene holds the two planted objects and nothing else, so no
    real circle competes with the hallucinated one.
    """
    for seed in seeds:
        scene = hallucination_scene(int(seed))
        if only_planted and len(scene.objects) != 2:
            continue
        gen = model.generate(scene.image, CAPTION_PROMPT, max_new_tokens=max_new_tokens)
        if word_indices(gen.tokens, PLANTED_EFFECT):
            return scene, gen
    return None


@dataclass
class HallucinationDiagnosis:
    """The planted hallucination, explained and mitigated.

    Attributes:
        caption: the hallucinated caption's explanation (every token recorded, all targets).
        wrong: explanation of the hallucinated words ("green circle" as produced: both
            tokens form the objective).
        correct: METHOD §7 diagnosis: the same position scored for the correct word
            ("square"); its tail holds what pushes the model to the wrong one.
        visual_rank: rank of the green square in ``wrong.order`` (0 = top).
        context_rank: rank of the yellow triangle in ``wrong.order``.
        correction: outcome of removing ``correct``'s lowest-ranked regions.
    """

    caption: Explanation
    wrong: Explanation
    correct: Explanation
    visual_rank: int
    context_rank: int
    correction: metrics.Correction


def _mask_of(scene: Scene, pair: tuple[str, str]) -> np.ndarray:
    for obj in scene.objects:
        if (obj.colour, obj.shape) == pair:
            return obj.mask
    raise ValueError(f"the scene has no {pair[0]} {pair[1]}.")


def diagnose_caption(
    model: Any,
    scene: Scene,
    generation: Any,
    *,
    n_regions: int = 30,
    search: str = "efficient",
    regions: RegionSet | None = None,
    progress: bool = False,
) -> HallucinationDiagnosis:
    """Explain and mitigate a caption that calls the green square a "green circle"."""
    idx = word_indices(generation.tokens, PLANTED_EFFECT)
    if not idx:
        raise ValueError(f"the caption {generation.text!r} does not say 'green circle'.")
    shape_pos = idx[1]
    regions = regions if regions is not None else segment(scene.image, n_regions=n_regions)
    common = dict(
        prompt=CAPTION_PROMPT,
        generation=generation,
        regions=regions,
        search=search,
        progress=progress,
    )
    caption = explain(model, scene.image, **common)
    wrong = explain(model, scene.image, targets=idx, **common)
    correct = explain(
        model,
        scene.image,
        targets=[shape_pos],
        target_token_ids={shape_pos: PLANTED_VISUAL[1]},
        **common,
    )
    visual_rank = object_rank(wrong, _mask_of(scene, PLANTED_VISUAL))
    context_rank = object_rank(wrong, _mask_of(scene, PLANTED_CAUSE))

    def fixed(text: str, _label: str) -> bool:
        words = text.split()
        return (
            word_indices(words, PLANTED_EFFECT) == [] and word_indices(words, PLANTED_VISUAL) != []
        )

    correction = metrics.mitigate(
        correct, model, "green square", prompt=CAPTION_PROMPT, match=fixed
    )
    return HallucinationDiagnosis(caption, wrong, correct, visual_rank, context_rank, correction)
