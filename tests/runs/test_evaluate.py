"""Hallucination samples: the correction is stored in the index, AMCR/CSR computed from it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from runs_helpers import FAST, write_manifest

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
