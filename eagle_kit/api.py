"""``explain`` and ``score_saliency``: where users, models and the search meet."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .explanation import Explanation, _attr, build_dataset
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
from .threads import check_threads, scoring_threads

__all__ = ["explain", "score_order", "score_saliency"]


def _check_features(
    regions: Any, text_regions: Any, text_baseline: Any, *, allow_none: bool
) -> bool:
    """Check the feature options of ``explain``/``score_order``; True for prompt spans only.

    Raises:
        InputError (a ValueError): an unknown ``regions`` string, ``regions='none'`` without
            ``text_regions``, or ``text_baseline`` without ``text_regions``.
    """
    text_only = isinstance(regions, str) and regions == "none"
    if isinstance(regions, str) and not text_only:
        segment_hint = "None (segment the image), " if allow_none else ""
        raise InputError(
            f"regions={regions!r} is not understood: pass a RegionSet, a label map, "
            f"{segment_hint}or 'none' (no image regions, with text_regions=...)."
        )
    if text_only and text_regions is None:
        raise InputError(
            "regions='none' leaves no feature to explain or order; add text_regions='words' (or "
            "'sentences', or [(start, end), ...]) to work on the prompt alone."
        )
    if text_baseline is not None and text_regions is None:
        raise InputError(
            "text_baseline only applies with text_regions=...; remove it or add text_regions."
        )
    return text_only


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
    """Objective tokens as indices, by the package's one rule (:mod:`eagle_kit.targets`)."""
    from .targets import resolve_recorded_targets

    if targets is None:
        default = getattr(prepared, "default_targets", None)
        return list(range(n_tokens)) if default is None else [int(t) for t in default]
    names = list(getattr(prepared, "tokens", []) or []) or [f"token {i}" for i in range(n_tokens)]
    resolved = resolve_recorded_targets(
        targets,
        names,
        attrs=dict(getattr(prepared, "metadata", {}) or {}),
        token_ids=getattr(prepared, "token_ids", None),
    )
    return list(range(n_tokens)) if resolved is None else resolved


def _bind(
    scorer: Any,
    media: np.ndarray,
    rs: RegionSet,
    fill: Any,
    targets: Any,
    token_names: Sequence[str] | None,
    model_options: dict[str, Any],
    text: tuple[Any, Any] | None = None,
) -> tuple[PreparedScorer, Any, bool]:
    """Prepare the scorer for this image and return ``(prepared, score_keep, model_like)``.

    With ``text = (text_regions, text_baseline)`` the prompt spans are bound too
    (``prepared.text_features``) and ``score_keep`` takes the union of features, image
    regions first (``rs`` may then be ``None``: text features only)."""
    model_like = hasattr(scorer, "prepare")
    prepared = as_prepared_scorer(
        scorer,
        media,
        token_names=token_names,
        **({"targets": targets} if model_like and targets is not None else {}),
        **model_options,
    )
    fill_img = fill_image(media, fill)
    if text is not None:
        from .text_regions import bind_features

        _, score_keep = bind_features(prepared, media, rs, fill_img, *text)
        return prepared, score_keep, model_like
    if hasattr(prepared, "score_masks"):

        def score_keep(keep: np.ndarray) -> np.ndarray:
            return prepared.score_masks(rs.masks(keep), fill_img)

    else:

        def score_keep(keep: np.ndarray) -> np.ndarray:
            return prepared(rs.apply(media, keep, fill_img))

    return prepared, score_keep, model_like


