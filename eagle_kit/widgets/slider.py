"""AblationSlider: insert or delete the top-k regions and watch the probabilities move."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import traitlets

from ..explanation import Explanation
from ..scoring import check_probabilities
from ._assets import load_esm
from ._base import ExplanationWidget, as_explanation, check_step, default_step
from .overlay import _check_frame

__all__ = ["AblationSlider", "LiveResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveResult:
    """What live mode computed for one masked image."""

    k: int
    mode: str
    probs: list[float]
    answer: str | None


class _LiveScorer:
    """Re-scores masked images with a model (``prepare``/``generate``) or a plain callable."""

    def __init__(self, scorer: Any, expl: Explanation, prompt: str | None) -> None:
        if not (hasattr(scorer, "prepare") or callable(scorer)):
            raise TypeError(
                f"scorer must be a model from eagle_kit.load_model(...) or a callable "
                f"images B×H×W×3 uint8 -> probabilities B×T; got {type(scorer).__name__}."
            )
        self.scorer = scorer
        self.expl = expl
        attrs = expl.dataset.attrs
        self.prompt = prompt if prompt is not None else (str(attrs.get("prompt", "")) or None)
        self.answer_text = str(attrs.get("answer", "")) or None
        self._prepared: Any = None

    def _score_fn(self) -> Any:
        if self._prepared is None:
            if hasattr(self.scorer, "prepare"):
                options = {"prompt": self.prompt, "answer": self.answer_text}
                self._prepared = self.scorer.prepare(
                    self.expl.image, **{k: v for k, v in options.items() if v is not None}
                )
            else:
                self._prepared = self.scorer
        return self._prepared

    def __call__(self, image: np.ndarray) -> tuple[list[float], str | None]:
        n_tokens = len(self.expl.tokens)
        probs = check_probabilities(self._score_fn()(image[None]), 1, None)[0]
        if probs.shape[0] != n_tokens:
            raise ValueError(
                f"The scorer returned {probs.shape[0]} probabilities per image but the explanation "
                f"recorded {n_tokens} tokens; pass the scorer the explanation was made with."
            )
        answer = None
        if hasattr(self.scorer, "generate"):
            if not self.prompt:
                raise ValueError(
                    "Regenerating the answer needs the prompt: AblationSlider(expl, scorer=model, prompt='...')."
                )
            answer = str(self.scorer.generate(image, self.prompt).text)
        return [float(p) for p in probs], answer


class AblationSlider(ExplanationWidget):
    """k from 0 to N: the image with the top-k regions inserted (or deleted).

    The per-token probabilities at step k come from the recorded curves, instantly. In
    live mode — given a ``scorer`` explicitly — the masked image is re-scored by the model
    and, for models with ``generate``, its answer for that image is regenerated (e.g. to
    watch a hallucinated "Yes" flip to "No").

    Args:
        explanation: an :class:`~eagle_kit.Explanation` (or its dataset).
        scorer: optional; a model from :func:`eagle_kit.load_model` or a callable
            ``images -> probabilities`` recording the same tokens.
        prompt: the prompt for regenerating answers (default: the explanation's).
        k: the initial step (default: a quarter of the regions).
        mode: ``"insertion"`` (keep the top-k) or ``"deletion"`` (remove them).
        live: start in live mode (needs ``scorer``).
        width: displayed width in CSS pixels.

    Attributes:
        live_probs: probabilities of every recorded token for the current masked image.
        live_step: ``[k, mode]`` that ``live_probs``/``live_answer`` belong to.
        live_answer: the regenerated answer (models with ``generate`` only).
        live_status: what live mode is doing, or the last error.
    """

    _esm = load_esm("ablation_slider.js")
    _payload_fields: ClassVar[tuple[str, ...]] = (
        "image",
        "labels",
        "order",
        "area",
        "insertion",
        "deletion",
    )

    k = traitlets.Int(0).tag(sync=True)
    mode = traitlets.Enum(("insertion", "deletion"), default_value="insertion").tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    width = traitlets.Int(320, min=48).tag(sync=True)
    has_scorer = traitlets.Bool(False).tag(sync=True)
    live = traitlets.Bool(False).tag(sync=True)
    live_probs = traitlets.List(traitlets.Float()).tag(sync=True)
    live_step = traitlets.List().tag(sync=True)
    live_answer = traitlets.Unicode("").tag(sync=True)
    live_status = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        explanation: Any,
        *,
        scorer: Any = None,
        prompt: str | None = None,
        selected: list[int] | None = None,
        k: int | None = None,
        mode: str = "insertion",
        live: bool = False,
        width: int = 320,
    ) -> None:
        expl = as_explanation(explanation, "AblationSlider")
        self._live_scorer = _LiveScorer(scorer, expl, prompt) if scorer is not None else None
        self._cache: dict[tuple[int, str], LiveResult] = {}
        super().__init__(
            expl,
            selected=list(selected or []),
            k=default_step(expl.n_regions) if k is None else k,
            mode=mode,
            width=width,
            has_scorer=self._live_scorer is not None,
            live=live,
        )

    # -- validation ----------------------------------------------------------------------
    @traitlets.validate("k")
    def _check_k(self, proposal: dict[str, Any]) -> int:
        return check_step(proposal["value"], self.n_regions)

    @traitlets.validate("frame")
    def _check_frame(self, proposal: dict[str, Any]) -> int:
        return _check_frame(proposal["value"], self.explanation.labels)

    @traitlets.validate("live")
    def _check_live(self, proposal: dict[str, Any]) -> bool:
        if proposal["value"] and getattr(self, "_live_scorer", None) is None:
            raise traitlets.TraitError(
                "Live mode re-scores the masked image and needs a scorer: "
                "AblationSlider(expl, scorer=ek.load_model(...)), or a callable images -> probabilities."
            )
        return bool(proposal["value"])

    # -- recorded curves -----------------------------------------------------------------
    def masked_image(self) -> np.ndarray:
        """The image shown now: top-k regions kept (insertion) or removed (deletion)."""
        return self.explanation.masked_image(self.k, self.mode)

    def recorded_probs(self) -> np.ndarray:
        """p(token) of every recorded token at the current step, from the recorded curves."""
        return self.explanation.dataset[self.mode].values[self.k]

    # -- live mode -----------------------------------------------------------------------
    def rescore(self) -> LiveResult:
        """Score the current masked image with the scorer (cached per k and mode)."""
        if self._live_scorer is None:
            raise RuntimeError(
                "No scorer: create the slider with AblationSlider(expl, scorer=...)."
            )
        key = (int(self.k), str(self.mode))
        if key not in self._cache:
            probs, answer = self._live_scorer(self.masked_image())
            self._cache[key] = LiveResult(key[0], key[1], probs, answer)
        return self._cache[key]

    @traitlets.observe("k", "mode", "live")
    def _on_step(self, change: dict[str, Any]) -> None:
        if not self.live:
            self.live_status = ""
            return
        self.live_status = f"scoring the image with the top {self.k} regions {self._verb()}…"
        try:
            result = self.rescore()
        except Exception as err:  # shown in the widget; the kernel keeps running
            log.exception("live re-scoring failed")
            self.live_status = f"error: {err}"
            self.live_probs = []
            self.live_step = []
            self.live_answer = ""
            return
        with self.hold_sync():
            self.live_probs = result.probs
            self.live_answer = result.answer or ""
            self.live_step = [result.k, result.mode]
            self.live_status = f"re-scored by the model: top {result.k} regions {self._verb()}."

    def _verb(self) -> str:
        return "kept" if self.mode == "insertion" else "removed"
