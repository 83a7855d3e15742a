"""``eagle-kit explain`` and ``eagle-kit run`` on the embedded model: the failures of issue 11
(stale resume, colliding names, one bad image stopping the batch) as tests of the right
behaviour. SIGTERM and SIGKILL are in test_kill.py."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from runs_helpers import FAST_ARGS, save_scene

import eagle_kit as ek
from eagle_kit.cli import main
from eagle_kit.models.loading import shapes_model_path

CAPTION = ek.shapes.CAPTION_PROMPT


def _explain(images, out, *extra):
    return main(["explain", str(images), "-o", str(out), *FAST_ARGS, "--quiet", *extra])


def test_another_model_and_prompt_into_the_same_out_are_new_results(tmp_path, capsys):
    """Was: 'resuming: 3 of 3 images already explained' and the OLD model's metrics."""
    images = tmp_path / "images"
    for seed in (1, 2, 3):
        save_scene(images / f"scene{seed}.png", seed)
    out = tmp_path / "out"
    assert _explain(images, out, "--prompt", CAPTION) == 0
    capsys.readouterr()

    other_model = tmp_path / "shapes-copy"  # the same weights under another name
    shutil.copytree(shapes_model_path(), other_model)
    question = "is there a green square ?"
    assert _explain(images, out, "--prompt", question, "--model", str(other_model)) == 0
    captured = capsys.readouterr()
    assert "resuming" not in captured.err + captured.out
    assert "3 done, 0 skipped" in captured.out
    assert f"{other_model} · eagle (n=3)" in captured.out and "shapes · eagle" not in captured.out

    table = ek.open_results(out)
    assert len(table) == 6
    new = table[table["model"] == str(other_model)]
    assert len(new) == 3 and set(new["prompt"]) == {question}
    for path in new["path"]:
        attrs = ek.load_explanation(path).dataset.attrs
        assert attrs["prompt"] == question and attrs["model"] == "shapes-copy"
        assert attrs["answer"] in ("yes", "no")
    # metrics.csv holds this run's results only, with their answers
    csv = (out / "metrics.csv").read_text().splitlines()
    assert len(csv) == 4 and all(f",{other_model}," in row for row in csv[1:])

    # the first command again: skipped, and its own (old) results are the ones reported
    assert _explain(images, out, "--prompt", CAPTION) == 0
    captured = capsys.readouterr()
    assert "resuming: 3 of 3 results already done" in captured.err
    assert "0 done, 3 skipped" in captured.out and "shapes · eagle (n=3)" in captured.out


