"""Defects found by a new-user review: each test fails on the code before its fix."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

import eagle_kit as ek


def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _rgb(h: int = 8, w: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


class ThreeTokens:
    """A plain scorer with three tokens; token j likes column j of a 3-column image."""

    def __call__(self, images: np.ndarray) -> np.ndarray:
        cols = np.array_split(images.astype(float).mean(axis=3), 3, axis=2)
        return np.stack([c.mean(axis=(1, 2)) / 255.0 for c in cols], axis=1)


# -- 1. file objects are images, not tensors -----------------------------------------------
def test_load_image_reads_bytesio_and_leaves_it_usable() -> None:
    arr = _rgb()
    buf = io.BytesIO(_png_bytes(arr))
    np.testing.assert_array_equal(ek.load_image(buf), arr)
    assert not buf.closed
    buf.seek(0)
    np.testing.assert_array_equal(ek.load_image(buf), arr)  # the object is not damaged


def test_load_image_reads_an_open_binary_file(tmp_path) -> None:
    arr = _rgb()
    path = tmp_path / "a.png"
    path.write_bytes(_png_bytes(arr))
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(ek.load_image(fh), arr)
        assert not fh.closed


def test_load_image_rejects_other_objects_listing_the_accepted_types(tmp_path) -> None:
    for bad in (b"\x89PNG", 3.0, object()):
        with pytest.raises(TypeError, match="binary file object.*PIL image.*numpy array"):
            ek.load_image(bad)
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as fh, pytest.raises(TypeError, match="binary mode"):
        ek.load_image(fh)
    with pytest.raises(ValueError, match="does not hold an image"):
        ek.load_image(io.BytesIO(b"not an image at all"))


def test_load_image_still_takes_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    arr = _rgb()
    np.testing.assert_array_equal(ek.load_image(torch.from_numpy(arr)), arr)


def test_explain_takes_a_bytesio_image() -> None:
    img = np.full((6, 9, 3), 200, np.uint8)
    e = ek.explain(
        ThreeTokens(),
        io.BytesIO(_png_bytes(img)),
        regions=ek.segment(img, 3, "grid", rows=1, cols=3),
        search="exact",
        progress=False,
    )
    np.testing.assert_array_equal(e.image, img)


# -- 2. load_explanation on something else --------------------------------------------------
@pytest.fixture(scope="module")
def expl() -> ek.Explanation:
    img = np.full((6, 9, 3), 200, np.uint8)
    return ek.explain(
        ThreeTokens(),
        img,
        regions=ek.segment(img, 3, "grid", rows=1, cols=3),
        token_names=["cat", "dog", " bird"],
        search="exact",
        progress=False,
    )


def _not_explanations(tmp_path, expl):
    jpg = tmp_path / "garbage.jpg"
    Image.fromarray(_rgb()).save(jpg)
    html = tmp_path / "page.html"
    html.write_text("<html><body>hi</body></html>")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    nc = tmp_path / "other.nc"
    expl.dataset[["image"]].to_netcdf(nc, engine="h5netcdf")
    return [jpg, html, folder, nc]


def test_load_explanation_names_the_file_and_the_expected_kind(tmp_path, expl) -> None:
    for path in _not_explanations(tmp_path, expl):
        with pytest.raises(ValueError) as info:
            ek.load_explanation(path)
        msg = str(info.value)
        assert str(path) in msg and ".nc or .zarr" in msg and "Explanation.save" in msg
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_cli_show_on_a_jpeg_exits_2_with_one_line(tmp_path, expl, capsys) -> None:
    from eagle_kit.cli import main

    jpg = _not_explanations(tmp_path, expl)[0]
    assert main(["show", str(jpg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "garbage.jpg" in err[0] and "Explanation.save" in err[0]


# -- 3. plain-scorer token names are each their own word -------------------------------------
@pytest.mark.parametrize(
    "names, target",
    [(["cat", "dog", " bird"], "cat"), (["قطة", "كلب", " طائر"], "كلب")],
)
def test_plain_scorer_names_are_words_in_explain_and_after_save(tmp_path, names, target) -> None:
    img = np.full((6, 9, 3), 200, np.uint8)
    e = ek.explain(
        ThreeTokens(),
        img,
        regions=ek.segment(img, 3, "grid", rows=1, cols=3),
        token_names=names,
        targets=target,
        search="exact",
        progress=False,
    )
    want = names.index(target)
    assert e.targets == [want]
    assert e._token_indices(names[2].strip()) == [2]
    np.testing.assert_allclose(e.curve("insertion", tokens=target), e.curve("insertion", tokens=want))
    for suffix in (".nc", ".zarr"):
        back = ek.load_explanation(e.save(tmp_path / f"e{suffix}"))
        assert back.targets == [want]
        assert back._token_indices(target) == [want]
        assert back._token_indices(names[2].strip()) == [2]


# -- 4. target_token_ids text the vocabulary lacks --------------------------------------------
@pytest.mark.slow
def test_target_token_ids_unknown_word_warns_on_shapes_model() -> None:
    from eagle_kit import shapes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    scene = shapes.make_scene(950000)
    obj = scene.objects[0]
    question = shapes.QUESTION_TEMPLATE.format(colour=obj.colour, shape=obj.shape)
    with pytest.warns(UserWarning, match="'maybe' is not in the tokenizer's vocabulary"):
        model.prepare(scene.image, prompt=question, answer="yes", target_token_ids={0: "maybe"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.prepare(scene.image, prompt=question, answer="yes", target_token_ids={0: "no"})


def test_resolve_target_token_ids_warns_on_the_unknown_id() -> None:
    from eagle_kit.models.tokens import resolve_target_token_ids

    vocab = {"yes": 5, "no": 6}
    encode = lambda s: [vocab.get(s, 1)]  # noqa: E731 - 1 is the unknown token
    with pytest.warns(UserWarning, match="unknown token"):
        assert resolve_target_token_ids({0: "maybe"}, [5], encode, unknown_id=1) == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_target_token_ids({0: "no"}, [5], encode, unknown_id=1) == [6]


# -- 9. 16-bit data that uses few bits --------------------------------------------------------
def test_twelve_bit_data_warns_with_the_bits_used(tmp_path) -> None:
    data = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 60)  # max 3780 < 4096: 12 bits
    path = tmp_path / "micro.png"
    Image.fromarray(data).save(path)
    with pytest.warns(UserWarning, match="only 12 bits") as rec:
        out = ek.load_image(path)
    assert len(rec) == 1 and "rescaled" in str(rec[0].message)
    np.testing.assert_array_equal(out[..., 0], np.round(data / 257.0).astype(np.uint8))
    with pytest.warns(UserWarning, match="only 12 bits"):
        ek.load_image(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ek.load_image(np.full((4, 4), 65535, np.uint16))  # full range: no warning
