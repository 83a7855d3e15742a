"""Prompt span features in ``score_order``, the runs store and the CLI: an order over the joint
feature set is scored like an image order, the store's key holds the text-region settings, and
methods that cannot explain prompt spans are refused with the reason."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from runs_helpers import FAST_ARGS, save_scene

import eagle_kit as ek
from eagle_kit.cli import main
from eagle_kit.runs import RunSettings
from eagle_kit.text_regions import text_spans

PROMPT = "is there a red square ?"


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ek.load_model("shapes")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return ek.shapes.make_scene(950003).image


def test_score_order_reproduces_the_search_curves_on_joint_features(model, image) -> None:
    regions = ek.segment(image, 4, "grid")
    options = {"prompt": PROMPT, "answer": "yes .", "text_regions": "words", "progress": False}
    expl = ek.explain(model, image, regions=regions, search="exact", **options)
    scored = ek.score_order(model, image, regions, expl.order, method="replay", **options)
    assert scored.text_spans == expl.text_spans and scored.n_regions == 4 + 6
    np.testing.assert_allclose(scored.dataset["insertion"].values, expl.dataset["insertion"].values)
    np.testing.assert_allclose(scored.dataset["deletion"].values, expl.dataset["deletion"].values)
    np.testing.assert_allclose(scored.dataset["objective"].values, expl.dataset["objective"].values)
    for name in ("reliance_image", "reliance_prompt", "reliance_prior"):
        np.testing.assert_allclose(scored.dataset[name].values, expl.dataset[name].values)
    assert scored.attrs["method"] == "replay"


def test_score_order_on_prompt_spans_only(model, image) -> None:
    n = len(text_spans(PROMPT, "words"))
    order = np.arange(n)[::-1]
    scored = ek.score_order(
        model, image, "none", order, prompt=PROMPT, answer="yes .", text_regions="words",
        progress=False,
    )  # fmt: skip
    assert list(scored.order) == list(order)
    d = scored.dataset
    # every span removed / every span kept: the split's separately scored prompts
    np.testing.assert_allclose(d["insertion"].values[0], d["p_no_prompt"].values, rtol=1e-5)
    np.testing.assert_allclose(d["insertion"].values[-1], d["p_full"].values)
    np.testing.assert_allclose(d["deletion"].values[-1], d["p_no_prompt"].values, rtol=1e-5)
    # step 1 keeps only the last word "?": its gain is the first one of the order
    np.testing.assert_allclose(
        scored.text_values(0, kind="gain")[n - 1],
        d["insertion"].values[1, 0] - d["insertion"].values[0, 0],
    )


def test_score_order_checks_the_joint_order(model, image) -> None:
    regions = ek.segment(image, 4, "grid")
    with pytest.raises(ValueError, match="4 image regions and 6 prompt spans"):
        ek.score_order(
            model, image, regions, range(4), prompt=PROMPT, answer="yes .",
            text_regions="words", progress=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="text_regions='words'"):
        ek.score_order(model, image, "none", range(4), prompt=PROMPT, progress=False)
    with pytest.raises(ValueError, match="text_baseline only applies"):
        ek.score_order(model, image, regions, range(4), text_baseline="<pad>", progress=False)


def test_run_settings_key_holds_the_text_regions() -> None:
    plain = RunSettings(n_regions=8)
    words = RunSettings(n_regions=8, text_regions="words")
    sentences = RunSettings(n_regions=8, text_regions="sentences", text_baseline="<unk>")
    assert "text_regions" not in plain.for_method("eagle")  # older keys unchanged
    assert words.for_method("eagle")["text_regions"] == "words"
    keys = {str(s.for_method("eagle")) for s in (plain, words, sentences)}
    assert len(keys) == 3
    assert sentences.for_method("eagle")["text_baseline"] == "<unk>"
    with pytest.raises(ValueError, match="Choose one of: words, sentences"):
        RunSettings(text_regions="letters")
    with pytest.raises(ValueError, match="text_baseline only applies"):
        RunSettings(text_baseline="<pad>")
    # the feature-set baselines rank the prompt spans too: their keys hold the text settings
    for method in ("occlusion", "rise", "random", "shapley", "kernel_shap", "lime"):
        assert "text_regions" not in plain.for_method(method)
        assert words.for_method(method)["text_regions"] == "words"
    words.check_text_methods(["eagle", "occlusion", "rise", "random", "shapley", "lime"])
    # the pixel maps have no prompt spans
    with pytest.raises(ValueError, match="llava_cam, tam map gradients"):
        words.check_text_methods(["eagle", "llava_cam", "occlusion", "tam"])
    assert "text_regions" not in words.for_method("tam")


def test_cli_explain_with_text_regions_is_a_new_result(tmp_path, capsys) -> None:
    images = tmp_path / "images"
    save_scene(images / "scene.png", 950003)
    out = tmp_path / "out"
    common = ["explain", str(images), "-o", str(out), *FAST_ARGS, "--quiet", "--prompt", PROMPT]
    assert main([*common, "--n-regions", "4", "--text-regions", "words"]) == 0
    capsys.readouterr()
    table = ek.open_results(out)
    assert len(table) == 1
    expl = ek.load_explanation(table["path"].iloc[0])
    assert [t for t, _, _ in expl.text_spans] == PROMPT.split()
    assert expl.n_image_regions == 4
    # the same command again is skipped; without --text-regions it is another result
    assert main([*common, "--n-regions", "4", "--text-regions", "words"]) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert main([*common, "--n-regions", "4"]) == 0
    assert "1 done, 0 skipped" in capsys.readouterr().out
    assert len(ek.open_results(out)) == 2


def test_cli_run_refuses_pixel_maps_with_text_regions(tmp_path, capsys) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "a", "image": "a.png", "prompt": "p"}\n')
    code = main(
        ["run", str(manifest), "-o", str(tmp_path / "o"), "--model", "shapes", "--methods",
         "eagle,random,llava_cam", "--text-regions", "words", "--quiet"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "llava_cam map gradients" in err and "--text-regions" in err
    assert not (tmp_path / "o").exists()
