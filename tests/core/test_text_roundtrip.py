"""Any text survives: save/load (netCDF, Zarr), notebook display, widgets, HTML export.

Prompts, answers and tokens come from users and tokenizers in any language and with any
characters. Each path is checked on a named list of nasty strings and on generated text
(hypothesis, every Unicode category including control characters and lone surrogates).
A failed write loses nothing: the previous result and the search checkpoint stay, and no
temporary file is left behind.
"""

from __future__ import annotations

import errno
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eagle_kit as ek

NASTY = [
    "</script>",
    "</SCRIPT ><script>alert(1)</script>",
    "<!--<script>",
    "<img src=x onerror=alert(1)>",
    "&amp;",
    "&lt;b&gt;",
    "\"'`",
    '" onmouseover="alert(1)',
    "a\x00b",
    "trailing NUL\x00",
    "\x00",
    "\x1b[31mred\x1b[0m",
    "\r",
    "\r\n",
    "\t",
    "\n",
    "\u2028\u2029",
    "\ufeff",
    "\u200b",
    "😀",
    "👩🏽‍🔬",
    "مرحبا بالعالم",
    "שָׁלוֹם",
    "\u202eabc",
    "e\u0301",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "",
    " ",
    "\\",
    "\\u0000",
    "\ud800",
    "\udfff x",
    "%s%n{0}",
    "null",
    "NaN",
]

ANY_TEXT = st.text(st.characters(exclude_categories=[]), max_size=12)


def fake_scorer(images: np.ndarray, n_tokens: int) -> np.ndarray:
    """p of every token: the mean brightness of the image's top-left quarter."""
    p = images[:, :8, :8].mean(axis=(1, 2, 3)) / 255
    return np.repeat(p[:, None], n_tokens, axis=1)


def make_explanation(tokens: list[str], prompt: str = "", answer: str = "") -> ek.Explanation:
    img = np.zeros((16, 16, 3), np.uint8)
    img[:8, :8] = 255
    expl = ek.explain(
        lambda x: fake_scorer(x, len(tokens)),
        img,
        regions=ek.segment(img, 4, "grid"),
        search="exact",
        progress=False,
        token_names=tokens,
        attrs={"prompt": prompt, "answer": answer},
    )
    return expl


def check_same(loaded: ek.Explanation, expl: ek.Explanation) -> None:
    assert loaded.tokens == expl.tokens
    for key in ("prompt", "answer"):
        assert loaded.attrs[key] == expl.attrs[key]
    xr.testing.assert_identical(loaded.dataset, expl.dataset)


# -- save and load ---------------------------------------------------------------------


def test_tokens_keep_trailing_nul_in_memory() -> None:
    expl = make_explanation(["a\x00", "\x00", "b"])
    assert expl.tokens == ["a\x00", "\x00", "b"]


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_nasty_strings_survive_save_and_load(suffix: str, tmp_path: Path) -> None:
    prompt = "".join(NASTY)
    expl = make_explanation(NASTY, prompt=prompt, answer=" | ".join(NASTY[::-1]))
    path = expl.save(tmp_path / f"nasty{suffix}")
    loaded = ek.load_explanation(path)
    assert loaded.tokens == NASTY
    assert loaded.attrs["prompt"] == prompt
    check_same(loaded, expl)
    # a second round trip gives the same file content (no double escaping)
    again = ek.load_explanation(loaded.save(tmp_path / f"again{suffix}"))
    check_same(again, expl)


