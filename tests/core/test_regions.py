from __future__ import annotations

import numpy as np
import pytest

import eagle_kit as ek


def _texture(h=64, w=64, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    for _ in range(12):
        y, x = rng.integers(0, h - 12), rng.integers(0, w - 12)
        img[y : y + 12, x : x + 12] = rng.integers(0, 255, 3)
    return img


def test_slico_partitions_the_image_into_about_n_regions():
    img = _texture()
    rs = ek.segment(img, n_regions=30)
    assert rs.method == "slico" and rs.labels.shape == (64, 64)
    assert 15 <= rs.n_regions <= 45
    assert np.bincount(rs.labels.ravel()).min() > 0  # ids 0..n-1 all used
    assert rs.areas.sum() == pytest.approx(1.0)


def test_grid_is_exact():
    rs = ek.segment(np.zeros((30, 40, 3), np.uint8), 12, "grid")
    assert rs.n_regions == 12
    rs2 = ek.RegionSet.grid((8, 8), 2, 4)
    assert rs2.labels[0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert rs2.labels[7, 7] == 7


def test_from_labels_renumbers_user_ids():
    labels = np.array([[5, 5, 9], [9, 2, 2]])
    rs = ek.RegionSet.from_labels(labels)
    assert rs.labels.tolist() == [[1, 1, 2], [2, 0, 0]]
    assert rs.params["source_ids"] == [2, 5, 9]


def test_masks_and_apply():
    rs = ek.RegionSet.grid((4, 4), 2, 2)
    keep = np.array([[True, False, False, True]])
    m = rs.masks(keep)
    assert m.shape == (1, 4, 4) and m[0, 0, 0] and not m[0, 0, 3] and m[0, 3, 3]
    img = np.full((4, 4, 3), 7, np.uint8)
    out = rs.apply(img, keep, np.zeros_like(img))
    assert out[0, 0, 3].tolist() == [0, 0, 0] and out[0, 0, 0].tolist() == [7, 7, 7]


def test_video_grid_is_spatio_temporal():
    frames = np.zeros((3, 20, 20, 3), np.uint8)
    rs = ek.segment(frames, method="grid", n_regions=25)
    assert rs.labels.shape == (3, 20, 20) and rs.n_regions == 75
    rs2 = ek.RegionSet.video_grid((4, 10, 10), 5, 5, frames_per_cell=2)
    assert rs2.n_regions == 50 and rs2.labels[1, 0, 0] == 0 and rs2.labels[2, 0, 0] == 25


def test_explain_over_video_frames():
    frames = np.zeros((2, 10, 10, 3), np.uint8)
    frames[1, :5, :5] = 255

    def scorer(batch):  # B×F×H×W×3: only frame 1's top-left matters
        return batch[:, 1, :5, :5].mean(axis=(1, 2, 3))[:, None] / 255

    rs = ek.RegionSet.video_grid((2, 10, 10), 2, 2)
    e = ek.explain(scorer, frames, regions=rs, search="exact", progress=False)
    assert e.order[0] == 4  # frame 1, cell 0
    assert e.dataset["image"].dims == ("frame", "y", "x", "channel")
    assert e.attribution_map().shape == (2, 10, 10)


def test_outlines_mark_borders():
    rs = ek.RegionSet.grid((4, 4), 1, 2)
    edge = rs.outlines()
    assert edge[:, 1].all() and not edge[:, 0].any()
