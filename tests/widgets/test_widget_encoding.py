"""Arrays travel as binary buffers: encode/decode round trips and what reaches the wire."""

from __future__ import annotations

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

from eagle_kit.widgets import TokenTimeline, decode_array, encode_array
from eagle_kit.widgets._encoding import SUPPORTED_DTYPES


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
def test_round_trip_every_supported_dtype(dtype: str) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.random((3, 4, 2)) * 100).astype(dtype)
    enc = encode_array(arr)
    assert enc["dtype"] == dtype and enc["shape"] == [3, 4, 2]
    assert isinstance(enc["data"], bytes) and len(enc["data"]) == arr.nbytes
    out = decode_array(enc)
    assert out.dtype == arr.dtype
    np.testing.assert_array_equal(out, arr)


def test_non_contiguous_and_big_endian_inputs_are_normalised() -> None:
    arr = np.arange(12, dtype=">f8").reshape(3, 4)[:, ::2]  # big-endian, strided
    enc = encode_array(arr, "float32")
    assert enc["data"] == np.ascontiguousarray(arr, dtype="<f4").tobytes()
    np.testing.assert_array_equal(decode_array(enc), arr.astype(np.float32))


def test_bool_and_int64_defaults() -> None:
    assert encode_array(np.array([True, False]))["dtype"] == "uint8"
    assert encode_array(np.array([1, 2], dtype=np.int64))["dtype"] == "int32"
    with pytest.raises(ValueError, match="outside the int32 range"):
        encode_array(np.array([2**40]))


def test_unsupported_dtypes_say_what_works() -> None:
    with pytest.raises(TypeError, match="dtype 'object'.*use one of: uint8"):
        encode_array(np.array(["a", None], dtype=object))
    with pytest.raises(TypeError, match="complex128"):
        encode_array(np.array([1j]))


def test_decode_rejects_malformed_input() -> None:
    with pytest.raises(ValueError, match="needs 12 bytes; got 8"):
        decode_array({"dtype": "float32", "shape": [3], "data": b"\0" * 8})
    with pytest.raises(ValueError, match="'dtype', 'shape' and 'data'"):
        decode_array({"shape": [1]})
    with pytest.raises(ValueError, match="Unknown dtype"):
        decode_array({"dtype": "float16", "shape": [1], "data": b"\0\0"})
    # memoryview data (what ipywidgets hands back) decodes too
    assert decode_array(
        {"dtype": "uint8", "shape": [2], "data": memoryview(b"\x01\x02")}
    ).tolist() == [1, 2]


def test_widget_state_sends_arrays_as_buffers_not_json_lists(expl) -> None:
    timeline = TokenTimeline(expl)
    state, paths, buffers = _remove_buffers(timeline.get_state())
    assert ["data", "insertion", "data"] in paths
    assert ["data", "reliance", "data"] in paths
    # what stays in the JSON part is small: metadata and token texts, no numbers lists
    assert state["data"]["insertion"] == {"dtype": "float32", "shape": [17, 6]}
    insertion = buffers[paths.index(["data", "insertion", "data"])]
    np.testing.assert_allclose(
        np.frombuffer(bytes(insertion), "<f4").reshape(17, 6),
        expl.dataset["insertion"].values,
        rtol=1e-6,
    )
