"""`eagle-kit show` refuses a non-HTML output, and characters no font draws give one note
instead of matplotlib's warning per glyph and figure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import cli

TOKENS = ["猫", " 🐱", " 犬", " ok"]


@pytest.fixture(scope="module")
def expl_cjk() -> ek.Explanation:
    image = np.zeros((32, 32, 3), np.uint8)
    image[2:14, 2:14] = (220, 30, 30)

    def score(images: np.ndarray) -> np.ndarray:
        red = images[:, 2:14, 2:14, 0].astype(float).mean(axis=(1, 2)) / 255
        flat = np.full(len(images), 0.4)
        return np.stack([0.1 + 0.8 * red, flat, flat, flat], axis=1)

    regions = ek.segment(image, n_regions=4, method="grid")
    return ek.explain(
        score, image, regions=regions, search="exact", token_names=TOKENS, progress=False
    )


def test_show_refuses_a_non_html_output(expl_cjk, tmp_path, capsys) -> None:
    saved = expl_cjk.save(tmp_path / "cjk.nc")
    assert cli.main(["show", str(saved), "-o", str(tmp_path / "out.pdf")]) == 2
    err = capsys.readouterr().err
    assert "writes an HTML page" in err and "out.pdf" in err and "ek.plot.save" in err
    assert not (tmp_path / "out.pdf").exists()  # nothing written under the wrong suffix


def test_missing_glyphs_give_one_note_not_a_warning_each(expl_cjk, tmp_path, monkeypatch) -> None:
    from matplotlib import font_manager

    from eagle_kit import plot

    monkeypatch.setattr(plot, "_MISSING_NOTED", set())
    saved = expl_cjk.save(tmp_path / "cjk.nc")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main(["show", str(saved), "-o", str(tmp_path / "page.html")]) == 0
        plot.to_svg(plot.tokens(expl_cjk))  # a second figure: no second note
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if m.startswith("Glyph")]
    notes = [m for m in messages if "no installed font has" in m]
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed & {"Noto Sans CJK JP", "Noto Sans CJK SC", "WenQuanYi Zen Hei"}:
        assert len(notes) == 1 and "猫" in notes[0] and "Install a font" in notes[0]
    else:  # a CJK font is installed: the fallback draws 猫 and no note names it
        assert all("猫" not in n for n in notes)
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert ">猫</text>" in page  # the text is kept as text


def test_style_falls_back_to_installed_fonts_only() -> None:
    from matplotlib import font_manager

    from eagle_kit import plot

    families = plot._font_list()
    installed = {f.name for f in font_manager.fontManager.ttflist}
    assert families[0] == "DejaVu Sans" and set(families[1:]) <= installed
    import matplotlib

    with plot.style():
        assert list(matplotlib.rcParams["font.family"]) == families
