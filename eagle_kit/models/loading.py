"""``load_model``: any Hugging Face image-text-to-text model (or the embedded one) in one line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .families import FAMILIES
from .hf import VisionLanguageModel

__all__ = ["load_model", "shapes_model_path", "resolve_device", "resolve_dtype", "SHAPES_ENV"]

#: Environment variable that points ``load_model("shapes")`` to another folder.
SHAPES_ENV = "EAGLE_KIT_SHAPES_MODEL"

_DTYPES = ("auto", "float32", "bfloat16", "float16")


def shapes_model_path() -> Path:
    """Folder of the embedded shapes model: ``$EAGLE_KIT_SHAPES_MODEL`` if set, else the copy
    shipped inside the package (``eagle_kit/shapes/shapes-vlm``; ``data/shapes-vlm`` in a
    checkout links there), so it is found from any folder after ``pip install``."""
    override = os.environ.get(SHAPES_ENV)
    if override:
        return Path(override).expanduser()
    from ..shapes.model import EMBEDDED_MODEL_DIR

    return EMBEDDED_MODEL_DIR


def resolve_device(device: Any) -> Any:
    """``"auto"`` → ``cuda`` if available, else ``mps``, else ``cpu``; anything else as given."""
    import torch

    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"Unknown device {device!r}. Use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'."
        ) from err
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for, but torch sees no CUDA GPU here. Use "
                "device='auto' (picks a GPU when there is one) or device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: there are only {torch.cuda.device_count()} CUDA device(s)."
            )
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r}: MPS is not available here. Use 'auto' or 'cpu'.")
    return resolved


def resolve_dtype(dtype: Any, device: Any) -> Any:
    """``"auto"`` → bfloat16 on GPUs that support it, float16 on other GPUs, float32 on CPU."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if dtype not in _DTYPES:
        raise ValueError(
            f"Unknown dtype {dtype!r}. Choose one of: {', '.join(_DTYPES)} (or a torch.dtype)."
        )
    return getattr(torch, dtype)


def _resolve_source(name_or_path: str | os.PathLike) -> tuple[str, str]:
    """``(what from_pretrained gets, display name)``."""
    name = os.fspath(name_or_path)
    if name == "shapes":
        folder = shapes_model_path()
        if not (folder / "config.json").exists():
            env = os.environ.get(SHAPES_ENV)
            where = (
                f"${SHAPES_ENV} points to '{folder}', which holds no model"
                if env
                else f"The embedded shapes model is missing from '{folder}'"
            )
            other = "" if env else f"\nor point ${SHAPES_ENV} to a folder that holds it."
            raise FileNotFoundError(
                f"{where}. Reinstall eagle-kit (its wheel and source distribution ship the model), "
                f"or train it there (about 15 min on CPU) with:"
                f"\n    python -m eagle_kit.shapes.train --out '{folder}'{other}"
            )
        return str(folder), "shapes"
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").exists():
            raise FileNotFoundError(
                f"'{path}' is not a model folder (no config.json). Pass a folder written by "
                "save_pretrained (model + processor), or a hub id like 'Qwen/Qwen2.5-VL-3B-Instruct'."
            )
        return str(path), path.name
    looks_local = name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1)
    if looks_local:
        raise FileNotFoundError(f"No model folder at '{name}'.")
    return name, name


#: Files of a processor saved with ``save_pretrained``: one of each group must be present.
PROCESSOR_FILES: dict[str, tuple[str, ...]] = {
    "image processor": ("preprocessor_config.json", "processor_config.json"),
    "tokenizer": ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json"),
}


def _check_processor_files(folder: Path, name: str) -> None:
    """A clear error when a local model folder lacks the processor's files (transformers
    would otherwise look them up on the hub and fail with an unrelated network error)."""
    missing = [
        f"{what} ({' or '.join(files)})"
        for what, files in PROCESSOR_FILES.items()
        if not any((folder / f).exists() for f in files)
    ]
    if missing:
        raise FileNotFoundError(
            f"The model folder '{name}' has a config.json but no {' and no '.join(missing)}, "
            "so its processor cannot be loaded. Save the processor next to the model: "
            "processor = AutoProcessor.from_pretrained(<the original model id or folder>); "
            "processor.save_pretrained(folder) — or pass the complete folder (or hub id)."
        )


