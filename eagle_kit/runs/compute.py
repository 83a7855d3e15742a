"""One sample × one model: every method on the same regions. Runs where the model is.

Pure of the store: it returns outcomes (an explanation or an error per method) that the
driver writes. A failure of one method (or of the sample: an unreadable image, a target word
missing from the answer) becomes a ``"failed"`` outcome with its message; only an interrupt
(Ctrl-C, SIGTERM) propagates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .manifest import Sample
from .settings import PERTURBATION, PIXEL_MAPS, RunSettings

__all__ = ["Task", "Outcome", "compute"]


@dataclass
class Task:
    """What a backend computes: one sample with one model, for the methods still to do.

    Attributes:
        sample: the manifest sample.
        model: the model's name (its :class:`~eagle_kit.runs.settings.ModelSpec`).
        methods: ``[(method, key, checkpoint path or None)]``.
    """

    sample: Sample
    model: str
    methods: list[tuple[str, str, str | None]]


@dataclass
class Outcome:
    """The result of one method on one task.

    Attributes:
        status: ``"done"`` or ``"failed"``.
        dataset: the explanation's ``xarray.Dataset`` (done only).
        info: answer, mitigation outcome, seconds, evaluations.
    """

    key: str
    method: str
    status: str
    error: str = ""
    dataset: Any = None
    info: dict[str, Any] = field(default_factory=dict)


def _error(err: BaseException) -> str:
    text = str(err).strip() or repr(err)
    return f"{type(err).__name__}: {text}"


def _first_word(text: str) -> str:
    words = str(text).strip().lower().split()
    return words[0].strip(".,!?;:\"'") if words else ""


def _label_token(label: str, first_token: str | None) -> str:
    """The label as the model writes it: capitalised when its answer starts capitalised."""
    if first_token and first_token.strip()[:1].isupper():
        return label.capitalize()
    return label


def _eagle(
    scorer: Any,
    media: Any,
    regions: Any,
    settings: RunSettings,
    checkpoint: str | None,
    progress: bool,
    common: dict[str, Any],
) -> Any:
    from .. import explain

    cfg = settings.search_config()

    def search() -> Any:
        return explain(
            scorer,
            media,
            regions=regions,
            search=cfg.search,
            lambda1=cfg.lambda1,
            lambda2=cfg.lambda2,
            batch_size=settings.batch_size,
            search_scope=cfg.search_scope,
            pending_samples=cfg.pending_samples,
            update_step=cfg.update_step,
            early_stop=cfg.early_stop,
            progress=progress,
            checkpoint=checkpoint,
            **_text_options(settings),
            keep_checkpoint=True,  # the store deletes it once the result file is complete
            **common,
        )

    try:
        return search()
    except ValueError:
        # a checkpoint left by a scorer that changed in a way the key cannot see (a callable's
        # code) or a damaged one: start this sample afresh; any other error comes back
        if checkpoint is None or not os.path.exists(checkpoint):
            raise
        os.unlink(checkpoint)
        return search()


def _text_options(settings: RunSettings) -> dict[str, Any]:
    """``text_regions``/``text_baseline`` as ``explain`` and the feature-set baselines take
    them (a baseline token id given as digits becomes an int); nothing when unset."""
    if settings.text_regions is None:
        return {}
    b = settings.text_baseline
    baseline = int(b) if b is not None and b.strip().isdigit() else b
    return {"text_regions": settings.text_regions, "text_baseline": baseline}


def _pixel_map(
    scorer: Any,
    method: str,
    media: Any,
    settings: RunSettings,
    batch_size: int,
    common: dict[str, Any],
) -> Any:
    """LLaVA-CAM or TAM (:mod:`eagle_kit.baselines.gradient`) of a Hugging Face model."""
    from .. import baselines

    if not (hasattr(scorer, "prepare") and hasattr(scorer, "model")):
        raise TypeError(
            f"{method} reads a Hugging Face model's hidden states and gradients; this model is "
            f"a {type(scorer).__name__} (a black box). Give a model name (--model) or a model "
            "from eagle_kit.load_model, or use a black-box method (occlusion, rise, shapley …)."
        )
    if getattr(media, "ndim", 3) != 3:
        raise ValueError(f"{method} explains one image; this sample is a video.")
    options = {k: v for k, v in common.items() if v is not None}
    options.update(n_steps=settings.saliency_steps, batch_size=batch_size, progress=False)
    options["max_new_tokens"] = settings.max_new_tokens
    if method == "llava_cam":
        return baselines.llava_cam(scorer, media, layer=settings.cam_layer, **options)
    return baselines.token_activation_map(
        scorer,
        media,
        filter_size=settings.tam_filter_size,
        sigma=settings.tam_sigma,
        **options,
    )


def compute(
    scorer: Any, task: Task, settings: RunSettings, *, progress: bool = False
) -> Iterator[Outcome]:
    """Compute every method of ``task`` with ``scorer`` (a loaded model or a callable).

    ``progress`` shows the EAGLE search's own bar (below the run's) for long searches.
    """
    from .. import baselines
    from ..metrics import Correction, mitigate
    from ..regions import segment

    sample = task.sample
    try:
        media = sample.load_media()
        regions = segment(media, n_regions=settings.n_regions, method=settings.segmentation)
        targets: Any = list(sample.targets) if sample.targets is not None else settings.targets
        targets = list(targets) if targets is not None else None
        options: dict[str, Any] = {}
        answer_text = sample.answer or ""
        is_model = hasattr(scorer, "prepare")
        if is_model:
            options["prompt"] = sample.prompt
            if sample.answer is not None:
                options["answer"] = sample.answer
                first = None
            else:
                gen = scorer.generate(media, sample.prompt, max_new_tokens=settings.max_new_tokens)
                options["generation"] = gen
                answer_text = gen.text
                first = gen.tokens[0] if gen.tokens else None
            if sample.label is not None:
                # METHOD §7: the first answer token, scored for the correct answer's token
                targets = targets if targets is not None else [0]
                options["target_token_ids"] = {0: _label_token(sample.label, first)}
    except Exception as err:  # noqa: BLE001 - the sample fails, the run goes on
        for method, key, _ in task.methods:
            yield Outcome(key, method, "failed", _error(err))
        return

    common = {"targets": targets, "fill": settings.fill, **options}
    # the baselines' own bars follow the run's (``--quiet`` silences them too); the
    # feature-set baselines rank the prompt spans with the regions, as eagle does
    base = {**common, "progress": progress, **_text_options(settings)}
    bs = settings.batch_size or 64
    for method, key, checkpoint in task.methods:
        t0 = time.perf_counter()
        try:
            if method == "eagle":
                expl = _eagle(scorer, media, regions, settings, checkpoint, progress, common)
            elif method == "occlusion":
                expl = baselines.occlusion(scorer, media, regions, batch_size=bs, **base)
            elif method == "rise":
                expl = baselines.rise(
                    scorer,
                    media,
                    regions,
                    n_masks=settings.rise_masks,
                    seed=settings.seed,
                    batch_size=bs,
                    **base,
                )
            elif method == "random":
                expl = baselines.random_order(
                    scorer, media, regions, seed=settings.seed, batch_size=bs, **base
                )
            elif method in PERTURBATION:
                fn = getattr(baselines, PERTURBATION[method])
                n = {} if settings.n_samples is None else {"n_samples": settings.n_samples}
                expl = fn(scorer, media, regions, seed=settings.seed, batch_size=bs, **n, **base)
            elif method in PIXEL_MAPS:
                expl = _pixel_map(scorer, method, media, settings, bs, common)
            else:  # validated before the run starts
                raise ValueError(f"unknown method '{method}'")
            info: dict[str, Any] = {
                "answer": str(expl.dataset.attrs.get("answer", "")) or answer_text,
                "n_evaluations": int(expl.n_evaluations),
            }
            if sample.label is not None and hasattr(scorer, "generate"):
                if _first_word(answer_text) == sample.label:
                    corr = Correction(True, 0, 0.0, [answer_text])  # already right: area 0
                else:
                    corr = mitigate(expl, scorer, sample.label, prompt=sample.prompt)
                info.update(
                    corrected=bool(corr.corrected),
                    n_removed=int(corr.n_removed),
                    area_removed=float(corr.area_removed),
                    corrected_answer=corr.answers[-1] if corr.answers else "",
                )
            info["seconds"] = round(time.perf_counter() - t0, 4)
            yield Outcome(key, method, "done", dataset=expl.dataset, info=info)
        except Exception as err:  # noqa: BLE001 - the method fails, the run goes on
            yield Outcome(key, method, "failed", _error(err), info={"answer": answer_text})
