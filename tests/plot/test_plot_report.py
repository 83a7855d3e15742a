"""``eagle-kit report`` end to end (papermill on the embedded model, smoke size) and
``eagle-kit show``; the report's HTML is opened offline in headless Chromium."""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.notebook_report import (
    check_parameters,
    parameter_rule,
    parse_parameter,
    parse_parameters,
)
from eagle_kit.targets import parse_targets

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "report_smoke.ipynb"
#: the first and the last token (−1 is an index, not a word) and a content word the image
#: decides (seed 3: "… a green circle …"), so that the report's maps show something
TARGETS = "0,-1,green"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def eagle_kit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "eagle_kit.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# -- parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-1", -1),
        ("0.5", 0.5),
        ("1e-3", 0.001),
        ("True", True),
        ("False", False),
        ("None", None),
        ("0,-1", "0,-1"),  # a list for the notebook to parse, not a number
        ("[0, 1]", "[0, 1]"),  # likewise (parse_targets reads it as a list)
        ("circle", "circle"),
        ("green circle", "green circle"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_parameters_are_typed_as_papermill_types_them(text, value) -> None:
    got = parse_parameter(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0, 1]", [0, 1]),  # once "Target '[0' is not a word"
        ("[0,-1]", [0, -1]),
        ('["green circle", -1]', ["green circle", -1]),  # JSON
        ("[yellow, triangle]", ["yellow", "triangle"]),  # YAML flow list
        ('[["circle", 1], 0]', [("circle", 1), 0]),  # an occurrence inside a list
        ("0,-1", [0, -1]),  # the comma form is unchanged
        ("[CLS]@0", [("[CLS]", 0)]),  # a bracketed word meant literally
    ],
)
def test_targets_accept_list_syntax(text, expected) -> None:
    assert parse_targets(text) == expected


def test_targets_in_a_list_must_be_indices_or_words() -> None:
    with pytest.raises(TypeError, match="got float 1.5"):
        parse_targets("[1.5]")


@pytest.mark.parametrize(
    ("help_text", "rule"),
    [
        ("resolution of the PNG figures [50..1200]", ("range", (50.0, 1200.0))),
        ("first seed [0..]", ("range", (0.0, None))),
        ("level [0.5..0.999]", ("range", (0.5, 0.999))),
        ('the search {"efficient", "exact", "fast"}', ("choices", ["efficient", "exact", "fast"])),
        ('spans; empty: none {"", "words", "sentences"}', ("choices", ["", "words", "sentences"])),
        ('indices: 3, "0,-1", "[0, 1]"; empty: all tokens', None),  # brackets mid-help: no rule
        ("JSON boxes [[x0, y0, x1, y1], ...]", None),
    ],
)
def test_a_parameter_rule_is_read_from_the_end_of_its_help(help_text, rule) -> None:
    assert parameter_rule(help_text) == rule


