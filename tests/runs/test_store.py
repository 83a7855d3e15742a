"""The results store: keys that never collide or go stale, crash repair, failures recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from runs_helpers import FAST, bright_scorer, dim_scorer, save_scene, write_manifest

import eagle_kit as ek
from eagle_kit.runs import ResultStore, run


def _manifest(tmp_path, names=("a.png",), **extra):
    lines = []
    for i, name in enumerate(names):
        save_scene(tmp_path / name, i + 1)
        lines.append({"id": name, "image": name, "prompt": "describe the picture .", **extra})
    return write_manifest(tmp_path / "m.jsonl", lines)


def _index_lines(out):
    return [json.loads(x) for x in (out / "index.jsonl").read_text().splitlines()]


def test_names_never_collide(tmp_path):
    """cat.png / cat.jpg and a/x.png / b/x.png are four results in four files."""
    m = _manifest(tmp_path, ["cat.png", "cat.jpg", "a/x.png", "b/x.png", "a_x.png"])
    out = tmp_path / "out"
    summary = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert summary.exit_code == 0 and len(summary.done) == 5
    table = ek.open_results(out)
    assert len(table) == 5 and table["path"].nunique() == 5
    for row in table.itertuples():
        expl = ek.load_explanation(row.path)
        src = tmp_path / row.id
        assert np.array_equal(expl.image, ek.load_image(src)), row.id
        assert expl.dataset.attrs["sample_id"] == row.id


def test_a_changed_setting_prompt_or_model_never_reuses_a_result(tmp_path):
    m = _manifest(tmp_path)
    out = tmp_path / "out"
    base = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert len(base.done) == 1
    again = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert again.skipped == base.done and again.done == [] and again.keys == base.keys

    changed = [
        {**FAST, "n_regions": 4},
        {**FAST, "segmentation": "slico"},
        {**FAST, "search": "efficient"},
        {**FAST, "fill": "mean"},
        {**FAST, "lambda2": 0.5},
        {**FAST, "targets": (0,)},
    ]
    keys = {base.keys[0]}
    for options in changed:
        s = run(m, out, models={"bright": bright_scorer}, progress=False, **options)
        assert len(s.done) == 1 and s.skipped == [], options
        keys.add(s.keys[0])
    # another model
    s = run(m, out, models={"dim": dim_scorer}, progress=False, **FAST)
    assert len(s.done) == 1
    keys.add(s.keys[0])
    # another prompt
    line = json.loads((tmp_path / "m.jsonl").read_text())
    write_manifest(tmp_path / "m2.jsonl", [{**line, "prompt": "is there a red square ?"}])
    s = run(tmp_path / "m2.jsonl", out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert len(s.done) == 1
    keys.add(s.keys[0])
    # the image replaced under the same name
    save_scene(tmp_path / "a.png", 9)
    s = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert len(s.done) == 1
    keys.add(s.keys[0])
    assert len(keys) == len(changed) + 4

    table = ek.open_results(out)
    assert len(table) == len(keys)
    # only the last run's result is current; evaluate reads it alone
    current = table[table["current"]]
    assert len(current) == 2  # one per model name: bright and dim
    row = current[current["model"] == "bright"].iloc[0]
    expl = ek.load_explanation(row["path"])
    assert np.array_equal(expl.image, ek.load_image(tmp_path / "a.png"))
    metrics = ek.runs.sample_metrics(out)
    assert len(metrics) == 2


def test_the_dim_model_gives_other_numbers(tmp_path):
    """Results are really the model's: the halved scorer halves the insertion AUC."""
    m = _manifest(tmp_path)
    out = tmp_path / "out"
    run(m, out, models={"bright": bright_scorer, "dim": dim_scorer}, progress=False, **FAST)
    wide = ek.runs.sample_metrics(out).set_index("model")
    assert wide.loc["dim", "insertion_auc"] == pytest.approx(
        0.5 * wide.loc["bright", "insertion_auc"], rel=1e-9
    )


def test_a_failing_sample_is_recorded_and_the_run_goes_on(tmp_path):
    m = _manifest(tmp_path, ["a.png", "b.png"])
    (tmp_path / "bad.png").write_bytes(b"not an image")
    lines = [json.loads(x) for x in m.read_text().splitlines()]
    lines.insert(1, {"id": "bad", "image": "bad.png", "prompt": "p"})
    lines.append({"id": "gone", "image": "missing.png", "prompt": "p"})
    write_manifest(m, lines)
    out = tmp_path / "out"
    s = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert [d[0] for d in s.done] == ["a.png", "b.png"]
    failed = dict((f[0], f[3]) for f in s.failed)
    assert sorted(failed) == ["bad", "gone"] and s.exit_code == 1
    assert "not an image file" in failed["bad"]
    assert "missing.png" in failed["gone"]
    assert "2 done, 0 skipped (already done), 2 failed" in str(s)
    table = ek.open_results(out).set_index("id")
    assert table.loc["bad", "status"] == "failed" and "not an image" in table.loc["bad", "error"]
    assert table.loc["a.png", "status"] == "done" and table.loc["a.png", "error"] == ""

    # a rerun skips the failures (still reported), --retry-failed reruns them
    s = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert s.done == [] and len(s.skipped) == 2 and len(s.failed) == 2 and s.exit_code == 1
    save_scene(tmp_path / "bad.png", 4)
    s = run(m, out, models={"bright": bright_scorer}, progress=False, retry_failed=True, **FAST)
    assert [d[0] for d in s.done] == ["bad"] and [f[0] for f in s.failed] == ["gone"]
    table = ek.open_results(out)
    bad = table[table["id"] == "bad"]  # the fixed image is another key; the old failure stays
    assert sorted(bad["status"]) == ["done", "failed"]
    assert bad[bad["current"]]["status"].tolist() == ["done"]


