"""Shapley value sampling, KernelSHAP and LIME over EAGLE's regions, through captum.

The interpretable input is the region set: captum perturbs a region-indicator vector
``x ∈ {0,1}^N`` (input ``ones(1, N)``, baseline ``zeros(1, N)``, feature mask = region ids
``0..N-1``, as captum's ``ImageMaskInput`` does for a label map), and a batched forward turns
each row of captum's ``B×N`` batch into a keep-vector over regions and scores all rows with
the bound scorer (one scorer call per ``batch_size`` rows, ``perturbations_per_eval =
batch_size``). The objective is the targets' mean probability — the quantity on EAGLE's
curves. captum's ``LLMAttribution`` is not used: it cannot batch, and under transformers 5
its defaults never pass the image to the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..api import _resolve_regions, score_order
from ..explanation import Explanation
from ..images import as_media
from ..regions import RegionSet
from ._cost import CostMeter, _device_of, record
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
    regions: RegionSet | np.ndarray,
    *,
    n_samples: int,
    seed: int,
    targets: Any,
    batch_size: int,
    options: dict[str, Any],
    make: Any,
    recorded: dict[str, Any] | None = None,
) -> Explanation:
    import torch

    _check_positive("n_samples", n_samples)
    media = as_media(image)
    rs = _resolve_regions(regions, media, 0, "grid")
    n = rs.n_regions
    with CostMeter(_device_of(scorer)) as meter:
        objective = KeepObjective(
            scorer, media, rs, targets=targets, batch_size=batch_size, options=options
        )

        def forward(x: torch.Tensor) -> torch.Tensor:
            # captum's batch of perturbed indicator vectors (B×N, values 0/1) → B objectives
            keep = (x.detach().cpu().numpy() > 0.5).reshape(len(x), n)
            return torch.from_numpy(objective(keep)).to(x.dtype)

        inputs = torch.ones(1, n, dtype=torch.float64)
        base = torch.zeros(1, n, dtype=torch.float64)
        mask = torch.arange(n).view(1, n)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            attr = make(forward).attribute(
                inputs,
                baselines=base,
                feature_mask=mask,
                n_samples=int(n_samples),
                perturbations_per_eval=objective.batch_size,
            )
        values = attr.detach().double().view(-1).cpu().numpy()
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{algorithm} returned non-finite attributions; raise n_samples (got {n_samples})."
        )
    order = np.argsort(-values, kind="stable")
    expl = score_order(
        scorer, media, rs, order, targets=targets, batch_size=batch_size, method=algorithm,
        **options,
    )  # fmt: skip
    return record(
        expl,
        meter,
        evaluations=objective.evaluations,
        forward_calls=objective.forward_calls,
        options={
            "n_samples": int(n_samples),
            "seed": int(seed),
            "batch_size": int(batch_size),
            **(recorded or {}),
        },
        region_values=values,
    )


def shapley_sampling(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    *,
    n_samples: int = 16,
    seed: int = 0,
    targets: Any = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """Shapley values of the regions by permutation sampling (captum's
    ``ShapleyValueSampling``), regions ordered by value, scored on EAGLE's curves (METHOD §8).

    Exact for an additive objective with any ``n_samples``; otherwise an unbiased estimate.

    Args:
        scorer: a model from :func:`eagle_kit.load_model` or a scorer callable
            (``B×H×W×3`` uint8 → ``B×T`` probabilities).
        image: ``H×W×3`` image (array, PIL image or path).
        regions: a :class:`~eagle_kit.RegionSet` or ``H×W`` label map.
        n_samples: random permutations; the method scores ``n_samples·N + 1`` images at most
            (captum evaluates the empty set once per batch of permutations).
        seed: torch seed of the permutations.
        targets: the objective's tokens, as for :func:`eagle_kit.explain`.
        batch_size: masked images per scorer call (captum's ``perturbations_per_eval``;
            captum batches the steps of one permutation, so at most N at a time).
        **options: as for :func:`eagle_kit.score_order` (``fill``, ``prompt``,
            ``generation`` …).

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="shapley_sampling"``) with the Shapley
        values in ``baseline_values`` (region, in probability) and the cost in the
        ``baseline_*`` attributes.

    Raises:
        ImportError: captum is not installed (``pip install 'eagle-kit[baselines]'``).
        ValueError: ``n_samples`` or ``batch_size`` < 1.
    """
    attr = _captum()
    return _attribute(
        "shapley_sampling", scorer, image, regions, n_samples=n_samples, seed=seed,
        targets=targets, batch_size=batch_size, options=options,
        make=attr.ShapleyValueSampling,
    )  # fmt: skip


def kernel_shap(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    *,
    n_samples: int = 1024,
    seed: int = 0,
    targets: Any = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """KernelSHAP over the regions (captum's ``KernelShap``: coalitions sampled by the Shapley
    kernel, a linear regression fitted to their objectives), regions ordered by coefficient,
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
        batch_size=batch_size, options=options, make=attr.KernelShap,
    )  # fmt: skip


def lime(
    scorer: Any,
    image: Any,
    regions: RegionSet | np.ndarray,
    *,
    n_samples: int = 1024,
    seed: int = 0,
    alpha: float = 1.0,
    kernel_width: float = 0.25,
    targets: Any = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """LIME over the regions (captum's ``Lime``), regions ordered by coefficient, scored on
    EAGLE's curves (METHOD §8).

    As in LIME's image explainer: each region is kept with probability 1/2, samples are
    weighted by ``exp(-d²/(2·kernel_width²))`` with ``d`` the cosine distance between the
    sample's indicator vector and the full image's, and a ridge regression (``alpha``) is
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
        batch_size=batch_size, options=options, make=make,
        recorded={"alpha": float(alpha), "kernel_width": float(kernel_width)},
    )  # fmt: skip
