"""The features a baseline ranks (image regions, then prompt spans) and one binding of a scorer
to them: keep-vectors over the features in, the objective out."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..api import _bind, _check_features, _resolve_regions, _resolve_targets
from ..regions import RegionSet

# options of score_order that are not the model's
_NOT_MODEL = ("fill", "token_names", "lambda1", "lambda2", "progress", "batch_size")


def model_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options meant for a model's ``prepare`` (prompt, answer, generation …)."""
    return {k: v for k, v in options.items() if k not in _NOT_MODEL}


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int >= 1; got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    return int(batch_size)


class FeatureSet:
    """The features of a baseline, as :func:`eagle_kit.explain` defines them: the image
    regions (ids ``0 … R−1``; none with ``regions="none"``), then the prompt spans of
    ``text_regions`` (ids ``R … R+S−1``, see :mod:`eagle_kit.text_regions`).

    Attributes:
        regions: the image regions, or ``None`` (prompt spans only).
        text: ``(text_regions, text_baseline)``, or ``None`` (image regions only).

    Raises:
        ValueError: ``regions`` is ``None`` or a string other than ``"none"``;
            ``regions="none"`` or ``text_baseline`` without ``text_regions``.
        TypeError: ``regions`` is not a RegionSet, a label map or ``"none"``.
    """

    def __init__(
        self,
        media: np.ndarray,
        regions: RegionSet | np.ndarray | str,
        text_regions: Any = None,
        text_baseline: int | str | None = None,
    ) -> None:
        if regions is None:
            raise ValueError(
                "A baseline needs its regions: pass a RegionSet (e.g. ek.segment(image, "
                "n_regions=16, method='grid'), the regions of the explanation you compare with), "
                "a label map, or 'none' for prompt spans only (with text_regions=...)."
            )
        text_only = _check_features(regions, text_regions, text_baseline, allow_none=False)
        self.regions = None if text_only else _resolve_regions(regions, media, 0, "grid")
        self.text = None if text_regions is None else (text_regions, text_baseline)

    @property
    def n_image(self) -> int:
        return 0 if self.regions is None else self.regions.n_regions

    def order_options(self) -> dict[str, Any]:
        """The feature arguments of :func:`eagle_kit.score_order` for these features."""
        out: dict[str, Any] = {"regions": "none" if self.regions is None else self.regions}
        if self.text is not None:
            out.update(text_regions=self.text[0], text_baseline=self.text[1])
        return out

    def recorded(self) -> dict[str, Any]:
        """The text options as a baseline records them (nothing without prompt spans)."""
        if self.text is None:
            return {}
        spans = self.text[0]
        return {
            "text_regions": spans if isinstance(spans, str) else [list(s) for s in spans],
            "text_baseline": self.text[1],
        }


class KeepObjective:
    """The targets' mean probability for keep-vectors over the features, scored in batches.

    The scorer is prepared once (one ``model.prepare`` for a model), when first needed; every
    call scores ``K×N`` keep-vectors (``True`` = feature kept: a removed region's pixels get
    ``fill``, a removed prompt span's tokens the text baseline) with ``ceil(K / batch_size)``
    scorer calls, and counts them.

    Attributes:
        evaluations: keep-vectors scored so far.
        forward_calls: scorer calls so far.
    """

    def __init__(
        self,
        scorer: Any,
        media: np.ndarray,
        features: FeatureSet,
        *,
        targets: Any,
        batch_size: int,
        options: dict[str, Any],
    ) -> None:
        self.batch_size = check_batch_size(batch_size)
        self._scorer, self._media, self.features = scorer, media, features
        self._targets_given, self._options = targets, options
        self._score_keep: Any = None
        self._n: int | None = None
        self._idx: list[int] | None = None
        self.evaluations = 0
        self.forward_calls = 0

    def _bound(self) -> Any:
        if self._score_keep is None:
            opts, feats = self._options, self.features
            prepared, self._score_keep, model_like = _bind(
                self._scorer,
                self._media,
                feats.regions,
                opts.get("fill", "black"),
                self._targets_given,
                opts.get("token_names"),
                model_options(opts),
                feats.text,
            )
            self.prepared = prepared
            self._targets = None if model_like else self._targets_given
            spans = getattr(prepared, "text_features", None) if feats.text is not None else None
            self._n = feats.n_image + (0 if spans is None else spans.n_features)
        return self._score_keep

    @property
    def n_features(self) -> int:
        """N: image regions plus prompt spans (binds the scorer only for prompt spans)."""
        if self.features.text is None:
            return self.features.n_image
        self._bound()
        return int(self._n)  # type: ignore[arg-type]

    def __call__(self, keep: np.ndarray) -> np.ndarray:
        """``K`` objective values (float64) for ``K×N`` bool keep-vectors."""
        score_keep = self._bound()
        keep = np.asarray(keep, dtype=bool)
        if keep.ndim != 2 or keep.shape[1] != self.n_features:
            raise ValueError(f"keep must be K×{self.n_features} bool; got shape {keep.shape}.")
        parts = []
        for i in range(0, len(keep), self.batch_size):
            parts.append(np.asarray(score_keep(keep[i : i + self.batch_size])))
            self.forward_calls += 1
        self.evaluations += len(keep)
        probs = np.concatenate(parts)
        if self._idx is None:
            self._idx = _resolve_targets(self._targets, self.prepared, probs.shape[1])
        return probs[:, self._idx].mean(axis=1).astype(np.float64)
