from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import eagle_kit as ek


@pytest.fixture
def expl(column_scorer):
    s = column_scorer([0.1, 0.4, 0.05, 0.3, 0.15])
    return ek.explain(
        s,
        s.image(),
        regions=s.regions(),
        search="exact",
        targets=[0],
        token_names=[" cat", " the"],
        progress=False,
    )


def test_schema(expl):
    d = expl.dataset
    assert d["insertion"].dims == ("step", "token") and d.sizes["step"] == 6
    assert d["order"].dims == ("rank",) and d["attribution"].dims == ("region",)
    assert d["token_text"].values.tolist() == [" cat", " the"]
    assert d["is_target"].values.tolist() == [1, 0]
    cfg = json.loads(d.attrs["search"])
    assert cfg["search"] == "exact" and cfg["lambda1"] == 1.0
    assert d.attrs["eagle_kit_version"] == ek.__version__
    for value in d.attrs.values():
        assert isinstance(value, (str, int, float)) and not isinstance(value, bool)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_and_load_round_trip(expl, tmp_path, suffix):
    path = expl.save(tmp_path / f"sub/e{suffix}")
    back = ek.load_explanation(path)
    xr.testing.assert_identical(back.dataset, expl.dataset)
    assert back.order.tolist() == expl.order.tolist()
    assert back.tokens == expl.tokens and back.targets == expl.targets
    np.testing.assert_array_equal(back.attribution_map(), expl.attribution_map())
    assert not list(tmp_path.glob("sub/.*tmp"))  # atomic write leaves nothing behind


def test_views(expl):
    assert expl.masked_image(1).max(axis=2)[0].tolist() == [0, 0, 200, 200, 0, 0, 0, 0, 0, 0]
    assert expl.masked_image(1, "deletion")[0, 2].tolist() == [0, 0, 0]
    tok_map = expl.token_attribution_map(" cat", kind="rank")
    np.testing.assert_allclose(tok_map, expl.attribution_map())  # λ-weighted F ∝ f here
    # a token's map defaults to the gain map: here each column's own weight (additive scorer)
    gain = expl.token_attribution_map(" cat")
    np.testing.assert_allclose(gain[0], np.repeat([0.1, 0.4, 0.05, 0.3, 0.15], 2), atol=1e-9)
    over = expl.overlay()
    assert over.shape == expl.image.shape and over.dtype == np.uint8
    html = expl._repr_html_()
    assert "data:image/png;base64" in html and "cat" in html and "insertion_auc" in html
    text = expl.summary()
    assert "'the'" in text or "' the'" in text
    with pytest.raises(
        ValueError, match=r"'dog' is not a word or phrase.*'cat' \(0\), 'the' \(1\)"
    ):
        expl.attribution_map("dog")
