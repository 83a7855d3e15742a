"""Bad input gets a clear error that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek

IMG = np.full((8, 8, 3), 100, np.uint8)
GRID = ek.RegionSet.grid((8, 8), 2, 2)


def ok(images):
    return images.mean(axis=(1, 2, 3))[:, None] / 255


def test_scorer_returning_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected \(2, T\)"):
        ek.explain(lambda x: np.zeros((3, 1)), IMG, regions=GRID, progress=False)


def test_scorer_returning_nan_or_logits():
    with pytest.raises(ValueError, match="NaN"):
        ek.explain(lambda x: np.full((len(x), 1), np.nan), IMG, regions=GRID, progress=False)
    with pytest.raises(ValueError, match="softmax"):
        ek.explain(lambda x: np.full((len(x), 1), 3.0), IMG, regions=GRID, progress=False)


def test_scorer_changing_its_token_count():
    calls = {"n": 0}

    def scorer(x):
        calls["n"] += 1
        return np.zeros((len(x), 1 if calls["n"] == 1 else 2))

    with pytest.raises(ValueError, match="same tokens"):
        ek.explain(scorer, IMG, regions=GRID, progress=False)


def test_too_few_regions_and_uncovered_label_maps():
    with pytest.raises(ValueError, match="at least 2"):
        ek.segment(IMG, n_regions=1)
    labels = np.zeros((8, 8), int)
    labels[:4] = -1
    with pytest.raises(ValueError, match="cover"):
        ek.RegionSet.from_labels(labels)
    with pytest.raises(ValueError, match="at least 2"):
        ek.RegionSet(np.zeros((8, 8), int))
    with pytest.raises(ValueError, match="from_labels"):
        ek.RegionSet(np.array([[0, 2], [2, 0]]))


def test_regions_for_another_image():
    with pytest.raises(ValueError, match="Segment this image"):
        ek.explain(ok, np.zeros((9, 8, 3), np.uint8), regions=GRID, progress=False)


def test_images():
    with pytest.raises(FileNotFoundError, match="No image"):
        ek.load_image("does/not/exist.png")
    with pytest.raises(ValueError, match="H×W×3"):
        ek.load_image(np.zeros((8, 8, 5)))
    with pytest.raises(TypeError, match="path, a PIL image"):
        ek.load_image(42)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ek.load_image(np.full((4, 4, 3), 2.0))
    gray = ek.load_image(np.full((4, 4), 9, np.uint8))
    assert gray.shape == (4, 4, 3)
    rgba = ek.load_image(np.zeros((4, 4, 4), np.uint8))
    assert rgba.shape == (4, 4, 3)


def test_options():
    with pytest.raises(ValueError, match="Choose one of: exact, efficient, fast"):
        ek.explain(ok, IMG, regions=GRID, search="lazy", progress=False)
    with pytest.raises(ValueError, match=r"early_stop must be in \[0, 1\)"):
        ek.explain(ok, IMG, regions=GRID, early_stop=1.5, progress=False)
    with pytest.raises(ValueError, match="out of range"):
        ek.explain(ok, IMG, regions=GRID, targets=[3], progress=False)
    with pytest.raises(ValueError, match="not a word or phrase of the answer"):
        ek.explain(ok, IMG, regions=GRID, targets="cat", token_names=["dog"], progress=False)
    with pytest.raises(ValueError, match="Unknown fill"):
        ek.explain(ok, IMG, regions=GRID, fill="pink", progress=False)
    with pytest.raises(TypeError, match="only apply to a model"):
        ek.explain(ok, IMG, regions=GRID, prompt="Describe.", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        ek.explain(ok, IMG, regions=GRID, batch_size=0, progress=False)
    with pytest.raises(TypeError, match="scorer must be a callable"):
        ek.explain("model", IMG, regions=GRID, progress=False)


def test_loading_missing_or_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        ek.load_explanation(tmp_path / "none.nc")
    with pytest.raises(ValueError, match="'.nc'"):
        ek.explain(ok, IMG, regions=GRID, progress=False).save(tmp_path / "x.json")
