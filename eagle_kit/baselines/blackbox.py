"""Cheap black-box baselines every user expects (METHOD §10): occlusion, RISE, random order."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..api import _resolve_regions, score_order
from ..explanation import Explanation
from ..images import as_media
from ..regions import RegionSet
from ._cost import CostMeter, _device_of, record
from ._keep import KeepObjective, check_batch_size

__all__ = ["occlusion", "rise", "random_order"]


def occlusion(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    *,
    targets: Any = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """Order regions by the drop in the targets' probability when each is removed alone.

    Scores ``N + 1`` images (the full image and each region removed); the drops are stored
    as ``baseline_values`` (region). Options as for :func:`eagle_kit.score_order`.
    """
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    n = rs.n_regions
    with CostMeter(_device_of(scorer)) as meter:
        f = KeepObjective(
            scorer, media, rs, targets=targets, batch_size=batch_size, options=options
        )
        keep = np.ones((n + 1, n), dtype=bool)
        keep[np.arange(1, n + 1), np.arange(n)] = False
        values = f(keep)
        drop = values[0] - values[1:]
    order = np.argsort(-drop, kind="stable")
    expl = score_order(
        scorer, media, rs, order, targets=targets, batch_size=batch_size, method="occlusion",
        **options,
    )  # fmt: skip
    return record(
        expl,
        meter,
        evaluations=f.evaluations,
        forward_calls=f.forward_calls,
        options={"batch_size": batch_size},
        region_values=drop,
    )


def rise(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    *,
    n_masks: int = 256,
    keep_prob: float = 0.5,
    seed: int = 0,
    targets: Any = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """RISE over regions: random keep-masks, each region scored by the mean target
    probability of the masks that keep it (stored as ``baseline_values`` (region)).

    Args:
        n_masks: random keep-masks scored (the method's evaluations).
        keep_prob: probability that a mask keeps a region.
        seed: seed of the masks.
    """
    if n_masks < 2 or not 0 < keep_prob < 1:
        raise ValueError("rise needs n_masks >= 2 and 0 < keep_prob < 1.")
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    with CostMeter(_device_of(scorer)) as meter:
        f = KeepObjective(
            scorer, media, rs, targets=targets, batch_size=batch_size, options=options
        )
        keep = np.random.default_rng(seed).random((n_masks, rs.n_regions)) < keep_prob
        values = f(keep)
        sal = (keep * values[:, None]).sum(0) / np.maximum(keep.sum(0), 1)
    order = np.argsort(-sal, kind="stable")
    expl = score_order(
        scorer, media, rs, order, targets=targets, batch_size=batch_size, method="rise", **options
    )
    return record(
        expl,
        meter,
        evaluations=f.evaluations,
        forward_calls=f.forward_calls,
        options={"n_masks": n_masks, "keep_prob": keep_prob, "seed": seed},
        region_values=sal,
    )


def random_order(
    scorer: Any, image: Any, regions: RegionSet | np.ndarray, *, seed: int = 0, **options: Any
) -> Explanation:
    """A uniformly random region order: the floor any method must beat."""
    if "batch_size" in options:
        check_batch_size(options["batch_size"])
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    with CostMeter(_device_of(scorer)) as meter:
        order = np.random.default_rng(seed).permutation(rs.n_regions)
    expl = score_order(scorer, media, rs, order, method="random", **options)
    return record(expl, meter, evaluations=0, forward_calls=0, options={"seed": seed})
