"""``ek.plot.prompt`` and the reports: the prompt's words coloured by their value (prompt span
features), with a colour bar stating the kind and units."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit import report, shapes

PROMPT = "is there a red square ?"


@pytest.fixture(scope="module")
def joint() -> ek.Explanation:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    scene = shapes.make_scene(950003)
    return ek.explain(
        model,
        scene.image,
        prompt=PROMPT,
        answer="yes .",
        regions=ek.segment(scene.image, 4, "grid"),
        text_regions="words",
        search="exact",
        progress=False,
    )


@pytest.fixture(scope="module")
def text_only(joint) -> ek.Explanation:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    return ek.explain(
        model,
        joint.image,
        prompt=PROMPT,
        answer="yes .",
        regions="none",
        text_regions="words",
        search="exact",
        progress=False,
    )


def _chips(fig) -> dict[int, np.ndarray]:
    """span index → chip face colour (RGBA) of a prompt figure."""
    out = {}
    for patch in fig.axes[0].patches:
        gid = patch.get_gid() or ""
        if gid.startswith("prompt-chip-"):
            out[int(gid.rsplit("-", 1)[1])] = np.asarray(patch.get_facecolor())
    return out


def test_prompt_figure_colours_the_words_by_rank(joint) -> None:
    import matplotlib

    fig = ek.plot.prompt(joint)
    assert fig.ek_kind == "rank"
    np.testing.assert_allclose(fig.ek_values, joint.text_values())
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert [texts[f"prompt-span-{j}"] for j in range(6)] == PROMPT.split()
    chips = _chips(fig)
    viridis = matplotlib.colormaps["viridis"]
    for j, v in enumerate(joint.text_values()):
        np.testing.assert_allclose(chips[j], viridis(v), atol=1e-6)
    svg = ek.plot.to_svg(fig)
    assert "rank value in [0, 1] (METHOD §5)" in svg and "1 first" in svg
    for word in ("there", "red", "square"):
        assert f">{word}</text>" in svg


def test_prompt_figure_of_a_token_is_a_signed_gain_in_probability(joint) -> None:
    from eagle_kit.colors import _PUOR

    fig = ek.plot.prompt(joint, "yes")
    assert fig.ek_kind == "gain"
    values = joint.text_values(0, kind="gain")
    np.testing.assert_allclose(fig.ek_values, values)
    top = int(np.argmax(np.abs(values)))
    end = (_PUOR[-1] if values[top] > 0 else _PUOR[0]) / 255.0  # the scale's end colour
    np.testing.assert_allclose(_chips(fig)[top][:3], end, atol=2e-3)
    svg = ek.plot.to_svg(fig)
    assert 'gain in p("yes") (probability)' in svg
    assert f"+{np.max(np.abs(values)):.3g}" in svg  # the colour bar's end, in probability


def test_prompt_figure_needs_text_features(expl) -> None:
    with pytest.raises(ValueError, match="text_regions='words'"):
        ek.plot.prompt(expl)
    with pytest.raises(TypeError, match="Explanation"):
        ek.plot.prompt("nope")  # type: ignore[arg-type]


def test_show_page_has_the_prompt_words_and_their_legend(joint, text_only, tmp_path) -> None:
    page = report.write_report(tmp_path / "j.html", "t", report.explanation_page(joint))
    text = page.read_text(encoding="utf-8")
    assert "<h2>Prompt</h2>" in text
    assert 'data-kind="rank"' in text and 'data-kind="gain"' in text
    assert "rank value in [0, 1] (METHOD §5)" in text
    # the targets' gain strip: the answer's two tokens, in probability
    assert '>gain in mean p("yes" ".") (probability)</text>' in text
    assert '>prompt words coloured by their gain on mean p("yes" ".") (probability)</text>' in text
    for word in PROMPT.split()[1:5]:
        assert f">{word}</text>" in text
    # text only: no image map section, the prompt and the curves
    saved = text_only.save(tmp_path / "text.nc")
    proc = subprocess.run(
        [sys.executable, "-m", "eagle_kit.cli", "show", str(saved), "-o", str(tmp_path / "t.html")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert "rank value (METHOD §5)</text>" not in text  # no map colour bar
    assert "rank value in [0, 1] (METHOD §5)" in text and ">square</text>" in text
    assert not re.search(r'(src|href)="https?:', text)


def test_text_feature_tokens_read_the_three_way_split(text_only, joint) -> None:
    # With prompt spans (text only or joint) the reading comes from the three-way split, never
    # from I_t over image area (a span adds zero area). The split is the same four inputs in
    # both, so the same answer reads the same whether or not the image was cut into regions.
    from eagle_kit.explanation import split_modality_labels

    for e in (text_only, joint):
        d = e.dataset
        total = d["reliance_image"] + d["reliance_prompt"] + d["reliance_prior"]
        np.testing.assert_allclose(total.values, d["p_full"].values, atol=1e-9)
        np.testing.assert_allclose(e.reliance(), d["reliance_image"].values)
        want = split_modality_labels(
            d["reliance_image"].values,
            d["reliance_prompt"].values,
            d["reliance_prior"].values,
            d["p_full"].values,
        )
        assert e.modality() == list(want)
        assert set(e.modality()) <= {"prior", "visual", "prompt", "mixed"}
    np.testing.assert_allclose(text_only.reliance(), joint.reliance(), atol=1e-6)


def test_curves_x_label_says_what_the_axis_counts(text_only, joint) -> None:
    fig = ek.plot.curves(text_only)
    assert fig.axes[0].get_xlabel() == "fraction of prompt spans revealed / removed"
    # joint: the curves and their AUCs are over the fraction of features (a span adds no area)
    assert (
        ek.plot.curves(joint).axes[0].get_xlabel()
        == "features revealed / removed (regions + spans)"
    )


def test_text_only_page_shows_words_tokens_and_curves_and_grid_refuses(text_only) -> None:
    page = "".join(report.explanation_page(text_only))
    assert "<h2>Prompt" in page and "<h2>Tokens" in page and "<h2>Faithfulness" in page
    assert "<h2>Map" not in page
    assert "fraction of prompt spans" in page
    with pytest.raises(ValueError, match="prompt span features only"):
        ek.plot.grid([text_only])


@pytest.fixture(scope="module")
def caption() -> ek.Explanation:
    """The caption prompt explained for two caption words ("yellow square"): the prompt
    barely moves them (largest span gain ≈ +0.00015, measured), as a review reported."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
        scene = shapes.make_scene(7)
        gen = model.generate(scene.image, shapes.CAPTION_PROMPT)
        return ek.explain(
            model,
            scene.image,
            prompt=shapes.CAPTION_PROMPT,
            generation=gen,
            regions="none",
            text_regions="words",
            targets=[8, 9],
            search="exact",
            progress=False,
        )


