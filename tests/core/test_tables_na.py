"""Undefined values (NaN, e.g. a _sensitive AUC when p_full ≈ 0) print as "n/a" with a
footnote in text tables, stay empty in CSV and NaN in the data."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd

from eagle_kit.tables import NA, estimate_text, latex_table, write_csv


def test_estimate_text_says_n_a_for_undefined_values() -> None:
    assert estimate_text(0.81234, 0.79, 0.834) == "0.812 [0.790, 0.834]"
    assert estimate_text(0.81234, float("nan"), float("nan")) == "0.812"  # one sample
    assert estimate_text(float("nan"), float("nan"), float("nan")) == NA == "n/a"
    assert estimate_text(None) == "n/a" and estimate_text(np.float32("nan")) == "n/a"


def test_latex_and_csv_agree_on_undefined_cells(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "method": ["eagle", "random"],
            "insertion_auc": [0.71234, 0.5],
            "insertion_auc_sensitive": [np.nan, 0.25],
        }
    )
    latex = latex_table(frame, caption="Metrics.", label="tab:x")
    assert "nan" not in latex.lower().replace("\\mathrm", "")
    rows = [line for line in latex.splitlines() if line.startswith("eagle")]
    assert rows == ["eagle & 0.712 & n/a \\\\"]
    assert r"\caption{Metrics. n/a: not defined" in latex and r"\_sensitive AUC" in latex
    assert "{lrr}" in latex
    assert np.isnan(frame.loc[0, "insertion_auc_sensitive"])  # the data keep NaN
    # without an undefined cell: no footnote
    assert "n/a" not in latex_table(frame.dropna(), caption="Metrics.", label="tab:x")
    path = write_csv(tmp_path / "t.csv", frame.to_dict("records"))
    with open(path, newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert got[0]["insertion_auc_sensitive"] == "" and got[1]["insertion_auc_sensitive"] == "0.25"