@dataclass
class _Bound:
    """A scorer bound to one image: what :func:`explain` and :func:`score_order` share.

    The features are the image regions (ids ``0..R-1``; none when ``regions`` is ``None``)
    followed by the prompt spans of ``text`` (ids ``R..R+S-1``; none when ``None``)."""

    media: np.ndarray
    regions: RegionSet | None
    fill: Any
    prepared: PreparedScorer
    score_keep: Callable[[np.ndarray], np.ndarray]
    model_like: bool
    text: Any  # the bound prompt spans (text_regions.TextFeatures) or None

    @classmethod
    def of(
        cls,
        scorer: Any,
        media: np.ndarray,
        rs: RegionSet | None,
        fill: Any,
        targets: Any,
        token_names: Sequence[str] | None,
        model_options: dict[str, Any],
        text: tuple[Any, Any] | None,
    ) -> _Bound:
        """Bind ``scorer`` with :func:`_bind`; ``text = (text_regions, text_baseline)``."""
        prepared, score_keep, model_like = _bind(
            scorer, media, rs, fill, targets, token_names, model_options, text
        )
        feats = getattr(prepared, "text_features", None) if text is not None else None
        return cls(media, rs, fill, prepared, score_keep, model_like, feats)

    @property
    def n_image(self) -> int:
        return 0 if self.regions is None else self.regions.n_regions

    @property
    def n_features(self) -> int:
        return self.n_image + (0 if self.text is None else self.text.n_features)

    def metadata(self) -> dict[str, Any]:
        return dict(getattr(self.prepared, "metadata", {}) or {})

    def evaluator(
        self, cfg: SearchConfig, progress: Any, prepare_seconds: float, **options: Any
    ) -> Evaluator:
        """An :class:`Evaluator` over these features; ``cfg.batch_size`` or the scorer's own
        ``batch_size`` (64 without either) images per call; ``options`` as for Evaluator."""
        bs = cfg.batch_size or getattr(self.prepared, "batch_size", None) or 64
        return Evaluator(
            score_keep=self.score_keep,
            n_regions=self.n_features,
            batch_size=int(bs),
            progress=progress,
            prepare_seconds=prepare_seconds,
            **options,
        )

    def split(self) -> dict[str, np.ndarray] | None:
        """The three-way reading's probabilities (4 images) with prompt spans, else ``None``."""
        if self.text is None:
            return None
        from .text_regions import split_probabilities

        fill_img = fill_image(self.media, self.fill)
        return split_probabilities(self.prepared, self.media, fill_img, self.text.n_features)

    def explanation(
        self,
        record: SearchRecord,
        cfg: SearchConfig,
        targets: list[int],
        tokens: list[str],
        meta: dict[str, Any],
        costs: dict[str, int | float],
        *,
        method: str = "eagle",
        split: dict[str, np.ndarray] | None = None,
    ) -> Explanation:
        return _to_explanation(
            self.media,
            self.regions,
            record,
            cfg,
            targets,
            tokens,
            self.prepared,
            meta,
            self.fill,
            costs,
            method=method,
            text=self.text,
            split=split,
        )


def _make_progress(progress: bool, total: int, desc: str) -> Any:
    """A bar that disappears when closed, also from saved notebooks (no widget state)."""
    if not progress:
        return None
    from ._progress import progress_bar

    return progress_bar(total=total, desc=desc, unit="img", delay=0.5)


