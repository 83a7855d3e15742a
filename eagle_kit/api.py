"""``explain`` and ``score_saliency``: where users, models and the search meet."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .explanation import Explanation, build_dataset
from .images import as_media, fill_image, fill_name
from .regions import RegionSet, segment
from .scoring import PreparedScorer, as_prepared_scorer
from .search import (
    Evaluator,
    SearchConfig,
    SearchInterrupted,
    SearchRecord,
    estimate_evaluations,
    fingerprint,
    run_search,
)

__all__ = ["explain", "score_order", "score_saliency"]


def _resolve_regions(
    regions: Any, media: np.ndarray, n_regions: int, segmentation: str
) -> RegionSet:
    if regions is None:
        return segment(media, n_regions=n_regions, method=segmentation)
    if isinstance(regions, RegionSet):
        regions.check_media(media)
        return regions
    if isinstance(regions, np.ndarray):
        rs = RegionSet.from_labels(regions)
        rs.check_media(media)
        return rs
    raise TypeError(
        f"regions must be a RegionSet (eagle_kit.segment(...)), a label array or None; "
        f"got {type(regions).__name__}."
    )


def _resolve_targets(targets: Any, prepared: PreparedScorer, n_tokens: int) -> list[int]:
    """Objective tokens as indices; plain scorers take ints or recorded token names."""
    if targets is None:
        default = getattr(prepared, "default_targets", None)
        return list(range(n_tokens)) if default is None else [int(t) for t in default]
    if isinstance(targets, (int, np.integer, str)):
        targets = [targets]
    out: list[int] = []
    names = list(getattr(prepared, "tokens", []) or [])
    for t in targets:
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not -n_tokens <= int(t) < n_tokens:
                raise ValueError(
                    f"target index {t} is out of range: the scorer records {n_tokens} tokens "
                    f"(indices 0..{n_tokens - 1})."
                )
            out.append(int(t) % n_tokens)
        elif isinstance(t, str):
            hits = [i for i, s in enumerate(names) if s.strip() == t.strip()]
            if not hits:
                raise ValueError(f"target '{t}' is not a recorded token. Recorded tokens: {names}.")
            out.extend(hits)
        else:
            raise TypeError(f"targets must be ints or token strings; got {type(t).__name__}.")
    if not out:
        raise ValueError("targets is empty; pass at least one token, or None for all.")
    return sorted(set(out))


def _bind(
    scorer: Any,
    media: np.ndarray,
    rs: RegionSet,
    fill: Any,
    targets: Any,
    token_names: Sequence[str] | None,
    model_options: dict[str, Any],
) -> tuple[PreparedScorer, Any, bool]:
    """Prepare the scorer for this image and return ``(prepared, score_keep, model_like)``."""
    model_like = hasattr(scorer, "prepare")
    prepared = as_prepared_scorer(
        scorer,
        media,
        token_names=token_names,
        **({"targets": targets} if model_like and targets is not None else {}),
        **model_options,
    )
    fill_img = fill_image(media, fill)
    if hasattr(prepared, "score_masks"):

        def score_keep(keep: np.ndarray) -> np.ndarray:
            return prepared.score_masks(rs.masks(keep), fill_img)

    else:

        def score_keep(keep: np.ndarray) -> np.ndarray:
            return prepared(rs.apply(media, keep, fill_img))

    return prepared, score_keep, model_like


def _make_progress(progress: bool, total: int, desc: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", delay=0.5, leave=False)


def explain(
    scorer: Any,
    image: Any,
    *,
    regions: RegionSet | np.ndarray | None = None,
    n_regions: int = 64,
    segmentation: str = "slico",
    targets: Any = None,
    search: str = "efficient",
    lambda1: float = 1.0,
    lambda2: float = 1.0,
    batch_size: int | None = None,
    search_scope: int = 10,
    pending_samples: int = 8,
    update_step: int = 5,
    fill: Any = "black",
    early_stop: float | None = None,
    progress: bool = True,
    token_names: Sequence[str] | None = None,
    checkpoint: str | os.PathLike | None = None,
    **model_options: Any,
) -> Explanation:
    """Explain which image regions a model's tokens rely on, with the EAGLE greedy search.

    Args:
        scorer: a model from :func:`eagle_kit.load_model`, or any callable taking masked
            images ``B×H×W×3`` uint8 (removed pixels filled) and returning probabilities
            ``B×T`` for ``T`` recorded tokens.
        image: path, PIL image, ``H×W×3`` array, or ``F×H×W×3`` frames (video).
        regions: a :class:`RegionSet` or label map; by default ``segment(image, n_regions,
            segmentation)``.
        targets: the tokens that form the objective: indices, token texts, or ``None`` (a
            model's answer tokens, or every recorded token of a plain scorer).
        search: ``"efficient"`` (bidirectional, ~1.4k evaluations for 64 regions) or
            ``"exact"`` (N(N+1)).
        lambda1, lambda2: weights of insight and necessity.
        batch_size: masked images per scorer call.
        search_scope, pending_samples, update_step: the efficient search's options.
        fill: what removed pixels become — ``"black"`` (default), ``"mean"``, ``"blur"`` or RGB.
        early_stop: exact search only; see :class:`SearchConfig`.
        progress: show a progress bar for searches longer than a moment.
        token_names: names of a plain scorer's output columns.
        checkpoint: a ``.npz`` path; scored images are saved there (atomically) every 30 s
            and on Ctrl-C, and a rerun with the same path resumes without re-scoring.
        **model_options: passed to a model's ``prepare``: ``prompt``, ``answer``,
            ``generation``, ``messages``, ``target_token_ids`` …

    Returns:
        An :class:`Explanation`.

    Example:
        >>> import numpy as np, eagle_kit as ek
        >>> img = np.zeros((32, 32, 3), np.uint8); img[:16, :16] = 255
        >>> f = lambda x: x[:, :16, :16].mean(axis=(1, 2, 3))[:, None] / 255
        >>> expl = ek.explain(f, img, regions=ek.segment(img, 4, "grid"), search="exact", progress=False)
        >>> int(expl.order[0])
        0
    """
    cfg = SearchConfig(
        search=search,
        lambda1=lambda1,
        lambda2=lambda2,
        batch_size=batch_size,
        search_scope=search_scope,
        pending_samples=pending_samples,
        update_step=update_step,
        early_stop=early_stop,
    )
    media = as_media(image)
    rs = _resolve_regions(regions, media, n_regions, segmentation)
    prepared, score_keep, model_like = _bind(
        scorer, media, rs, fill, targets, token_names, model_options
    )
    bs = cfg.batch_size or getattr(prepared, "batch_size", None) or 64
    n = rs.n_regions
    meta = dict(getattr(prepared, "metadata", {}) or {})
    bar = _make_progress(progress, estimate_evaluations(n, cfg) + 2 * n, f"EAGLE {cfg.search}")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    ev = Evaluator(
        score_keep=score_keep,
        n_regions=n,
        batch_size=int(bs),
        progress=bar,
        checkpoint=ckpt,
        fingerprint=fingerprint(
            media, rs.labels, fill_name(fill), sorted(meta.items()), list(prepared.tokens or [])
        ),
    )
    try:
        ends = ev(np.stack([np.zeros(n, bool), np.ones(n, bool)]))
        n_tokens = ends.shape[1]
        tokens = list(prepared.tokens or [])
        if not tokens:
            tokens = [f"token {i}" for i in range(n_tokens)]
        if len(tokens) != n_tokens:
            raise ValueError(
                f"{len(tokens)} token names were given but the scorer returns {n_tokens} "
                f"probabilities per image."
            )
        if not model_like:
            prepared.tokens = tokens  # type: ignore[misc]
        tgt = _resolve_targets(None if model_like else targets, prepared, n_tokens)
        record = run_search(ev, n, np.asarray(tgt), cfg)
    except KeyboardInterrupt as interrupt:
        if ckpt is not None:
            ev.save_checkpoint()
            msg = f"Search interrupted; {ev.n_evaluations} scored images saved to '{ckpt}'. Run again with the same checkpoint to resume."
        else:
            msg = "Search interrupted. Pass checkpoint='run.npz' to be able to resume."
        raise SearchInterrupted(msg) from interrupt
    finally:
        if bar is not None:
            bar.close()
    if ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return _to_explanation(media, rs, record, cfg, tgt, tokens, prepared, meta, fill, ev.resumed)


def _to_explanation(
    media: np.ndarray,
    rs: RegionSet,
    record: SearchRecord,
    cfg: SearchConfig,
    targets: list[int],
    tokens: list[str],
    prepared: Any,
    meta: dict[str, Any],
    fill: Any,
    resumed: int = 0,
    method: str = "eagle",
) -> Explanation:
    attrs: dict[str, Any] = {
        "method": method,
        "search": cfg.to_json(),
        "n_evaluations": record.n_evaluations,
        "seconds": round(record.seconds, 4),
        "fill": fill_name(fill),
        "lambda1": float(cfg.lambda1),
        "lambda2": float(cfg.lambda2),
        "resumed_evaluations": resumed,
        "scorer": "function",
        "model": "",
        "prompt": "",
        "answer": "",
    }
    if record.stopped_at is not None:
        attrs["early_stopped_at"] = record.stopped_at
    attrs.update(meta)
    ds = build_dataset(
        image=media,
        regions=rs,
        order=record.order,
        insertion=record.insertion,
        deletion=record.deletion,
        objective=record.objective,
        targets=targets,
        tokens=tokens,
        token_ids=getattr(prepared, "token_ids", None),
        attrs=attrs,
    )
    return Explanation(ds)


def score_order(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    order: Sequence[int],
    *,
    targets: Any = None,
    lambda1: float = 1.0,
    lambda2: float = 1.0,
    batch_size: int | None = None,
    fill: Any = "black",
    token_names: Sequence[str] | None = None,
    method: str = "order",
    progress: bool = True,
    **model_options: Any,
) -> Explanation:
    """Score a given region order on EAGLE's curves (2(N+1) images at most).

    For baselines (occlusion, RISE, random) and orders from other methods: the result is an
    :class:`Explanation` like EAGLE's, so every metric, plot and widget reads it the same way.
    """
    import time

    from .search import _curves_along, _objective

    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    order_arr = np.asarray(order, dtype=np.int32)
    if sorted(order_arr.tolist()) != list(range(rs.n_regions)):
        raise ValueError(
            f"order must be a permutation of the {rs.n_regions} region ids 0..{rs.n_regions - 1}."
        )
    prepared, score_keep, model_like = _bind(
        scorer, media, rs, fill, targets, token_names, model_options
    )
    cfg = SearchConfig(search="exact", lambda1=lambda1, lambda2=lambda2, batch_size=batch_size)
    bs = cfg.batch_size or getattr(prepared, "batch_size", None) or 64
    n = rs.n_regions
    bar = _make_progress(progress, 2 * (n + 1), f"score {method}")
    ev = Evaluator(score_keep=score_keep, n_regions=n, batch_size=int(bs), progress=bar)
    t0 = time.perf_counter()
    try:
        ins, dele = _curves_along(ev, order_arr)
    finally:
        if bar is not None:
            bar.close()
    n_tokens = ins.shape[1]
    tokens = list(prepared.tokens or []) or [f"token {i}" for i in range(n_tokens)]
    if len(tokens) != n_tokens:
        raise ValueError(
            f"{len(tokens)} token names were given but the scorer returns {n_tokens} probabilities."
        )
    if not model_like:
        prepared.tokens = tokens  # type: ignore[misc]
    tgt = _resolve_targets(None if model_like else targets, prepared, n_tokens)
    record = SearchRecord(
        order=order_arr,
        insertion=ins,
        deletion=dele,
        objective=_objective(ins, dele, np.asarray(tgt), cfg),
        n_evaluations=ev.n_evaluations,
        seconds=time.perf_counter() - t0,
    )
    meta = dict(getattr(prepared, "metadata", {}) or {})
    return _to_explanation(media, rs, record, cfg, tgt, tokens, prepared, meta, fill, method=method)


def score_saliency(
    scorer: Any,
    image: Any,
    saliency: np.ndarray,
    *,
    n_steps: int = 64,
    method: str = "saliency",
    **options: Any,
) -> Explanation:
    """Score a pixel saliency map from another method on EAGLE's curves (METHOD §8).

    Pixels are ranked by saliency (ties broken by position); step ``i`` keeps (insertion) or
    zeroes (deletion) the top ``⌊i/N·HW⌋`` pixels. The result is an :class:`Explanation` whose
    regions are the ``N`` rank bins in order, so every metric compares methods on equal terms.

    Args:
        saliency: ``H×W`` (or ``F×H×W``) floats, higher = more important.
        n_steps: N, the number of steps (regions) of the curves.
        method: a name for the method, stored in the attributes.
        **options: as for :func:`score_order` (``targets``, ``batch_size``, ``fill``,
            ``token_names``, model options …).
    """
    media = as_media(image)
    sal = np.asarray(saliency, dtype=np.float64)
    if sal.shape != media.shape[:-1]:
        raise ValueError(
            f"saliency has shape {sal.shape} but the image is {media.shape[:-1]}; resize the map to "
            f"the image first."
        )
    if not np.all(np.isfinite(sal)):
        raise ValueError("saliency contains NaN or infinite values.")
    total = sal.size
    if not 2 <= n_steps <= total:
        raise ValueError(f"n_steps must be in 2..{total}; got {n_steps}.")
    rank = np.empty(total, dtype=np.int64)
    rank[np.argsort(-sal.ravel(), kind="stable")] = np.arange(total)
    # the pixel of rank r joins at step i when floor((i-1)/N·HW) <= r < floor(i/N·HW)
    bounds = (np.arange(1, n_steps + 1) * total) // n_steps
    bins = np.searchsorted(bounds, rank, side="right")
    rs = RegionSet(
        bins.reshape(sal.shape).astype(np.int32),
        method="saliency-bins",
        params={"n_steps": n_steps},
    )
    return score_order(scorer, media, rs, np.arange(n_steps), method=method, **options)
