"""Reading images and video frames into the one array form the package works with."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_image", "load_frames", "fill_image"]

FILLS = ("black", "mean", "blur")


def _from_pil(img: Any) -> np.ndarray:
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def load_image(image: Any) -> np.ndarray:
    """Return an image as an ``H×W×3`` uint8 RGB array.

    Args:
        image: a file path, a PIL image, or an array ``H×W×3`` (RGB), ``H×W×4`` (RGBA, alpha
            dropped) or ``H×W`` (grayscale). Float arrays must lie in [0, 1]; integer arrays in
            [0, 255].

    Raises:
        FileNotFoundError: the path does not exist.
        TypeError, ValueError: anything else, with what was expected.
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.exists():
            raise FileNotFoundError(
                f"No image at '{path}'. Pass an existing file, a PIL image or an array."
            )
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                return _from_pil(img)
        except UnidentifiedImageError as err:
            raise ValueError(f"'{path}' is not an image file PIL can read (png, jpg, …).") from err
    if type(image).__module__.startswith("PIL.") and hasattr(image, "convert"):
        return _from_pil(image)
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a path, a PIL image or a numpy array H×W×3; got {type(image).__name__}."
        )
    arr = image
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(
            f"image array must be H×W×3 (RGB), H×W×4 (RGBA) or H×W (grayscale); got shape {arr.shape}. "
            f"For a channels-first array use arr.transpose(1, 2, 0); for video pass frames as F×H×W×3."
        )
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"image is {arr.shape[0]}×{arr.shape[1]} pixels; it needs at least 2×2.")
    arr = arr[:, :, :3]
    return _to_uint8(arr)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("image contains NaN or infinite values.")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                f"float image values lie in [{arr.min():.3g}, {arr.max():.3g}]; expected [0, 1]. "
                f"Pass uint8 0..255, or divide by 255."
            )
        return np.round(arr * 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(
                f"integer image values lie in [{arr.min()}, {arr.max()}]; expected 0..255."
            )
        return arr.astype(np.uint8)
    raise TypeError(f"image dtype {arr.dtype} is not supported; use uint8 RGB.")


def load_frames(frames: Any) -> np.ndarray:
    """Return video frames as an ``F×H×W×3`` uint8 array (a list of images or a 4-D array)."""
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        return np.stack([load_image(f) for f in frames])
    if isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
        arrays = [load_image(f) for f in frames]
        if not arrays:
            raise ValueError("frames is empty; pass at least one frame.")
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"all frames must have the same size; got {sorted(shapes)}.")
        return np.stack(arrays)
    raise TypeError("frames must be a list of images or an F×H×W×3 array.")


def as_media(image: Any) -> np.ndarray:
    """An image (H×W×3) or video frames (F×H×W×3) as uint8; lists are taken as frames."""
    if isinstance(image, np.ndarray) and image.ndim == 4:
        return load_frames(image)
    if isinstance(image, (list, tuple)):
        return load_frames(image)
    return load_image(image)


def fill_image(image: np.ndarray, fill: Any = "black") -> np.ndarray:
    """The image that replaces removed pixels: same shape as ``image``, uint8.

    Args:
        image: ``H×W×3`` or ``F×H×W×3`` uint8.
        fill: ``"black"`` (RGB 0, the method's default), ``"mean"`` (the image's mean colour),
            ``"blur"`` (a strongly blurred copy), or an RGB triple.
    """
    if isinstance(fill, str):
        if fill == "black":
            return np.zeros_like(image)
        if fill == "mean":
            axes = tuple(range(image.ndim - 1))
            mean = image.reshape(-1, 3).mean(axis=0) if axes else image
            return np.broadcast_to(np.round(mean).astype(np.uint8), image.shape).copy()
        if fill == "blur":
            import cv2

            def _blur(frame: np.ndarray) -> np.ndarray:
                k = max(3, (min(frame.shape[:2]) // 8) | 1)
                return cv2.GaussianBlur(frame, (k, k), 0)

            if image.ndim == 4:
                return np.stack([_blur(f) for f in image])
            return _blur(image)
        raise ValueError(
            f"Unknown fill '{fill}'. Choose one of: {', '.join(FILLS)}, or an RGB triple."
        )
    rgb = np.asarray(fill)
    if rgb.shape != (3,) or rgb.min() < 0 or rgb.max() > 255:
        raise ValueError(
            f"fill must be one of {', '.join(FILLS)} or an RGB triple 0..255; got {fill!r}."
        )
    return np.broadcast_to(rgb.astype(np.uint8), image.shape).copy()


def fill_name(fill: Any) -> str:
    """A string naming a fill, for provenance."""
    if isinstance(fill, str):
        return fill
    return "rgb(" + ",".join(str(int(v)) for v in np.asarray(fill).ravel()) + ")"