def _no_colours(fig, quantity: str) -> None:
    """A faint prompt strip: no chip, muted words, no colour bar, the note instead."""
    from matplotlib.colors import to_rgba

    from eagle_kit.colors import PALETTE

    assert fig.ek_faint
    assert len(fig.axes) == 1  # the strip only: no colour bar
    assert not _chips(fig)
    words = [t for t in fig.axes[0].texts if (t.get_gid() or "").startswith("prompt-span-")]
    assert words and all(t.get_color() == PALETTE["muted"] for t in words)
    assert to_rgba(PALETTE["muted"]) != to_rgba("#000")
    # the title does not claim colours the strip does not draw
    title = " ".join(t.get_text() for t in fig.axes[0].texts if not t.get_gid())
    assert "coloured by" not in title and "not coloured" in title.replace("\n", " "), title
    notes = [t.get_text().replace("\n", " ") for t in fig.texts]
    assert any(
        f"the prompt barely moves {quantity}" in t
        and f"largest span gain {fig.ek_max_gain:+.2g}" in t
        and "under 0.01): no colours shown" in t
        for t in notes
    ), notes
    svg = ek.plot.to_svg(fig)
    assert ">gain in " not in svg and "rank value in [0, 1]" not in svg and "1 first" not in svg


def test_a_prompt_that_barely_moves_the_tokens_is_drawn_without_colours(caption) -> None:
    # gains of ±0.00015 used to be drawn at full saturation; below MIN_MAP_SPAN the strip
    # says the prompt barely moves the quantity instead, as the image map does
    gains = caption.text_values([8, 9], kind="gain")
    objective = caption.text_values(None, kind="gain")
    assert 0 < np.max(np.abs(gains)) < ek.explanation.MIN_MAP_SPAN
    assert 0 < np.max(np.abs(objective)) < ek.explanation.MIN_MAP_SPAN
    fig = ek.plot.prompt(caption, [8, 9], "gain")
    assert fig.ek_max_gain == gains[np.argmax(np.abs(gains))]
    _no_colours(fig, 'mean p("yellow" "square")')
    # the rank view reads the objective F's curve: F barely moves either, so no rank colours
    rank = ek.plot.prompt(caption)
    assert rank.ek_kind == "rank"
    np.testing.assert_allclose(rank.ek_values, caption.text_values())  # values still recorded
    assert rank.ek_max_gain == objective[np.argmax(np.abs(objective))]
    _no_colours(rank, 'F("yellow" "square")')


