"""The README's first command and the CLI, on the embedded model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import eagle_kit as ek
from eagle_kit.cli import main


@pytest.mark.slow
def test_demo_writes_a_self_contained_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "green circle" in text and "mitigation" in text
    page = (tmp_path / "index.html").read_text()
    assert "data:image/png;base64" in page and "<svg" in page
    svg_ns = ('xmlns="http://www.w3.org/2000/svg"', 'xmlns:xlink="http://www.w3.org/1999/xlink"')
    assert "http://" not in page.replace(svg_ns[0], "").replace(svg_ns[1], "")  # no CDN
    diag = ek.load_explanation(tmp_path / "hallucinated_token.nc")
    assert [diag.tokens[i] for i in diag.targets] == [" green", " circle"]  # texts keep spaces


def test_cli_explains_a_folder_resumes_and_aggregates(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for seed in (1, 2):
        Image.fromarray(ek.shapes.make_scene(seed).image).save(images / f"scene{seed}.png")
    out = tmp_path / "runs"
    args = [
        "explain",
        str(images),
        "--model",
        "shapes",
        "--prompt",
        ek.shapes.CAPTION_PROMPT,
        "--n-regions",
        "12",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    # a results store: one file per image × model × settings, listed in the index
    table = ek.open_results(out)
    assert sorted(table["id"].str.rsplit("/", n=1).str[-1]) == ["scene1.png", "scene2.png"]
    assert (table["status"] == "done").all() and table["path"].nunique() == 2
    first = {p.name: p.stat().st_mtime_ns for p in (out / "nc").glob("*.nc")}
    capsys.readouterr()
    assert main(args) == 0  # resumes: nothing left to do
    captured = capsys.readouterr()
    assert "resuming: 2 of 2 results already done" in captured.err
    assert "0 done, 2 skipped" in captured.out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "nc").glob("*.nc")} == first
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("id,model,method,answer,insertion_auc") and len(rows) == 3
    row = table[table["id"].str.endswith("scene2.png")].iloc[0]
    e = ek.load_explanation(row["path"])
    assert e.dataset.attrs["image_source"] == row["id"]
    assert np.isclose(e.dataset["area"].values[-1], 1.0)


def test_cli_errors_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no such image"):
        main(["explain", str(tmp_path / "nope"), "--prompt", "x", "--out", str(tmp_path)])
    assert main(["metrics", str(tmp_path)]) == 2
    assert "no saved explanations" in capsys.readouterr().err
