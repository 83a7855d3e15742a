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
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no CDN
    diag = ek.load_explanation(tmp_path / "hallucinated_token.nc")
    assert [diag.tokens[i] for i in diag.targets] == ["green", "circle"]


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
    assert sorted(p.name for p in out.glob("*.nc")) == ["scene1.nc", "scene2.nc"]
    first = (out / "scene1.nc").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0  # resumes: nothing left to do
    assert "2 of 2 images already explained" in capsys.readouterr().out
    assert (out / "scene1.nc").stat().st_mtime_ns == first
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("file,answer,insertion_auc") and len(rows) == 3
    e = ek.load_explanation(out / "scene2.nc")
    assert e.dataset.attrs["image_source"] == "scene2.png"
    assert np.isclose(e.dataset["area"].values[-1], 1.0)


def test_cli_errors_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no such image"):
        main(["explain", str(tmp_path / "nope"), "--prompt", "x", "--out", str(tmp_path)])
    assert main(["metrics", str(tmp_path)]) == 2
    assert "no saved explanations" in capsys.readouterr().err
