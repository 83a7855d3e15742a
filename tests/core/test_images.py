"""``load_image`` reads files as a viewer shows them: every PIL mode, on real files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import eagle_kit as ek
from eagle_kit.images import BACKGROUND


def _quadrants(h: int, w: int) -> np.ndarray:
    """Four flat colours, big enough to survive JPEG compression."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (255, 0, 0)
    img[: h // 2, w // 2 :] = (0, 255, 0)
    img[h // 2 :, : w // 2] = (0, 0, 255)
    img[h // 2 :, w // 2 :] = (255, 255, 0)
    return img


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied(tmp_path, orientation: int) -> None:
    stored = _quadrants(40, 80)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    got = ek.load_image(path)
    # what a viewer shows: 3 = 180°, 6 = 90° clockwise, 8 = 90° counter-clockwise
    want = {1: stored, 3: np.rot90(stored, 2), 6: np.rot90(stored, -1), 8: np.rot90(stored, 1)}
    assert got.shape == want[orientation].shape
    if orientation == 6:
        assert got.shape == (80, 40, 3)
    assert np.abs(got.astype(int) - want[orientation]).mean() < 4
    # the same for a PIL image opened by the user
    with Image.open(path) as img:
        np.testing.assert_array_equal(ek.load_image(img), got)


def test_sixteen_bit_png_and_tiff_are_rescaled_not_clipped(tmp_path) -> None:
    values = np.array([[0, 257, 1000], [32768, 65278, 65535]], np.uint16)
    want = np.round(values / 257.0).astype(np.uint8)  # declared range 0..65535 → 0..255
    for name in ("g16.png", "g16.tif"):
        Image.fromarray(values).save(tmp_path / name)
        with Image.open(tmp_path / name) as img:
            assert img.mode.startswith("I;16") or img.mode == "I"
        got = ek.load_image(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 3)
        np.testing.assert_array_equal(got[..., 0], want)
        np.testing.assert_array_equal(got[..., 0], got[..., 2])
    assert want[0, 2] == 4 and want[1, 1] == 254  # neither white nor black
    big_endian = Image.frombytes("I;16B", (3, 2), values.astype(">u2").tobytes())
    np.testing.assert_array_equal(ek.load_image(big_endian)[..., 1], want)


def test_thirty_two_bit_int_tiff_is_stretched_min_to_max(tmp_path) -> None:
    values = np.array([[-70000, 0, 30000], [100000, 200000, 330000]], np.int32)
    Image.fromarray(values).save(tmp_path / "i32.tif")
    with Image.open(tmp_path / "i32.tif") as img:
        assert img.mode == "I"
    got = ek.load_image(tmp_path / "i32.tif")[..., 0]
    want = np.round((values - values.min()) * 255.0 / (values.max() - values.min()))
    np.testing.assert_array_equal(got, want.astype(np.uint8))
    assert got.min() == 0 and got.max() == 255 and len(np.unique(got)) == 6


def test_float_tiff_unit_range_is_scaled_and_other_ranges_stretched(tmp_path) -> None:
    unit = np.array([[0.0, 0.25, 0.5], [0.75, 0.9, 1.0]], np.float32)
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    np.testing.assert_array_equal(
        ek.load_image(tmp_path / "unit.tif")[..., 0],
        np.round(unit.astype(np.float64) * 255).astype(np.uint8),
    )
    wide = np.array([[-3.0, 0.0, 1.0], [10.0, 500.0, 1e4]], np.float32)
    Image.fromarray(wide).save(tmp_path / "wide.tif")
    got = ek.load_image(tmp_path / "wide.tif")[..., 1]
    want = np.round((wide.astype(np.float64) + 3.0) * 255.0 / (1e4 + 3.0)).astype(np.uint8)
    np.testing.assert_array_equal(got, want)
    nan = unit.copy()
    nan[0, 0] = np.nan
    Image.fromarray(nan).save(tmp_path / "nan.tif")
    with pytest.raises(ValueError, match=r"nan\.tif.*'F'.*NaN"):
        ek.load_image(tmp_path / "nan.tif")


def test_palette_with_and_without_transparency(tmp_path) -> None:
    palette = [255, 0, 0, 0, 128, 255] + [0] * (256 * 3 - 6)
    index = np.array([[0, 1, 1], [1, 0, 0]], np.uint8)
    plain = Image.fromarray(index, mode="P")
    plain.putpalette(palette)
    plain.save(tmp_path / "p.png")
    got = ek.load_image(tmp_path / "p.png")
    np.testing.assert_array_equal(got[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(got[0, 1], [0, 128, 255])
    plain.save(tmp_path / "pt.png", transparency=1)  # index 1 transparent
    got = ek.load_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(got[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(got[0, 1], BACKGROUND)
    np.testing.assert_array_equal(got[1, 0], BACKGROUND)
    assert BACKGROUND == (255, 255, 255)  # what transformers' convert_to_rgb pastes on


def test_alpha_is_composited_on_the_processors_background(tmp_path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = (200, 20, 0)
    rgba[..., 3] = [[255, 0], [128, 64]]
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    a = rgba[..., 3:].astype(np.float64) / 255
    want = np.round(rgba[..., :3] * a + 255 * (1 - a))
    got = ek.load_image(tmp_path / "rgba.png").astype(int)
    assert np.abs(got - want).max() <= 1
    la = np.stack([np.full((2, 2), 40, np.uint8), rgba[..., 3]], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    got = ek.load_image(tmp_path / "la.png").astype(int)
    want_la = np.round(40 * a[..., 0] + 255 * (1 - a[..., 0]))
    assert np.abs(got[..., 0] - want_la).max() <= 1 and (got[..., 0] == got[..., 2]).all()
    # the same as transformers' own conversion
    from transformers.image_transforms import convert_to_rgb

    with Image.open(tmp_path / "rgba.png") as img:
        np.testing.assert_array_equal(ek.load_image(img), convert_to_rgb(img, return_numpy=True))


def test_cmyk_jpeg_one_bit_grey_and_other_modes(tmp_path) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    with Image.open(tmp_path / "cmyk.jpg") as img:
        assert img.mode == "CMYK"
    red = ek.load_image(tmp_path / "cmyk.jpg")
    assert np.abs(red.astype(int) - [255, 0, 0]).max() <= 3
    bits = np.array([[True, False], [False, True]])
    Image.fromarray(bits).save(tmp_path / "bits.png")
    with Image.open(tmp_path / "bits.png") as img:
        assert img.mode == "1"
    np.testing.assert_array_equal(ek.load_image(tmp_path / "bits.png")[..., 1], bits * 255)
    grey = np.array([[0, 17], [128, 255]], np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(ek.load_image(tmp_path / "grey.png"), np.stack([grey] * 3, -1))
    hsv = Image.new("HSV", (2, 2), (0, 255, 255))  # pure red
    np.testing.assert_array_equal(ek.load_image(hsv)[0, 0], [255, 0, 0])
    lab = Image.new("LAB", (2, 2), (255, 128, 128))  # L = 100, a = b = 0: white
    assert (ek.load_image(lab).astype(int) >= 250).all()
    ycc = Image.new("YCbCr", (2, 2), (76, 85, 255))  # red in JPEG's YCbCr
    assert np.abs(ek.load_image(ycc)[0, 0].astype(int) - [255, 0, 0]).max() <= 2


def test_first_frame_of_a_multiframe_gif(tmp_path) -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(ek.load_image(tmp_path / "anim.gif")[0, 0], [255, 0, 0])


def test_unreadable_files_are_refused_clearly(tmp_path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.png.*not an image file"):
        ek.load_image(tmp_path / "notes.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "notes.png").read_bytes()[:0])
    with pytest.raises(ValueError, match=r"cut\.png"):
        ek.load_image(tmp_path / "cut.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ek.load_image(tmp_path / "missing.png")


def test_uint16_arrays_follow_the_sixteen_bit_rule() -> None:
    arr = np.array([[0, 65535], [257, 32768]], np.uint16)
    np.testing.assert_array_equal(
        ek.load_image(arr)[..., 0], np.round(arr / 257.0).astype(np.uint8)
    )


def test_every_file_reader_goes_through_load_image(tmp_path, monkeypatch) -> None:
    """explain (via as_media) and load_frames read paths with the same rules."""
    stored = _quadrants(8, 16)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "r.png", exif=exif)
    from eagle_kit.images import as_media

    assert as_media(tmp_path / "r.png").shape == (16, 8, 3)
    assert ek.load_frames([tmp_path / "r.png"] * 2).shape == (2, 16, 8, 3)
    expl = ek.explain(
        lambda x: x.mean(axis=(1, 2, 3))[:, None] / 255,
        tmp_path / "r.png",
        regions=ek.segment(np.zeros((16, 8, 3), np.uint8), 4, "grid"),
        search="exact",
        progress=False,
    )
    np.testing.assert_array_equal(expl.image, np.rot90(stored, -1))
