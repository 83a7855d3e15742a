"""Gradient and activation baselines of Hugging Face models (METHOD §10): LLaVA-CAM and a
TAM-style token activation map, as pixel maps scored on EAGLE's curves (METHOD §8).

Both read the decoder at the image-token positions of one forward pass over the unmasked
image with the answer teacher-forced (:meth:`ModelScorer.model_inputs`), lay the values out
on the family's true vision-token grid (:func:`vision_grid`), and upsample the grid to the
pixels the vision tower saw.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..api import score_saliency
from ..explanation import Explanation
from ..images import as_media
from ._cost import CostMeter, record

__all__ = ["llava_cam", "token_activation_map", "vision_grid", "rank_gaussian_filter"]

_QWEN = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
_SUPPORTED = ("llava", "llava_next", "llava_onevision", *_QWEN, "internvl", "idefics3",
              "smolvlm", "gemma3")  # fmt: skip


def _square(value: Any, name: str) -> int:
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise ValueError(f"non-square {name} {value} is not supported for vision grids.")
        value = value[0]
    return int(value)


def _image_positions(model: Any, inputs: Mapping[str, Any]) -> np.ndarray:
    ids = inputs["input_ids"][0].detach().cpu().numpy()
    if model.image_token_id is None:
        raise ValueError(f"'{model.name}' has no image token id in its config.")
    pos = np.flatnonzero(ids == int(model.image_token_id))
    if pos.size == 0:
        raise ValueError(
            "The prepared input has no image tokens; the model would not see the image."
        )
    return pos


def vision_grid(model: Any, inputs: Mapping[str, Any]) -> tuple[tuple[int, int, int], int]:
    """The vision-token grid of one image and where it starts among the image tokens.

    Derived from the model's config and processor output, and checked against the number of
    image tokens in ``inputs``:

    * LLaVA-1.5 (``llava``): ``(image_size / patch_size)²`` (24×24 at 336 px, patch 14);
      with ``vision_feature_select_strategy="full"`` a CLIP tower's CLS token comes first and
      is skipped.
    * LLaVA-NeXT / LLaVA-OneVision: the **base grid only** (the whole image resized to the
      vision tower's size, whose tokens come first); the anyres tiles that follow are not
      used.
    * Qwen2-VL / Qwen2.5-VL / Qwen3-VL: the merged patch grid ``t × h/m × w/m`` from
      ``image_grid_thw`` and ``spatial_merge_size`` ``m``.
    * InternVL: ``(image_size / patch_size · downsample_ratio)²`` for one tile.
    * Idefics3 / SmolVLM: ``(image_size / patch_size / scale_factor)²`` for one unsplit image.
    * Gemma 3: ``√mm_tokens_per_image`` squared.

    Args:
        model: a :class:`~eagle_kit.models.VisionLanguageModel`.
        inputs: the model inputs of one image (``ModelScorer.model_inputs()``).

    Returns:
        ``((t, h, w), offset)``: the grid (t = 1 for an image) and the index of its first
        token among the image tokens (row-major order).

    Raises:
        ValueError: an unsupported family, or a token count that does not match the grid
            (e.g. InternVL or Idefics3 splitting the image into tiles).
    """
    mt = model.model_type
    cfg = model.config
    vc = getattr(cfg, "vision_config", None)
    n = len(_image_positions(model, inputs))
    offset = 0
    if mt in _QWEN:
        thw = inputs.get("image_grid_thw")
        if thw is None:
            raise ValueError("Qwen-VL inputs carry no image_grid_thw; is the input an image?")
        m = int(vc.spatial_merge_size)
        t, h, w = (int(v) for v in thw[0])
        grid = (t, h // m, w // m)
    elif mt in ("llava", "llava_next", "llava_onevision"):
        g = _square(vc.image_size, "image_size") // _square(vc.patch_size, "patch_size")
        grid = (1, g, g)
        has_cls = getattr(vc, "model_type", "") == "clip_vision_model"  # SigLIP has none
        if has_cls and getattr(cfg, "vision_feature_select_strategy", "default") == "full":
            offset = 1
    elif mt == "internvl":
        per = _square(vc.image_size, "image_size") // _square(vc.patch_size, "patch_size")
        g = int(round(per * float(cfg.downsample_ratio)))
        grid = (1, g, g)
    elif mt in ("idefics3", "smolvlm"):
        g = int(vc.image_size) // int(vc.patch_size) // int(cfg.scale_factor)
        grid = (1, g, g)
    elif mt == "gemma3":
        g = math.isqrt(int(cfg.mm_tokens_per_image))
        grid = (1, g, g)
    else:
        raise ValueError(
            f"No vision-token grid is known for model type '{mt}'. Supported: "
            f"{', '.join(_SUPPORTED)}. Use a black-box baseline (occlusion, rise, "
            "shapley_sampling …) for this model."
        )
    size = grid[0] * grid[1] * grid[2]
    base_only = mt in ("llava_next", "llava_onevision")
    if (base_only and n < offset + size) or (not base_only and n != offset + size):
        raise ValueError(
            f"{model.family.name} ('{model.name}') put {n} image tokens in the sequence, but its "
            f"vision grid {grid[1]}×{grid[2]} (×{grid[0]}) needs {offset + size}. The processor "
            "probably split the image into tiles; turn tiling off (e.g. "
            "processor.image_processor.do_image_splitting = False, or max_dynamic_patch=1)."
        )
    return grid, offset


def rank_gaussian_filter(grid: np.ndarray, *, size: int = 3, sigma: float = 1.0) -> np.ndarray:
    """TAM's rank-Gaussian filter (METHOD §10): in each ``size×size`` window (edges
    reflected), sort the values and average them with Gaussian weights over the rank,
    centred on the median rank — between a median filter (``sigma → 0``) and a mean filter
    (``sigma → ∞``); it removes isolated spikes of activation like a median, smoothly.

    Args:
        grid: ``h×w`` floats.
        size: odd window side.
        sigma: standard deviation of the weights, in ranks.

    Returns:
        ``h×w`` float64.
    """
    a = np.asarray(grid, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"grid must be h×w; got shape {a.shape}.")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd int >= 1; got {size}.")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}.")
    r = size // 2
    padded = np.pad(a, r, mode="reflect" if min(a.shape) > r else "edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
    values = np.sort(windows.reshape(*a.shape, size * size), axis=-1)
    ranks = np.arange(size * size) - (size * size - 1) / 2
    weights = np.exp(-(ranks**2) / (2 * sigma**2))
    return values @ (weights / weights.sum())


def _check_model(model: Any, method: str) -> None:
    if not (hasattr(model, "prepare") and hasattr(model, "model") and hasattr(model, "config")):
        raise TypeError(
            f"{method} needs a Hugging Face model from eagle_kit.load_model(...); got "
            f"{type(model).__name__}. A black-box scorer has no gradients or hidden states: use "
            "ek.baselines.occlusion, rise or shapley_sampling instead."
        )


def _refuse_text(options: dict[str, Any], method: str) -> None:
    """Gradient maps live on the image tokens: prompt spans have no meaning for them.

    An explicit ``text_regions=None`` / ``text_baseline=None`` means "no spans": it is
    dropped from ``options`` (in place), so it never reaches the model's ``prepare``.
    """
    for key in ("text_regions", "text_baseline"):
        if key in options and options[key] is None:
            del options[key]
    given = [k for k in ("text_regions", "text_baseline") if k in options]
    if given:
        raise ValueError(
            f"{method} maps the gradient/activation at the image tokens to pixels; it cannot "
            f"attribute prompt spans, so {' and '.join(given)} is not accepted. Explain prompt "
            "spans with ek.explain(..., text_regions='words') or a feature-set baseline "
            "(ek.baselines.occlusion, rise, random_order, shapley_sampling, kernel_shap, lime "
            "with text_regions=...), or drop text_regions to keep this image map."
        )


def _prepare(
    model: Any,
    media: np.ndarray,
    prompt: str | None,
    answer: str | None,
    generation: Any,
    targets: Any,
    model_options: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    """Prepare once (generating once if needed); return the scorer and the options that
    reproduce it for :func:`eagle_kit.score_saliency`."""
    options = dict(model_options)
    max_new = int(options.pop("max_new_tokens", 64))
    if answer is None and generation is None:
        generation = model.generate(
            media, prompt, max_new_tokens=max_new, messages=options.get("messages")
        )
    given = {"prompt": prompt, "answer": answer, "generation": generation, "targets": targets}
    options.update({k: v for k, v in given.items() if v is not None})
    scorer = model.prepare(media, **{k: v for k, v in options.items() if k != "batch_size"})
    return scorer, options


def _targets_of(scorer: Any) -> list[int]:
    t = scorer.default_targets
    return list(range(len(scorer.token_ids))) if t is None else [int(i) for i in t]


def _decoder_layers(model: Any) -> int:
    return int(model.config.get_text_config().num_hidden_layers)


def _forward(model: Any, inputs: dict[str, Any], n_cols: int, grad: bool) -> Any:
    import torch

    kwargs = dict(inputs)
    if "logits_to_keep" in inspect.signature(model.model.forward).parameters:
        kwargs["logits_to_keep"] = n_cols
    with torch.set_grad_enabled(grad):
        return model.model(**kwargs, output_hidden_states=True, use_cache=False)


def _to_pixels(grid_values: np.ndarray, media: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """Bilinear upsampling of an ``h×w`` grid onto the pixels the vision tower saw; pixels
    it did not see (a centre crop) get the grid's minimum."""
    import torch

    h, w = media.shape[:2]
    if seen is not None and seen.any():
        rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    else:
        top, bottom, left, right = 0, h, 0, w
    t = torch.from_numpy(np.ascontiguousarray(grid_values, dtype=np.float64))[None, None]
    up = torch.nn.functional.interpolate(
        t, size=(int(bottom - top), int(right - left)), mode="bilinear", align_corners=False
    )[0, 0].numpy()
    out = np.full((h, w), float(grid_values.min()))
    out[top:bottom, left:right] = up
    return out


