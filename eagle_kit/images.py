"""Reading images and video frames into the one array form the package works with."""

from __future__ import annotations

import io
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "load_image",
    "load_frames",
    "fill_image",
    "native_image",
    "hatch_unseen",
    "NativeSizeWarning",
    "BACKGROUND",
]

FILLS = ("black", "mean", "blur")


class NativeSizeWarning(UserWarning):
    """The model's processor resizes or centre-crops the image (see :func:`native_image`)."""


#: Background that transparent pixels are composited on: white, as Hugging Face image
#: processors do (``transformers.image_transforms.convert_to_rgb`` pastes RGBA on white).
BACKGROUND = (255, 255, 255)

_DIRECT = {"RGB"}
_ALPHA = {"RGBA", "RGBa", "LA", "La", "PA"}
_VIA_RGB = {"1", "L", "P", "CMYK", "YCbCr", "HSV", "RGBX"}
_SIXTEEN = {"I;16", "I;16L", "I;16B", "I;16N"}


def _stretch(values: np.ndarray) -> np.ndarray:
    """Min–max rescale to 0..255 (a constant image keeps its value, clipped to 0..255)."""
    values = values.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.full(values.shape, np.clip(np.round(lo), 0, 255), dtype=np.uint8)
    return np.round((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _from_pil(img: Any, source: str = "image") -> np.ndarray:
    """A PIL image as the viewer shows it: EXIF orientation applied, RGB uint8."""
    from PIL import Image, ImageOps

    try:
        img.seek(0)  # multi-frame files (GIF, multi-page TIFF): the first frame
    except (AttributeError, EOFError, ValueError):
        pass
    file_format = getattr(img, "format", None)
    has_alpha = img.mode in _ALPHA or img.info.get("transparency") is not None
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception:  # noqa: BLE001 - a broken EXIF block: keep the stored orientation
        pass
    mode = img.mode
    try:
        if mode in _DIRECT and not has_alpha:
            return np.asarray(img, dtype=np.uint8).copy()
        if has_alpha and mode not in _SIXTEEN and mode not in ("I", "F"):
            rgba = img.convert("LA").convert("RGBA") if mode == "La" else img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
            return np.asarray(Image.alpha_composite(background, rgba).convert("RGB")).copy()
        if mode in _VIA_RGB:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
        if mode == "LAB":
            from PIL import ImageCms

            transform = ImageCms.buildTransform(
                ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
            )
            return np.asarray(ImageCms.applyTransform(img, transform), dtype=np.uint8).copy()
        if mode in _SIXTEEN or (mode == "I" and file_format == "PNG"):
            # 16-bit: the declared range 0..65535 maps to 0..255 (value / 257), as viewers show it
            values = np.asarray(img).astype(np.float64)
            _warn_few_bits(values, source, stacklevel=4)  # _from_pil < load_image < user
            return _gray_to_rgb(np.round(values / 257.0).astype(np.uint8))
        if mode == "I":
            return _gray_to_rgb(_stretch(np.asarray(img)))
        if mode == "F":
            values = np.asarray(img, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    f"{source} (PIL mode 'F', 32-bit float) contains NaN or infinite values; "
                    "replace them (e.g. np.nan_to_num) and pass the array."
                )
            if values.min() >= 0.0 and values.max() <= 1.0:
                return _gray_to_rgb(np.round(values * 255.0).astype(np.uint8))
            return _gray_to_rgb(_stretch(values))
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as err:
        if str(err).startswith(source):
            raise
        raise ValueError(
            f"{source} has PIL mode '{mode}', which eagle_kit cannot turn into RGB ({err}). "
            "Convert it to an 8-bit RGB PNG or pass an H×W×3 uint8 array."
        ) from err


def _warn_few_bits(values: np.ndarray, source: str, stacklevel: int = 3) -> None:
    """Warn when 16-bit data uses 12 bits or fewer (it loads nearly black under ``/ 257``)."""
    top = float(values.max()) if values.size else 0.0
    if 0.0 < top < 4096.0:
        bits = int(top).bit_length()
        warnings.warn(
            f"{source} is 16-bit but uses only {bits} bits (max value {int(top)}), so it loads "
            f"nearly black (value / 257). To use its full range pass it rescaled, e.g. "
            f"ek.load_image(np.asarray(PIL.Image.open(path), dtype=float) / {int(top)}).",
            UserWarning,
            stacklevel=stacklevel,
        )


def _is_tensor(obj: Any) -> bool:
    """True for a torch tensor, without importing torch (only if torch is already imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _is_binary_file(obj: Any) -> bool:
    """True for a readable binary file-like object (``io.BytesIO``, ``open(path, "rb")``)."""
    return callable(getattr(obj, "read", None)) and callable(getattr(obj, "seek", None))


def load_image(image: Any) -> np.ndarray:
    """Return an image as an ``H×W×3`` uint8 RGB array, as an image viewer shows it.

    Files and PIL images are read as a careful user expects:

    * EXIF orientation is applied (a phone photo stored 40×80 with Orientation 6 loads as
      80×40, as viewers and ``transformers.image_utils.load_image`` show it);
    * 1-bit, grayscale, palette, CMYK, YCbCr, HSV and LAB images become RGB (LAB through an
      sRGB colour transform);
    * 16-bit images (``I;16``, ``I;16B``, 16-bit PNG) and ``uint16`` arrays are rescaled by
      their declared range, ``value / 257`` rounded (65535 → 255), never clipped; data that
      uses only part of the range (all values below 4096, e.g. 12-bit microscopy) stays as
      dark as it is and a ``UserWarning`` names the bits used and how to rescale: pass the
      array divided by its maximum, ``np.asarray(PIL.Image.open(path), dtype=float) / m``;
    * 32-bit integer images (``I``) and float images (``F``) are stretched from their minimum
      to their maximum, except floats already in [0, 1], which are scaled by 255;
    * transparency (alpha channel, or a palette/grey image with a transparent colour) is
      composited on white, :data:`BACKGROUND`, the colour Hugging Face image processors
      (``convert_to_rgb``) paste transparent pixels on — so the model sees what you see;
    * multi-frame files (GIF, multi-page TIFF) give their first frame.

    Args:
        image: a file path, a binary file object (``io.BytesIO``, ``open(path, "rb")``; it is
            read from its current position, not closed), a PIL image, a torch tensor, or an array ``H×W×3`` (RGB), ``H×W×4`` (RGBA, alpha
            dropped) or ``H×W`` (grayscale). Float arrays must lie in [0, 1]; integer arrays in
            [0, 255], except ``uint16`` arrays, rescaled by ``/ 257`` like 16-bit files.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not an image PIL can read, or its mode cannot be turned into
            RGB (the message names the file and the mode); NaN in a float image.
        TypeError: anything else (e.g. a text-mode file or bytes), with the accepted types.

    Example:
        >>> import numpy as np, eagle_kit as ek
        >>> from PIL import Image
        >>> ek.load_image(Image.fromarray(np.full((2, 2), 65535, np.uint16)))[0, 0].tolist()
        [255, 255, 255]
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
                arr = _from_pil(img, source=f"'{path}'")
        except UnidentifiedImageError as err:
            raise ValueError(
                f"'{path}' is not an image file PIL can read (png, jpg, tif, …)."
            ) from err
        except OSError as err:
            raise ValueError(f"'{path}' could not be read as an image: {err}") from err
        return _check_size(arr)
    if type(image).__module__.startswith("PIL.") and hasattr(image, "convert"):
        return _check_size(_from_pil(image))
    if _is_tensor(image):
        image = image.detach().cpu().numpy()
    elif _is_binary_file(image) and not isinstance(image, np.ndarray):
        return _check_size(_from_file_object(image))
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a file path, a PIL image, a binary file object (io.BytesIO, "
            f"open(path, 'rb')), a numpy array H×W×3 or a torch tensor; got "
            f"{type(image).__name__}."
        )
    arr = image
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(
            f"image array must be H×W×3 (RGB), H×W×4 (RGBA) or H×W (grayscale); got shape {arr.shape}. "
            f"For a channels-first array use arr.transpose(1, 2, 0); for video pass frames as F×H×W×3."
        )
    _check_size(arr)
    arr = arr[:, :, :3]
    if arr.dtype == np.uint16:
        _warn_few_bits(arr, "image array")
        return np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    return _to_uint8(arr)


def _from_file_object(fileobj: Any) -> np.ndarray:
    """Read an image from a binary file object; the object is left open and usable."""
    from PIL import Image, UnidentifiedImageError

    name = getattr(fileobj, "name", None)
    source = f"'{name}'" if isinstance(name, str) else f"the {type(fileobj).__name__} object"
    if isinstance(fileobj, io.TextIOBase):
        raise TypeError(
            f"{source} is a text-mode file; open images in binary mode: open(path, 'rb')."
        )
    try:
        with Image.open(fileobj) as img:
            return _from_pil(img, source=source)
    except UnidentifiedImageError as err:
        raise ValueError(
            f"{source} does not hold an image PIL can read (png, jpg, tif, …)."
        ) from err
    except OSError as err:
        raise ValueError(f"{source} could not be read as an image: {err}") from err


def _check_size(arr: np.ndarray) -> np.ndarray:
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"image is {arr.shape[0]}×{arr.shape[1]} pixels; it needs at least 2×2.")
    return arr


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


def native_image(model: Any, image: Any) -> np.ndarray:
    """``image`` at ``model``'s native input size: resized and centre-cropped exactly as its
    image processor does, so that the model sees every pixel and an explanation of it takes
    the fast path (no processor call per batch of masked images).

    ``explain`` warns (:class:`NativeSizeWarning`, once per image size) when the processor
    would resize the given image (slower path) or centre-crop it (the cropped-out pixels are
    recorded as unseen and hatched on overlays).

    Args:
        model: a model from :func:`eagle_kit.load_model`.
        image: path, PIL image or ``H×W×3`` array.

    Returns:
        ``H'×W'×3`` uint8, e.g. 336×336 for LLaVA-1.5, sides that are multiples of 28 for
        Qwen2.5-VL.

    Raises:
        TypeError: ``model`` is not a vision-language model from ``load_model``.
        ValueError: the processor tiles images at several scales (no native size exists).

    Example:
        >>> model = ek.load_model("shapes")  # doctest: +SKIP
        >>> ek.native_image(model, "photo.jpg").shape  # doctest: +SKIP
        (64, 64, 3)
    """
    if not hasattr(model, "native_image"):
        raise TypeError(
            f"native_image needs a model from eagle_kit.load_model; got {type(model).__name__}."
        )
    return model.native_image(as_media(image))


def hatch_unseen(rgb: np.ndarray, seen: np.ndarray, *, period: int = 6) -> np.ndarray:
    """``rgb`` (``[F×]H×W×3`` uint8) with pixels where ``seen`` (``H×W`` bool) is False drawn as
    grey diagonal hatching: the area the model never saw (cropped out by its processor)."""
    seen = np.asarray(seen, bool)
    if seen.all():
        return rgb
    h, w = seen.shape
    yy, xx = np.mgrid[0:h, 0:w]
    stripe = ((yy + xx) % period) < max(1, period // 3)
    grey = np.where(stripe, 96, 170).astype(np.uint8)
    hatch = np.repeat(grey[..., None], 3, axis=-1)
    return np.where(seen[..., None], rgb, hatch).astype(np.uint8)