def explain(
    scorer: Any,
    image: Any,
    *,
    regions: RegionSet | np.ndarray | str | None = None,
    n_regions: int = 64,
    segmentation: str = "slico",
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    targets: Any = None,
    search: str = "fast",
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
    save_to: str | os.PathLike | None = None,
    keep_checkpoint: bool = False,
    attrs: dict[str, Any] | None = None,
    threads: int | None = None,
    **model_options: Any,
) -> Explanation:
    """Explain which image regions a model's tokens rely on, with the EAGLE greedy search.

    Args:
        scorer: a model from :func:`eagle_kit.load_model`, or any callable taking masked
            images ``B×H×W×3`` uint8 (removed pixels filled) and returning probabilities
            ``B×T`` for ``T`` recorded tokens.
        image: path, PIL image, ``H×W×3`` array, or ``F×H×W×3`` frames (video).
        regions: a :class:`RegionSet` or label map; by default ``segment(image, n_regions,
            segmentation)``; ``"none"`` for no image regions (the image stays whole: prompt
            spans only, with ``text_regions``).
        text_regions: prompt spans as features too (Hugging Face models, and
            :class:`eagle_kit.OpenAIScorer` in prompt-logprobs mode, which writes removed
            spans into the prompt text and checks the server's tokens): ``"words"``,
            ``"sentences"`` or ``[(start, end), …]`` character offsets into the prompt (see
            :mod:`eagle_kit.text_regions`). They get feature ids after the image regions and
            the same objective and search rank them with the regions. A removed span's
            tokens are replaced in place by ``text_baseline`` (length, positions and answer
            positions unchanged). Features are whole tokens: automatic spans that share a
            token are merged into one feature; explicit spans that share one are refused,
            and one inside a token is widened to it (warned; the recorded offsets are what is
            removed). ``prompt=`` puts the image first in the user turn; for the text
            first pass ``messages=[{"role": "user", "content": [{"type": "text", "text":
            q}, {"type": "image"}]}]`` (Hugging Face models): the offsets then index that
            text item; with several text items (text, image, text) they index the items
            joined by one space (:data:`eagle_kit.text_regions.PART_SEPARATOR`, as the
            recorded prompt), and each span's tokens are found in its own item. The result also splits each token's probability into
            ``reliance_image``, ``reliance_prompt`` and ``reliance_prior``
            (:func:`eagle_kit.text_regions.reliance_split`; 4 extra inputs scored).
        text_baseline: the token that replaces a removed span's tokens: an id or a one-token
            text; default the tokenizer's pad token, else its unknown token. Pad tokens are
            out of distribution mid-text for some models (attention masks stay 1).
        targets: the tokens that form the objective: indices, whole words or phrases,
            ``(word, k)`` for the k-th occurrence, a list of these (the rule of
            :func:`eagle_kit.targets.resolve_targets`, shared by every view), or ``None`` (a
            model's answer tokens, or every recorded token of a plain scorer).
        search: ``"fast"`` (default: lazy greedy with an early stop and a checked tail, about
            5N images — under 10 % of exact's for 64 regions, within 1 % insertion AUC and
            +0.005 deletion AUC of exact in ≥ 95 % of the benchmark's scenes; see the README's
            "Searches"), ``"efficient"`` (the reference's bidirectional greedy, ~1.4k
            evaluations for 64 regions; for comparability with it) or ``"exact"`` (N(N+1);
            for papers).
        lambda1, lambda2: weights of insight and necessity.
        batch_size: masked images per scorer call.
        search_scope, pending_samples, update_step: the efficient search's options.
        fill: what removed pixels become — ``"black"`` (default), ``"mean"``, ``"blur"`` or RGB.
        early_stop: stop expanding once insertion and deletion are within this fraction of
            the gap ``|f(full) − f(black)|`` of their ends (every search; the fast search's
            default is ``eagle_kit.search.FAST_TOLERANCE``); see :class:`SearchConfig`.
        progress: show a progress bar for searches longer than a moment.
        token_names: names of a plain scorer's output columns.
        checkpoint: a ``.npz`` file path (not a folder: ``ValueError``); scored images are saved there (atomically) every 30 s
            and on Ctrl-C, and a rerun with the same path resumes without re-scoring. It is
            deleted when the search is done and, with ``save_to``, only once the result
            file is complete: if writing fails (disk full …) the checkpoint holds every
            scored image and a rerun re-scores nothing.
        save_to: a ``.nc`` or ``.zarr`` path the result is saved to (atomically, see
            :meth:`Explanation.save`) before the checkpoint is deleted. Without it the
            checkpoint is deleted when ``explain`` returns, and saving is up to you.
        keep_checkpoint: keep the checkpoint, complete, after the search, for callers that
            save the result themselves: delete it once the result file is written, so that
            a failed write re-scores nothing.
        attrs: extra provenance stored in the result's attributes (str, int or float
            values), e.g. ``{"image_source": "cat.png"}``; saved with it.
        threads: CPU threads (``torch.set_num_threads``) while scoring, restored afterwards.
            ``None``: one thread for a small model (< 50 M parameters) on the CPU, unless you
            chose with :func:`eagle_kit.set_threads` or ``OMP_NUM_THREADS``; torch's setting
            otherwise. See :mod:`eagle_kit.threads`.
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
    if save_to is not None and Path(save_to).suffix not in (".nc", ".zarr"):
        raise ValueError(
            f"save_to must be a '.nc' (netCDF) or '.zarr' path; got '{Path(save_to).name}'."
        )
    if threads is not None:
        check_threads(threads)
    if checkpoint is not None and Path(checkpoint).is_dir():
        raise ValueError(
            f"checkpoint must be a file path (e.g. 'run.npz'), not the existing folder "
            f"'{checkpoint}'; give a file inside it, e.g. checkpoint='{Path(checkpoint) / 'run.npz'}'."
        )
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
    t_prepare = time.perf_counter()
    text_only = _check_features(regions, text_regions, text_baseline, allow_none=True)
    rs = None if text_only else _resolve_regions(regions, media, n_regions, segmentation)
    text = None if text_regions is None else (text_regions, text_baseline)
    bound = _Bound.of(scorer, media, rs, fill, targets, token_names, model_options, text)
    prepared, feats = bound.prepared, bound.text
    t_prepare = time.perf_counter() - t_prepare
    n = bound.n_features
    meta = bound.metadata()
    bar = _make_progress(progress, estimate_evaluations(n, cfg) + 2 * n, f"EAGLE {cfg.search}")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    ev = bound.evaluator(
        cfg,
        bar,
        t_prepare,
        checkpoint=ckpt,
        fingerprint=fingerprint(
            media,
            None if rs is None else rs.labels,
            fill_name(fill),
            sorted(meta.items()),
            list(prepared.tokens or []),
            *(() if feats is None else (feats.spans, feats.baseline_id)),
        ),
    )
    thread_scope = scoring_threads(scorer, threads)
    thread_scope.__enter__()
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
        if not bound.model_like:
            prepared.tokens = tokens  # type: ignore[misc]
        tgt = _resolve_targets(None if bound.model_like else targets, prepared, n_tokens)
        record = run_search(ev, n, np.asarray(tgt), cfg)
        split = bound.split()
    except KeyboardInterrupt as interrupt:
        if ckpt is not None:
            ev.save_checkpoint()
            msg = f"Search interrupted; {ev.resumed + ev.n_evaluations} scored images saved to '{ckpt}'. Run again with the same checkpoint to resume."
        else:
            msg = "Search interrupted. Pass checkpoint='run.npz' to be able to resume."
        raise SearchInterrupted(msg) from interrupt
    finally:
        thread_scope.__exit__(None, None, None)  # the threads before explain
        if bar is not None:
            bar.close()
    expl = bound.explanation(record, cfg, tgt, tokens, meta, _costs(ev), split=split)
    if attrs:
        expl.dataset.attrs.update({str(k): _attr(v) for k, v in attrs.items()})
    if ckpt is not None and (save_to is not None or keep_checkpoint):
        ev.save_checkpoint()  # every scored image, until the result file is complete
    if save_to is not None:
        expl.save(save_to)
    if ckpt is not None and ckpt.exists() and not keep_checkpoint:
        ckpt.unlink()
    return expl


def _costs(ev: Evaluator) -> dict[str, int | float]:
    """The cost figures of a run, totals over every part of a resumed run."""
    return {
        "n_evaluations": ev.n_images,
        "n_search_images": ev.n_search_images,
        "n_curve_images": ev.n_curve_images,
        "n_forward_calls": ev.forward_calls,
        "resumed_images": ev.resumed,
        "prepare_seconds": round(ev.total_prepare_seconds, 4),
        "search_seconds": round(ev.search_seconds, 4),
    }


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
    costs: dict[str, int | float],
    method: str = "eagle",
    text: Any = None,
    split: dict[str, np.ndarray] | None = None,
) -> Explanation:
    attrs: dict[str, Any] = {
        "method": method,
        "search": cfg.to_json(),
        **costs,
        "seconds": round(costs["prepare_seconds"] + costs["search_seconds"], 4),
        "fill": fill_name(fill),
        "lambda1": float(cfg.lambda1),
        "lambda2": float(cfg.lambda2),
        "scorer": "function",
        "model": "",
        "prompt": "",
        "answer": "",
    }
    if record.stopped_at is not None:
        attrs["early_stopped_at"] = record.stopped_at
    if record.note:
        attrs["search_note"] = record.note
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
        text=text,
        split=split,  # the three-way reading; with prompt spans it sets reliance/modality
    )
    seen = getattr(prepared, "seen", None)  # pixels the model's processor kept (crop)
    if seen is not None and not np.all(seen):
        ds["seen"] = (("y", "x"), np.asarray(seen, dtype=np.uint8))
    return Explanation(ds)


def score_order(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
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
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **model_options: Any,
) -> Explanation:
    """Score a given feature order on EAGLE's curves (2(N+1) images at most).

    For baselines (occlusion, RISE, random) and orders from other methods: the result is an
    :class:`Explanation` like EAGLE's, so every metric, plot and widget reads it the same way.

    With ``text_regions`` (as in :func:`explain`: ``"words"``, ``"sentences"`` or
    ``[(start, end), ...]``, Hugging Face models) the features are the image regions
    (ids ``0..R-1``; none with ``regions="none"``) followed by the prompt spans (ids
    ``R..R+S-1``, in the order of :func:`eagle_kit.text_regions.text_spans`, which gives
    them without scoring anything), and ``order`` is a permutation of all ``R+S`` ids. The
    result carries the same text coordinates and three-way reading as ``explain``'s
    (4 more images), so methods compare on one joint feature set.

    Raises:
        ValueError: ``order`` is not a permutation of the feature ids; ``regions="none"``
            without ``text_regions``; ``text_baseline`` without ``text_regions``.
    """
    from .search import _curves_along, _objective

    media = as_media(image)
    t_prepare = time.perf_counter()
    text_only = _check_features(regions, text_regions, text_baseline, allow_none=False)
    rs = None if text_only else _resolve_regions(regions, media, 0, "grid")
    text = None if text_regions is None else (text_regions, text_baseline)
    bound = _Bound.of(scorer, media, rs, fill, targets, token_names, model_options, text)
    prepared, n_image, n = bound.prepared, bound.n_image, bound.n_features
    order_arr = np.asarray(order, dtype=np.int32)
    if sorted(order_arr.tolist()) != list(range(n)):
        what = (
            f"{n_image} image regions and {n - n_image} prompt spans"
            if bound.text is not None
            else "regions"
        )
        raise ValueError(
            f"order must be a permutation of the {n} feature ids 0..{n - 1} ({what}); "
            f"got {len(order_arr)} ids."
        )
    t_prepare = time.perf_counter() - t_prepare
    cfg = SearchConfig(search="exact", lambda1=lambda1, lambda2=lambda2, batch_size=batch_size)
    bar = _make_progress(progress, 2 * (n + 1), f"score {method}")
    # no search: every image completes the curves
    ev = bound.evaluator(cfg, bar, t_prepare, phase="curves")
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
    if not bound.model_like:
        prepared.tokens = tokens  # type: ignore[misc]
    tgt = _resolve_targets(None if bound.model_like else targets, prepared, n_tokens)
    split = bound.split()
    record = SearchRecord(
        order=order_arr,
        insertion=ins,
        deletion=dele,
        objective=_objective(ins, dele, np.asarray(tgt), cfg),
        n_evaluations=ev.n_images,
        seconds=time.perf_counter() - t0,
    )
    meta = bound.metadata()
    return bound.explanation(record, cfg, tgt, tokens, meta, _costs(ev), method=method, split=split)


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
