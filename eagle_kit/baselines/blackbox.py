"""Cheap black-box baselines every user expects (METHOD §10): occlusion, RISE, random order.

Each ranks the features of :func:`eagle_kit.explain`: the image regions and, with
``text_regions``, the prompt spans after them (a removed span's tokens replaced in place by
``text_baseline``, see :mod:`eagle_kit.text_regions`), and scores its order on EAGLE's curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..explanation import Explanation
from ..regions import RegionSet
from ._assemble import rank_features
from ._keep import KeepObjective

__all__ = ["occlusion", "rise", "random_order"]


def occlusion(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    targets: Any = None,
    batch_size: int = 64,
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **options: Any,
) -> Explanation:
    """Order the features by the drop in the targets' probability when each is removed alone.

    Scores ``N + 1`` inputs (everything kept, and each feature removed); the drops
    ``f(all) − f(all but feature j)`` are stored as ``baseline_values`` (region).

    Args:
        scorer: a model from :func:`eagle_kit.load_model` or a scorer callable
            (``B×H×W×3`` uint8 → ``B×T`` probabilities).
        image: ``H×W×3`` image (array, PIL image or path) or ``F×H×W×3`` frames.
        regions: a :class:`~eagle_kit.RegionSet` or ``H×W`` label map; ``"none"`` for no
            image regions (prompt spans only, with ``text_regions``).
        targets: the objective's tokens, as for :func:`eagle_kit.explain`.
        batch_size: inputs per scorer call.
        text_regions: prompt spans as features after the image regions (Hugging Face
            models): ``"words"``, ``"sentences"`` or ``[(start, end), …]``, as for
            :func:`eagle_kit.explain`; the result has the same ``region`` coordinates
            (``region_kind``, ``region_text``, ``region_start``/``region_end``) and three-way
            reading as EAGLE's joint explanation.
        text_baseline: the token replacing a removed span's tokens (id or one-token text;
            default pad, else unk).
        **options: as for :func:`eagle_kit.score_order` (``fill``, ``prompt``, ``answer``,
            ``generation`` …).

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="occlusion"``).

    Raises:
        ValueError: ``batch_size`` < 1; ``regions="none"`` without ``text_regions``;
            ``text_baseline`` without ``text_regions``.
        TypeError: ``text_regions`` with a scorer that cannot replace prompt tokens.
    """

    def drops(f: KeepObjective) -> np.ndarray:
        n = f.n_features
        keep = np.ones((n + 1, n), dtype=bool)
        keep[np.arange(1, n + 1), np.arange(n)] = False
        values = f(keep)
        return values[0] - values[1:]

    return rank_features(
        "occlusion", scorer, image, regions, values_of=drops, targets=targets,
        batch_size=batch_size, text_regions=text_regions, text_baseline=text_baseline,
        options=options, recorded={"batch_size": batch_size},
    )  # fmt: skip


def rise(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    n_masks: int = 256,
    keep_prob: float = 0.5,
    seed: int = 0,
    targets: Any = None,
    batch_size: int = 64,
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **options: Any,
) -> Explanation:
    """RISE over the features: random keep-masks, each feature scored by the mean target
    probability of the masks that keep it (stored as ``baseline_values`` (region)).

    Args:
        n_masks: random keep-masks scored (the method's evaluations).
        keep_prob: probability that a mask keeps a feature.
        seed: seed of the masks.
        (the others as for :func:`occlusion`)

    Raises:
        ValueError: ``n_masks`` < 2 or ``keep_prob`` outside (0, 1); as :func:`occlusion`.
    """
    if n_masks < 2 or not 0 < keep_prob < 1:
        raise ValueError("rise needs n_masks >= 2 and 0 < keep_prob < 1.")

    def saliency(f: KeepObjective) -> np.ndarray:
        keep = np.random.default_rng(seed).random((n_masks, f.n_features)) < keep_prob
        values = f(keep)
        return (keep * values[:, None]).sum(0) / np.maximum(keep.sum(0), 1)

    return rank_features(
        "rise", scorer, image, regions, values_of=saliency, targets=targets,
        batch_size=batch_size, text_regions=text_regions, text_baseline=text_baseline,
        options=options, recorded={"n_masks": n_masks, "keep_prob": keep_prob, "seed": seed},
    )  # fmt: skip


def random_order(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    seed: int = 0,
    targets: Any = None,
    batch_size: int | None = None,
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **options: Any,
) -> Explanation:
    """A uniformly random feature order: the floor any method must beat.

    Scores nothing but its curves. Options as for :func:`occlusion`; ``batch_size=None``
    takes the scorer's own.
    """

    def ranks(f: KeepObjective) -> np.ndarray:
        n = f.n_features
        values = np.empty(n)
        values[np.random.default_rng(seed).permutation(n)] = np.arange(n, 0, -1)
        return values  # the permutation, first = highest

    return rank_features(
        "random", scorer, image, regions, values_of=ranks, targets=targets,
        batch_size=batch_size, text_regions=text_regions, text_baseline=text_baseline,
        options=options, recorded={"seed": seed}, store_values=False,
    )  # fmt: skip