def test_values_outside_their_rule_are_refused_before_running(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(
        "dpi: int = 200  # resolution [50..1200]\n"
        "level: float = 0.95  # confidence [0.5..0.999]\n"
        'search: str = "fast"  # the search {"fast", "exact"}\n'
        'spans: str = ""  # prompt spans {"", "words"}'
    )
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    path = tmp_path / "rules.ipynb"
    nbformat.write(nb, path)
    check_parameters(path, {"dpi": 50, "level": 0.999, "search": "exact", "spans": None})
    for params, message in [
        ({"dpi": -5}, "Parameter 'dpi' of rules.ipynb must be between 50 and 1200; got -5."),
        ({"dpi": 1201}, "must be between 50 and 1200; got 1201."),
        (
            {"level": 1.0},
            "Parameter 'level' of rules.ipynb must be between 0.5 and 0.999; got 1.0.",
        ),
        ({"level": float("nan")}, "must be between 0.5 and 0.999; got nan."),
        ({"search": "slow"}, 'must be one of "fast", "exact"; got \'slow\'.'),
        ({"spans": "word"}, 'must be one of "", "words"; got \'word\'.'),
    ]:
        with pytest.raises(ValueError) as err:
            check_parameters(path, params)
        assert str(err.value).endswith(message) and "\n" not in str(err.value)


def test_parameter_names_must_be_python_names() -> None:
    assert parse_parameters([["seed", "7"], ["targets", "0,-1"]]) == {"seed": 7, "targets": "0,-1"}
    with pytest.raises(ValueError, match="-p NAME VALUE"):
        parse_parameters([["n-regions", "3"]])


# -- the report, end to end ------------------------------------------------------------------
@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("report")
    proc = eagle_kit(
        "report", str(NOTEBOOK), "-p", "targets", TARGETS, "-p", "seed", "3", "-o", "out", cwd=root
    )
    return root / "out", proc


@pytest.mark.notebooks
@pytest.mark.slow
def test_report_writes_notebook_html_figures_explanation_and_metrics(report) -> None:
    out, proc = report
    assert proc.returncode == 0, proc.stderr
    executed = nbformat.read(out / "report_smoke.ipynb", 4)
    injected = next(
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    # typed as papermill types -p values: an int, and "0,-1" a string the notebook parses
    assert "seed = 3\n" in injected.source and f'targets = "{TARGETS}"' in injected.source
    expl = ek.load_explanation(out / "explanation.nc")
    green = expl.tokens.index(" green")
    assert sorted(expl.targets) == [0, green, len(expl.tokens) - 1]  # −1: the last token
    assert expl.map_info(expl.targets, kind="gain").shown  # the report draws a map
    assert expl.map_info().shown
    page = (out / "report_smoke.html").read_text(encoding="utf-8")
    # two plotly charts, plotly.js sent once (from the local install, not a CDN)
    assert page.count("plotly.js v") == 1 and page.count('class="plotly-graph-div"') == 2
    assert not re.search(r'<script[^>]*src="https?:', page)
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["cell05-0.png", "cell06-0.png", "cell10-0.png"]  # overlay, tokens, curves
    assert (out / "overlay.pdf").read_bytes().startswith(b"%PDF")
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=pytest.fail)
    assert metrics["n_regions"] == expl.n_regions
    for key, value in expl.metrics().items():
        assert metrics[key] == float(f"{value:.6g}")  # plain numbers, 6 significant digits
    assert "HTML:" in proc.stdout and "explanations:      1" in proc.stdout


@pytest.mark.notebooks
@pytest.mark.slow
def test_same_parameters_give_the_same_numbers(report, tmp_path) -> None:
    out, _ = report
    again = eagle_kit(
        "report",
        str(NOTEBOOK),
        "-p",
        "targets",
        TARGETS,
        "-p",
        "seed",
        "3",
        "-o",
        "again",
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "metrics.json").read_text() == (out / "metrics.json").read_text()
    a = ek.load_explanation(out / "explanation.nc")
    b = ek.load_explanation(tmp_path / "again" / "explanation.nc")
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(a.dataset["insertion"].values, b.dataset["insertion"].values)


@pytest.mark.notebooks
@pytest.mark.slow
def test_a_failing_cell_gives_one_line_naming_notebook_and_cell_and_keeps_the_report(
    tmp_path,
) -> None:
    proc = eagle_kit("report", str(NOTEBOOK), "-p", "fail", "True", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1
    ours = [line for line in proc.stderr.splitlines() if line.startswith("eagle-kit")]
    assert len(ours) == 1, proc.stderr
    (line,) = ours
    assert "report_smoke.ipynb failed in cell 9 (In [8]): ValueError: planted failure" in line
    assert "second line" not in proc.stderr and "Traceback" not in proc.stderr
    assert "IPKernelApp" not in proc.stderr  # the kernel's log lines stay out of the terminal
    out = tmp_path / "out"
    assert (out / "report_smoke.ipynb").exists() and (out / "report_smoke.html").exists()
    assert (out / "figures" / "cell05-0.png").exists()  # what ran before the failure
    assert (out / "explanation.nc").exists()


@pytest.mark.notebooks
@pytest.mark.slow
def test_a_target_the_answer_does_not_contain_is_bad_input_in_one_line(tmp_path) -> None:
    # the answer ("the picture shows a red circle, …") has "triangle" but no "yellow": the
    # notebook can only find out after generating, yet it is the user's input, not a failure
    nb = HERE.parents[1] / "notebooks" / "02_word_level.ipynb"
    proc = eagle_kit(
        "report", str(nb), "-p", "targets", "[yellow, triangle]", "-o", "out", cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr  # no kernel log lines beside it
    (line,) = lines
    assert line.startswith("eagle-kit report: ")
    assert "02_word_level.ipynb refused its input in cell" in line
    assert "TargetError: Target 'yellow' is not a word or phrase of the answer" in line
    assert "'triangle' (9)" in line  # the answer's words are listed
    assert (tmp_path / "out" / "02_word_level.html").exists()  # the partial report is kept


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "says"),
    [
        (["-p", "segmentation", "none"], 'InputError: segmentation "none" leaves no feature'),
        (["-p", "text_baseline", "the"], "InputError: text_baseline replaces removed prompt"),
        (
            ["-p", "text_regions", "words", "-p", "text_baseline", "two words"],
            "InputError: text_baseline='two words' is 2 tokens",
        ),
        (["-p", "model", "no/such/folder"], "FileNotFoundError: No model folder"),
    ],
    ids=["no-features", "baseline-alone", "two-token-baseline", "missing-model"],
)
def test_values_a_cell_refuses_as_input_exit_2_in_one_line(tmp_path, params, says) -> None:
    nb = HERE.parents[1] / "notebooks" / "01_explain_image.ipynb"
    proc = eagle_kit("report", str(nb), *params, "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("eagle-kit report: "), proc.stderr
    assert says in lines[0] and "01_explain_image.ipynb refused its input in cell" in lines[0]


def test_a_report_folder_that_is_a_file_is_bad_input(tmp_path) -> None:
    (tmp_path / "taken").write_text("x")
    proc = eagle_kit("report", str(NOTEBOOK), "-o", "taken", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == (
        "eagle-kit report: The report folder 'taken' is a file; give -o a folder (it is "
        "created if missing)."
    )


def _chromium():
    playwright = pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is needed to open the report (CI is set: no skipping)")
        pytest.skip("chromium is not installed")
    return playwright, exe


@pytest.mark.notebooks
@pytest.mark.e2e
@pytest.mark.slow
def test_report_html_shows_every_figure_offline_in_chromium(report) -> None:
    from PIL import Image

    playwright, exe = _chromium()
    out, proc = report
    assert proc.returncode == 0, proc.stderr
    artifacts = HERE.parents[1] / "test-artifacts" / "plot"
    artifacts.mkdir(parents=True, exist_ok=True)
    network: list[str] = []
    errors: list[str] = []

    def browse() -> None:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(offline=True)
                page = context.new_page()
                page.on(
                    "request",
                    lambda r: (
                        network.append(r.url) if not r.url.startswith(("file:", "data:")) else None
                    ),
                )
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto((out / "report_smoke.html").as_uri())
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
                page.screenshot(path=str(artifacts / "report.png"), full_page=True)
                figures = page.query_selector_all(
                    ".jp-OutputArea-output img, .jp-OutputArea-output .js-plotly-plot"
                )
                # overlay, tokens, plotly curves, plotly bars, ek.plot curves
                assert len(figures) == 5
                for i, fig in enumerate(figures):
                    box = fig.bounding_box()
                    assert box and box["width"] > 100 and box["height"] > 50, i
                    shot = np.asarray(Image.open(io.BytesIO(fig.screenshot())).convert("RGB"))
                    assert shot.std() > 5 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 20, i
                plotly_lines = page.query_selector_all(".js-plotly-plot .scatterlayer .trace")
                assert len(plotly_lines) == 2  # insertion and deletion drawn, not an empty frame
                assert len(page.query_selector_all(".js-plotly-plot .barlayer .point")) == len(
                    ek.load_explanation(out / "explanation.nc").tokens
                )
            finally:
                browser.close()

    # Playwright's sync API refuses to start in a thread with a running asyncio loop, which an
    # in-process notebook client of another test can leave behind: browse in a fresh thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(browse).result()
    assert network == [] and errors == []


# -- eagle-kit show --------------------------------------------------------------------------
def test_show_writes_the_static_view_of_one_explanation(expl_red, tmp_path) -> None:
    saved = expl_red.save(tmp_path / "red.nc")
    proc = eagle_kit("show", str(saved), "-o", "page.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert page.count('<figure class="ek-figure"') == 4  # rank map, gain map, tokens, curves
    assert "rank value (METHOD §5)</text>" in page  # the colour bar, in its units
    assert 'gain in p("red") (probability)</text>' in page
    for token in ("red", "square", "blue"):
        assert f">{token}</text>" in page  # the token strip, as text
    assert "visual reliance I_t</text>" in page and "prior</text>" in page
    assert f"insertion (AUC {ek.metrics.insertion_auc(expl_red):.3f})</text>" in page
    assert not re.search(r'(src|href)="https?:', page)  # nothing from the network
    default = eagle_kit("show", str(saved), cwd=tmp_path)
    assert default.returncode == 0 and (tmp_path / "red.html").exists()
    missing = eagle_kit("show", "nope.nc", cwd=tmp_path)
    assert missing.returncode == 2 and "No saved explanation" in missing.stderr
