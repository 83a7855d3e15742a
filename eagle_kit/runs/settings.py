"""Run settings, model specifications and the hash of everything that changes a result."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["RunSettings", "ModelSpec", "as_model_specs", "METHODS", "settings_hash"]

#: Methods a run can compute, each on the same regions and curves.
METHODS = (
    "eagle",
    "occlusion",
    "rise",
    "random",
    "shapley",
    "kernel_shap",
    "lime",
    "llava_cam",
    "tam",
)

#: The gradient/activation baselines of Hugging Face models: pixel maps scored on the curves.
PIXEL_MAPS = ("llava_cam", "tam")

#: The captum-based baselines (``eagle_kit.baselines``) behind the method names.
PERTURBATION = {"shapley": "shapley_sampling", "kernel_shap": "kernel_shap", "lime": "lime"}


@dataclass(frozen=True)
class RunSettings:
    """Options of a run, as for :func:`eagle_kit.explain` (see there), plus the baselines'.

    Attributes:
        targets: default targets for samples whose manifest line has none.
        rise_masks: RISE's number of random masks.
        n_samples: samples of Shapley sampling, KernelSHAP and LIME (``None``: each
            method's default, see :mod:`eagle_kit.baselines`).
        seed: seed of RISE, the random order and the sampling baselines.
        cam_layer: LLaVA-CAM's decoder layer (``None``: the middle one; see
            :func:`eagle_kit.baselines.llava_cam`).
        tam_filter_size, tam_sigma: TAM's rank-Gaussian filter (window side, width in ranks).
        saliency_steps: steps (rank bins) of the curves of the pixel maps (``llava_cam``,
            ``tam``), as ``n_steps`` of :func:`eagle_kit.score_saliency`.
        max_new_tokens: longest generated answer (when a sample gives no ``answer``).
        text_regions: ``None`` (image regions only), ``"words"`` or ``"sentences"``: the
            prompt's spans are features too (:func:`eagle_kit.explain`'s ``text_regions``;
            Hugging Face models), for ``eagle`` and the feature-set baselines (not the pixel
            maps ``llava_cam``, ``tam``). Part of the key when set.
        text_baseline: the token replacing a removed span (an id as text, or a one-token
            string; ``None``: pad or unk). Part of the key when set.
        batch_size, device, threads: how to compute, not what: not part of a result's key.
    """

    n_regions: int = 64
    segmentation: str = "slico"
    search: str = "fast"
    targets: tuple[int | str, ...] | None = None
    lambda1: float = 1.0
    lambda2: float = 1.0
    search_scope: int = 10
    pending_samples: int = 8
    update_step: int = 5
    early_stop: float | None = None
    fill: str = "black"
    max_new_tokens: int = 64
    rise_masks: int = 256
    n_samples: int | None = None
    seed: int = 0
    cam_layer: int | None = None
    tam_filter_size: int = 3
    tam_sigma: float = 1.0
    saliency_steps: int = 64
    dtype: str = "auto"
    text_regions: str | None = None
    text_baseline: str | None = None
    batch_size: int | None = None
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        from ..regions import METHODS as SEGMENTATIONS

        self.search_config()  # validates the search options
        if self.segmentation not in SEGMENTATIONS:
            raise InputError(
                f"Unknown segmentation '{self.segmentation}'. Choose one of: "
                f"{', '.join(SEGMENTATIONS)}."
            )
        if isinstance(self.n_regions, bool) or not isinstance(self.n_regions, int):
            raise TypeError(f"n_regions must be an integer; got {self.n_regions!r}.")
        if self.n_regions < 2:
            raise InputError(f"n_regions must be at least 2; got {self.n_regions}.")
        if self.rise_masks < 2:
            raise InputError(f"rise_masks must be at least 2; got {self.rise_masks}.")
        if self.n_samples is not None and self.n_samples < 1:
            raise InputError(f"n_samples must be a positive integer; got {self.n_samples}.")
        if self.cam_layer is not None and (
            isinstance(self.cam_layer, bool) or not isinstance(self.cam_layer, int)
        ):
            raise TypeError(f"cam_layer must be an integer or None; got {self.cam_layer!r}.")
        if (
            isinstance(self.tam_filter_size, bool)
            or not isinstance(self.tam_filter_size, int)
            or self.tam_filter_size < 1
            or self.tam_filter_size % 2 == 0
        ):
            raise InputError(
                f"tam_filter_size must be an odd integer >= 1; got {self.tam_filter_size!r}."
            )
        if not self.tam_sigma > 0:
            raise InputError(f"tam_sigma must be > 0; got {self.tam_sigma!r}.")
        if isinstance(self.saliency_steps, bool) or not isinstance(self.saliency_steps, int):
            raise TypeError(f"saliency_steps must be an integer; got {self.saliency_steps!r}.")
        if self.saliency_steps < 2:
            raise InputError(f"saliency_steps must be at least 2; got {self.saliency_steps}.")
        if self.threads is not None:
            from ..threads import check_threads

            check_threads(self.threads)  # 1 .. os.cpu_count() * 4
        if self.text_regions not in (None, "words", "sentences"):
            raise InputError(
                f"Unknown text_regions {self.text_regions!r}. Choose one of: words, sentences "
                "(or None for image regions only)."
            )
        if self.text_baseline is not None and self.text_regions is None:
            raise InputError(
                "text_baseline only applies with text_regions ('words' or 'sentences'); "
                "remove it or set text_regions."
            )

    def check_text_methods(self, methods: Sequence[str]) -> None:
        """Refuse methods that cannot explain prompt spans when ``text_regions`` is set.

        EAGLE and the feature-set baselines (occlusion, RISE, random, Shapley sampling,
        KernelSHAP, LIME) rank the image regions and the prompt spans together; the pixel
        maps (``llava_cam``, ``tam``) have no prompt spans.

        Raises:
            ValueError: a pixel-map method with ``text_regions``.
        """
        pixel = [m for m in methods if m in PIXEL_MAPS]
        if self.text_regions is not None and pixel:
            raise InputError(
                f"text_regions={self.text_regions!r} needs methods that rank features; "
                f"{', '.join(pixel)} map gradients/activations at the image tokens to pixels and "
                "have no prompt spans. Run them in a separate run without text_regions "
                "(--text-regions), or drop them from --methods (eagle, occlusion, rise, random, "
                "shapley, kernel_shap and lime take --text-regions)."
            )

    def search_config(self) -> Any:
        from ..search import SearchConfig

        return SearchConfig(
            search=self.search,
            lambda1=self.lambda1,
            lambda2=self.lambda2,
            batch_size=self.batch_size,
            search_scope=self.search_scope,
            pending_samples=self.pending_samples,
            update_step=self.update_step,
            early_stop=self.early_stop,
        )

    def for_method(self, method: str) -> dict[str, Any]:
        """The settings that change a result of ``method`` (the key's part of the settings)."""
        if method in PIXEL_MAPS:
            # a pixel map is scored on its own rank bins: the regions do not enter the result
            pixel: dict[str, Any] = {
                "fill": self.fill,
                "lambda1": self.lambda1,
                "lambda2": self.lambda2,
                "max_new_tokens": self.max_new_tokens,
                "dtype": self.dtype,
                "n_steps": self.saliency_steps,
            }
            if method == "llava_cam":
                pixel["layer"] = self.cam_layer
            else:
                pixel.update(filter_size=self.tam_filter_size, sigma=self.tam_sigma)
            return pixel
        common = {
            "n_regions": self.n_regions,
            "segmentation": self.segmentation,
            "fill": self.fill,
            "lambda1": self.lambda1,
            "lambda2": self.lambda2,
            "max_new_tokens": self.max_new_tokens,
            "dtype": self.dtype,
        }
        if self.text_regions is not None:  # absent when unset: older keys stay valid
            common["text_regions"] = self.text_regions
            common["text_baseline"] = self.text_baseline
        if method == "eagle":
            cfg = asdict(self.search_config())
            cfg.pop("batch_size")
            common["search"] = cfg
        elif method == "rise":
            common.update(rise_masks=self.rise_masks, seed=self.seed)
        elif method == "random":
            common["seed"] = self.seed
        elif method in PERTURBATION:
            common.update(n_samples=self.n_samples, seed=self.seed)
        return common


def check_methods(methods: Sequence[str]) -> list[str]:
    out = []
    for m in methods:
        if m not in METHODS:
            raise InputError(f"Unknown method '{m}'. Choose from: {', '.join(METHODS)}.")
        if m not in out:
            out.append(m)
    if not out:
        raise InputError(f"Give at least one method ({', '.join(METHODS)}).")
    return out


def settings_hash(parts: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that changes a result."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ModelSpec:
    """A model of a run: its name (as results show it), how to load it, its fingerprint.

    Attributes:
        name: ``"shapes"``, a hub id or a folder — or the name given to a callable scorer.
        source: what :func:`eagle_kit.load_model` gets, or ``None`` for a given object.
        scorer: a model object or callable given directly (``source`` is then ``None``).
        fingerprint: identifies the weights (files' sizes and times, config hash), so that
            retrained weights under the same name never reuse a result.
    """

    name: str
    source: str | None = None
    scorer: Any = None
    fingerprint: str = ""

    def load(self, settings: RunSettings) -> Any:
        if self.scorer is not None:
            return self.scorer
        from ..models import load_model

        return load_model(
            self.source,
            device=settings.device,
            dtype=settings.dtype,
            batch_size=settings.batch_size,
        )


def weights_fingerprint(name: str) -> str:
    """A cheap fingerprint of a model's files: config bytes + safetensors names, sizes, mtimes.

    For a hub id the local cache is looked at (``huggingface_hub``); a model that is not
    there yet is fingerprinted by its name only.
    """
    from ..models.loading import _resolve_source

    source, _ = _resolve_source(name)
    folder = Path(source)
    if not folder.is_dir():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(source, "config.json")
            if isinstance(cached, str):
                folder = Path(cached).parent
        except Exception:  # noqa: BLE001 - no cache: the name alone identifies it
            pass
    h = hashlib.sha256(source.encode())
    if folder.is_dir():
        config = folder / "config.json"
        if config.is_file():
            h.update(config.read_bytes())
        for f in sorted(folder.glob("*.safetensors")):
            st = os.stat(f)
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def as_model_specs(models: Any) -> list[ModelSpec]:
    """``"shapes"``, a list of names, or ``{name: model object or callable}`` → specs."""
    if isinstance(models, (str, os.PathLike)):
        models = [models]
    if isinstance(models, Mapping):
        items: list[tuple[str, Any]] = list(models.items())
    elif isinstance(models, Sequence):
        items = []
        for m in models:
            if not isinstance(m, (str, os.PathLike)):
                raise TypeError(
                    "Give models as names ('shapes', a hub id, a folder) or as a dict "
                    "{name: model or callable scorer}; got "
                    f"{type(m).__name__} in a list."
                )
            items.append((os.fspath(m), os.fspath(m)))
    else:
        raise TypeError(
            f"models must be a name, a list of names or a dict {{name: scorer}}; got "
            f"{type(models).__name__}."
        )
    if not items:
        raise InputError("Give at least one model (--model NAME).")
    specs: list[ModelSpec] = []
    for name, value in items:
        if not isinstance(name, str) or not name:
            raise TypeError(f"A model's name must be a non-empty string; got {name!r}.")
        if any(s.name == name for s in specs):
            raise InputError(f"Model '{name}' is given twice.")
        if isinstance(value, (str, os.PathLike)):
            src = os.fspath(value)
            specs.append(ModelSpec(name, source=src, fingerprint=weights_fingerprint(src)))
        elif callable(value) or hasattr(value, "prepare"):
            fp = _object_fingerprint(value)
            specs.append(ModelSpec(name, scorer=value, fingerprint=fp))
        else:
            raise TypeError(
                f"Model '{name}': expected a name, a model from eagle_kit.load_model or a "
                f"callable scorer; got {type(value).__name__}."
            )
    return specs


def _object_fingerprint(value: Any) -> str:
    """A loaded model is fingerprinted by its name and config; a callable by its name only."""
    config = getattr(value, "config", None)
    text = getattr(value, "name", "")
    if config is not None and hasattr(config, "to_json_string"):
        text += config.to_json_string()
    return hashlib.sha256(text.encode()).hexdigest()[:32] if text else ""
