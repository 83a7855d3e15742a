"""The five notebooks run under papermill at smoke size, on the embedded model; outputs checked.

Each run goes through papermill's command line with ``-p NAME VALUE``, so parameters arrive
typed as a user's would (``-p targets 3`` is an ``int``, ``-p targets "0,-1"`` a ``str``).
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pypdf
import pytest

import eagle_kit as ek
from eagle_kit.notebook_report import check_parameters, parameter_rule

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NAMES = [
    "01_explain_image",
    "02_word_level",
    "03_hallucination",
    "04_benchmark",
    "05_paper_figures",
]

pytestmark = pytest.mark.notebooks


def papermill(name: str, folder: Path, *params: tuple[str, object]) -> tuple[Path, Path]:
    """Run ``notebooks/NAME.ipynb`` with ``-p`` parameters from ``folder``; (out_dir, executed)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "out"
    executed = folder / f"{name}.ipynb"
    args = [str(Path(sys.executable).parent / "papermill"), str(NOTEBOOKS / f"{name}.ipynb")]
    args += [str(executed), "--cwd", str(folder), "--no-progress-bar", "-k", "python3"]
    for key, value in (("out_dir", out), *params):
        args += ["-p", key, str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
    return out, executed


def strict_json(path: Path):
    def refuse(name: str):
        raise AssertionError(f"{path.name} holds {name}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def assert_vector_pdf(path: Path, *words: str, max_raster: int = 64) -> None:
    """A vector PDF: TrueType fonts embedded, ``words`` present as text, rasters only as large
    as the images drawn (never a bitmap of the page)."""
    assert path.stat().st_size > 1000, path
    (page,) = pypdf.PdfReader(str(path)).pages
    fonts = page["/Resources"]["/Font"]
    assert fonts, f"{path.name}: no font, so no text"
    for ref in fonts.values():
        font = ref.get_object()
        assert font["/Subtype"] != "/Type3", f"{path.name}: Type 3 font"
        desc = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        assert "/FontFile2" in desc["/FontDescriptor"].get_object(), "TrueType font embedded"
    text = page.extract_text()
    for word in words:
        assert word in text, f"{path.name}: {word!r} is not text in {text[:300]!r}"
    for image in page.images:  # the images under the maps, and thin colour-bar gradients
        small, large = sorted(image.image.size)
        assert small <= max_raster or large >= 8 * small, (
            f"{path.name}: a {image.image.size} raster"
        )


def pdf_words(path: Path) -> str:
    """The text of a one-page PDF, whitespace (line breaks of wrapped notes) collapsed."""
    (page,) = pypdf.PdfReader(str(path)).pages
    return " ".join(page.extract_text().split())


def assert_prompt_strip(path: Path, gains: np.ndarray, quantity: str) -> None:
    """A prompt strip colours the spans (colour bar "gain in …") exactly when the prompt
    moves the quantity by at least MIN_MAP_SPAN; below, it says so and shows no colour bar."""
    from eagle_kit.explanation import MIN_MAP_SPAN

    text = pdf_words(path)
    if np.max(np.abs(gains)) >= MIN_MAP_SPAN:
        assert f"gain in {quantity} (probability)" in text and "barely moves" not in text, text
    else:
        note = f"the prompt barely moves {quantity} (largest span gain"
        assert note in text and "under 0.01): no colours shown" in text, text
        assert "gain in" not in text, text


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def outputs(executed: Path, mime: str) -> int:
    nb = nbformat.read(executed, as_version=4)
    return sum(
        mime in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )


# -- the committed notebooks -------------------------------------------------------------------


def test_the_five_notebooks_are_clean_with_one_typed_parameters_cell() -> None:
    import papermill as pm

    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    for name in NAMES:
        path = NOTEBOOKS / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell tagged 'parameters'"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name} has outputs"
        source = nb.cells[tagged[0]].source
        assert all(" = " in line and "  # " in line for line in source.splitlines()), source
        # papermill reads every line as `name: type = value  # help` (a second "=" breaks it)
        params = pm.inspect_notebook(str(path))
        assert len(params) == len(source.splitlines())
        for p in params.values():
            assert p["inferred_type_name"] in ("str", "int", "float", "bool"), (name, p)
            assert p["help"], (name, p)
        assert "out_dir" in params
        if "model" in params:
            assert params["model"]["default"] == '"shapes"'  # the embedded model by default
        assert nb.cells[tagged[0] + 1].cell_type == "code"  # derived values right after
        # every number is bounded and every choice listed in its help, so `eagle-kit report`
        # refuses a bad value before anything runs; the defaults keep their own rules
        for pname, p in params.items():
            rule = parameter_rule(p["help"])
            if p["inferred_type_name"] in ("int", "float"):
                assert rule is not None and rule[0] == "range", (name, pname, p["help"])
            if pname in ("search", "segmentation", "text_regions"):
                assert rule is not None and rule[0] == "choices", (name, pname, p["help"])
            default = ast.literal_eval(p["default"])
            check_parameters(path, {pname: default})
    for name in ("01_explain_image", "02_word_level"):  # prompt spans as features
        params = pm.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
        assert params["text_regions"]["default"] == '""'  # image regions only by default
        assert parameter_rule(params["text_regions"]["help"]) == (
            "choices",
            ["", "words", "sentences"],
        )
        assert "text_baseline" in params


# -- 01 ------------------------------------------------------------------------------------------


def readme_command(start: str, end: str) -> list[str]:
    """The README's command line that starts with ``start`` and ends with ``end``, as
    arguments."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [x for x in readme.splitlines() if start in x and x.endswith(end)]
    return shlex.split(line)


def eagle_kit_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(
        [sys.executable, "-m", "eagle_kit.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_01_the_readme_report_shows_a_map(tmp_path: Path) -> None:
    """The README's flagship report: its targets are a content word the image decides, so
    both maps are drawn (once "the" and "." were targeted: "no map shown", flat curves)."""
    args = readme_command("eagle-kit report notebooks/01_explain_image.ipynb", "-o reports/seed7")
    assert args[1:3] == ["report", "notebooks/01_explain_image.ipynb"]
    args[2] = str(NOTEBOOKS / "01_explain_image.ipynb")
    args[args.index("-o") + 1] = str(tmp_path / "report")
    proc = eagle_kit_cli(args[1:], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "report"
    executed = out / "01_explain_image.ipynb"
    expl = ek.load_explanation(out / "explanation.nc")
    summary = strict_json(out / "metrics.json")
    assert summary["answer"].startswith("the picture shows")
    assert [expl.tokens[t].strip() for t in expl.targets] == ["yellow"]
    gain = expl.map_info(expl.targets, kind="gain")
    assert gain.shown and gain.span > 0.5  # the yellow square decides "yellow"
    assert summary["map_shown"] is True
    assert summary["gain_map_span"] == pytest.approx(gain.span, abs=1e-5)
    scene = ek.shapes.make_scene(7)
    (yellow,) = [o for o in scene.objects if o.colour == "yellow"]
    assert ek.metrics.point_game(expl, mask=yellow.mask, reading="strict") == 1.0  # on it
    ins, dele = expl.curve("insertion"), expl.curve("deletion")
    assert ins.max() - ins.min() > 0.5 and dele.max() - dele.min() > 0.5  # curves not flat
    for name in ("map_rank", "map_gain"):  # the figures draw the map, not "no map shown"
        text = pypdf.PdfReader(str(out / f"{name}.pdf")).pages[0].extract_text()
        assert "barely moves" not in text and "no map" not in text, text
    static = [  # the Explorer's static view in the saved notebook and the HTML
        o["data"]["text/html"]
        for c in nbformat.read(executed, as_version=4).cells
        for o in c.get("outputs", [])
        if 'class="ek-static"' in str(o.get("data", {}).get("text/html", ""))
    ]
    assert len(static) == 1 and "no map shown" not in static[0]
    assert 'data-kind="rank"' in static[0]
    assert summary["n_regions"] == expl.n_regions and summary["targets"] == expl.targets
    assert 0 <= summary["deletion_auc"] < summary["insertion_auc"] <= 1
    assert summary["insertion_auc"] == pytest.approx(ek.metrics.insertion_auc(expl), abs=1e-5)
    assert summary["gain_map_span"] == pytest.approx(expl.map_info(expl.targets).span, abs=1e-5)
    # the reliance table: one row per token, tokens such as " ," intact
    assert " ," in expl.tokens
    rows = read_csv(out / "reliance.csv")
    assert list(rows[0]) == ["index", "token", "reliance", "p_black", "p_full", "modality"]
    assert [r["token"] for r in rows] == expl.tokens
    assert np.allclose([float(r["reliance"]) for r in rows], expl.reliance(), atol=1e-5)
    assert [r["modality"] for r in rows] == expl.modality()
    # figures: vector PDFs (text as text) and PNGs; each map says which it shows
    assert_vector_pdf(out / "map_rank.pdf", "Rank map", "rank value", "span")
    assert_vector_pdf(out / "map_gain.pdf", "Gain map", "gain in", "span")
    assert_vector_pdf(out / "curves.pdf", "insertion (AUC", "deletion (AUC")
    assert_vector_pdf(out / "tokens.pdf", "picture", "prior", "visual")
    for name in ("map_rank", "map_gain", "curves", "tokens"):
        assert_png(out / f"{name}.png")
    # the Explorer was shown (the one widget view: no progress bar left frozen) and the
    # figures displayed as images
    assert outputs(executed, "application/vnd.jupyter.widget-view+json") == 1
    assert outputs(executed, "image/png") >= 4


def check_split(expl: ek.Explanation, rows: list[dict[str, str]]) -> None:
    """reliance.csv's three-way reading: the explanation's, adding up to p(full)."""
    d = expl.dataset
    for part in ("image", "prompt", "prior"):
        got = [float(r[f"reliance_{part}"]) for r in rows]
        assert np.allclose(got, d[f"reliance_{part}"].values, atol=1e-5)
    total = sum(
        np.array([float(r[f"reliance_{p}"]) for r in rows]) for p in ("image", "prompt", "prior")
    )
    assert np.allclose(total, [float(r["p_full"]) for r in rows], atol=1e-4)


def test_01_the_readme_prompt_report_shows_prompt_strips_and_the_split(tmp_path: Path) -> None:
    args = readme_command("eagle-kit report notebooks/01_explain_image.ipynb", "-o reports/prompt")
    assert "text_regions" in args and "is there a yellow square ?" in args  # one argument
    args[2] = str(NOTEBOOKS / "01_explain_image.ipynb")
    args[args.index("-o") + 1] = str(tmp_path / "report")
    proc = eagle_kit_cli(args[1:], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "report"
    expl = ek.load_explanation(out / "explanation.nc")
    assert expl.tokens == ["yes"] and expl.n_image_regions > 0
    words = ["is", "there", "a", "yellow", "square", "?"]
    assert [t for t, _, _ in expl.text_spans] == words
    summary = strict_json(out / "metrics.json")
    assert summary["text_regions"] == "words" and summary["prompt_spans"] == words
    gains = expl.text_values(0, kind="gain")
    assert np.allclose(summary["prompt_gain_values"], gains, atol=1e-6, rtol=1e-4)
    # "yes" rests on the word "yellow" (gain ≈ +0.98, measured), the rest barely move it
    assert int(np.argmax(gains)) == 3 and gains[3] > 0.9
    assert np.all(np.abs(np.delete(gains, 3)) < 0.2)
    check_split(expl, read_csv(out / "reliance.csv"))
    # both the image and the prompt carry "yes" (≈ 0.47 each, measured), the prior ≈ 0.06
    d = expl.dataset
    assert float(d["reliance_image"][0]) > 0.3 and float(d["reliance_prompt"][0]) > 0.3
    assert float(d["reliance_prior"][0]) < 0.15
    # the prompt strips (rank, gain) and the split: vector, the words as text, coloured
    assert_vector_pdf(out / "prompt_rank.pdf", "yellow", "square", "rank value")
    assert_vector_pdf(out / "prompt_gain.pdf", "yellow", "square")
    assert_prompt_strip(out / "prompt_gain.pdf", gains, 'p("yes")')
    assert "barely moves" not in pdf_words(out / "prompt_rank.pdf")
    assert_vector_pdf(out / "split.pdf", "image", "prompt", "prior", "yes")
    for name in ("prompt_rank", "prompt_gain", "split", "map_rank", "map_gain"):
        assert_png(out / f"{name}.png")
    page = (out / "01_explain_image.html").read_text(encoding="utf-8")
    assert "The prompt and the three-way reading" in page


def test_01_prompt_spans_only_draws_no_map(tmp_path: Path) -> None:
    out, _ = papermill(
        "01_explain_image",
        tmp_path,
        ("seed", 7),
        ("targets", "yellow"),
        ("segmentation", "none"),
        ("text_regions", "words"),
        ("text_baseline", "the"),
    )
    expl = ek.load_explanation(out / "explanation.nc")
    assert expl.n_image_regions == 0 and expl.n_regions == 4
    summary = strict_json(out / "metrics.json")
    assert "map_shown" not in summary and summary["n_image_regions"] == 0
    assert not (out / "map_rank.pdf").exists() and not (out / "map_gain.pdf").exists()
    assert_vector_pdf(out / "prompt_rank.pdf", "describe", "rank value")
    check_split(expl, read_csv(out / "reliance.csv"))


def test_01_runs_end_to_end_on_a_tiny_model_folder(tmp_path: Path) -> None:
    from PIL import Image

    from eagle_kit.testing.tiny_models import build_tiny_model, native_size

    folder = build_tiny_model("llava", tmp_path / "tiny-llava")
    image = tmp_path / "photo.png"  # any image file, of any size: here 50×40
    Image.fromarray(ek.shapes.make_scene(2).image[:40, :50]).save(image)
    out, _ = papermill(
        "01_explain_image",
        tmp_path,
        ("model", folder),
        ("image", image),
        ("n_regions", 6),
        ("targets", 3),  # an int from -p: once "'int' object has no attribute 'split'"
    )
    expl = ek.load_explanation(out / "explanation.nc")
    assert expl.image.shape[:2] == native_size("llava")  # the model's native size
    summary = strict_json(out / "metrics.json")
    assert summary["model"] == str(folder)
    assert summary["targets"] == expl.targets == [3]
    assert summary["answer"] == expl.dataset.attrs["answer"]
    assert 0 <= summary["insertion_auc"] <= 1 and 0 <= summary["deletion_auc"] <= 1
    for name in ("map_rank", "map_gain", "curves", "tokens"):
        assert (out / f"{name}.pdf").stat().st_size > 1000
        assert_png(out / f"{name}.png")


# -- 02 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def word_level(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, _ = papermill("02_word_level", tmp_path_factory.mktemp("word"))
    return out


def test_02_point_game_on_the_scene_objects_both_readings(word_level: Path) -> None:
    scene = ek.shapes.make_scene(5)  # the notebook's default scene
    rows = read_csv(word_level / "point_game.csv")
    named = [o.name for o in scene.objects]
    assert [r["target"] for r in rows] == named  # each object the caption names
    for i, (row, obj) in enumerate(zip(rows, scene.objects)):
        expl = ek.load_explanation(word_level / "explanations" / f"target{i}.nc")
        assert row["words"] == obj.name
        for reading in ("strict", "paper"):
            value = float(row[f"point_game_mask_{reading}"])
            assert value == ek.metrics.point_game(expl, mask=obj.mask, reading=reading)
            assert float(row[f"point_game_box_{reading}"]) == ek.metrics.point_game(
                expl, box=obj.box, reading=reading
            )
        assert 0 <= float(row["deletion_auc"]) < float(row["insertion_auc"]) <= 1
    summary = strict_json(word_level / "metrics.json")
    for key in ("point_game_mask_strict", "point_game_mask_paper", "point_game_box_strict"):
        assert 0 <= summary[key] <= 1
        assert summary[key] == pytest.approx(np.mean([float(r[key]) for r in rows]), abs=1e-6)
    assert summary["point_game_mask_strict"] >= 2 / 3  # EAGLE finds the objects it names
    assert_vector_pdf(word_level / "maps.pdf", "rank value", "hit")
    assert_png(word_level / "maps.png")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("3", lambda n: [[3]]), ("0,-1", lambda n: [[0], [n - 1]])],
    ids=["int", "indices"],
)
def test_02_targets_from_p_are_token_indices(tmp_path: Path, given, expected) -> None:
    # `-p targets 3` arrives as an int (it crashed with "'int' object has no attribute
    # 'split'"); `-p targets "0,-1"` as a string whose -1 is the last token, not a word
    out, _ = papermill("02_word_level", tmp_path, ("targets", given), ("n_regions", 9))
    rows = read_csv(out / "point_game.csv")
    explanations = [
        ek.load_explanation(out / "explanations" / f"target{i}.nc") for i in range(len(rows))
    ]
    n = len(explanations[0].tokens)
    assert [e.targets for e in explanations] == expected(n)
    assert [r["tokens"] for r in rows] == [" ".join(map(str, t)) for t in expected(n)]
    for row in rows:  # "the", "a", ".": no object named, so no ground truth (empty, null)
        assert row["point_game_mask_strict"] == "" and 0 <= float(row["insertion_auc"]) <= 1
    assert strict_json(out / "metrics.json")["point_game_mask_strict"] is None


def test_02_list_targets_with_prompt_spans(tmp_path: Path) -> None:
    # `-p targets "[yellow, triangle, the]"`: a YAML list, each item explained alone
    out, executed = papermill(
        "02_word_level",
        tmp_path,
        ("seed", 7),
        ("targets", "[yellow, triangle, the]"),
        ("text_regions", "words"),
        ("n_regions", 9),
        ("segmentation", "grid"),
    )
    rows = read_csv(out / "point_game.csv")
    assert [r["words"] for r in rows] == ["yellow", "triangle", "the"]
    largest = []
    for i, row in enumerate(rows):
        expl = ek.load_explanation(out / "explanations" / f"target{i}.nc")
        assert [t for t, _, _ in expl.text_spans] == ["describe", "the", "picture", "."]
        d = expl.dataset
        parts = [float(row[f"reliance_{p}"]) for p in ("image", "prompt", "prior")]
        want = [
            float(np.mean(d[f"reliance_{p}"].values[expl.targets]))
            for p in ("image", "prompt", "prior")
        ]
        assert np.allclose(parts, want, atol=1e-5)
        assert sum(parts) == pytest.approx(float(np.mean(d.p_full.values[expl.targets])), abs=1e-4)
        assert_vector_pdf(out / f"prompt_target{i}.pdf", "describe", row["words"])
        gains = expl.text_values(expl.targets, kind="gain")
        assert_prompt_strip(out / f"prompt_target{i}.pdf", gains, f'p("{row["words"]}")')
        assert_png(out / f"prompt_target{i}.png")
        largest.append(float(np.max(np.abs(gains))))
    # "yellow" rests on the image (the yellow square), "triangle" on the language prior: the
    # prompt barely moves them (span gains ≈ 0.00016 and 0, measured), so their strips draw
    # no colours; "the" rests on the prompt (its span "the": gain ≈ +0.996): coloured
    assert float(rows[0]["reliance_image"]) > 0.9 and float(rows[1]["reliance_prior"]) > 0.9
    assert float(rows[2]["reliance_prompt"]) > 0.9
    assert largest[0] < 0.01 and largest[1] < 0.01 and largest[2] > 0.5
    assert "gain in" in pdf_words(out / "prompt_target2.pdf")
    assert outputs(executed, "image/png") >= 4  # the maps and three prompt strips


def test_02_own_image_with_given_boxes_and_masks(tmp_path: Path) -> None:
    from PIL import Image

    scene = ek.shapes.make_scene(5)  # a red circle, a red triangle, a green triangle
    Image.fromarray(scene.image).save(tmp_path / "picture.png")
    circle, _, triangle = scene.objects
    for name, obj in (("circle", circle), ("triangle", triangle)):
        Image.fromarray(obj.mask.astype(np.uint8) * 255).save(tmp_path / f"{name}.png")
    out, _ = papermill(
        "02_word_level",
        tmp_path,
        ("image", tmp_path / "picture.png"),
        ("targets", "red circle, green triangle"),
        ("boxes", json.dumps([list(circle.box), list(triangle.box)])),
        ("masks", f"{tmp_path / 'circle.png'},{tmp_path / 'triangle.png'}"),
        ("n_regions", 16),
        ("segmentation", "grid"),
    )
    rows = read_csv(out / "point_game.csv")
    assert [r["words"] for r in rows] == ["red circle", "green triangle"]
    for i, (row, obj) in enumerate(zip(rows, (circle, triangle))):
        expl = ek.load_explanation(out / "explanations" / f"target{i}.nc")
        for reading in ("strict", "paper"):
            hit = ek.metrics.point_game(expl, mask=obj.mask, reading=reading)
            assert float(row[f"point_game_mask_{reading}"]) == hit
            hit = ek.metrics.point_game(expl, box=obj.box, reading=reading)
            assert float(row[f"point_game_box_{reading}"]) == hit
    assert strict_json(out / "metrics.json")["n_mask"] == 2


# -- 03 ------------------------------------------------------------------------------------------


def test_03_hallucination_diagnoses_mitigates_and_counts_failures(tmp_path: Path) -> None:
    out, executed = papermill("03_hallucination", tmp_path, ("n_samples", 2))
    assert outputs(executed, "application/vnd.jupyter.widget-view+json") == 0  # no frozen bar
    rows = read_csv(out / "samples.csv")
    assert [r["id"] for r in rows] == ["planted0", "planted1"]
    summary = strict_json(out / "metrics.json")
    assert summary["n"] == 2
    # AMCR / CSR recomputed from the table, never-corrected samples as failures (area 1)
    areas = [float(r["area_removed"]) if r["corrected"] == "True" else 1.0 for r in rows]
    fixed = [r["corrected"] == "True" and float(r["area_removed"]) <= 0.1 for r in rows]
    assert summary["AMCR"] == pytest.approx(np.mean(areas), abs=1e-6)
    assert summary["CSR@10%"] == pytest.approx(np.mean(fixed), abs=1e-6)
    assert 0 <= summary["AMCR"] <= 1 and 0 <= summary["CSR@10%"] <= 1
    assert "failures" in summary["never_corrected"]
    for r in rows:  # the embedded model says "yes"; the diagnosis targets "no"
        assert r["answer"] == "yes" and r["wrong"] == "True" and r["corrected_answer"] == "no"
        diagnosis = ek.load_explanation(out / "explanations" / f"{r['id']}.nc")
        assert diagnosis.targets == [0]
        p_full = float(diagnosis.dataset.p_full.values[0])
        assert float(r["p_correct_full"]) == pytest.approx(p_full, rel=1e-5)  # 6 digits
        assert float(r["p_correct_full"]) < 0.5  # p("no") on the image that fools the model
        assert_vector_pdf(out / f"hallucination_{r['id']}.pdf", "cause", "mitigation")


def test_03_reads_a_manifest_and_counts_a_right_answer_as_area_0(tmp_path: Path) -> None:
    from PIL import Image

    planted = ek.shapes.hallucination_scene(1)
    control = ek.shapes.make_scene(5)  # "is there a red circle ?" — yes, and it says so
    manifest = tmp_path / "data" / "manifest.jsonl"
    manifest.parent.mkdir()
    Image.fromarray(planted.image).save(manifest.parent / "planted.png")
    Image.fromarray(control.image).save(manifest.parent / "control.png")
    lines = [
        {"id": "p", "image": "planted.png", "prompt": "is there a green circle ?", "label": "no"},
        {"id": "c", "image": "control.png", "prompt": "is there a red circle ?", "label": "yes"},
        {"id": "u", "image": "control.png", "prompt": "describe the picture ."},  # no label
    ]
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    out, _ = papermill(
        "03_hallucination", tmp_path, ("manifest", manifest), ("n_samples", 0), ("n_regions", 9)
    )
    rows = {r["id"]: r for r in read_csv(out / "samples.csv")}
    assert set(rows) == {"p", "c"}  # the unlabelled line is no yes/no sample
    assert rows["c"]["wrong"] == "False" and rows["c"]["n_removed"] == "0"
    assert float(rows["c"]["area_removed"]) == 0.0
    assert rows["p"]["wrong"] == "True"
    summary = strict_json(out / "metrics.json")
    assert summary["n"] == 2 and summary["n_wrong"] == 1
    assert summary["AMCR"] == pytest.approx(float(rows["p"]["area_removed"] or 1.0) / 2, abs=1e-6)


# -- 04 ------------------------------------------------------------------------------------------


def test_04_benchmark_table_with_intervals_plots_and_latex(tmp_path: Path) -> None:
    out, _ = papermill("04_benchmark", tmp_path, ("n_resamples", 500))
    table = read_csv(out / "table.csv")
    assert {r["method"] for r in table} == {"eagle", "occlusion", "random"}
    store = Path(strict_json(out / "metrics.json")["store"])
    per_sample = read_csv(out / "samples.csv")
    for r in table:
        mean = float(r["mean"])
        assert 0 <= mean <= 1, r
        assert float(r["ci_low"]) <= mean + 1e-9 and mean <= float(r["ci_high"]) + 1e-9, r
        column = [s[r["metric"]] for s in per_sample if s["method"] == r["method"]]
        values = [float(v) for v in column if v != ""]  # NaN (no sensitive token): left out
        assert len(column) == 3 and int(r["n"]) == len(values)
        assert mean == pytest.approx(np.mean(values), abs=1e-5)  # the mean over samples
    ins = {r["method"]: float(r["mean"]) for r in table if r["metric"] == "insertion_auc"}
    assert ins["eagle"] > ins["random"]
    metrics = {r["metric"] for r in table}
    assert {"point_game_mask_strict", "point_game_mask_paper"} <= metrics  # both readings
    tex = (out / "table.tex").read_text(encoding="utf-8")
    assert "\\begin{tabular}" in tex and "point\\_game\\_mask\\_strict" in tex
    assert "95\\%" in tex and " eagle " in tex
    assert_vector_pdf(out / "benchmark.pdf", "insertion_auc", "eagle", "random")
    assert_png(out / "benchmark.png")
    assert (store / "index.jsonl").is_file()
    # a given store: the same table, no run
    again, _ = papermill(
        "04_benchmark", tmp_path / "again", ("results", store), ("n_resamples", 500)
    )
    assert read_csv(again / "table.csv") == read_csv(out / "table.csv")


# -- 05 ------------------------------------------------------------------------------------------


def test_05_paper_figures_from_a_tiny_run(tmp_path: Path) -> None:
    from eagle_kit.notebook_report import run_report

    out = tmp_path / "report"
    result = run_report(NOTEBOOKS / "05_paper_figures.ipynb", out, {"n_samples": 2}, cwd=tmp_path)
    # the report keeps the data behind its figures: the tiny run's store is inside it
    store = out / "tiny_run" / "results"
    assert (out / "tiny_run" / "manifest.jsonl").is_file() and (store / "index.jsonl").is_file()
    assert len(result.explanations) >= 8  # 2 scenes + 1 planted, × 3 methods, minus failures
    assert all(store in p.parents for p in result.explanations)
    assert f"explanations:      {len(result.explanations)}" in result.summary()
    summary = strict_json(out / "metrics.json")
    assert summary["methods"] == ["eagle", "occlusion", "random"]
    assert summary["samples"] == ["scene0", "scene1"]
    expected = ["grid.pdf", "curves.pdf", "tokens.pdf", "hallucination.pdf", "table.tex"]
    assert summary["files"] == expected
    assert_vector_pdf(out / "grid.pdf", "eagle", "occlusion", "random", "scene1", "rank value")
    assert_vector_pdf(out / "curves.pdf", "insertion (AUC", "deletion (AUC", "eagle")
    assert_vector_pdf(out / "tokens.pdf", "picture", "visual")
    assert_vector_pdf(out / "hallucination.pdf", "cause", "mitigation")
    for name in ("grid", "curves", "tokens", "hallucination"):
        assert_png(out / f"{name}.png")
    tex = (out / "table.tex").read_text(encoding="utf-8")
    assert "\\begin{tabular}" in tex and "csr@10\\%" in tex and "insertion\\_auc" in tex
    rows = {r["metric"]: r for r in read_csv(out / "table.csv") if r["method"] == "eagle"}
    assert 0 <= float(rows["amcr"]["mean"]) <= 1 and 0 <= float(rows["csr@10%"]["mean"]) <= 1


def test_05_paper_figures_from_saved_explanations(word_level: Path, tmp_path: Path) -> None:
    out, _ = papermill("05_paper_figures", tmp_path, ("explanations", word_level / "explanations"))
    summary = strict_json(out / "metrics.json")
    assert summary["methods"] == ["eagle"]
    assert summary["samples"] == ["target0", "target1", "target2"]
    assert "hallucination.pdf" not in summary["files"]  # no labelled sample among them
    assert_vector_pdf(out / "grid.pdf", "target2", "rank value")
    rows = read_csv(out / "table.csv")
    assert [r["sample"] for r in rows] == summary["samples"]
    for r in rows:
        assert 0 <= float(r["insertion_auc"]) <= 1
    assert "insertion\\_auc" in (out / "table.tex").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prompt_explanations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two folders of saved explanations with prompt span features: text only; and text
    only plus joint (image regions and the prompt's words)."""
    model = ek.load_model("shapes")
    scene = ek.shapes.make_scene(7)
    kw = dict(prompt="is there a yellow square ?", answer="yes", text_regions="words")
    kw.update(search="exact", progress=False)
    text_only = ek.explain(model, scene.image, regions="none", **kw)
    joint = ek.explain(model, scene.image, regions=ek.segment(scene.image, 4, "grid"), **kw)
    root = tmp_path_factory.mktemp("prompt_nc")
    text_only.save(root / "only" / "a_text.nc")
    text_only.save(root / "mixed" / "a_text.nc")
    joint.save(root / "mixed" / "b_joint.nc")
    return root / "only", root / "mixed"


def test_05_text_only_explanations_give_prompt_strips_and_no_map(
    prompt_explanations, tmp_path: Path
) -> None:
    only, _ = prompt_explanations
    out, executed = papermill("05_paper_figures", tmp_path, ("explanations", only))
    summary = strict_json(out / "metrics.json")
    assert summary["samples"] == ["a_text"]
    assert "grid.pdf" not in summary["files"] and not (out / "grid.pdf").exists()
    assert "prompt_a_text.pdf" in summary["files"]
    assert_vector_pdf(out / "prompt_a_text.pdf", "yellow", "square", "rank value", "prompt")
    nb = nbformat.read(executed, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "No map panel for a_text: prompt span features only" in text
    split = read_csv(out / "prompt_split.csv")
    expl = ek.load_explanation(only / "a_text.nc")
    assert float(split[0]["reliance_prompt"]) == pytest.approx(
        float(expl.dataset["reliance_prompt"].values[expl.targets].mean()), abs=1e-5
    )


def test_05_joint_explanations_map_in_the_grid_and_prompt_strips(
    prompt_explanations, tmp_path: Path
) -> None:
    _, mixed = prompt_explanations
    out, _ = papermill("05_paper_figures", tmp_path, ("explanations", mixed))
    summary = strict_json(out / "metrics.json")
    assert summary["samples"] == ["a_text", "b_joint"]
    assert summary["files"][0] == "grid.pdf"
    assert {"prompt_a_text.pdf", "prompt_b_joint.pdf"} <= set(summary["files"])
    assert_vector_pdf(out / "grid.pdf", "b_joint", "rank value")  # only the sample with a map
    assert "a_text" not in pypdf.PdfReader(str(out / "grid.pdf")).pages[0].extract_text()
    assert_vector_pdf(out / "prompt_b_joint.pdf", "yellow", "rank value")


def test_the_readme_shows_a_grid_made_by_05_and_the_command() -> None:
    from PIL import Image

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/paper_grid.png)" in readme
    assert "notebooks/05_paper_figures.ipynb out.ipynb -p out_dir" in readme.replace("\n", " ")
    with Image.open(ROOT / "docs" / "paper_grid.png") as img:
        # the grid's PNG at -p dpi 110: two paper columns (7 in) wide
        assert img.size[0] == round(ek.plot.WIDTHS["double"] * 110)
    assert (ROOT / "docs" / "paper_grid.png").stat().st_size < 150_000  # small in the repo


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            ["unknown_name", "value"],
            r"has no parameter 'unknown_name'.*n_regions \(int, default 16\)",
        ),
        (["n_regions", "abc"], r"Parameter 'n_regions' .* must be an int.*got 'abc'"),
        (["n_regions", "1.5"], r"Parameter 'n_regions' .* must be an int"),
        # out of range or not a choice: refused in the parameter check, before any cell runs
        (
            ["dpi", "-5"],
            r"Parameter 'dpi' of 05_paper_figures.ipynb must be between 50 and 1200; got -5\.",
        ),
        (["n_samples", "0"], r"Parameter 'n_samples' .* must be >= 1; got 0\."),
        (["n_regions", "100000"], r"Parameter 'n_regions' .* must be between 2 and 1024"),
        (
            ["text_regions", "word"],
            r"'text_regions' .* must be one of \"\", \"words\", \"sentences\"; got 'word'",
        ),
    ],
)
def test_report_refuses_unknown_or_mistyped_parameters(tmp_path: Path, params, match, capsys):
    from eagle_kit.cli import main

    out = tmp_path / "report"
    nb = str(NOTEBOOKS / "05_paper_figures.ipynb")
    assert main(["report", nb, "-p", *params, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert len(err.strip().splitlines()) == 1  # one line
    assert not out.exists()  # nothing ran


def test_report_pages_carry_no_threads_notice(tmp_path: Path) -> None:
    """The one-time ThreadsNotice is advice for a session, not a red block in every report."""
    from eagle_kit.notebook_report import run_report

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell('out_dir: str = "x"')
    params.metadata["tags"] = ["parameters"]
    body = (
        "import os\n"
        "for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):\n"
        "    os.environ.pop(v, None)\n"
        "import torch\n"
        "from eagle_kit import load_model, threads\n"
        "torch.set_num_threads(2)\n"
        "threads._state.update(user=None, initial=None, told=False)\n"
        "with threads.scoring_threads(load_model('shapes')) as n:\n"
        "    print('threads', n)\n"
        "assert threads._state['told']  # the notice was raised\n"
    )
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    src = tmp_path / "notice.ipynb"
    nbformat.write(nb, src)
    result = run_report(src, tmp_path / "report")
    executed = nbformat.read(result.notebook, 4)
    streams = [o for c in executed.cells for o in c.get("outputs", []) if o.get("name")]
    assert any("threads 1" in o["text"] for o in streams)
    assert not any(o["name"] == "stderr" and "thread" in o["text"] for o in streams), streams
