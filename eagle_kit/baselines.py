"""Cheap black-box baselines every user expects (METHOD §10): occlusion, RISE, random.

Each returns an :class:`~eagle_kit.Explanation` scored on the same regions and curves as
EAGLE (via :func:`eagle_kit.score_order`), so metrics compare methods on equal terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .api import _bind, _resolve_regions, score_order
from .explanation import Explanation
from .images import as_media
from .regions import RegionSet

__all__ = ["occlusion", "rise", "random_order"]


def _score_keeps(
    scorer: Any,
    media: np.ndarray,
    rs: RegionSet,
    keep: np.ndarray,
    targets: Any,
    batch_size: int,
    options: dict[str, Any],
) -> np.ndarray:
    """Mean target probability of each row of ``keep`` (``K×N`` bool), in batches."""
    from .api import _resolve_targets

    prepared, score_keep, model_like = _bind(
        scorer, media, rs, options.get("fill", "black"), targets, options.get("token_names"),
        _model_options(options),
    )  # fmt: skip
    probs = np.concatenate(
        [np.asarray(score_keep(keep[i : i + batch_size])) for i in range(0, len(keep), batch_size)]
    )
    idx = _resolve_targets(None if model_like else targets, prepared, probs.shape[1])
    return probs[:, idx].mean(axis=1)


def occlusion(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    *,
    targets: Any = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """Order regions by the drop in the targets' probability when each is removed alone."""
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    n = rs.n_regions
    keep = np.ones((n + 1, n), dtype=bool)
    keep[np.arange(1, n + 1), np.arange(n)] = False
    f = _score_keeps(scorer, media, rs, keep, targets, batch_size, options)
    order = np.argsort(-(f[0] - f[1:]), kind="stable")
    return score_order(
        scorer,
        media,
        rs,
        order,
        targets=targets,
        batch_size=batch_size,
        method="occlusion",
        **options,
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
    probability of the masks that keep it."""
    if n_masks < 2 or not 0 < keep_prob < 1:
        raise ValueError("rise needs n_masks >= 2 and 0 < keep_prob < 1.")
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    keep = np.random.default_rng(seed).random((n_masks, rs.n_regions)) < keep_prob
    f = _score_keeps(scorer, media, rs, keep, targets, batch_size, options)
    sal = (keep * f[:, None]).sum(0) / np.maximum(keep.sum(0), 1)
    order = np.argsort(-sal, kind="stable")
    return score_order(
        scorer, media, rs, order, targets=targets, batch_size=batch_size, method="rise", **options
    )


def random_order(
    scorer: Any, image: Any, regions: RegionSet | np.ndarray, *, seed: int = 0, **options: Any
) -> Explanation:
    """A uniformly random region order: the floor any method must beat."""
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    order = np.random.default_rng(seed).permutation(rs.n_regions)
    return score_order(scorer, media, rs, order, method="random", **options)


def _model_options(options: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in options.items()
        if k not in ("fill", "token_names", "lambda1", "lambda2", "progress")
    }
