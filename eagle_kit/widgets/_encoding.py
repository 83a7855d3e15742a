"""Arrays as binary buffers: ``{"dtype", "shape", "data": bytes}`` dictionaries.

ipywidgets sends every ``bytes`` value found in a synced trait as a binary buffer (never as
a JSON list); the front-end gets a ``DataView`` there and ``helpers.js:decodeArray`` turns
it back into a typed array. Data is little-endian and C-ordered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["encode_array", "decode_array", "SUPPORTED_DTYPES"]

#: dtypes that have a JavaScript typed array (names as in helpers.js DTYPES).
SUPPORTED_DTYPES: tuple[str, ...] = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "float32",
    "float64",
)


def encode_array(array: Any, dtype: str | None = None) -> dict[str, Any]:
    """Encode an array for a synced trait.

    Args:
        array: anything ``numpy.asarray`` accepts.
        dtype: the dtype to send (one of :data:`SUPPORTED_DTYPES`); by default the array's
            own, with ``bool`` sent as ``uint8`` and ``int64`` as ``int32`` when it fits.

    Returns:
        ``{"dtype": str, "shape": list[int], "data": bytes}``.

    Raises:
        TypeError: for dtypes JavaScript has no typed array for (object, strings, complex).
        ValueError: when int64 values do not fit in int32.

    Example:
        >>> enc = encode_array(np.arange(3, dtype=np.float32))
        >>> enc["dtype"], enc["shape"], len(enc["data"])
        ('float32', [3], 12)
    """
    arr = np.asarray(array)
    if dtype is None:
        if arr.dtype == np.bool_:
            dtype = "uint8"
        elif arr.dtype == np.int64:
            if arr.size and (
                arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max
            ):
                raise ValueError(
                    "int64 values outside the int32 range cannot be sent to the browser; "
                    "pass dtype='float64' to send them as floats."
                )
            dtype = "int32"
        else:
            dtype = arr.dtype.name
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"Cannot send an array of dtype '{dtype}' to the browser; "
            f"use one of: {', '.join(SUPPORTED_DTYPES)}."
        )
    out = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": [int(s) for s in out.shape], "data": out.tobytes()}


def decode_array(encoded: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array` (also accepts ``memoryview``/``bytearray`` data).

    Raises:
        ValueError: when the dictionary is malformed or its byte count does not match.
    """
    try:
        dtype, shape, data = encoded["dtype"], encoded["shape"], encoded["data"]
    except (KeyError, TypeError) as err:
        raise ValueError(
            f"An encoded array is a dict with 'dtype', 'shape' and 'data'; got {encoded!r:.80}."
        ) from err
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(
            f"Unknown dtype '{dtype}'; expected one of: {', '.join(SUPPORTED_DTYPES)}."
        )
    dt = np.dtype(dtype).newbyteorder("<")
    raw = bytes(data)
    expected = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"An encoded {dtype} array of shape {list(shape)} needs {expected} bytes; got {len(raw)}."
        )
    return np.frombuffer(raw, dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
