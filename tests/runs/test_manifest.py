"""Manifest validation: every bad line names its line number, field and what was expected."""

from __future__ import annotations

import json

import numpy as np
import pytest
from runs_helpers import write_manifest

from eagle_kit.runs import ManifestError, read_manifest


def _one(tmp_path, **fields):
    line = {"id": "a", "image": "a.png", "prompt": "describe the picture .", **fields}
    return write_manifest(tmp_path / "m.jsonl", [line])


def test_a_full_line_is_read_with_paths_relative_to_the_manifest(tmp_path):
    sub = tmp_path / "set"
    sub.mkdir()
    line = {
        "id": 7,
        "image": "img/a.png",
        "prompt": "is there a cat ?",
        "answer": "yes",
        "targets": ["cat", 0],
        "boxes": [1, 2, 10, 20],
        "mask": "masks/a.png",
        "label": "No",
    }
    (sub / "m.jsonl").write_text("# comment\n\n" + json.dumps(line) + "\n")
    (s,) = read_manifest(sub / "m.jsonl")
    assert s.id == "7"
    assert s.image == str(sub.resolve() / "img" / "a.png")
    assert s.mask == str(sub.resolve() / "masks" / "a.png")
    assert s.targets == ("cat", 0)
    assert s.boxes == ((1.0, 2.0, 10.0, 20.0),)
    assert s.label == "no"
    assert s.answer == "yes" and s.video is None


def test_video_frames_are_resolved(tmp_path):
    write_manifest(
        tmp_path / "m.jsonl", [{"id": "v", "video": ["f0.png", "f1.png"], "prompt": "what ?"}]
    )
    (s,) = read_manifest(tmp_path / "m.jsonl")
    assert s.image is None and s.video == (str(tmp_path / "f0.png"), str(tmp_path / "f1.png"))


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"prompt": ""}, "line 1: field 'prompt' must be a non-empty string"),
        ({"id": None}, "line 1: field 'id' must be a non-empty string"),
        ({"label": "maybe"}, 'line 1: field \'label\' must be "yes" or "no"'),
        ({"boxes": [1, 2, 3]}, r"line 1: field 'boxes' must be \[x0, y0, x1, y1\]"),
        ({"boxes": [5, 5, 1, 1]}, "field 'boxes'"),
        ({"targets": []}, "field 'targets'"),
        ({"targets": [1.5]}, "field 'targets' must be token indices"),
        ({"image": 3}, "field 'image' must be a path"),
        ({"video": ["f.png"]}, "exactly one of 'image'"),
        ({"colour": "red"}, "unknown field\\(s\\) colour"),
    ],
)
def test_bad_fields_name_the_line_and_field(tmp_path, fields, match):
    path = _one(tmp_path, **fields)
    with pytest.raises(ManifestError, match=match):
        read_manifest(path)


def test_invalid_json_and_duplicates_name_their_lines(tmp_path):
    good = json.dumps({"id": "a", "image": "a.png", "prompt": "p"})
    (tmp_path / "m.jsonl").write_text(good + "\n{not json\n")
    with pytest.raises(ManifestError, match="m.jsonl line 2: not valid JSON"):
        read_manifest(tmp_path / "m.jsonl")
    (tmp_path / "m.jsonl").write_text(good + "\n\n" + good + "\n")
    with pytest.raises(ManifestError, match="line 3: duplicate id 'a' \\(first on line 1\\)"):
        read_manifest(tmp_path / "m.jsonl")
    (tmp_path / "m.jsonl").write_text("[1, 2]\n")
    with pytest.raises(ManifestError, match="line 1: expected a JSON object"):
        read_manifest(tmp_path / "m.jsonl")
    (tmp_path / "m.jsonl").write_text("\n")
    with pytest.raises(ManifestError, match="no samples"):
        read_manifest(tmp_path / "m.jsonl")
    with pytest.raises(FileNotFoundError, match="No manifest"):
        read_manifest(tmp_path / "missing.jsonl")


def _image_and_mask(tmp_path, mask: np.ndarray | None = None):
    from PIL import Image

    Image.fromarray(np.zeros((16, 24, 3), np.uint8)).save(tmp_path / "a.png")
    if mask is not None:
        Image.fromarray(mask).save(tmp_path / "m.png")


@pytest.mark.parametrize(
    ("mask", "fields", "match"),
    [
        (None, {"mask": "nowhere.png"}, "line 2: field 'mask' must be the path of an existing"),
        (np.full((8, 8), 255, np.uint8), {"mask": "m.png"}, r"line 2: field 'mask'.*8×8.*24×16"),
        (np.zeros((16, 24), np.uint8), {"mask": "m.png"}, "line 2: field 'mask'.*no non-zero"),
        (None, {"boxes": [0, 0, 30, 10]}, r"line 2: field 'boxes' must be inside the 24×16"),
        (None, {"boxes": [[1, 1, 4, 4], [-2, 0, 4, 4]]}, "line 2: field 'boxes'.*-2"),
    ],
)
def test_bad_ground_truth_is_caught_when_the_manifest_is_read(tmp_path, mask, fields, match):
    _image_and_mask(tmp_path, mask)
    good = {"id": "ok", "image": "a.png", "prompt": "what ?"}
    write_manifest(tmp_path / "m.jsonl", [good, {**good, "id": "bad", **fields}])
    with pytest.raises(ManifestError, match=match):
        read_manifest(tmp_path / "m.jsonl")


def test_good_ground_truth_is_read(tmp_path):
    mask = np.zeros((16, 24), np.uint8)
    mask[2:5, 3:9] = 1
    _image_and_mask(tmp_path, mask)
    write_manifest(
        tmp_path / "m.jsonl",
        [{"id": "a", "image": "a.png", "prompt": "?", "mask": "m.png", "boxes": [0, 0, 24, 16]}],
    )
    (s,) = read_manifest(tmp_path / "m.jsonl")
    assert s.load_mask((16, 24)).sum() == 18
