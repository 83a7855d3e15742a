"""Shapley value sampling, KernelSHAP and LIME over EAGLE's features, through captum.

The interpretable input is the feature set of :func:`eagle_kit.explain` — the image regions,
then (with ``text_regions``) the prompt spans: captum perturbs a feature-indicator vector
``x ∈ {0,1}^N`` (input ``ones(1, N)``, baseline ``zeros(1, N)``, feature mask = feature ids
``0..N-1``, as captum's ``ImageMaskInput`` does for a label map), and a batched forward turns
each row of captum's ``B×N`` batch into a keep-vector over the features (a removed region's
pixels filled, a removed span's tokens replaced by the text baseline) and scores all rows with
the bound scorer (one scorer call per ``batch_size`` rows, ``perturbations_per_eval =
batch_size``). The objective is the targets' mean probability — the quantity on EAGLE's
curves. captum's ``LLMAttribution`` is not used: it cannot batch, and under transformers 5
its defaults never pass the image to the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..explanation import Explanation
from ..regions import RegionSet
from ._assemble import rank_features
from ._keep import KeepObjective

__all__ = ["shapley_sampling", "kernel_shap", "lime"]


def _captum() -> Any:
    try:
        import captum.attr
    except ImportError as err:
        raise ImportError(
            "Shapley value sampling, KernelSHAP and LIME use captum: "
            "pip install 'eagle-kit[baselines]' (captum and scikit-learn)."
        ) from err
    return captum.attr


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    return int(value)


def _attribute(
    algorithm: str,
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    n_samples: int,
    seed: int,
    targets: Any,
    batch_size: int,
    text_regions: Any,
    text_baseline: int | str | None,
    options: dict[str, Any],
    make: Any,
    recorded: dict[str, Any] | None = None,
) -> Explanation:
    import torch

    _check_positive("n_samples", n_samples)

    def attribute(objective: KeepObjective) -> np.ndarray:
        n = objective.n_features
        if n == 1:
            # one feature: every coalition is empty or full, so its Shapley value, its
            # KernelSHAP and LIME coefficients are the full change — occlusion's value
            # (captum's KernelShap samples from an empty distribution here and returns NaN)
            both = objective(np.array([[True], [False]]))
            return np.array([float(both[0] - both[1])])

        def forward(x: torch.Tensor) -> torch.Tensor:
            # captum's batch of perturbed indicator vectors (B×N, values 0/1) → B objectives
            keep = (x.detach().cpu().numpy() > 0.5).reshape(len(x), n)
            return torch.from_numpy(objective(keep)).to(x.dtype)

        with torch.random.fork_rng():
            torch.manual_seed(seed)
            attr = make(forward).attribute(
                torch.ones(1, n, dtype=torch.float64),
                baselines=torch.zeros(1, n, dtype=torch.float64),
                feature_mask=torch.arange(n).view(1, n),
                n_samples=int(n_samples),
                perturbations_per_eval=objective.batch_size,
            )
        values = attr.detach().double().view(-1).cpu().numpy()
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{algorithm} returned non-finite attributions; raise n_samples (got {n_samples})."
            )
        return values

    return rank_features(
        algorithm, scorer, image, regions, values_of=attribute, targets=targets,
        batch_size=batch_size, text_regions=text_regions, text_baseline=text_baseline,
        options=options,
        recorded={
            "n_samples": int(n_samples), "seed": int(seed), "batch_size": batch_size,
            **(recorded or {}),
        },
    )  # fmt: skip


def shapley_sampling(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    n_samples: int = 16,
    seed: int = 0,
    targets: Any = None,
    batch_size: int = 64,
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **options: Any,
) -> Explanation:
    """Shapley values of the features by permutation sampling (captum's
    ``ShapleyValueSampling``), features ordered by value, scored on EAGLE's curves (METHOD §8).

    Exact for an additive objective with any ``n_samples``; otherwise an unbiased estimate.

    Args:
        scorer: a model from :func:`eagle_kit.load_model` or a scorer callable
            (``B×H×W×3`` uint8 → ``B×T`` probabilities).
        image: ``H×W×3`` image (array, PIL image or path).
        regions: a :class:`~eagle_kit.RegionSet` or ``H×W`` label map; ``"none"`` for prompt
            spans only (with ``text_regions``).
        n_samples: random permutations; the method scores ``n_samples·N + 1`` inputs at most
            (captum evaluates the empty set once per batch of permutations).
        seed: torch seed of the permutations.
        targets: the objective's tokens, as for :func:`eagle_kit.explain`.
        batch_size: masked images per scorer call (captum's ``perturbations_per_eval``;
            captum batches the steps of one permutation, so at most N at a time).
        text_regions: prompt spans as features after the image regions (Hugging Face
            models): ``"words"``, ``"sentences"`` or ``[(start, end), …]``, as for
            :func:`eagle_kit.explain`; the result has the same ``region`` coordinates as
            EAGLE's joint explanation.
        text_baseline: the token replacing a removed span's tokens (default pad, else unk).
        **options: as for :func:`eagle_kit.score_order` (``fill``, ``prompt``,
            ``generation`` …).

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="shapley_sampling"``) with the Shapley
        values in ``baseline_values`` (region, in probability) and the cost in the
        ``baseline_*`` attributes.

    Raises:
        ImportError: captum is not installed (``pip install 'eagle-kit[baselines]'``).
        ValueError: ``n_samples`` or ``batch_size`` < 1; ``regions="none"`` or
            ``text_baseline`` without ``text_regions``.
        TypeError: ``text_regions`` with a scorer that cannot replace prompt tokens.
    """
    attr = _captum()
    return _attribute(
        "shapley_sampling", scorer, image, regions, n_samples=n_samples, seed=seed,
        targets=targets, batch_size=batch_size, text_regions=text_regions,
        text_baseline=text_baseline, options=options, make=attr.ShapleyValueSampling,
    )  # fmt: skip


def kernel_shap(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    n_samples: int = 1024,
    seed: int = 0,
    targets: Any = None,
    batch_size: int = 64,
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **options: Any,
) -> Explanation:
    """KernelSHAP over the features (captum's ``KernelShap``: coalitions sampled by the Shapley
    kernel, a linear regression fitted to their objectives), features ordered by coefficient,
    scored on EAGLE's curves (METHOD §8).

    Args:
        n_samples: coalitions scored (the method's evaluations).
        seed: torch seed of the coalitions.
        (the others as for :func:`shapley_sampling`)

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="kernel_shap"``); the coefficients in
        ``baseline_values`` (region).

    Raises:
        ImportError: captum or scikit-learn is not installed.
    """
    attr = _captum()
    return _attribute(
        "kernel_shap", scorer, image, regions, n_samples=n_samples, seed=seed, targets=targets,
        batch_size=batch_size, text_regions=text_regions, text_baseline=text_baseline,
        options=options, make=attr.KernelShap,
    )  # fmt: skip


def lime(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray | str,
    *,
    n_samples: int = 1024,
    seed: int = 0,
    alpha: float = 1.0,
    kernel_width: float = 0.25,
    targets: Any = None,
    batch_size: int = 64,
    text_regions: Any = None,
    text_baseline: int | str | None = None,
    **options: Any,
) -> Explanation:
    """LIME over the features (captum's ``Lime``), features ordered by coefficient, scored on
    EAGLE's curves (METHOD §8).

    As in LIME's image explainer: each feature is kept with probability 1/2, samples are
    weighted by ``exp(-d²/(2·kernel_width²))`` with ``d`` the cosine distance between the
    sample's indicator vector and the full input's, and a ridge regression (``alpha``) is
    fitted to the objective.

    Args:
        n_samples: perturbed samples scored (the method's evaluations).
        alpha: the ridge penalty.
        kernel_width: width of the exponential similarity kernel (LIME's image default 0.25).
        (the others as for :func:`shapley_sampling`)

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="lime"``); the coefficients in
        ``baseline_values`` (region).

    Raises:
        ImportError: captum or scikit-learn is not installed.
        ValueError: ``alpha`` < 0 or ``kernel_width`` <= 0.
    """
    attr = _captum()
    if not alpha >= 0:
        raise ValueError(f"alpha (the ridge penalty) must be >= 0; got {alpha}.")
    if not kernel_width > 0:
        raise ValueError(f"kernel_width must be > 0; got {kernel_width}.")
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr._core.lime import get_exp_kernel_similarity_function

    def make(forward: Any) -> Any:
        return attr.Lime(
            forward,
            interpretable_model=SkLearnRidge(alpha=float(alpha)),
            similarity_func=get_exp_kernel_similarity_function("cosine", float(kernel_width)),
        )

    return _attribute(
        "lime", scorer, image, regions, n_samples=n_samples, seed=seed, targets=targets,
        batch_size=batch_size, text_regions=text_regions, text_baseline=text_baseline,
        options=options, make=make,
        recorded={"alpha": float(alpha), "kernel_width": float(kernel_width)},
    )  # fmt: skip
