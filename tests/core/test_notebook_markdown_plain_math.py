"""Notebook markdown is rendered offline without MathJax: no raw LaTeX math in it."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_has_no_latex_math(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        assert not re.search(r"\$[^$\s][^$]*\$", text), (
            f"{path.name}: LaTeX math in markdown: {text[:80]!r}"
        )
        assert "blue: language prior, red: visual evidence" not in text


def test_notebooks_found() -> None:
    assert NOTEBOOKS
