"""Defects found by a new-user review: each test fails on the code before its fix."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

import eagle_kit as ek


def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _rgb(h: int = 8, w: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


class ThreeTokens:
    """A plain scorer with three tokens; token j likes column j of a 3-column image."""

    def __call__(self, images: np.ndarray) -> np.ndarray:
        cols = np.array_split(images.astype(float).mean(axis=3), 3, axis=2)
        return np.stack([c.mean(axis=(1, 2)) / 255.0 for c in cols], axis=1)


# -- 1. file objects are images, not tensors -----------------------------------------------
def test_load_image_reads_bytesio_and_leaves_it_usable() -> None:
    arr = _rgb()
    buf = io.BytesIO(_png_bytes(arr))
    np.testing.assert_array_equal(ek.load_image(buf), arr)
    assert not buf.closed
    buf.seek(0)
    np.testing.assert_array_equal(ek.load_image(buf), arr)  # the object is not damaged


def test_load_image_reads_an_open_binary_file(tmp_path) -> None:
    arr = _rgb()
    path = tmp_path / "a.png"
    path.write_bytes(_png_bytes(arr))
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(ek.load_image(fh), arr)
        assert not fh.closed


def test_load_image_rejects_other_objects_listing_the_accepted_types(tmp_path) -> None:
    for bad in (b"\x89PNG", 3.0, object()):
        with pytest.raises(
            TypeError, match="file path, a PIL image, a binary file object.*numpy array.*torch"
        ):
            ek.load_image(bad)
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as fh, pytest.raises(TypeError, match="binary mode"):
        ek.load_image(fh)
    with pytest.raises(ValueError, match="does not hold an image"):
        ek.load_image(io.BytesIO(b"not an image at all"))


def test_load_image_still_takes_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    arr = _rgb()
    np.testing.assert_array_equal(ek.load_image(torch.from_numpy(arr)), arr)


def test_explain_takes_a_bytesio_image() -> None:
    img = np.full((6, 9, 3), 200, np.uint8)
    e = ek.explain(
        ThreeTokens(),
        io.BytesIO(_png_bytes(img)),
        regions=ek.segment(img, 3, "grid", rows=1, cols=3),
        search="exact",
        progress=False,
    )
    np.testing.assert_array_equal(e.image, img)


# -- 2. load_explanation on something else --------------------------------------------------
@pytest.fixture(scope="module")
def expl() -> ek.Explanation:
    img = np.full((6, 9, 3), 200, np.uint8)
    return ek.explain(
        ThreeTokens(),
        img,
        regions=ek.segment(img, 3, "grid", rows=1, cols=3),
        token_names=["cat", "dog", " bird"],
        search="exact",
        progress=False,
    )


def _not_explanations(tmp_path, expl):
    jpg = tmp_path / "garbage.jpg"
    Image.fromarray(_rgb()).save(jpg)
    html = tmp_path / "page.html"
    html.write_text("<html><body>hi</body></html>")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    nc = tmp_path / "other.nc"
    expl.dataset[["image"]].to_netcdf(nc, engine="h5netcdf")
    return [jpg, html, folder, nc]


def test_load_explanation_names_the_file_and_the_expected_kind(tmp_path, expl) -> None:
    for path in _not_explanations(tmp_path, expl):
        with pytest.raises(ValueError) as info:
            ek.load_explanation(path)
        msg = str(info.value)
        assert str(path) in msg and ".nc or .zarr" in msg and "Explanation.save" in msg
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_cli_show_on_a_jpeg_exits_2_with_one_line(tmp_path, expl, capsys) -> None:
    from eagle_kit.cli import main

    jpg = _not_explanations(tmp_path, expl)[0]
    assert main(["show", str(jpg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "garbage.jpg" in err[0] and "Explanation.save" in err[0]


# -- 3. plain-scorer token names are each their own word -------------------------------------
@pytest.mark.parametrize(
    "names, target",
    [(["cat", "dog", " bird"], "cat"), (["قطة", "كلب", " طائر"], "كلب")],
)
def test_plain_scorer_names_are_words_in_explain_and_after_save(tmp_path, names, target) -> None:
    img = np.full((6, 9, 3), 200, np.uint8)
    e = ek.explain(
        ThreeTokens(),
        img,
        regions=ek.segment(img, 3, "grid", rows=1, cols=3),
        token_names=names,
        targets=target,
        search="exact",
        progress=False,
    )
    want = names.index(target)
    assert e.targets == [want]
    assert e._token_indices(names[2].strip()) == [2]
    np.testing.assert_allclose(
        e.curve("insertion", tokens=target), e.curve("insertion", tokens=want)
    )
    for suffix in (".nc", ".zarr"):
        back = ek.load_explanation(e.save(tmp_path / f"e{suffix}"))
        assert back.targets == [want]
        assert back._token_indices(target) == [want]
        assert back._token_indices(names[2].strip()) == [2]


# -- 4. target_token_ids text the vocabulary lacks --------------------------------------------
def test_target_token_ids_unknown_word_warns_on_shapes_model() -> None:
    from eagle_kit import shapes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    scene = shapes.make_scene(950000)
    obj = scene.objects[0]
    question = shapes.QUESTION_TEMPLATE.format(colour=obj.colour, shape=obj.shape)
    with pytest.warns(UserWarning, match="'maybe' is not in the tokenizer's vocabulary"):
        model.prepare(scene.image, prompt=question, answer="yes", target_token_ids={0: "maybe"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.prepare(scene.image, prompt=question, answer="yes", target_token_ids={0: "no"})


def test_resolve_target_token_ids_warns_on_the_unknown_id() -> None:
    from eagle_kit.models.tokens import resolve_target_token_ids

    vocab = {"yes": 5, "no": 6}
    encode = lambda s: [vocab.get(s, 1)]  # noqa: E731 - 1 is the unknown token
    with pytest.warns(UserWarning, match="unknown token"):
        assert resolve_target_token_ids({0: "maybe"}, [5], encode, unknown_id=1) == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_target_token_ids({0: "no"}, [5], encode, unknown_id=1) == [6]


# -- 9. 16-bit data that uses few bits --------------------------------------------------------
def test_twelve_bit_data_warns_with_the_bits_used(tmp_path) -> None:
    data = np.arange(64, dtype=np.uint16).reshape(8, 8) * 60  # max 3780 < 4096: 12 bits
    path = tmp_path / "micro.png"
    Image.fromarray(data).save(path)
    with pytest.warns(UserWarning, match="only 12 bits") as rec:
        out = ek.load_image(path)
    assert len(rec) == 1 and "rescaled" in str(rec[0].message)
    np.testing.assert_array_equal(out[..., 0], np.round(data / 257.0).astype(np.uint8))
    with pytest.warns(UserWarning, match="only 12 bits"):
        ek.load_image(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ek.load_image(np.full((4, 4), 65535, np.uint16))  # full range: no warning


# -- 5. mitigate validates its inputs ---------------------------------------------------------
def test_mitigate_validates_label_answers_and_max_area(expl) -> None:
    from eagle_kit.metrics import mitigate

    ok = lambda img: "no"  # noqa: E731
    for label in (None, 3, b"no"):
        with pytest.raises(TypeError, match="label must be the correct answer as a str"):
            mitigate(expl, ok, label)
    with pytest.raises(ValueError, match="non-empty"):
        mitigate(expl, ok, "  ")
    with pytest.raises(TypeError, match="returned int 7"):
        mitigate(expl, lambda img: 7, "no")
    with pytest.raises(TypeError, match="returned NoneType"):
        mitigate(expl, lambda img: None, "no")
    for bad in (0, -0.5, 1.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"max_area .*\(0, 1\]"):
            mitigate(expl, ok, "no", max_area=bad)
    with pytest.raises(TypeError, match="max_area must be a number"):
        mitigate(expl, ok, "no", max_area="0.5")
    assert mitigate(expl, ok, "no", max_area=None).corrected  # None: no limit
    answers = iter(["yes", "yes", "no"])
    c = mitigate(expl, lambda img: next(answers), "No.", max_area=None)
    assert c.corrected and c.n_removed == 2


# -- 6. threads above os.cpu_count() * 4 are refused -----------------------------------------
def test_threads_above_four_per_core_are_refused(monkeypatch, expl) -> None:
    from eagle_kit.runs.settings import RunSettings
    from eagle_kit.threads import check_threads

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert check_threads(8) == 8
    with pytest.raises(ValueError, match=r"threads=9 .*choose 1\.\.8"):
        check_threads(9)
    with pytest.raises(ValueError, match="threads=1000000"):
        ek.set_threads(10**6)
    with pytest.raises(ValueError, match="threads=1000000"):
        RunSettings(threads=10**6)  # the runs store and `eagle-kit run --threads`
    img = np.full((6, 9, 3), 200, np.uint8)
    with pytest.raises(ValueError, match="threads=1000000"):
        ek.explain(ThreeTokens(), img, regions=expl.regions, threads=10**6, progress=False)


# -- 7. bad inputs give clear errors ---------------------------------------------------------
def test_point_game_box_errors(expl) -> None:
    from eagle_kit.metrics import point_game

    with pytest.raises(ValueError, match=r"4 numbers \(x0, y0, x1, y1\) in pixels.*got 3 values"):
        point_game(expl, box=(0, 0, 5))
    with pytest.raises(TypeError, match="4 numbers"):
        point_game(expl, box="0,0,5,5")
    with pytest.raises(TypeError, match="4 numbers"):
        point_game(expl, box=(0, 0, "5", 5))
    with pytest.raises(ValueError, match="inverted"):
        point_game(expl, box=(5, 0, 2, 5))
    with pytest.raises(ValueError, match="entirely outside"):
        point_game(expl, box=(100, 100, 120, 120))
    assert point_game(expl, box=(0, 0, 9, 6)) == 1.0  # the whole image


def test_overlay_and_map_number_errors(expl) -> None:
    for kw, err in (
        ({"scale": "1"}, TypeError),
        ({"scale": float("inf")}, ValueError),
        ({"alpha": "0.5"}, TypeError),
        ({"alpha": 1.5}, ValueError),
        ({"alpha": -0.1}, ValueError),
        ({"smooth": "2"}, TypeError),
    ):
        kind = "gain" if "scale" in kw else None
        with pytest.raises(err, match=next(iter(kw))):
            expl.overlay(0 if kind else None, kind=kind, **kw)
    with pytest.raises(TypeError, match="smooth must be a number"):
        expl.attribution_map(smooth="2")
    with pytest.raises(ValueError, match="smooth"):
        expl.attribution_map(smooth=-1)
    assert expl.overlay(alpha=1).shape == (*expl.labels.shape, 3)


def test_targets_bytes_dict_and_token_names_str_are_type_errors() -> None:
    from eagle_kit.targets import resolve_targets

    with pytest.raises(TypeError, match="got bytes.*decode"):
        resolve_targets(b"green", ["green", " circle"])
    with pytest.raises(TypeError, match="got dict"):
        resolve_targets({"green": 1}, ["green", " circle"])
    img = np.full((6, 9, 3), 200, np.uint8)
    regions = ek.segment(img, 3, "grid", rows=1, cols=3)
    with pytest.raises(TypeError, match="got dict"):
        ek.explain(
            ThreeTokens(),
            img,
            regions=regions,
            targets={"cat": 1},
            token_names=["cat", "dog", "bird"],
            progress=False,
        )
    with pytest.raises(TypeError, match="token_names must be a list of str"):
        ek.explain(ThreeTokens(), img, regions=regions, token_names="cat", progress=False)


def test_metrics_amcr_csr_errors() -> None:
    from eagle_kit.metrics import amcr, csr

    with pytest.raises(TypeError, match="got str"):
        amcr("abc")
    with pytest.raises(TypeError, match="got str 'a'"):
        amcr(["a"])
    for bad in (5, -1, float("nan")):
        with pytest.raises(
            ValueError, match=r"threshold must be a removed-area fraction in \[0, 1\]"
        ):
            csr([0.05, None], threshold=bad)
    assert csr([0.05, None, 0.5], threshold=0.1) == pytest.approx(1 / 3)
    assert amcr([0.2, None]) == pytest.approx(0.6)


def test_segment_parameter_errors() -> None:
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="rows must be at least 1"):
        ek.segment(img, method="grid", rows=0)
    with pytest.raises(ValueError, match="cols must be at least 1"):
        ek.segment(img, 4, method="grid", rows=2, cols=0)
    with pytest.raises(TypeError, match="rows must be a positive integer"):
        ek.segment(img, method="grid", rows=2.5)
    for ruler in (0, -3, float("inf")):
        with pytest.raises(ValueError, match="ruler"):
            ek.segment(img, 4, ruler=ruler)
    with pytest.raises(ValueError, match="iterations must be at least 1"):
        ek.segment(img, 4, iterations=0)
    assert ek.segment(img, 8, method="grid", rows=2).labels.max() + 1 == 8  # cols from n


def test_checkpoint_folder_is_refused_without_touching_it(tmp_path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    img = np.full((6, 9, 3), 200, np.uint8)
    with pytest.raises(ValueError, match="must be a file path") as info:
        ek.explain(
            ThreeTokens(),
            img,
            regions=ek.segment(img, 3, "grid", rows=1, cols=3),
            checkpoint=folder,
            progress=False,
        )
    assert "delet" not in str(info.value).lower()
    assert (folder / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "target, tokens, want",
    [
        ("istanbul", ["İstanbul", " is", " big"], [0]),
        ("ISTANBUL", ["istanbul"], [0]),
        ("strasse", ["Straße"], [0]),
        ("ΣΟΦΟΣ", ["σοφος"], [0]),
    ],
)
def test_case_insensitive_matching_uses_unicode_case_folding(target, tokens, want) -> None:
    from eagle_kit.targets import fold_case, resolve_targets

    assert fold_case("İstanbul") == "istanbul" == fold_case("ISTANBUL")
    assert resolve_targets(target, tokens, joined=False) == want


# -- 8. ek.targets ----------------------------------------------------------------------------
def test_targets_submodule_is_an_attribute() -> None:
    import subprocess
    import sys

    code = "import eagle_kit as ek; print(ek.targets.resolve_targets('cat', ['a', ' cat']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[1]"


# -- 10. a collapsed smoothed rank map is not stretched ---------------------------------------
def test_heavily_smoothed_rank_map_is_not_stretched(expl) -> None:
    huge = expl.attribution_map(kind="rank", smooth=1e6)
    np.testing.assert_array_equal(huge, np.zeros_like(huge))
    mild = expl.attribution_map(kind="rank", smooth=1.0)
    assert mild.min() == 0.0 and mild.max() == pytest.approx(1.0)  # contrast kept: stretched


# -- 11. the method description ships with the source -----------------------------------------
def test_method_description_is_in_the_repository_and_the_sdist() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    method = (root / "docs" / "METHOD.md").read_text(encoding="utf-8")
    sections = {int(n) for n in re.findall(r"^## (\d+)\.", method, flags=re.M)}
    readme = (root / "README.md").read_text(encoding="utf-8")
    head = readme.split("## What it does", 1)[1][:1200]
    assert "docs/METHOD.md" in head
    cited = set()
    for path in [root / "README.md", *(root / "eagle_kit").rglob("*.py")]:
        cited |= {int(n) for n in re.findall(r"METHOD §(\d+)", path.read_text(encoding="utf-8"))}
    assert cited and cited <= sections
    manifest = (root / "MANIFEST.in").read_text().split("\n")
    assert "include docs/METHOD.md" in manifest
    assert not re.search(r"/work/|/tmp/|session|agent", method, flags=re.I)


def test_twelve_bit_warning_points_at_the_callers_line(tmp_path) -> None:
    data = np.arange(64, dtype=np.uint16).reshape(8, 8) * 60
    path = tmp_path / "micro.png"
    Image.fromarray(data).save(path)
    for source in (path, data):
        with pytest.warns(UserWarning, match="only 12 bits") as rec:
            ek.load_image(source)
        assert rec[0].filename == __file__