def _grid_values(values: np.ndarray, grid: tuple[int, int, int]) -> np.ndarray:
    t, h, w = grid
    return values[: t * h * w].reshape(t, h, w).mean(axis=0)


def _check_image(image: Any, method: str) -> np.ndarray:
    media = as_media(image)
    if media.ndim != 3:
        raise ValueError(
            f"{method} explains one H×W×3 image; got shape {media.shape} (video is not supported)."
        )
    return media


def llava_cam(
    model: Any,
    image: Any,
    *,
    prompt: str | None = None,
    answer: str | None = None,
    generation: Any = None,
    targets: Any = None,
    layer: int | None = None,
    n_steps: int = 64,
    **options: Any,
) -> Explanation:
    """LLaVA-CAM (METHOD §10): Grad-CAM on a middle decoder layer's hidden states at the
    image-token positions, on the family's true vision-token grid, scored on EAGLE's curves.

    With ``A`` the layer's hidden states at the image tokens (``n×D``) and ``y`` the sum of
    the target tokens' logits at their answer positions (teacher forcing), the weights are
    ``α = mean_i ∂y/∂A_i`` and the map ``ReLU(A·α)``, reshaped to the grid of
    :func:`vision_grid` (e.g. 24×24 for LLaVA-1.5 at 336 px) and bilinearly upsampled to
    the pixels the model saw. The map is scored with :func:`eagle_kit.score_saliency`.

    Args:
        model: a :class:`~eagle_kit.models.VisionLanguageModel` (``ek.load_model(...)``).
        image: ``H×W×3`` image.
        prompt, answer, generation: as for ``model.prepare``; without ``answer`` or
            ``generation`` the answer is generated once.
        targets: the tokens explained (default: every answer token).
        layer: decoder layer (0-based; negative from the end) whose output is used, not the
            last (its output at the image tokens never reaches the answer's logits); default
            the middle one, ``(num_hidden_layers - 1) // 2`` (15 of LLaVA-1.5-7B's 32).
        n_steps: steps of the curves (:func:`eagle_kit.score_saliency`).
        **options: more ``prepare`` options (``messages``, ``target_token_ids``,
            ``include_end``, ``max_new_tokens``) and scoring options (``batch_size``,
            ``fill``).

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="llava_cam"``) over ``n_steps`` rank
        bins, with the pixel map in ``baseline_map`` (y, x), and the map's time and peak
        memory in ``baseline_seconds`` / ``baseline_peak_memory_bytes``.

    Raises:
        TypeError: ``model`` is not a Hugging Face model.
        ValueError: a bad ``layer``, video input, a family without a known grid, or
            ``text_regions``/``text_baseline`` (a pixel map has no prompt spans).
    """
    import torch

    _refuse_text(options, "llava_cam")
    _check_model(model, "llava_cam")
    media = _check_image(image, "llava_cam")
    n_layers = _decoder_layers(model)
    if n_layers < 2:
        raise ValueError(
            "llava_cam needs a decoder of 2 or more layers: the last layer's output at the image "
            "tokens does not reach the answer's logits."
        )
    chosen = (n_layers - 1) // 2 if layer is None else int(layer)
    if not (-n_layers <= chosen < n_layers and chosen % n_layers != n_layers - 1):
        raise ValueError(
            f"layer must be a decoder layer in 0..{n_layers - 2} (or negative, from the end, "
            f"except the last: its output at the image tokens does not reach the answer's "
            f"logits, so its gradient is zero); got {layer}."
        )
    chosen %= n_layers
    with CostMeter(str(model.device)) as meter:
        scorer, prep = _prepare(
            model, media, prompt, answer, generation, targets, _split(options)[0]
        )
        inputs = scorer.model_inputs()
        grid, offset = vision_grid(model, inputs)
        pos = _image_positions(model, inputs)[offset:]
        n_cols = len(scorer.token_ids)
        out = _forward(model, inputs, n_cols, grad=True)
        hidden = out.hidden_states[chosen + 1]
        logits = out.logits[0, -n_cols:, :]
        tgt = _targets_of(scorer)
        ids = torch.tensor([scorer.token_ids[t] for t in tgt], device=logits.device)
        y = logits[torch.tensor(tgt, device=logits.device), ids].sum()
        (g,) = torch.autograd.grad(y, hidden)
        idx = torch.from_numpy(pos).to(hidden.device)
        a, ga = hidden[0, idx].detach().double(), g[0, idx].double()
        cam = torch.relu(a @ ga.mean(dim=0)).cpu().numpy()
        del out, hidden, g
        grid_map = _grid_values(cam, grid)
        pixels = _to_pixels(grid_map, media, scorer.seen)
    return _score(
        model, media, pixels, "llava_cam", n_steps, prep, options, meter,
        {"layer": chosen, "grid": list(grid)},
    )  # fmt: skip


