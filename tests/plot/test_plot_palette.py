"""One colour-blind-safe palette everywhere: Python, the widgets' JS and CSS agree; curve
colours are not the prior/visual colours; text on every coloured chip reads at ≥ 4.5:1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from eagle_kit import colors
from eagle_kit.colors import (
    PALETTE,
    contrast_ratio,
    diverging_rgb,
    gain_colors,
    hex_to_rgb,
    relative_luminance,
    text_color_for,
    viridis,
)

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "widgets" / "helpers.js"
CSS = ROOT / "widgets" / "eagle_kit.css"


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast_ratio("#123456", "#123456") == pytest.approx(1.0)
    # WCAG's worked values: #777777 on white is 4.48:1 (fails AA), #767676 4.54:1 (passes)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.005)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.005)
    assert relative_luminance("#ff0000") == pytest.approx(0.2126)
    # symmetric and vectorised
    many = np.array([[255, 255, 255], [0, 0, 0]])
    np.testing.assert_allclose(contrast_ratio(many, (0, 0, 0)), [21.0, 1.0])
    with pytest.raises(ValueError, match="#rrggbb"):
        hex_to_rgb("red")


@pytest.mark.parametrize(
    ("scale", "values"),
    [
        ("reliance", np.linspace(0, 1, 1001)),
        ("gain", np.linspace(-1, 1, 1001)),
        ("viridis", np.linspace(0, 1, 1001)),
    ],
)
def test_text_on_every_chip_colour_reads_at_4_5_to_1(scale, values) -> None:
    if scale == "reliance":
        chips = np.array([diverging_rgb(float(v)) for v in values])
    elif scale == "gain":
        chips = gain_colors(values)
    else:
        chips = viridis(values)
    worst = min(contrast_ratio(c, text_color_for(c)) for c in chips)
    assert worst >= 4.5, f"{scale}: worst contrast {worst:.2f}"


def test_the_old_caption_colour_failed_and_the_new_one_passes() -> None:
    red_chip = diverging_rgb(1.0)
    assert contrast_ratio(red_chip, "#111111") < 4.5  # what the caption drew before
    assert contrast_ratio(red_chip, text_color_for(red_chip)) >= 4.5


class _Spans(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "span":
            self.styles.append(dict(attrs).get("style", ""))


def test_caption_chips_in_notebook_html_have_readable_text(expl) -> None:
    parser = _Spans()
    parser.feed(expl.caption_html())
    assert len(parser.styles) == len(expl.tokens)
    for style in parser.styles:
        bg = re.search(r"background:(#[0-9a-f]{6})", style).group(1)
        fg = re.search(r"(?<![-\w])color:(#[0-9a-f]{6})", style).group(1)
        assert contrast_ratio(bg, fg) >= 4.5, style


def test_curve_colours_differ_from_the_prior_and_visual_colours() -> None:
    """Insertion/deletion never read as prior (blue) / visual (red), also for colour-blind
    readers: compared after simulating deuteranopia and protanopia (Machado et al. 2009,
    severity 1, on linear RGB)."""
    machado = {
        "deutan": np.array(
            [
                [0.367322, 0.860646, -0.227968],
                [0.280085, 0.672501, 0.047413],
                [-0.011820, 0.042940, 0.968881],
            ]
        ),
        "protan": np.array(
            [
                [0.152286, 1.052583, -0.204868],
                [0.114503, 0.786281, 0.099216],
                [-0.003882, -0.048116, 1.051998],
            ]
        ),
    }

    def lin(c):
        s = np.asarray(hex_to_rgb(c)) / 255
        return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)

    def distance(a: str, b: str) -> float:  # the smallest over normal vision and both sims
        return min(np.linalg.norm(m @ lin(a) - m @ lin(b)) for m in [np.eye(3), *machado.values()])

    curves = [PALETTE["insertion"], PALETTE["deletion"]]
    meaning = [PALETTE["prior"], PALETTE["visual"]]
    for a in curves:
        for b in meaning:
            assert distance(a, b) > 0.17, (a, b)
    assert distance(*curves) > 0.17
    # the old curve colours fail this: the report's red insertion, the Explorer's blue one
    assert distance("#c62828", PALETTE["visual"]) < 0.17
    assert distance("#1976d2", PALETTE["prior"]) < 0.17
    # and the reliance scale's ends are exactly the palette's prior/visual colours
    assert diverging_rgb(0.0) == hex_to_rgb(PALETTE["prior"])
    assert diverging_rgb(1.0) == hex_to_rgb(PALETTE["visual"])


def _js_block() -> str:
    text = HELPERS.read_text(encoding="utf-8")
    start = text.index("// BEGIN PALETTE")
    end = text.index("// END PALETTE") + len("// END PALETTE")
    return text[start:end]


def test_helpers_js_palette_block_is_the_generated_one() -> None:
    assert _js_block() == colors.palette_js()


def test_css_palette_variables_match_python() -> None:
    text = CSS.read_text(encoding="utf-8")
    block = text[text.index("BEGIN PALETTE") : text.index("END PALETTE")]
    found = dict(re.findall(r"--ek-([\w-]+):\s*(#[0-9a-f]{6});", block))
    assert found, "no palette variables in eagle_kit.css"
    for name, value in found.items():
        assert PALETTE[name.replace("-", "_")] == value, name
    assert {"insertion", "deletion"} <= set(found)
    assert "var(--ek-insertion)" in text and "var(--ek-deletion)" in text


def test_the_browser_reads_the_same_palette() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is needed for the palette parity test (CI is set: no skipping)")
        pytest.skip("node is not installed")
    samples = [[59, 76, 192], [242, 242, 242], [200, 40, 40], [128, 128, 128], [118, 118, 118]]
    script = """
    const h = await import('./helpers.js');
    const samples = JSON.parse(process.argv[1]);
    console.log(JSON.stringify({
      palette: h.PALETTE,
      reliance: [h.RELIANCE_SCALE.blue, h.RELIANCE_SCALE.white, h.RELIANCE_SCALE.red],
      text: samples.map((c) => h.textColorFor(c)),
      contrast: samples.map((c) => h.contrastRatio(c, [255, 255, 255])),
    }));
    """
    out = subprocess.run(
        [node, "--input-type=module", "-e", script, json.dumps(samples)],
        cwd=HELPERS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["palette"] == PALETTE
    assert [tuple(c) for c in got["reliance"]] == [
        hex_to_rgb(PALETTE[k]) for k in ("prior", "neutral", "visual")
    ]
    full = {"#000": "#000000", "#fff": "#ffffff"}
    assert [full.get(t, t) for t in got["text"]] == [text_color_for(c) for c in samples]
    np.testing.assert_allclose(got["contrast"], [contrast_ratio(c, "#ffffff") for c in samples])
