"""``--backend ray``: a local 2-CPU Ray cluster on 127.0.0.1 gives the local backend's results."""

from __future__ import annotations

import numpy as np
import pytest
from runs_helpers import FAST  # noqa: I001

import eagle_kit as ek
from eagle_kit.runs import run


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="pip install 'eagle-kit[ray]'")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_backend_gives_the_local_results(scenes, ray_cluster, tmp_path):
    manifest, _ = scenes
    common = dict(models="shapes", methods=["eagle", "occlusion"], progress=False, **FAST)
    local = run(manifest, tmp_path / "local", **common)
    remote = run(manifest, tmp_path / "ray", backend="ray", **common)
    assert local.exit_code == remote.exit_code == 0
    assert sorted(local.done) == sorted(remote.done) and len(remote.done) == 6
    assert local.keys == remote.keys  # the same settings, the same keys
    a = ek.open_results(tmp_path / "local").set_index("key")
    b = ek.open_results(tmp_path / "ray").set_index("key")
    assert sorted(a.index) == sorted(b.index)
    for key in a.index:
        ea, eb = ek.load_explanation(a.loc[key, "path"]), ek.load_explanation(b.loc[key, "path"])
        assert np.array_equal(ea.order, eb.order), key
        np.testing.assert_allclose(ea.dataset["insertion"], eb.dataset["insertion"], atol=1e-6)
        np.testing.assert_allclose(ea.dataset["deletion"], eb.dataset["deletion"], atol=1e-6)
        assert a.loc[key, "answer"] == b.loc[key, "answer"]
    # the driver alone wrote the store: one line and one file per result
    assert len(b) == 6 and len(list((tmp_path / "ray" / "nc").glob("*.nc"))) == 6
    # a rerun on Ray skips what is done
    again = run(manifest, tmp_path / "ray", backend="ray", **common)
    assert again.done == [] and len(again.skipped) == 6


@pytest.mark.slow
def test_ray_backend_records_failures_and_load_errors(scenes, ray_cluster, tmp_path):
    manifest, _ = scenes
    (manifest.parent / "images" / "scene1.png").write_bytes(b"broken")
    s = run(manifest, tmp_path / "out", backend="ray", models="shapes", progress=False, **FAST)
    assert [f[0] for f in s.failed] == ["scene1"] and len(s.done) == 2 and s.exit_code == 1
    assert "not an image file" in s.failed[0][3]
