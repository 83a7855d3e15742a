"""Hallucination samples: the correction is stored in the index, AMCR/CSR computed from it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from runs_helpers import FAST, bright_scorer, save_scene, write_manifest

import eagle_kit as ek
from eagle_kit.runs import run


def test_labelled_samples_are_diagnosed_mitigated_and_evaluated(tmp_path, shapes_model):
    lines = []
    for seed in (0, 1, 2):
        scene = ek.shapes.hallucination_scene(seed)
        Image.fromarray(scene.image).save(tmp_path / f"h{seed}.png")
        lines.append(
            {
                "id": f"h{seed}",
                "image": f"h{seed}.png",
                "prompt": "is there a green circle ?",
                "label": "no",
            }  # fmt: skip
        )
    scene = ek.shapes.make_scene(1)  # a green square is there: "yes" is right
    Image.fromarray(scene.image).save(tmp_path / "ok.png")
    lines.append(
        {"id": "ok", "image": "ok.png", "prompt": "is there a green square ?", "label": "yes"}
    )
    write_manifest(tmp_path / "m.jsonl", lines)
    out = tmp_path / "out"
    summary = run(
        tmp_path / "m.jsonl",
        out,
        models={"shapes": shapes_model},
        methods=["eagle", "random"],
        progress=False,
        **FAST,
    )
    assert summary.exit_code == 0 and len(summary.done) == 8
    table = ek.open_results(out)
    corrections = {}
    for row in table.itertuples():
        expl = ek.load_explanation(row.path)
        # METHOD §7: the first answer token, scored for the correct answer
        assert expl.targets == [0]
        label = "no" if row.id.startswith("h") else "yes"
        assert expl.tokens[0].strip() == label
        if row.answer.split()[0] == label:
            want = ek.metrics.Correction(True, 0, 0.0)
        else:
            want = ek.metrics.mitigate(expl, shapes_model, label, prompt=row.prompt)
        assert bool(row.corrected) == want.corrected
        assert row.n_removed == want.n_removed
        assert row.area_removed == pytest.approx(want.area_removed)
        corrections.setdefault(row.method, []).append(want)
    ok = table[table["id"] == "ok"]
    assert (ok["area_removed"] == 0).all() and ok["corrected"].all()
    assert (table[table["id"] != "ok"]["answer"] == "yes").any()  # a real hallucination

    ev = ek.evaluate(out).set_index(["method", "metric"])
    for method, corr in corrections.items():
        assert ev.loc[(method, "amcr"), "mean"] == pytest.approx(ek.metrics.amcr(corr))
        assert ev.loc[(method, "csr@10%"), "mean"] == pytest.approx(ek.metrics.csr(corr))
        assert ev.loc[(method, "amcr"), "n"] == 4
        lo, hi = ev.loc[(method, "amcr"), ["ci_low", "ci_high"]]
        assert lo <= ev.loc[(method, "amcr"), "mean"] <= hi
    assert ev.loc[("eagle", "amcr"), "mean"] <= ev.loc[("random", "amcr"), "mean"]

    # `eagle-kit metrics` names the columns as ek.evaluate names the metrics
    import csv

    from eagle_kit.cli import main

    assert main(["metrics", str(out)]) == 0
    with open(out / "metrics.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"amcr", "csr@10%"} <= set(rows[0]) and "correction_area" not in rows[0]
    for method, corr in corrections.items():
        mine = [float(r["amcr"]) for r in rows if r["method"] == method]
        assert np.mean(mine) == pytest.approx(ek.metrics.amcr(corr), abs=1e-5)


def test_evaluate_intervals_and_empty_stores(tmp_path):
    from eagle_kit.runs.evaluate import _interval

    rng = np.random.default_rng(0)
    values = rng.random(30)
    lo, hi = _interval(values, 0.95, 2000, 0)
    assert lo < values.mean() < hi
    assert hi - lo < 0.3
    assert _interval(np.array([0.5, 0.5]), 0.95, 100, 0) == (0.5, 0.5)
    assert all(np.isnan(_interval(np.array([0.5]), 0.95, 100, 0)))
    with pytest.raises(FileNotFoundError, match="not a results store"):
        ek.open_results(tmp_path)
    with pytest.raises(ValueError, match="confidence_level"):
        ek.evaluate(tmp_path, confidence_level=95)


def _two_samples(tmp_path, **extra):
    for i in range(2):
        save_scene(tmp_path / f"s{i}.png", i)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16, :16] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    lines = [
        {
            "id": f"s{i}",
            "image": f"s{i}.png",
            "prompt": "describe the picture .",
            "mask": "mask.png",
        }
        for i in range(2)
    ]
    return write_manifest(tmp_path / "m.jsonl", lines)


def test_one_bad_ground_truth_never_breaks_the_other_samples(tmp_path):
    m = _two_samples(tmp_path)
    out = tmp_path / "out"
    run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    # the mask is replaced after the run by an empty one (or deleted): s0 and s1 share it, so
    # make s1's record point to a mask of the wrong size instead
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "small.png")
    index = out / "index.jsonl"
    index.write_text(index.read_text().replace("mask.png", "small.png", 1))
    recs = ek.open_results(out)
    bad = recs[recs["mask"].str.endswith("small.png")]["id"].item()
    with pytest.warns(UserWarning, match=rf"sample '{bad}'.*no point game.*8×8"):
        ev = ek.evaluate(out).set_index("metric")
    assert ev.loc["point_game_mask_strict", "n"] == 1
    assert ev.loc["insertion_auc", "n"] == 2


def test_evaluate_compares_methods_on_the_same_sample_settings(tmp_path):
    m = _two_samples(tmp_path)
    out = tmp_path / "out"
    run(m, out, models={"bright": bright_scorer}, methods=["eagle"], progress=False, **FAST)
    # the manifest changes (s1's prompt) before the second method runs
    m.write_text(
        m.read_text().replace(
            '"s1", "image": "s1.png", "prompt": "describe',
            '"s1", "image": "s1.png", "prompt": "show',
        )
    )
    run(m, out, models={"bright": bright_scorer}, methods=["random"], progress=False, **FAST)
    with pytest.warns(UserWarning, match=r"1 sample\(s\).*different sample settings.*s1"):
        ev = ek.evaluate(out)
    assert set(ev["n"]) == {1}
    assert set(ev["method"]) == {"eagle", "random"}
    kept = ek.evaluate(out, same_sample_settings=False)
    assert set(kept[kept["metric"] == "insertion_auc"]["n"]) == {2}


def test_evaluate_rejects_unknown_keys_and_bad_resamples(tmp_path):
    m = _two_samples(tmp_path)
    out = tmp_path / "out"
    run(m, out, models={"bright": bright_scorer}, progress=False, **FAST)
    with pytest.raises(ValueError, match="1 key\\(s\\) not in this results store: 'nope'"):
        ek.evaluate(out, keys=["nope"])
    with pytest.raises(ValueError, match="n_resamples must be at least 1"):
        ek.evaluate(out, n_resamples=0)
