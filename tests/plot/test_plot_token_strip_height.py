"""A long answer's token strip stays page-sized: cut after the last line that fits, with a
note naming the tokens not shown and the ``token_range`` that draws them."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import eagle_kit as ek

N_TOKENS = 600


@pytest.fixture(scope="module")
def long_answer() -> ek.Explanation:
    image = np.zeros((32, 32, 3), np.uint8)
    image[4:12, 4:12] = 200

    def scorer(images: np.ndarray) -> np.ndarray:
        x = images.astype(float).mean(axis=(1, 2, 3)) / 255
        return np.tile(0.1 + 0.8 * x[:, None], (1, N_TOKENS))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ek.explain(
            scorer,
            image,
            regions=ek.segment(image, 4, "grid"),
            token_names=[f"tok{i}" for i in range(N_TOKENS)],
            search="exact",
            progress=False,
        )


def _drawn(fig) -> list[int]:
    return sorted(
        int(t.get_gid().split("-")[1])
        for t in fig.axes[0].texts
        if (t.get_gid() or "").startswith("token-")
    )


@pytest.mark.parametrize("width", ["single", "double"])
def test_a_long_answer_is_cut_at_the_height_cap_with_a_note(long_answer, width) -> None:
    fig = ek.plot.tokens(long_answer, width=width)
    w, h = fig.get_size_inches()
    assert h <= 9.0 + 1e-6  # was 11.7 in at double width
    start, stop = fig.ek_shown
    assert start == 0 and 0 < stop < N_TOKENS
    assert _drawn(fig) == list(range(stop))  # every token up to the cut, in order
    (note,) = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "tokens-cut-note"]
    note = note.replace("\n", " ")
    assert f"tokens {stop}–{N_TOKENS - 1} not shown" in note
    assert f"token_range=({stop}, {N_TOKENS})" in note
    fig.canvas.draw()  # the note lies on the canvas
    (box,) = [t.get_window_extent() for t in fig.axes[0].texts if t.get_gid() == "tokens-cut-note"]
    canvas = fig.bbox
    assert box.x0 >= canvas.x0 and box.x1 <= canvas.x1 and box.y0 >= canvas.y0
    # the rest, drawn from the note's range, continues where the first figure stopped
    rest = ek.plot.tokens(long_answer, width=width, token_range=(stop, N_TOKENS))
    assert _drawn(rest)[0] == stop
    title = " ".join(t.get_text() for t in rest.axes[0].texts if not t.get_gid())
    assert re.search(rf"tokens {stop}–{N_TOKENS - 1} of {N_TOKENS}", title.replace("\n", " "))


def test_a_short_answer_is_not_cut(long_answer) -> None:
    fig = ek.plot.tokens(long_answer, token_range=(10, 40))
    assert fig.ek_shown == (10, 40) and _drawn(fig) == list(range(10, 40))
    assert not [t for t in fig.axes[0].texts if t.get_gid() == "tokens-cut-note"]


@pytest.mark.parametrize("bad", [(5, 5), (-1, 3), (0, N_TOKENS + 1), (2.0, 4)])
def test_bad_token_ranges_say_what_is_expected(long_answer, bad) -> None:
    with pytest.raises(ValueError, match=rf"0 <= start < stop <= {N_TOKENS}"):
        ek.plot.tokens(long_answer, token_range=bad)


def test_a_height_cap_without_room_for_one_line_is_refused(long_answer) -> None:
    with pytest.raises(ValueError, match="leaves no room for a line of chips"):
        ek.plot.tokens(long_answer, max_height=0.5)


@pytest.fixture(scope="module")
def long_prompt() -> ek.Explanation:
    """36 prompt words (within the embedded model's 128 positions), text only."""
    image = np.zeros((32, 32, 3), np.uint8)
    prompt = " ".join(["is there a red square ?"] * 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
        return ek.explain(
            model,
            image,
            prompt=prompt,
            answer="yes",
            regions="none",
            text_regions="words",
            progress=False,
        )


def test_a_long_prompt_strip_is_cut_at_the_height_cap_with_a_note(long_prompt) -> None:
    expl = long_prompt
    n = len(expl.text_spans)
    assert n == 36
    full = ek.plot.prompt(expl, 0, width="single")
    assert not [t for t in full.axes[0].texts if t.get_gid() == "prompt-cut-note"]
    assert full.get_size_inches()[1] > 1.5  # several lines of chips
    fig = ek.plot.prompt(expl, 0, width="single", max_height=1.5)
    assert fig.get_size_inches()[1] <= 1.5 + 1e-6
    (note,) = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "prompt-cut-note"]
    shown = sorted(
        int(t.get_gid().rsplit("-", 1)[1])
        for t in fig.axes[0].texts
        if (t.get_gid() or "").startswith("prompt-span-")
    )
    assert shown == list(range(len(shown))) and 0 < len(shown) < n
    assert f"prompt spans {len(shown)}–{n - 1} not shown (height capped at 1.5 in)" in note
    assert len(fig.ek_values) == n  # every value is still recorded


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "9"])
def test_max_height_must_be_positive_inches(long_answer, bad) -> None:
    with pytest.raises(ValueError, match="max_height must be a positive number of inches"):
        ek.plot.tokens(long_answer, max_height=bad)


def test_a_prompt_strip_respects_its_cap_and_flags_a_hidden_largest_value(
    long_prompt,
) -> None:
    expl = long_prompt
    for cap in (1.2, 1.5, 2.0):
        try:
            fig = ek.plot.prompt(expl, 0, width="single", max_height=cap)
        except ValueError as err:  # no room for one line: said so, never a taller figure
            assert "leaves no room for a line of chips" in str(err)
            continue
        assert fig.get_size_inches()[1] <= cap + 1e-6, cap
    with pytest.raises(ValueError, match="max_height must be a positive number"):
        ek.plot.prompt(expl, 0, max_height=float("nan"))
    values = ek.plot.prompt(expl, 0, width="single").ek_values
    fig = ek.plot.prompt(expl, 0, width="single", max_height=1.5)
    (note,) = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "prompt-cut-note"]
    first_hidden = int(note.split("prompt spans ")[1].split("–")[0])
    top = int(np.argmax(np.abs(values)))
    assert ("the largest value is among them" in note) == (top >= first_hidden), note
