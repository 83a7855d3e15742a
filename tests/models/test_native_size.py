"""Native input size: ``ek.native_image``, the resize/crop notice, and unseen (cropped) pixels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.images import NativeSizeWarning, hatch_unseen

PROMPT = "describe the image ."


def _raw_pixels(model, image: np.ndarray) -> np.ndarray:
    """What the image processor feeds the vision tower, before rescaling and normalising."""
    ip = model.processor.image_processor
    out = ip(images=[image], do_rescale=False, do_normalize=False, return_tensors="pt")
    return out["pixel_values"].float().numpy()


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth image (resampling it does not alias), plus a little noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    img = np.stack([255 * yy / h, 255 * xx / w, 128 + 100 * np.sin((xx + yy) / 5)], axis=-1)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("family", "native"),
    [("llava", (32, 32)), ("qwen2_5_vl", (48, 32)), ("gemma3", (32, 32)), ("smolvlm", (32, 32))],
)
def test_native_image_is_what_the_processor_feeds_the_model(
    tiny_model, family: str, native: tuple[int, int]
) -> None:
    model = tiny_model(family)
    photo = _photo(45, 30)
    small = ek.native_image(model, photo)
    assert small.shape == (*native, 3) and small.dtype == np.uint8
    # the processor leaves the native image as it is (up to rounding to uint8) …
    np.testing.assert_allclose(_raw_pixels(model, small), _raw_pixels(model, photo), atol=0.5)
    # … so explaining it takes the fast path, with no notice
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeSizeWarning)
        scorer = model.prepare(small, prompt=PROMPT, answer="a cat")
    assert scorer.composition == "layout" and scorer.seen is None


@pytest.mark.parametrize("family", ["llava_next", "llava_onevision", "internvl"])
def test_native_image_refuses_tiling_processors_clearly(tiny_model, family: str) -> None:
    with pytest.raises(ValueError, match="tiles at several scales"):
        ek.native_image(tiny_model(family), _photo(45, 30))


def test_native_image_needs_a_model() -> None:
    with pytest.raises(TypeError, match="load_model"):
        ek.native_image(lambda x: x, _photo(8, 8))


def test_native_image_takes_one_image(tiny_model) -> None:
    frames = np.stack([_photo(32, 32)] * 2)
    with pytest.raises(ValueError, match="one H×W×3 image.*native_image\\(model, frame\\)"):
        ek.native_image(tiny_model("qwen2_5_vl"), frames)


def test_resizing_processor_is_announced(tiny_model) -> None:
    model = tiny_model("qwen2_5_vl")
    with pytest.warns(NativeSizeWarning, match=r"resizes this 45×30 image to 48×32.*native_image"):
        scorer = model.prepare(_photo(45, 30), prompt=PROMPT, answer="a cat")
    assert scorer.composition == "processor"


def test_centre_crop_records_unseen_pixels_and_hatches_them(tiny_model, tmp_path) -> None:
    """Tiny LLaVA: shortest edge 32, centre crop 32×32. A 32×48 image is not resized (its short
    side is 32) and loses 8 columns on each side: columns 8..39 are seen."""
    model = tiny_model("llava")
    image = _photo(32, 48, seed=3)
    want = np.zeros((32, 48), bool)
    want[:, 8:40] = True
    with pytest.warns(NativeSizeWarning, match=r"centre-crops this 32×48 image.*columns 8–39"):
        expl = ek.explain(
            model,
            image,
            prompt=PROMPT,
            answer="a cat",
            regions=ek.segment(image, 6, "grid"),
            search="exact",
            progress=False,
        )
    np.testing.assert_array_equal(expl.seen, want)
    assert expl.dataset["seen"].dtype == np.uint8
    assert expl.attrs["seen_fraction"] == pytest.approx(32 / 48, abs=1e-4)
    assert ek.native_image(model, image).shape == (32, 32, 3)
    # the model indeed never sees the unseen pixels: changing them changes no probability
    scorer = model.prepare(image, prompt=PROMPT, answer="a cat")
    other = image.copy()
    other[~want] = 255 - other[~want]
    np.testing.assert_allclose(scorer(other[None]), scorer(image[None]), atol=1e-6)
    changed = image.copy()
    changed[:, 8] = 255 - changed[:, 8]  # the first seen column does count
    assert not np.allclose(scorer(changed[None]), scorer(image[None]), atol=1e-7)
    # overlays hatch what was cropped out and leave the rest as drawn before
    over = expl.overlay()
    plain = ek.Explanation(expl.dataset.drop_vars("seen")).overlay()
    np.testing.assert_array_equal(over[want], plain[want])
    np.testing.assert_array_equal(over, hatch_unseen(plain, want))
    hatched = over[~want]
    assert (hatched[:, 0] == hatched[:, 1]).all() and set(np.unique(hatched)) == {96, 170}
    # saved and loaded with the result
    loaded = ek.load_explanation(expl.save(tmp_path / "crop.nc"))
    np.testing.assert_array_equal(loaded.seen, want)


def test_square_images_are_all_seen(tiny_model) -> None:
    model = tiny_model("llava")
    image = _photo(32, 32)
    expl = ek.explain(
        model,
        image,
        prompt=PROMPT,
        answer="a cat",
        regions=ek.segment(image, 4, "grid"),
        search="exact",
        progress=False,
    )
    assert "seen" not in expl.dataset and expl.seen.all() and expl.seen.shape == (32, 32)
