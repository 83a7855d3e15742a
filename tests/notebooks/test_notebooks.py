"""Every notebook runs top to bottom under papermill at smoke size; its outputs are checked."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

pytestmark = pytest.mark.notebooks


def run(name: str, tmp_path: Path, **params) -> Path:
    import papermill as pm

    out_dir = tmp_path / "out"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(tmp_path / f"{name}.ipynb"),
        parameters={"out_dir": str(out_dir), **params},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    return out_dir


def test_committed_notebooks_have_no_outputs_and_one_parameters_cell():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"


def test_explain_caption(tmp_path):
    out = run("explain_caption", tmp_path, seed=5, n_regions=16)
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["answer"].startswith("the picture shows")
    assert 0 <= summary["deletion_auc"] < summary["insertion_auc"] <= 1
    assert (out / "overlay.png").stat().st_size > 1000
    assert (out / "curves.svg").read_text().startswith("<svg")
    rows = (out / "reliance.csv").read_text().splitlines()
    assert rows[0].startswith("index,token,reliance") and len(rows) > 5
    import eagle_kit as ek

    assert ek.load_explanation(out / "explanation.nc").n_regions == summary["n_regions"]


def test_hallucination_report(tmp_path):
    out = run("hallucination_report", tmp_path, n_hallucinations=2, n_regions=20)
    data = json.loads((out / "diagnoses.json").read_text())
    assert data["summary"]["n"] == 2
    for row in data["rows"]:
        assert "green circle" in row["caption"]
        assert row["green_square_rank"] >= 0 and 0 <= row["area_removed"] <= 1
    assert (out / "maps.png").exists()


def test_compare_methods(tmp_path):
    out = run("compare_methods", tmp_path, n_scenes=1, n_regions=12, rise_masks=50)
    table = json.loads((out / "comparison.json").read_text())
    assert set(table) == {"eagle", "occlusion", "rise", "random"}
    assert table["eagle"]["insertion_auc"] >= table["random"]["insertion_auc"]