def test_same_stem_or_same_name_in_two_folders_are_two_results(tmp_path, capsys):
    """Was: cat.png and cat.jpg (or a/x.png, b/x.png) wrote one file, exit 0."""
    a = save_scene(tmp_path / "pets" / "cat.png", 1)
    b = save_scene(tmp_path / "pets" / "cat.jpg", 2)
    c = save_scene(tmp_path / "a" / "x.png", 3)
    d = save_scene(tmp_path / "b" / "x.png", 4)
    out = tmp_path / "out"
    args = [tmp_path / "pets", tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"]
    rc = main(
        ["explain", *map(str, args), "-o", str(out), "--prompt", CAPTION, *FAST_ARGS, "--quiet"]
    )
    assert rc == 0
    table = ek.open_results(out)
    assert len(table) == 4 and table["path"].nunique() == 4
    by_source = {
        "cat.png": a.image,
        "cat.jpg": ek.load_image(tmp_path / "pets" / "cat.jpg"),  # JPEG: lossy
        "a/x.png": c.image,
        "b/x.png": d.image,
    }
    assert b.image.shape == by_source["cat.jpg"].shape
    for row in table.itertuples():
        suffix = next(k for k in by_source if row.id.endswith(k))
        assert np.array_equal(ek.load_explanation(row.path).image, by_source[suffix]), row.id
    assert "4 done, 0 skipped (already done), 0 failed" in capsys.readouterr().out


def test_an_unreadable_image_or_a_missing_target_word_fails_that_image_only(tmp_path, capsys):
    """Was: one unreadable image, or one answer without the --targets word, stopped the batch."""
    images = tmp_path / "images"
    save_scene(images / "a_circles.png", 2)  # "… a green circle , a blue circle …"
    save_scene(images / "b_no_circle.png", 1)  # "… a green square and a green triangle ."
    save_scene(images / "d_circles.png", 3)
    (images / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    rc = _explain(images, out, "--prompt", CAPTION, "--targets", "circle")
    assert rc == 1
    text = capsys.readouterr().out
    assert "2 done, 0 skipped (already done), 2 failed" in text
    assert "b_no_circle.png [shapes, eagle]" in text and "circle" in text
    assert "c_broken.png [shapes, eagle]" in text
    assert "--retry-failed" in text
    table = ek.open_results(out).set_index("id")
    failed = table[table["status"] == "failed"]
    assert sorted(p.rsplit("/", 1)[-1] for p in failed.index) == ["b_no_circle.png", "c_broken.png"]
    assert all(failed["error"].str.len() > 10)
    done = table[table["status"] == "done"]
    for path in done["path"]:
        e = ek.load_explanation(path)
        assert [e.tokens[i].strip() for i in e.targets] == ["circle"] * len(e.targets)
        assert len(e.targets) >= 2


def test_run_command_manifest_models_methods_and_evaluate(scenes, shapes_model, capsys):
    manifest, truth = scenes
    out = manifest.parent / "results"
    args = ["run", str(manifest), "-o", str(out), "--model", "shapes"]
    args += ["--methods", "eagle,random", *FAST_ARGS, "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "6 done, 0 skipped (already done), 0 failed" in text
    table = ek.open_results(out)
    assert sorted(table["method"].unique()) == ["eagle", "random"]
    assert (table["status"] == "done").all() and table["current"].all()

    # the per-sample metric is ek.metrics on the loaded explanation
    wide = ek.runs.sample_metrics(out)
    assert len(wide) == 6
    for row in wide.itertuples():
        rec = table[(table["id"] == row.id) & (table["method"] == row.method)].iloc[0]
        e = ek.load_explanation(rec["path"])
        assert row.insertion_auc == pytest.approx(ek.metrics.insertion_auc(e), abs=1e-12)
        assert row.deletion_auc == pytest.approx(ek.metrics.deletion_auc(e), abs=1e-12)
        i = int(row.id.removeprefix("scene"))
        obj = truth[i].objects[0]
        assert row.point_game_box_strict == ek.metrics.point_game(e, box=obj.box)
        assert row.point_game_mask_strict == ek.metrics.point_game(e, mask=obj.mask)
        # the targets are the object's words, resolved in the answer
        assert [e.tokens[t].strip() for t in e.targets][:2] == [obj.colour, obj.shape]
    ev = ek.evaluate(out)
    assert set(ev.columns) == {"model", "method", "metric", "n", "mean", "ci_low", "ci_high"}
    assert {
        "insertion_auc",
        "deletion_auc",
        "point_game_box_strict",
        "point_game_mask_strict",
    } <= set(ev["metric"])
    for r in ev.itertuples():
        col = wide[(wide["method"] == r.method)][r.metric].dropna()
        assert r.n == len(col) and r.mean == pytest.approx(col.mean())
        assert r.ci_low <= r.mean + 1e-12 and r.mean <= r.ci_high + 1e-12
    # EAGLE finds the object's words better than a random order (the embedded model is trained)
    ins = ev.set_index(["method", "metric"])["mean"]
    assert ins[("eagle", "insertion_auc")] > ins[("random", "insertion_auc")]

    # a rerun skips everything; metrics prints the same table
    assert main(args) == 0
    assert "0 done, 6 skipped" in capsys.readouterr().out
    assert main(["metrics", str(out)]) == 0
    assert "shapes · eagle (n=3)" in capsys.readouterr().out


def test_run_errors_are_clear(tmp_path, capsys):
    (tmp_path / "m.jsonl").write_text('{"id": "a", "prompt": "p"}\n')
    rc = main(["run", str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "o"), "--model", "shapes"])
    assert rc == 2
    assert "m.jsonl line 1: give exactly one of 'image'" in capsys.readouterr().err
    rc = main(["run", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "o"), "--model", "x"])
    assert rc == 2 and "No manifest" in capsys.readouterr().err
    save_scene(tmp_path / "a.png", 1)
    (tmp_path / "m.jsonl").write_text('{"id": "a", "image": "a.png", "prompt": "p"}\n')
    rc = main(["run", str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "o"), "--model", "shapes",
               "--methods", "eagle,gradcam"])  # fmt: skip
    assert rc == 2 and "Unknown method 'gradcam'" in capsys.readouterr().err


def test_explain_a_folder_includes_subfolders_with_distinct_ids(tmp_path, capsys):
    images = tmp_path / "images"
    save_scene(images / "a" / "x.png", 1)
    save_scene(images / "b" / "x.png", 2)
    save_scene(images / ".hidden" / "y.png", 3)
    out = tmp_path / "out"
    assert _explain(images, out, "--prompt", CAPTION) == 0
    assert "2 done, 0 skipped" in capsys.readouterr().out
    ids = sorted(ek.open_results(out)["id"])
    assert ids == [str(images / "a" / "x.png"), str(images / "b" / "x.png")]