def test_plain_text_is_stored_plainly(tmp_path: Path) -> None:
    # other netCDF readers see ordinary text as is; only unstorable text is escaped
    expl = make_explanation(["the", " picture", "مرحبا", "😀"], prompt="describe <it> & 'go'")
    path = expl.save(tmp_path / "plain.nc")
    with xr.open_dataset(path, engine="h5netcdf") as raw:
        assert list(raw["token_text"].values) == ["the", " picture", "مرحبا", "😀"]
        assert raw.attrs["prompt"] == "describe <it> & 'go'"
        assert "escaped_text_attrs" not in raw.attrs
    nul = make_explanation(["a\x00b", "c"], prompt="x\x00y").save(tmp_path / "nul.nc")
    with xr.open_dataset(nul, engine="h5netcdf") as raw:
        assert json.loads(raw.attrs["escaped_text_attrs"]) == ["prompt"]
        assert raw.attrs["prompt"] == "x\\x00y"
        assert raw["token_text"].attrs["text_escape"] == "unicode_escape"
        assert list(raw["token_text"].values) == ["a\\x00b", "c"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tokens=st.lists(ANY_TEXT, min_size=1, max_size=4), prompt=ANY_TEXT, answer=ANY_TEXT)
def test_any_text_survives_netcdf_and_zarr(tokens, prompt, answer, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("any")
    expl = make_explanation(tokens, prompt=prompt, answer=answer)
    for suffix in (".nc", ".zarr"):
        loaded = ek.load_explanation(expl.save(folder / f"e{suffix}"))
        check_same(loaded, expl)


# -- display ---------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """Text of the token spans and of the prompt line of ``Explanation._repr_html_``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.tokens: list[str] = []
        self.prompt: str | None = None
        self.titles: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and "border-radius" in (attrs.get("style") or ""):
            self.tokens.append("")
            self.titles.append(attrs.get("title") or "")
        if tag == "div" and attrs.get("style") == "color:#555":
            self.prompt = ""
        self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        tag, attrs = self.stack[-1] if self.stack else ("", {})
        if tag == "span" and "border-radius" in (attrs.get("style") or ""):
            self.tokens[-1] += data
        elif tag == "div" and attrs.get("style") == "color:#555":
            self.prompt += data


def visible(expl: ek.Explanation) -> VisibleText:
    parser = VisibleText()
    parser.feed(expl._repr_html_())
    parser.close()
    assert not parser.stack, "unbalanced tags: the text opened or closed an element"
    return parser


def test_nasty_strings_display_as_text_in_the_notebook() -> None:
    prompt = "".join(NASTY)
    expl = make_explanation(NASTY, prompt=prompt)
    seen = visible(expl)
    assert seen.tokens == NASTY
    assert seen.prompt == prompt
    assert all(t.startswith("reliance ") for t in seen.titles)


@settings(max_examples=25, deadline=None)
@given(tokens=st.lists(ANY_TEXT, min_size=1, max_size=4), prompt=ANY_TEXT)
def test_any_text_displays_as_text_in_the_notebook(tokens, prompt) -> None:
    seen = visible(make_explanation(tokens, prompt=prompt))
    assert seen.tokens == tokens
    assert seen.prompt == prompt


class ScriptState(HTMLParser):
    """The raw text of every <script> element of a page, by id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # script content is raw text either way
        self.scripts: list[tuple[str | None, str]] = []
        self.title = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "title"):
            self._in = tag
            if tag == "script":
                self.scripts.append((dict(attrs).get("id"), ""))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            sid, text = self.scripts[-1]
            self.scripts[-1] = (sid, text + data)
        elif self._in == "title":
            self.title += data

    def unknown_decl(self, data):  # pragma: no cover - would mean the page is malformed
        raise AssertionError(f"unexpected declaration {data!r}")


def exported_state(widget, path: Path, title: str | None = None) -> tuple[dict, ScriptState]:
    page = widget.save_html(path, title=title).read_text(encoding="utf-8")
    parser = ScriptState()
    parser.feed(page)
    parser.close()
    assert [sid for sid, _ in parser.scripts] == ["ek-state", None]  # nothing closed early
    raw = parser.scripts[0][1]
    # nothing in the JSON can end or derail the script element in a browser
    assert "<" not in raw and ">" not in raw and "&" not in raw
    assert raw.isascii()  # U+2028/2029 and every non-ASCII character escaped
    return json.loads(raw), parser


def widget_texts(state: dict) -> list[tuple[list[str], str]]:
    """(tokens, subtitle) of every part of an exported page that carries a payload."""
    out = []
    for model in state["models"].values():
        s = model["state"]
        if isinstance(s.get("data"), dict) and "tokens" in s["data"]:
            out.append((s["data"]["tokens"], s.get("subtitle", "")))
    return out


def test_nasty_strings_survive_widgets_and_the_html_export(tmp_path: Path) -> None:
    prompt = "".join(NASTY)
    expl = make_explanation(NASTY, prompt=prompt)
    timeline = ek.TokenTimeline(expl)
    assert timeline.tokens == NASTY and timeline.data["tokens"] == NASTY
    explorer = ek.Explorer(expl)
    state, page = exported_state(explorer, tmp_path / "e.html", title="</title><b>" + NASTY[8])
    texts = widget_texts(state)
    assert len(texts) == 3  # timeline, overlay, slider
    for tokens, _ in texts:
        assert tokens == NASTY
    subtitles = json.dumps(state)
    assert json.dumps(prompt)[1:-1] in subtitles  # the prompt travels intact in the subtitle
    assert page.title == "</title><b>" + NASTY[8]


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tokens=st.lists(ANY_TEXT, min_size=1, max_size=3))
def test_any_text_survives_the_html_export(tokens, tmp_path_factory) -> None:
    expl = make_explanation(tokens)
    state, _ = exported_state(ek.TokenTimeline(expl), tmp_path_factory.mktemp("w") / "t.html")
    assert widget_texts(state)[0][0] == tokens


# -- failed writes lose nothing ----------------------------------------------------------


def fail_midway(kind: str):
    """A writer that leaves half a file (or folder) at its target, then runs out of disk."""

    def writer(self, target, *args, **kwargs):
        target = Path(target)
        if kind == "zarr":
            target.mkdir(parents=True, exist_ok=True)
            (target / ".zgroup").write_text("{")
        else:
            target.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    return writer


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_explanation(["old"], prompt="old")
    path = old.save(tmp_path / f"result{suffix}")
    new = make_explanation(["new"], prompt="new")
    monkeypatch.setattr(
        xr.Dataset, f"to_{'zarr' if suffix == '.zarr' else 'netcdf'}", fail_midway(suffix[1:])
    )
    with pytest.raises(OSError, match="No space left"):
        new.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.undo()
    check_same(ek.load_explanation(path), old)


class CountingScorer:
    def __init__(self, n_tokens: int = 2) -> None:
        self.n_tokens = n_tokens
        self.images = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.images += len(images)
        return fake_scorer(images, self.n_tokens)


def explain_counting(scorer: CountingScorer, **kwargs) -> ek.Explanation:
    img = np.zeros((16, 16, 3), np.uint8)
    img[:8, :8] = 255
    img[8:, 8:] = 90
    return ek.explain(
        scorer, img, regions=ek.segment(img, 9, "grid"), search="exact", progress=False,
        token_names=["a", "b"], batch_size=4, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_checkpoint_stays_until_the_result_file_is_complete(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = explain_counting(CountingScorer())
    ckpt, out = tmp_path / "run.npz", tmp_path / f"result{suffix}"
    monkeypatch.setattr(
        xr.Dataset, f"to_{'zarr' if suffix == '.zarr' else 'netcdf'}", fail_midway(suffix[1:])
    )
    first = CountingScorer()
    with pytest.raises(OSError, match="No space left"):
        explain_counting(first, checkpoint=ckpt, save_to=out)
    assert first.images > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # no result, no temporary
    monkeypatch.undo()
    second = CountingScorer()
    expl = explain_counting(second, checkpoint=ckpt, save_to=out)
    assert second.images == 0  # every scored image was in the checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # checkpoint gone
    saved = ek.load_explanation(out)
    np.testing.assert_array_equal(saved.order, reference.order)
    np.testing.assert_allclose(
        saved.dataset["insertion"].values, reference.dataset["insertion"].values
    )
    xr.testing.assert_identical(saved.dataset, expl.dataset)


def test_save_to_is_checked_before_the_search(tmp_path: Path) -> None:
    scorer = CountingScorer()
    with pytest.raises(
        ValueError, match=r"save_to must be a '.nc' \(netCDF\) or '.zarr' path; got 'r.csv'"
    ):
        explain_counting(scorer, save_to=tmp_path / "r.csv")
    assert scorer.images == 0


def test_without_save_to_the_checkpoint_goes_when_explain_returns(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.npz"
    expl = explain_counting(CountingScorer(), checkpoint=ckpt, attrs={"image_source": "a b.png"})
    assert not ckpt.exists()
    assert expl.attrs["image_source"] == "a b.png"


def test_keep_checkpoint_leaves_it_complete_for_the_caller_to_delete(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.npz"
    first = CountingScorer()
    expl = explain_counting(first, checkpoint=ckpt, keep_checkpoint=True)
    assert ckpt.exists()
    again = CountingScorer()
    explain_counting(again, checkpoint=ckpt, keep_checkpoint=True)  # e.g. after a failed save
    assert again.images == 0 and first.images == expl.n_evaluations


@pytest.mark.slow
def test_command_line_keeps_the_checkpoint_when_the_result_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from PIL import Image

    from eagle_kit.cli import main

    Image.fromarray(ek.shapes.make_scene(2).image).save(tmp_path / "scene.png")
    out = tmp_path / "runs"
    args = [
        "explain", str(tmp_path / "scene.png"), "--model", "shapes", "--prompt",
        ek.shapes.CAPTION_PROMPT, "--answer", "the picture shows", "--n-regions", "6",
        "--segmentation", "grid", "--search", "exact", "--out", str(out), "--quiet",
    ]  # fmt: skip
    monkeypatch.setattr(xr.Dataset, "to_netcdf", fail_midway("nc"))
    try:
        main(args)
    except OSError:
        pass  # failing loudly is fine; losing the scored images is not
    monkeypatch.undo()
    files = [p for p in out.rglob("*") if p.is_file()]
    checkpoints = [p for p in files if p.suffix == ".npz"]
    assert len(checkpoints) == 1, files
    assert not [p for p in files if p.name.endswith(".tmp") or p.suffix == ".nc"], files
    assert main(args) == 0
    (result,) = out.rglob("*.nc")
    expl = ek.load_explanation(result)
    assert expl.attrs["resumed_images"] == expl.n_evaluations > 0  # nothing scored twice
    assert not list(out.rglob("*.npz")) and not list(out.rglob("*.tmp"))
    capsys.readouterr()


def test_nasty_strings_in_the_report_page_are_text(tmp_path: Path) -> None:
    from eagle_kit import report

    prompt = "".join(NASTY)
    expl = make_explanation(NASTY, prompt=prompt, answer=prompt)
    path = report.write_report(
        tmp_path / "index.html", "</title>" + prompt, report.explanation_page(expl, title=prompt)
    )
    with open(path, encoding="utf-8", newline="") as fh:  # the bytes as a browser gets them
        page = fh.read()
    cells: list[str] = []

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.tags: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "td":
                cells.append("")

        def handle_data(self, data):
            if self.tags and self.tags[-1] == "td" and cells:
                cells[-1] += data

    parser = Cells()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags  # only text, no markup
    # a lone surrogate cannot be written in UTF-8: it is shown as U+FFFD, the rest exactly
    shown = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in prompt)
    assert cells.count(shown) == 2  # the prompt and the answer rows


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_saving_over_a_result_replaces_it_whole(suffix: str, tmp_path: Path) -> None:
    path = make_explanation(["old", "one"], prompt="old").save(tmp_path / f"r{suffix}")
    new = make_explanation(["new"], prompt="new")
    new.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    check_same(ek.load_explanation(path), new)
