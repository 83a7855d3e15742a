"""One place where a feature-set baseline becomes an Explanation: the features resolved, the
method's values computed with a batched objective (cost measured), the features ordered by
value and that order scored on EAGLE's curves (:func:`eagle_kit.score_order`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..api import score_order
from ..explanation import Explanation
from ..images import as_media
from ..regions import RegionSet
from ._cost import CostMeter, _device_of, record
from ._keep import FeatureSet, KeepObjective, check_batch_size


def _generate_once(scorer: Any, media: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
    """A model without ``answer``/``generation`` generates its answer here, once, so that the
    method and its curves explain the same answer without generating it twice."""
    if not (hasattr(scorer, "prepare") and hasattr(scorer, "generate")):
        return options
    if options.get("answer") is not None or options.get("generation") is not None:
        return options
    gen = scorer.generate(
        media,
        options.get("prompt"),
        max_new_tokens=int(options.get("max_new_tokens", 64)),
        messages=options.get("messages"),
    )
    return {**options, "generation": gen}


def rank_features(
    method: str,
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    values_of: Callable[[KeepObjective], np.ndarray],
    targets: Any,
    batch_size: int | None,
    text_regions: Any,
    text_baseline: int | str | None,
    options: dict[str, Any],
    recorded: dict[str, Any],
    store_values: bool = True,
) -> Explanation:
    """Run a feature-set baseline and return its :class:`~eagle_kit.Explanation`.

    ``values_of(objective)`` computes one value per feature (``(N,)``, higher = more
    important) with ``objective`` (a :class:`KeepObjective` over the image regions, then the
    prompt spans); the features are ordered by decreasing value (ties by id) and the order is
    scored with :func:`eagle_kit.score_order` on the same features, so the result has the
    coordinates, curves and three-way reading of :func:`eagle_kit.explain` on them. The
    values go to ``baseline_values`` (region) unless ``store_values`` is false; the method's
    cost and ``recorded`` options to the ``baseline_*`` attributes.
    """
    media = as_media(image)
    features = FeatureSet(media, regions, text_regions, text_baseline)
    if batch_size is not None:
        check_batch_size(batch_size)
    with CostMeter(_device_of(scorer)) as meter:
        options = _generate_once(scorer, media, options)
        objective = KeepObjective(
            scorer,
            media,
            features,
            targets=targets,
            batch_size=64 if batch_size is None else batch_size,
            options=options,
        )
        values = np.asarray(values_of(objective), dtype=np.float64).reshape(-1)
    order = np.argsort(-values, kind="stable")
    expl = score_order(
        scorer,
        media,
        order=order,
        targets=targets,
        batch_size=batch_size,
        method=method,
        **features.order_options(),
        **options,
    )
    return record(
        expl,
        meter,
        evaluations=objective.evaluations,
        forward_calls=objective.forward_calls,
        options={**recorded, **features.recorded()},
        region_values=values if store_values else None,
    )
