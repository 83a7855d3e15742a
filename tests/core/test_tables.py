"""Files for other programs: every CSV reads back in pandas, every JSON holds plain numbers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eagle_kit as ek
from eagle_kit.tables import plain, write_csv, write_json

TOKENS = [
    "the", " ,", ",", '"', '" ,"', "a,b", " line\nbreak", "\r", "tab\t", "NaN", "null", "",
    " ", "#", "😀", "مرحبا", "e\u0301", "1e5", "007", "=1+1",
]  # fmt: skip


def read_back(path: Path) -> pd.DataFrame:
    """How a careful pandas user reads a text column: no NA guessing, text stays text."""
    return pd.read_csv(path, keep_default_na=False, dtype={"token": str}, encoding="utf-8")


def test_csv_rows_and_token_text_survive_pandas_and_the_csv_module(tmp_path: Path) -> None:
    rows = [
        {"index": i, "token": t, "reliance": np.float32(i / 7), "flag": i % 2 == 0}
        for i, t in enumerate(TOKENS)
    ]
    path = write_csv(tmp_path / "t.csv", rows)
    table = read_back(path)
    assert list(table.columns) == ["index", "token", "reliance", "flag"]
    assert len(table) == len(TOKENS)
    assert table["token"].tolist() == TOKENS
    assert table["index"].tolist() == list(range(len(TOKENS)))
    np.testing.assert_allclose(table["reliance"], np.arange(len(TOKENS)) / 7, rtol=5e-6)  # 6 digits
    with open(path, newline="", encoding="utf-8") as fh:
        assert [r["token"] for r in csv.DictReader(fh)] == TOKENS


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tokens=st.lists(st.text(st.characters(exclude_categories=["Cs"])), min_size=1, max_size=6))
def test_any_token_text_survives_a_csv(tokens, tmp_path_factory) -> None:
    path = write_csv(
        tmp_path_factory.mktemp("csv") / "t.csv", [{"token": t, "p": 0.5} for t in tokens]
    )
    with open(path, newline="", encoding="utf-8") as fh:
        assert [r["token"] for r in csv.DictReader(fh)] == tokens
    table = read_back(path)
    assert len(table) == len(tokens) and table["token"].tolist() == tokens


def test_missing_numbers_are_empty_csv_fields_and_json_null(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", [{"a": float("nan"), "b": None, "c": np.inf}])
    assert path.read_text(encoding="utf-8").splitlines() == ["a,b,c", ",,"]
    assert pd.read_csv(path).isna().all(axis=None)
    out = write_json(tmp_path / "m.json", {"a": float("nan"), "b": [np.float64(-np.inf), 1]})
    assert json.loads(out.read_text(), parse_constant=_no_constants) == {"a": None, "b": [None, 1]}


def _no_constants(name: str):
    raise AssertionError(f"{name} is not JSON")


def test_json_numbers_are_plain_and_rounded(tmp_path: Path) -> None:
    value = {
        "auc": np.float32(0.8664123456),
        "n": np.int64(30),
        "ok": np.bool_(True),
        "curve": np.array([0.1234567891, 1e-12, 12345.678912]),
        "nested": [{"x": (np.float16(0.5), 2)}],
        "path": tmp_path / "x.nc",
    }
    expected = {
        "auc": 0.866412,
        "n": 30,
        "ok": True,
        "curve": [0.123457, 1e-12, 12345.7],
        "nested": [{"x": [0.5, 2]}],
        "path": str(tmp_path / "x.nc"),
    }
    assert plain(value) == expected
    text = write_json(tmp_path / "v.json", value).read_text()
    assert json.loads(text, parse_constant=_no_constants) == expected
    assert "np." not in text and "float32" not in text


def test_helpers_refuse_what_they_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"value\['model'\] is a object, which JSON cannot hold"):
        plain({"model": object()})
    with pytest.raises(ValueError, match="needs columns"):
        write_csv(tmp_path / "e.csv", [])
    with pytest.raises(ValueError, match=r"row 1 has columns \['b'\] not in the header \['a'\]"):
        write_csv(tmp_path / "e.csv", [{"a": 1}, {"b": 2}])
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_empty_table_with_columns_is_a_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [], columns=["token", "p"])
    table = pd.read_csv(path)
    assert list(table.columns) == ["token", "p"] and len(table) == 0


def test_command_line_metrics_csv_reads_back(tmp_path: Path, capsys) -> None:
    from PIL import Image

    from eagle_kit.cli import main

    images = tmp_path / "images"
    images.mkdir()
    for seed in (1, 2):
        Image.fromarray(ek.shapes.make_scene(seed).image).save(images / f"scene {seed},x.png")
    out = tmp_path / "runs"
    answer = "the picture shows a green circle , a yellow circle"
    args = [
        "explain", str(images), "--model", "shapes", "--prompt", ek.shapes.CAPTION_PROMPT,
        "--answer", answer, "--n-regions", "4", "--segmentation", "grid", "--search", "exact",
        "--out", str(out), "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    assert len(table) == 2
    assert set(table["answer"]) == {answer}
    for column in table.columns:
        if column.endswith("auc"):
            assert all(math.isfinite(float(v)) for v in table[column])
    capsys.readouterr()
