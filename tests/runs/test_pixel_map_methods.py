"""LLaVA-CAM and TAM as run methods: pixel maps of Hugging Face models, keyed by their options,
and a clear per-sample failure where they cannot run (a black box, an unknown vision grid)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from runs_helpers import FAST, FAST_ARGS, bright_scorer, save_scene, write_manifest

import eagle_kit as ek
from eagle_kit.cli import main
from eagle_kit.runs import RunSettings, run


def _manifest(tmp_path, *, words=True):
    scene = save_scene(tmp_path / "a.png", 2)
    obj = scene.objects[0]
    line = {"id": "a", "image": "a.png", "prompt": ek.shapes.CAPTION_PROMPT}
    if words:  # a black box has no words: it explains all of its outputs
        line.update(answer=scene.caption, targets=[obj.name], boxes=[list(obj.box)])
    return write_manifest(tmp_path / "m.jsonl", [line]), scene


@pytest.mark.slow
def test_cam_and_tam_run_match_a_direct_call_and_key_their_options(tmp_path, shapes_model):
    m, scene = _manifest(tmp_path)
    out = tmp_path / "out"
    models = {"shapes": shapes_model}
    s = run(m, out, models=models, methods=["llava_cam", "tam"], progress=False, **FAST)
    assert s.exit_code == 0 and len(s.done) == 2
    table = ek.open_results(out).set_index("method")
    opts = dict(prompt=ek.shapes.CAPTION_PROMPT, answer=scene.caption,
                targets=[scene.objects[0].name], progress=False)  # fmt: skip
    direct = {
        "llava_cam": ek.baselines.llava_cam(shapes_model, scene.image, **opts),
        "tam": ek.baselines.token_activation_map(shapes_model, scene.image, **opts),
    }
    for method, want in direct.items():
        got = ek.load_explanation(table.loc[method, "path"])
        assert got.dataset.attrs["method"] == method
        np.testing.assert_allclose(got.dataset["baseline_map"], want.dataset["baseline_map"])
        np.testing.assert_allclose(got.dataset["insertion"], want.dataset["insertion"])
        assert got.regions.n_regions == 64  # the curves' rank bins, not the run's 8 regions
    wide = ek.runs.sample_metrics(out).set_index("method")
    assert {"point_game_box_strict", "insertion_auc"} <= set(wide.columns)

    # another layer is another llava_cam result; tam's key does not see the layer
    s = run(m, out, models=models, methods=["llava_cam", "tam"], progress=False,
            cam_layer=0, **FAST)  # fmt: skip
    assert [d[2] for d in s.done] == ["llava_cam"] and [k[2] for k in s.skipped] == ["tam"]
    # and the regions do not enter a pixel map's result; TAM's filter and the steps do
    s = run(m, out, models=models, methods=["llava_cam", "tam"], progress=False,
            cam_layer=0, tam_sigma=2.0, saliency_steps=32, n_regions=16,
            segmentation="grid", search="exact")  # fmt: skip
    assert sorted(d[2] for d in s.done) == ["llava_cam", "tam"]
    s = run(m, out, models=models, methods=["llava_cam", "tam"], progress=False,
            cam_layer=0, tam_sigma=2.0, saliency_steps=32, **FAST)  # fmt: skip
    assert s.done == [] and len(s.skipped) == 2
    got = ek.load_explanation(
        ek.open_results(out).query("current & method == 'tam'")["path"].iloc[0]
    )
    assert got.regions.n_regions == 32 and '"sigma": 2.0' in got.dataset.attrs["baseline_options"]


def test_a_black_box_or_an_unknown_grid_fails_the_sample_with_the_reason(tmp_path, shapes_model):
    m, _ = _manifest(tmp_path, words=False)
    s = run(m, tmp_path / "out", models={"box": bright_scorer},
            methods=["occlusion", "llava_cam", "tam"], progress=False, **FAST)  # fmt: skip
    assert s.exit_code == 1 and [d[2] for d in s.done] == ["occlusion"]
    errors = {f[2]: f[3] for f in s.failed}
    assert set(errors) == {"llava_cam", "tam"}
    for method, err in errors.items():
        assert err.startswith("TypeError") and method in err and "Hugging Face" in err

    m, _ = _manifest(tmp_path)
    unknown = copy.copy(shapes_model)  # same weights; a family with no known vision grid
    unknown.model_type = "blip"
    s = run(m, tmp_path / "out2", models={"odd": unknown}, methods=["llava_cam", "eagle"],
            progress=False, **FAST)  # fmt: skip
    assert [d[2] for d in s.done] == ["eagle"]
    ((_, _, method, err),) = s.failed
    assert method == "llava_cam" and "No vision-token grid is known for model type 'blip'" in err


def test_the_cli_takes_the_pixel_map_options(tmp_path, capsys):
    m, _ = _manifest(tmp_path)
    out = tmp_path / "out"
    code = main(["run", str(m), "-o", str(out), "--model", "shapes", "--methods", "llava_cam,tam",
                 "--cam-layer", "0", "--tam-filter-size", "1", "--saliency-steps", "16",
                 *FAST_ARGS, "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    for path in ek.open_results(out)["path"]:
        e = ek.load_explanation(path)
        assert e.regions.n_regions == 16
        options = e.dataset.attrs["baseline_options"]
        assert (
            ('"layer": 0' in options)
            if e.dataset.attrs["method"] == "llava_cam"
            else ('"filter_size": 1' in options)
        )


def test_bad_pixel_map_options_fail_before_any_work():
    for bad, match in (
        ({"tam_filter_size": 2}, "odd"),
        ({"tam_sigma": 0.0}, "tam_sigma"),
        ({"saliency_steps": 1}, "saliency_steps"),
        ({"cam_layer": 1.5}, "cam_layer"),
    ):
        with pytest.raises((ValueError, TypeError), match=match):
            RunSettings(**bad)