def load_model(
    name_or_path: str | os.PathLike,
    *,
    device: Any = "auto",
    dtype: Any = "auto",
    batch_size: int | None = None,
    trust_remote_code: bool = False,
    prefix_cache: bool | None = None,
    **from_pretrained: Any,
) -> VisionLanguageModel:
    """Load a vision-language model and its processor for EAGLE.

    Args:
        name_or_path: a hub id (e.g. ``"Qwen/Qwen2.5-VL-3B-Instruct"``), a local folder
            written by ``save_pretrained``, or ``"shapes"`` for the embedded tiny model.
        device: ``"auto"`` (CUDA, then MPS, then CPU), or any torch device string. With
            ``"auto"`` and several GPUs the model is spread over them.
        dtype: ``"auto"`` (bfloat16/float16 on GPU, float32 on CPU), ``"float32"``,
            ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``.
        batch_size: masked images per forward pass (default 32 on CPU, 16 on GPU; halved
            automatically on out-of-memory).
        trust_remote_code: run the checkpoint's own Python code. Only for sources you trust.
        prefix_cache: share the key/value cache of the text before the image tokens
            (default: on for the families where it is exact).
        **from_pretrained: passed to ``AutoModelForImageTextToText.from_pretrained`` (e.g.
            ``attn_implementation="sdpa"``, ``revision=...``).

    Returns:
        A :class:`VisionLanguageModel`.

    Raises:
        FileNotFoundError: a local folder without a model or without the processor's files
            (:data:`PROCESSOR_FILES`: image processor and tokenizer), or the shapes model not
            trained.
        ValueError: an architecture that is not an image-text-to-text model.

    Example:
        >>> model = ek.load_model("shapes")  # doctest: +SKIP
        >>> model = ek.load_model("Qwen/Qwen2.5-VL-3B-Instruct", device="auto")  # doctest: +SKIP
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if from_pretrained.pop("use_safetensors", True) is not True:
        raise ValueError(
            "eagle_kit loads safetensors weights only (pickled .bin files can run code). Convert "
            "the checkpoint with save_pretrained(..., safe_serialization=True)."
        )
    source, name = _resolve_source(name_or_path)
    auto_device = device is None or device == "auto"
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    options: dict[str, Any] = {"dtype": torch_dtype, "use_safetensors": True, **from_pretrained}
    if trust_remote_code:
        options["trust_remote_code"] = True
    if auto_device and target.type == "cuda" and torch.cuda.device_count() > 1:
        options.setdefault("device_map", "auto")
    # in a notebook, transformers' "Loading weights" bar is an ipywidget that stays frozen in
    # the saved notebook (eagle_kit._progress): load without it there, as the terminal shows it
    from transformers.utils import logging as hf_logging

    from .._progress import in_notebook

    quiet = in_notebook() and hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    if Path(source).is_dir():
        _check_processor_files(Path(source), name)
    try:
        processor = AutoProcessor.from_pretrained(
            source, **({"trust_remote_code": True} if trust_remote_code else {})
        )
        model = AutoModelForImageTextToText.from_pretrained(source, **options)
    except ValueError as err:
        if (
            "Unrecognized" in str(err)
            or "image-text-to-text" in str(err).lower()
            or "AutoModel" in str(err)
        ):
            raise ValueError(
                f"'{name}' is not an image-text-to-text model that transformers can load "
                f"({err}). Supported families: {', '.join(f.name for f in FAMILIES.values())}; "
                "others work when AutoModelForImageTextToText can load them. Checkpoints with "
                "custom code need trust_remote_code=True."
            ) from err
        raise
    except OSError as err:
        if Path(source).exists():
            raise
        raise FileNotFoundError(
            f"Could not load '{name}': it is not a local folder, and the hub did not provide it "
            f"({str(err).splitlines()[0]}). On a machine with network, download it once "
            f"(huggingface-cli download {name} --local-dir models/{name.split('/')[-1]}) and pass "
            "that folder; offline, set HF_HUB_OFFLINE=1 to use the local cache only."
        ) from err
    finally:
        if quiet:
            hf_logging.enable_progress_bar()
    if "device_map" not in options:
        model = model.to(target)
    return VisionLanguageModel(
        model, processor, name=name, batch_size=batch_size, prefix_cache=prefix_cache
    )