def token_activation_map(
    model: Any,
    image: Any,
    *,
    prompt: str | None = None,
    answer: str | None = None,
    generation: Any = None,
    targets: Any = None,
    filter_size: int = 3,
    sigma: float = 1.0,
    n_steps: int = 64,
    **options: Any,
) -> Explanation:
    """A TAM-style token activation map (METHOD §10), scored on EAGLE's curves.

    Logit lens on the image tokens: their last hidden states are projected through the LM
    head, and each target token's logit is read at every image token; each token's map is
    laid out on the vision grid (:func:`vision_grid`), min-max normalised, filtered with
    :func:`rank_gaussian_filter`, and the targets' maps are averaged and upsampled to the
    pixels the model saw. TAM's estimated-causal-inference step (subtracting the context
    tokens' interference) is not included.

    Args:
        filter_size, sigma: the rank-Gaussian filter's window side and width (in ranks).
        (the others as for :func:`llava_cam`)

    Returns:
        An :class:`~eagle_kit.Explanation` (``method="tam"``) with the map in
        ``baseline_map`` (y, x).
    """
    import torch

    _refuse_text(options, "token_activation_map")
    _check_model(model, "token_activation_map")
    media = _check_image(image, "token_activation_map")
    rank_gaussian_filter(np.zeros((1, 1)), size=filter_size, sigma=sigma)  # check the options
    with CostMeter(str(model.device)) as meter:
        scorer, prep = _prepare(
            model, media, prompt, answer, generation, targets, _split(options)[0]
        )
        inputs = scorer.model_inputs()
        grid, offset = vision_grid(model, inputs)
        pos = _image_positions(model, inputs)[offset:]
        with torch.inference_mode():
            out = _forward(model, inputs, len(scorer.token_ids), grad=False)
            last = out.hidden_states[-1][0, torch.from_numpy(pos).to(out.hidden_states[-1].device)]
            ids = [scorer.token_ids[t] for t in _targets_of(scorer)]
            head = model.model.get_output_embeddings()
            lens = head(last)[:, ids].double().cpu().numpy()  # n_image_tokens × n_targets
        maps = []
        for j in range(lens.shape[1]):
            m = _grid_values(lens[:, j], grid)
            span = m.max() - m.min()
            m = (m - m.min()) / span if span > 0 else np.zeros_like(m)
            maps.append(rank_gaussian_filter(m, size=filter_size, sigma=sigma))
        grid_map = np.mean(maps, axis=0)
        pixels = _to_pixels(grid_map, media, scorer.seen)
    return _score(
        model, media, pixels, "tam", n_steps, prep, options, meter,
        {"filter_size": int(filter_size), "sigma": float(sigma), "grid": list(grid)},
    )  # fmt: skip


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(prepare options, scoring-only options)."""
    scoring = {k: v for k, v in options.items() if k in ("batch_size", "fill", "progress")}
    return {k: v for k, v in options.items() if k not in scoring}, scoring


def _score(
    model: Any,
    media: np.ndarray,
    pixels: np.ndarray,
    method: str,
    n_steps: int,
    prep: dict[str, Any],
    options: dict[str, Any],
    meter: CostMeter,
    recorded: dict[str, Any],
) -> Explanation:
    if not np.all(np.isfinite(pixels)):
        raise ValueError(f"{method} produced a non-finite map (the model's values overflowed).")
    prep.pop("max_new_tokens", None)
    expl = score_saliency(
        model, media, pixels, n_steps=n_steps, method=method, **prep, **_split(options)[1]
    )
    return record(
        expl, meter, evaluations=1, forward_calls=1, options={**recorded, "n_steps": n_steps},
        pixel_map=pixels,
    )  # fmt: skip
