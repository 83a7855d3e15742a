"""The scorer contract: how anything that turns masked images into probabilities plugs in.

Two kinds of scorer reach :func:`eagle_kit.explain`:

* a **plain callable** (the black-box contract): ``scorer(images) -> probs`` where ``images`` is
  a ``B×H×W×3`` (or ``B×F×H×W×3`` for video) uint8 array whose removed pixels are already
  filled, and ``probs`` is a ``B×T`` array of probabilities for ``T`` recorded tokens;
* a **model** exposing ``prepare(image, **options) -> PreparedScorer``, which binds one image,
  prompt and answer and returns an object that scores masks of that image.

A :class:`PreparedScorer` may implement ``score_masks`` to apply masks itself (e.g. in the
processed tensor space on the model's device); otherwise the search composes images and calls
it like a plain callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["PreparedScorer", "FunctionScorer", "as_prepared_scorer", "check_probabilities"]


@runtime_checkable
class PreparedScorer(Protocol):
    """A scorer bound to one image (and, for MLLMs, one prompt and answer).

    Attributes:
        tokens: text of the ``T`` recorded tokens (one per output column).
        token_ids: vocabulary id of each recorded token, or ``None`` when unknown.
        default_targets: indices into ``tokens`` that form the objective when the user gives
            no ``targets`` (``None`` = all recorded tokens).
        metadata: provenance written to the result's attributes (``scorer``, ``model``,
            ``prompt``, ``answer`` …); values must be str, int or float.
    """

    tokens: list[str]
    token_ids: list[int] | None
    default_targets: list[int] | None
    metadata: dict[str, Any]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Score a batch of filled images ``B×[F×]H×W×3`` uint8 → ``B×T`` probabilities."""
        ...


@dataclass
class FunctionScorer:
    """Wraps a plain ``images -> probabilities`` callable as a :class:`PreparedScorer`."""

    fn: Callable[[np.ndarray], Any]
    tokens: list[str] = field(default_factory=list)
    token_ids: list[int] | None = None
    default_targets: list[int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(images))


def as_prepared_scorer(
    scorer: Any,
    image: np.ndarray,
    *,
    token_names: Sequence[str] | None = None,
    **prepare_options: Any,
) -> PreparedScorer:
    """Turn what the user passed to ``explain`` into a :class:`PreparedScorer`.

    Models (objects with ``prepare``) are bound to ``image`` with ``prepare_options``;
    plain callables are wrapped as they are. Token names, when not given, are filled in
    after the first call (``token 0``, ``token 1`` …).

    Raises:
        TypeError: ``token_names`` is a single ``str`` (or not a list of names), or
            ``scorer`` is neither a callable nor a model.
    """
    if token_names is not None and (
        isinstance(token_names, (str, bytes, dict)) or not hasattr(token_names, "__iter__")
    ):
        raise TypeError(
            f"token_names must be a list of str, one name per output column of the scorer, "
            f"e.g. token_names=['cat', 'dog']; got {type(token_names).__name__} {token_names!r:.80}."
        )
    if hasattr(scorer, "prepare") and callable(scorer.prepare):
        options = {k: v for k, v in prepare_options.items() if v is not None}
        return scorer.prepare(image, **options)
    if isinstance(scorer, PreparedScorer) and not token_names:
        return scorer
    if callable(scorer):
        unused = sorted(k for k, v in prepare_options.items() if v is not None)
        if unused:
            raise TypeError(
                f"{', '.join(unused)} only apply to a model scorer (eagle_kit.load_model(...)); "
                f"a plain function scorer was given. Remove them, or pass a model."
            )
        name = getattr(scorer, "__qualname__", None) or type(scorer).__name__
        return FunctionScorer(
            fn=scorer,
            tokens=list(token_names) if token_names else [],
            # column names of a plain scorer are each their own word (answer_words joined=False)
            metadata={"scorer": str(name), "token_text_joined": 0},
        )
    raise TypeError(
        f"scorer must be a callable (images B×H×W×3 uint8 -> probabilities B×T) or a model "
        f"from eagle_kit.load_model(...); got {type(scorer).__name__}."
    )


def check_probabilities(probs: Any, batch: int, n_tokens: int | None) -> np.ndarray:
    """Validate what a scorer returned: a finite ``B×T`` array in [0, 1].

    A 1-D array of length ``B`` is accepted as ``B×1``. Raises ``ValueError`` naming what
    was expected and what came back.
    """
    if hasattr(probs, "detach"):
        probs = probs.detach().float().cpu().numpy()
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == batch:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != batch:
        raise ValueError(
            f"The scorer returned an array of shape {arr.shape} for a batch of {batch} images; "
            f"expected ({batch}, T): one row per image, one probability per recorded token."
        )
    if n_tokens is not None and arr.shape[1] != n_tokens:
        raise ValueError(
            f"The scorer returned {arr.shape[1]} probabilities per image but {n_tokens} were "
            f"returned before; a scorer must record the same tokens for every image."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            "The scorer returned NaN or infinite values; it must return probabilities in [0, 1] "
            "(apply softmax to logits, and check the model for overflow in half precision)."
        )
    if arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
        raise ValueError(
            f"The scorer returned values in [{arr.min():.4g}, {arr.max():.4g}]; expected "
            f"probabilities in [0, 1]. Apply softmax to logits before returning them."
        )
    return np.clip(arr, 0.0, 1.0)
