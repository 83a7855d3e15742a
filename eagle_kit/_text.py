"""Any text through netCDF and Zarr: the escape used by ``Explanation.save`` / ``load_explanation``.

HDF5 (netCDF-4) stores strings as null-terminated UTF-8, so a NUL character inside a prompt,
an answer or a token cannot be written, and text that is not valid Unicode (a lone
surrogate, e.g. ``"\\ud800"``) cannot be encoded at all. NumPy's fixed-width unicode arrays
(``<U…``) drop trailing NULs. Text that would not survive is stored escaped with Python's
``unicode_escape`` codec (ASCII: ``"\\x00"``, ``"\\ud800"``, ``"\\\\"`` for a backslash …;
unlike JSON it never merges two escaped surrogates into one character) and marked, so that
it loads back exactly:

* a dataset attribute: its name is listed in the attribute :data:`ESCAPED_ATTRS` (a JSON list);
* a string variable or coordinate (e.g. ``token_text``): every element is escaped and the
  variable carries the attribute ``text_escape: "unicode_escape"``.

Text that needs no escape is stored as is, so other netCDF tools read ordinary files plainly.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["ESCAPED_ATTRS", "ESCAPED_VARIABLE", "needs_escape", "encode_text", "decode_text"]

#: Dataset attribute listing the attributes stored as JSON string literals.
ESCAPED_ATTRS = "escaped_text_attrs"
#: Variable attribute marking a string variable whose elements are JSON string literals.
ESCAPED_VARIABLE = "text_escape"
#: The escape: Python's ``unicode_escape`` codec (ASCII out, exact round trip of any ``str``).
CODEC = "unicode_escape"


def needs_escape(text: str) -> bool:
    """Whether ``text`` holds a NUL or is not encodable as UTF-8 (lone surrogates)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _texts(values: np.ndarray) -> list[str] | None:
    """The elements of a text array (fixed-width, ``StringDType`` or ``str`` objects), else None."""
    kind = values.dtype.kind
    if kind == "O" and values.size and not all(isinstance(v, str) for v in values.ravel()):
        return None
    if kind not in ("U", "T", "O"):
        return None
    return [str(v) for v in values.ravel()]


def _object_array(texts: list[str], shape: tuple[int, ...]) -> np.ndarray:
    arr = np.empty(len(texts), dtype=object)
    arr[:] = texts
    return arr.reshape(shape)


def _replace(ds: xr.Dataset, name: str, new: xr.Variable) -> xr.Dataset:
    if name in ds.coords:
        return ds.assign_coords({name: new})
    ds[name] = new
    return ds


def encode_text(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose text every netCDF/Zarr writer stores exactly.

    Text variables become arrays of ``str`` objects (no fixed width, so trailing NULs
    survive); those holding text that needs escaping are escaped and marked (see the module
    docstring).
    """
    out = ds.copy(deep=False)
    escaped = [k for k, v in ds.attrs.items() if isinstance(v, str) and needs_escape(v)]
    attrs = dict(ds.attrs)
    attrs.pop(ESCAPED_ATTRS, None)
    for k in escaped:
        attrs[k] = _escaped(attrs[k])
    if escaped:
        attrs[ESCAPED_ATTRS] = json.dumps(escaped)
    out.attrs = attrs
    for name in list(out.variables):
        var = out.variables[name]
        texts = _texts(var.values)
        if texts is None:
            continue
        var_attrs = {k: v for k, v in var.attrs.items() if k != ESCAPED_VARIABLE}
        if any(needs_escape(t) for t in texts):
            texts = [_escaped(t) for t in texts]
            var_attrs[ESCAPED_VARIABLE] = CODEC
        # no encoding carried over: a loaded file's dtype would clash with str objects
        out = _replace(out, name, xr.Variable(var.dims, _object_array(texts, var.shape), var_attrs))
    return out


def decode_text(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`encode_text` on a loaded dataset (in place; returns ``ds``).

    Every text variable comes back as an array of ``str`` objects, whatever the backend
    returned (fixed width, NumPy ``StringDType``, objects).

    Raises:
        ValueError: when the list of escaped attributes or an escaped value is malformed.
    """
    listed = ds.attrs.pop(ESCAPED_ATTRS, None)
    try:
        names = json.loads(listed) if listed is not None else []
        for k in names:
            if k in ds.attrs:
                ds.attrs[k] = _decoded(ds.attrs[k])
        for name in list(ds.variables):
            var = ds.variables[name]
            texts = _texts(var.values)
            if texts is None:
                continue
            attrs = dict(var.attrs)
            if attrs.pop(ESCAPED_VARIABLE, None) == CODEC:
                texts = [_decoded(t) for t in texts]
            ds = _replace(ds, name, xr.Variable(var.dims, _object_array(texts, var.shape), attrs))
    except (json.JSONDecodeError, UnicodeError, TypeError) as err:
        raise ValueError(
            f"The escaped text of this file cannot be decoded ({err}); it was not written by "
            "Explanation.save or has been edited."
        ) from err
    return ds


def _escaped(text: str) -> str:
    return text.encode(CODEC).decode("ascii")


def _decoded(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii")
    return str(value).encode("ascii").decode(CODEC)
