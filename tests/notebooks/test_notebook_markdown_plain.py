"""Notebook markdown reads right in every exported page: the reports' HTML is offline, with
no MathJax, so LaTeX math would show as raw ``$…$`` source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MATH = re.compile(r"\$\$?[^$\s](?:[^$]*[^$\s])?\$(?!\d)")  # pandoc's rule for math


def test_the_five_report_notebooks_are_found() -> None:
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_has_no_latex_math(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            found = MATH.search(text)
            assert not found, f"{path.name}: LaTeX math {found.group(0)!r} in: {text[:120]!r}"


def test_the_pattern_catches_inline_and_display_math() -> None:
    assert MATH.search("reliance $I_t$ per token") and MATH.search("$$F(S)$$")
    assert not MATH.search("costs $5 and $10") and not MATH.search("I_t (plain)")