def test_a_torn_index_line_stray_temp_files_and_orphans_are_repaired(tmp_path):
    m = _manifest(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    lines = (out / "index.jsonl").read_text().splitlines()
    assert len(lines) == 2
    # a kill between the .nc and its index line, and another in the middle of a line
    (out / "index.jsonl").write_text(lines[0] + "\n" + lines[1][:25])
    (out / "nc" / ".x.nc.123.tmp").write_bytes(b"half")
    (out / "checkpoints").mkdir(exist_ok=True)
    (out / "checkpoints" / "k.npz.tmp.npz").write_bytes(b"half")
    assert len(ResultStore(out).records()) == 1  # the torn line is not read
    s = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    assert s.done == [] and len(s.skipped) == 2  # the orphan .nc was adopted, not redone
    assert not list(out.rglob("*.tmp*"))
    recs = _index_lines(out)
    assert len(recs) == 2 and len({r["key"] for r in recs}) == 2


def test_one_writer_at_a_time(tmp_path):
    out = tmp_path / "out"
    with ResultStore(out):
        with pytest.raises(RuntimeError, match="Another run is writing"):
            with ResultStore(out):
                pass
    with ResultStore(out):  # released
        pass


def test_bad_options_fail_before_any_work(tmp_path):
    m = _manifest(tmp_path)
    with pytest.raises(ValueError, match="Unknown method 'gradcam'"):
        run(m, tmp_path / "o", models={"b": bright_scorer}, methods=["gradcam"], **FAST)
    with pytest.raises(ValueError, match="Unknown search"):
        run(m, tmp_path / "o", models={"b": bright_scorer}, search="quick")
    with pytest.raises(TypeError, match="models must be"):
        run(m, tmp_path / "o", models=3)
    assert not (tmp_path / "o").exists()


def test_retry_failed_reruns_a_model_error_under_the_same_key(tmp_path):
    m = _manifest(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    broken = {"on": True}

    def flaky(images):
        if broken["on"]:
            raise RuntimeError("CUDA error: device-side assert")
        return bright_scorer(images)

    s = run(m, out, models={"flaky": flaky}, progress=False, **FAST)
    assert s.done == [] and len(s.failed) == 2
    assert all("RuntimeError: CUDA error" in f[3] for f in s.failed)
    broken["on"] = False
    s = run(m, out, models={"flaky": flaky}, progress=False, **FAST)
    assert s.done == [] and len(s.failed) == 2  # not retried unless asked
    s = run(m, out, models={"flaky": flaky}, progress=False, retry_failed=True, **FAST)
    assert len(s.done) == 2 and s.failed == [] and s.exit_code == 0
    table = ek.open_results(out)
    assert len(table) == 2 and set(table["status"]) == {"done"}  # the same keys, now done


def test_overwrite_recomputes_done_results(tmp_path):
    m = _manifest(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    first = run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    again = run(m, out, models={"bright": bright_scorer}, progress=False, overwrite=True, **FAST)
    assert len(again.done) == 2 and again.skipped == [] and again.keys == first.keys
    assert len(_index_lines(out)) == 2


def test_sigterm_in_process_checkpoints_stops_and_restores_the_handlers(tmp_path):
    """SIGTERM is handled like Ctrl-C only while the run lasts; the rerun resumes the search."""
    import os
    import signal

    m = _manifest(tmp_path, ["a.png", "b.png"])
    out = tmp_path / "out"
    calls = {"n": 0}

    def terminated_mid_way(images):
        calls["n"] += 1
        if calls["n"] == 60:  # the second sample's search (the first takes 44 batches of 2)
            os.kill(os.getpid(), signal.SIGTERM)
        return bright_scorer(images)

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(ek.runs.RunInterrupted, match="SIGTERM: stopped after 1 new results") as e:
        run(m, out, models={"b": terminated_mid_way}, progress=False, batch_size=2, **FAST)
    assert e.value.signum == signal.SIGTERM and e.value.exit_code == 143
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert len(e.value.summary.done) == 1
    assert len(list((out / "checkpoints").glob("*.npz"))) == 1
    s = run(m, out, models={"b": terminated_mid_way}, progress=False, batch_size=2, **FAST)
    assert len(s.done) == 1 and len(s.skipped) == 1
    row = ek.open_results(out).set_index("id").loc["b.png"]
    attrs = ek.load_explanation(row["path"]).dataset.attrs
    assert int(attrs.get("resumed_images", attrs.get("resumed_evaluations", 0))) > 0
    assert not list((out / "checkpoints").glob("*"))
    want = ek.explain(bright_scorer, ek.load_image(tmp_path / "b.png"), progress=False, **FAST)
    assert np.array_equal(ek.load_explanation(row["path"]).order, want.order)


def test_a_checkpoint_of_another_scorer_is_discarded_not_fatal(tmp_path):
    m = _manifest(tmp_path)
    out = tmp_path / "out"
    s = run(m, out, models={"b": bright_scorer}, progress=False, **FAST)
    ckpt = out / "checkpoints" / f"{s.keys[0]}.npz"
    np.savez(ckpt, keys=np.zeros((1, 1), np.uint8), probs=np.zeros((1, 2)), fingerprint="other")
    s = run(m, out, models={"b": bright_scorer}, progress=False, overwrite=True, **FAST)
    assert len(s.done) == 1 and s.failed == [] and not ckpt.exists()


def test_video_samples_run_over_spatio_temporal_regions(tmp_path):
    for i, seed in enumerate((1, 2)):
        save_scene(tmp_path / f"f{i}.png", seed)
    lines = [{"id": "clip", "video": ["f0.png", "f1.png"], "prompt": "what happens ?"}]
    write_manifest(tmp_path / "m.jsonl", lines)

    def mean_brightness(frames):  # B×F×H×W×3 → B×1
        return frames.reshape(len(frames), -1).mean(axis=1, keepdims=True) / 255.0

    s = run(tmp_path / "m.jsonl", tmp_path / "out", models={"m": mean_brightness},
            methods=["eagle", "occlusion"], progress=False, **FAST)  # fmt: skip
    assert len(s.done) == 2 and s.exit_code == 0
    frames = ek.load_frames([tmp_path / "f0.png", tmp_path / "f1.png"])
    want = ek.segment(frames, 8, "grid")
    for path in ek.open_results(tmp_path / "out")["path"]:
        e = ek.load_explanation(path)
        assert np.array_equal(e.image, frames) and np.array_equal(e.labels, want.labels)
    wide = ek.runs.sample_metrics(tmp_path / "out")
    assert "point_game_box_strict" not in wide.columns  # no boxes; video has no point game


def test_every_region_baseline_runs_and_matches_a_direct_call(tmp_path):
    pytest.importorskip("captum", reason="pip install 'eagle-kit[baselines]'")
    m = _manifest(tmp_path)
    out = tmp_path / "out"
    methods = ["occlusion", "rise", "random", "shapley", "kernel_shap", "lime"]
    s = run(m, out, models={"b": bright_scorer}, methods=methods, progress=False,
            n_samples=32, rise_masks=16, seed=3, **FAST)  # fmt: skip
    assert s.exit_code == 0 and len(s.done) == len(methods)
    table = ek.open_results(out).set_index("method")
    image = ek.load_image(tmp_path / "a.png")
    regions = ek.segment(image, 8, "grid")
    direct = {
        "occlusion": ek.baselines.occlusion(bright_scorer, image, regions),
        "rise": ek.baselines.rise(bright_scorer, image, regions, n_masks=16, seed=3),
        "random": ek.baselines.random_order(bright_scorer, image, regions, seed=3),
        "shapley": ek.baselines.shapley_sampling(
            bright_scorer, image, regions, n_samples=32, seed=3
        ),
        "kernel_shap": ek.baselines.kernel_shap(
            bright_scorer, image, regions, n_samples=32, seed=3
        ),
        "lime": ek.baselines.lime(bright_scorer, image, regions, n_samples=32, seed=3),
    }
    for method, want in direct.items():
        got = ek.load_explanation(table.loc[method, "path"])
        assert got.dataset.attrs["method"] == want.dataset.attrs["method"]
        assert np.array_equal(got.order, want.order), method
        np.testing.assert_allclose(got.dataset["insertion"], want.dataset["insertion"])
    # another seed is another key
    s = run(m, out, models={"b": bright_scorer}, methods=["lime"], progress=False,
            n_samples=32, seed=4, **FAST)  # fmt: skip
    assert len(s.done) == 1


def test_no_progress_means_no_bar_from_any_method(tmp_path, capfd):
    """``--quiet`` (progress=False) silences the baselines' scoring bars too."""
    save_scene(tmp_path / "a.png", 1)
    m = write_manifest(tmp_path / "m.jsonl", [{"id": "a", "image": "a.png", "prompt": "?"}])
    import time

    def slow(images):  # slow enough for a bar to show (bars wait half a second)
        time.sleep(0.04 * len(images))
        return bright_scorer(images)

    methods = ["occlusion", "random", "kernel_shap"]
    s = run(
        m,
        tmp_path / "out",
        models={"slow": slow},
        methods=methods,
        progress=False,
        n_samples=8,
        **{**FAST, "batch_size": 1},
    )
    assert len(s.done) == len(methods), s
    err = capfd.readouterr().err
    assert "it/s" not in err and "%|" not in err, err
