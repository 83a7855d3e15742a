"""Baselines on EAGLE's regions and curves (METHOD §8, §10).

Every baseline returns an :class:`~eagle_kit.Explanation` scored on the same curves as EAGLE
— region orders through :func:`eagle_kit.score_order`, pixel maps through
:func:`eagle_kit.score_saliency` — so every metric, plot and widget compares methods on equal
terms.

The feature-set baselines rank the features of :func:`eagle_kit.explain`: the image regions,
and with ``text_regions="words"|"sentences"|[(start, end), …]`` (Hugging Face models) the
prompt spans after them (``regions="none"``: the spans alone), a removed span's tokens
replaced in place by ``text_baseline`` (:mod:`eagle_kit.text_regions`). Their result has the
``region`` coordinates (``region_kind``, ``region_text``, ``region_start``/``region_end``),
``feature_fraction`` curves and three-way reading of EAGLE's joint explanation on the same
features, so :meth:`~eagle_kit.Explanation.text_values`, :func:`eagle_kit.plot.prompt` and
:func:`eagle_kit.evaluate` read both alike. The pixel maps (:func:`llava_cam`,
:func:`token_activation_map`) have no prompt spans and refuse them.

Black box (any scorer), over the features:

* :func:`occlusion` — each feature removed alone (N + 1 inputs).
* :func:`rise` — RISE: random feature keep-masks.
* :func:`random_order` — a uniformly random order, the floor.

captum's perturbation algorithms over the same features (``pip install
'eagle-kit[baselines]'``), driven by the batched scorer (:mod:`.perturbation`):

* :func:`shapley_sampling` — Shapley value sampling.
* :func:`kernel_shap` — KernelSHAP.
* :func:`lime` — LIME.

Gradient / activation maps of Hugging Face models (:mod:`.gradient`):

* :func:`llava_cam` — Grad-CAM on a middle decoder layer at the image tokens, on the
  family's true vision-token grid (:func:`vision_grid`).
* :func:`token_activation_map` — TAM-style logit lens on the image tokens with a
  rank-Gaussian filter.

IGOS++ is not provided: its reference code is GPL-licensed, and this package implements
methods only from their papers.

Schema additions (on top of :mod:`eagle_kit.explanation`'s):

==========================  ==========  ================================================
``baseline_values``         (region)    the method's raw value per feature (occlusion's
                                        drop, RISE's mean score, Shapley value, KernelSHAP
                                        or LIME coefficient), in probability; the order is
                                        by decreasing value (ties by feature id)
``baseline_map``            (y, x)      the pixel map of ``llava_cam`` / ``tam``
==========================  ==========  ================================================

Attributes: ``method``; ``baseline_evaluations`` and ``baseline_forward_calls`` (inputs and
scorer calls of the method itself, before its curves), ``baseline_seconds``,
``baseline_peak_memory_bytes`` with ``baseline_memory_measure`` (``"cuda_max_allocated"``
on a GPU, ``"rss_peak_delta"`` on the CPU: peak resident memory above the start, sampled),
and ``baseline_options`` (JSON). ``n_search_images`` holds the method's images and
``n_evaluations`` / ``seconds`` the totals with the curves, as for EAGLE.

Example:
    >>> import eagle_kit as ek
    >>> model = ek.load_model("shapes")  # doctest: +SKIP
    >>> scene = ek.shapes.make_scene(0, objects=[("red", "circle")], occlusion=False)
    >>> cells = ek.segment(scene.image, n_regions=16, method="grid")
    >>> shap = ek.baselines.shapley_sampling(  # doctest: +SKIP
    ...     model, scene.image, cells, n_samples=4, prompt=ek.shapes.CAPTION_PROMPT,
    ...     answer=scene.caption, targets="red")
    >>> words = ek.baselines.occlusion(  # doctest: +SKIP
    ...     model, scene.image, cells, prompt="is there a red circle ?", answer="yes",
    ...     text_regions="words")
    >>> words.text_values(kind="gain")  # doctest: +SKIP
    >>> cam = ek.baselines.llava_cam(  # doctest: +SKIP
    ...     model, scene.image, prompt=ek.shapes.CAPTION_PROMPT, answer=scene.caption)
"""

from __future__ import annotations

from .blackbox import occlusion, random_order, rise
from .gradient import llava_cam, rank_gaussian_filter, token_activation_map, vision_grid
from .perturbation import kernel_shap, lime, shapley_sampling

__all__ = [
    "occlusion",
    "rise",
    "random_order",
    "shapley_sampling",
    "kernel_shap",
    "lime",
    "llava_cam",
    "token_activation_map",
    "vision_grid",
    "rank_gaussian_filter",
]