def test_a_token_the_prompt_does_not_move_is_faint_next_to_one_it_does(joint) -> None:
    # "yes" rests on "red" and "square" (span gains up to ≈ 0.38); " ." does not move at all
    yes, dot = joint.text_values(0, kind="gain"), joint.text_values(1, kind="gain")
    assert np.max(np.abs(yes)) > 0.1 and np.max(np.abs(dot)) < ek.explanation.MIN_MAP_SPAN
    strong = ek.plot.prompt(joint, 0)
    assert not strong.ek_faint and len(strong.axes) == 2  # strip and colour bar
    assert len(_chips(strong)) == len(joint.text_spans)
    assert strong.ek_max_gain == pytest.approx(float(yes[np.argmax(np.abs(yes))]))
    assert "barely moves" not in " ".join(t.get_text() for t in strong.texts)
    _no_colours(ek.plot.prompt(joint, 1), 'p(".")')
    # the objective F moves with the prompt (span gains up to ≈ 0.19): rank colours shown
    rank = ek.plot.prompt(joint)
    assert not rank.ek_faint and len(rank.axes) == 2 and _chips(rank)


def test_report_page_of_a_faint_prompt_says_so(caption, tmp_path) -> None:
    page = report.write_report(tmp_path / "c.html", "t", report.explanation_page(caption))
    text = page.read_text(encoding="utf-8")
    # the rank strip and the targets' strip: each its note (and its title says so)
    assert text.count("no colours shown") == 2 and text.count("not coloured") == 2
    assert "rank value in [0, 1] (METHOD §5)</text>" not in text


def test_prompt_html_colours_no_span_of_a_faint_prompt(caption, joint) -> None:
    faint = caption.prompt_html([8, 9])
    assert faint.count('class="ek-prompt-span"') == 4 and "background:" not in faint
    assert "the prompt barely moves mean p(&quot;yellow&quot; &quot;square&quot;)" in faint
    assert "under 0.01): no colours shown" in faint
    assert "background:" not in caption.prompt_html() and "barely moves F(" in caption.prompt_html()
    strong = joint.prompt_html(0)
    assert strong.count("background:#") == 6 and "barely moves" not in strong
    assert "ek-prompt-faint" in joint.prompt_html(1)  # " ." does not move with the prompt
