"""The feature-set baselines over prompt spans: occlusion against teacher forcing written with
plain transformers, the joint feature set and its coordinates equal to EAGLE's, captum on the
joint features, the views and the store reading the result, gradient maps refusing spans."""

from __future__ import annotations

import json

import numpy as np
import pytest
from baseline_helpers import WEIGHTS, AdditiveScorer, teacher_forced, word_positions
from PIL import Image

import eagle_kit as ek
from eagle_kit import shapes
from eagle_kit.baselines._keep import FeatureSet, KeepObjective
from eagle_kit.text_regions import text_spans

SEED = 950003  # a held-out scene with one object


@pytest.fixture(scope="module")
def scene():
    return shapes.make_scene(SEED)


@pytest.fixture(scope="module")
def question(scene) -> str:
    obj = scene.objects[0]
    return shapes.QUESTION_TEMPLATE.format(colour=obj.colour, shape=obj.shape)


def _user(prompt: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]


def _check_occlusion_drops(model, image, prompt, answer, baseline, baseline_id):
    """Occlusion on prompt words only: each span's value is p(full) − p(that word replaced),
    both computed with plain transformers (the mean over the answer tokens, the objective)."""
    messages = _user(prompt)
    expl = ek.baselines.occlusion(
        model, image, "none", messages=messages, answer=answer, text_regions="words",
        text_baseline=baseline, progress=False,
    )  # fmt: skip
    answer_ids = model.tokenizer(answer, add_special_tokens=False)["input_ids"]
    assert expl.dataset["token_id"].values.tolist() == answer_ids
    positions = word_positions(model, image, messages, prompt)
    full = teacher_forced(model, image, messages, answer_ids, [], baseline_id).mean()
    expected = np.array(
        [
            full - teacher_forced(model, image, messages, answer_ids, [pos], baseline_id).mean()
            for pos in positions
        ]
    )
    assert [t for t, _, _ in expl.text_spans] == prompt.split()
    assert expl.n_image_regions == 0 and expl.n_regions == len(positions)
    return expl, full, expected


@pytest.mark.parametrize(("baseline", "baseline_word"), [(None, None), ("a", "a")])
def test_occlusion_of_prompt_words_on_the_embedded_model(
    shapes_model, scene, question, baseline, baseline_word
) -> None:
    tok = shapes_model.tokenizer
    baseline_id = tok.pad_token_id if baseline is None else tok.convert_tokens_to_ids(baseline_word)
    expl, full, expected = _check_occlusion_drops(
        shapes_model, scene.image, question, "yes", baseline, baseline_id
    )
    values = expl.dataset["baseline_values"].values
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-5)
    assert np.abs(expected).max() > 0.3  # a content word carries "yes": the test can fail
    np.testing.assert_allclose(expl.dataset["p_full"].values[0], full, atol=1e-5)
    assert expl.dataset.attrs["text_baseline_id"] == baseline_id
    words = question.split()
    obj = scene.objects[0]
    assert words[int(expl.order[0])] in (obj.colour, obj.shape)


@pytest.mark.slow
def test_occlusion_of_prompt_words_on_a_tiny_qwen2_vl(tiny) -> None:
    from eagle_kit.testing.tiny_models import native_size

    model = tiny("qwen2_vl")
    h, w = native_size("qwen2_vl")
    image = np.random.default_rng(7).integers(0, 256, (h, w, 3), dtype=np.uint8)
    prompt, answer = "is there a red cat ?", "yes the red cat"
    expl, full, expected = _check_occlusion_drops(
        model, image, prompt, answer, None, model.tokenizer.pad_token_id
    )
    # a tiny random model is nearly uniform: the drops are ~1e-5 of a p of ~2e-2; the two
    # computations agree to ~1e-7 of p (float32 logits)
    tol = 1e-5 * full
    assert np.abs(expected).max() > 20 * tol
    np.testing.assert_allclose(expl.dataset["baseline_values"].values, expected, rtol=0, atol=tol)


# -- the joint feature set -------------------------------------------------------------------


@pytest.fixture(scope="module")
def joint_eagle(shapes_model, scene, question):
    grid = ek.segment(scene.image, 4, "grid")
    options = {"prompt": question, "answer": "yes", "text_regions": "words", "progress": False}
    return (
        grid,
        options,
        ek.explain(shapes_model, scene.image, regions=grid, search="exact", **options),
    )


FEATURE_METHODS = [
    ("occlusion", {}),
    ("rise", {"n_masks": 32}),
    ("random_order", {"seed": 1}),
    ("shapley_sampling", {"n_samples": 2}),
    ("kernel_shap", {"n_samples": 48}),
    ("lime", {"n_samples": 48}),
]


@pytest.mark.parametrize(("method", "kw"), FEATURE_METHODS)
def test_joint_features_have_eagles_coordinates_and_curves(
    shapes_model, scene, joint_eagle, method, kw
) -> None:
    if method in ("shapley_sampling", "kernel_shap", "lime"):
        pytest.importorskip("captum")
    grid, options, eagle = joint_eagle
    expl = getattr(ek.baselines, method)(shapes_model, scene.image, grid, **options, **kw)
    d, e = expl.dataset, eagle.dataset
    n = 4 + len(text_spans(options["prompt"], "words"))
    assert expl.n_regions == n and sorted(expl.order.tolist()) == list(range(n))
    for name in ("region", "region_kind", "region_text", "region_start", "region_end"):
        assert d[name].values.tolist() == e[name].values.tolist(), name
    np.testing.assert_array_equal(d["region_area"].values, e["region_area"].values)
    np.testing.assert_array_equal(d["feature_fraction"].values, e["feature_fraction"].values)
    assert d.attrs["text_baseline_id"] == e.attrs["text_baseline_id"]
    # the curves' ends and the three-way reading are the same inputs as EAGLE's
    for name in ("p_full", "p_black", "p_no_image", "p_no_prompt", "p_neither", "reliance_prompt"):
        np.testing.assert_allclose(d[name].values, e[name].values, atol=1e-6, err_msg=name)
    # step 1 of the insertion curve keeps only the first feature: its objective, scored by
    # hand on a keep-vector over the joint features
    keep = np.zeros((1, n), dtype=bool)
    keep[0, expl.order[0]] = True
    prepared = shapes_model.prepare(scene.image, prompt=options["prompt"], answer="yes")
    prepared.bind_text("words")
    masks = grid.masks(keep[:, :4])
    by_hand = prepared.score_masks(masks, np.zeros_like(scene.image), text_keep=keep[:, 4:])
    np.testing.assert_allclose(d["insertion"].values[1], by_hand[0], atol=1e-6)
    if method != "random_order":
        assert d["baseline_values"].shape == (n,)
    assert json.loads(d.attrs["baseline_options"])["text_regions"] == "words"


def test_captum_methods_score_keep_vectors_over_every_feature(
    shapes_model, scene, question, monkeypatch
):
    pytest.importorskip("captum")
    import eagle_kit.baselines._assemble as assemble

    grid = ek.segment(scene.image, 4, "grid")
    n_text = len(question.split())
    seen: list[tuple[int, ...]] = []

    class Spy(KeepObjective):
        def __call__(self, keep):
            seen.append(np.asarray(keep).shape)
            return super().__call__(keep)

    monkeypatch.setattr(assemble, "KeepObjective", Spy)
    expl = ek.baselines.kernel_shap(
        shapes_model, scene.image, grid, prompt=question, answer="yes", text_regions="words",
        n_samples=40, batch_size=16, progress=False,
    )  # fmt: skip
    assert {s[1] for s in seen} == {4 + n_text}
    assert sum(s[0] for s in seen) == 40 == expl.dataset.attrs["baseline_evaluations"]
    values = expl.dataset["baseline_values"].values
    kinds = expl.region_kind
    assert np.abs(values[kinds == "text"]).max() > 0.01  # the words matter to "yes"
    assert np.abs(values[kinds == "image"]).max() > 0.01  # and so does the image


def test_text_only_captum_and_the_views(shapes_model, scene, question, tmp_path) -> None:
    pytest.importorskip("captum")
    expl = ek.baselines.shapley_sampling(
        shapes_model, scene.image, "none", prompt=question, answer="yes", text_regions="words",
        n_samples=2, progress=False,
    )  # fmt: skip
    words = question.split()
    assert expl.n_regions == len(words) and list(expl.region_kind) == ["text"] * len(words)
    gains = expl.text_values(0, kind="gain")
    assert gains.shape == (len(words),)
    fig = ek.plot.prompt(expl)
    assert len(fig.ek_values) == len(words)
    path = tmp_path / "shap_words.nc"
    expl.save(path)
    back = ek.load_explanation(path)
    assert back.text_spans == expl.text_spans
    np.testing.assert_array_equal(
        back.dataset["baseline_values"].values, expl.dataset["baseline_values"].values
    )
    np.testing.assert_array_equal(back.text_values(0, kind="gain"), gains)


def test_explicit_spans_and_their_errors(shapes_model, scene, question) -> None:
    colour_shape = (question.index(scene.objects[0].colour), len(question) - 2)
    expl = ek.baselines.occlusion(
        shapes_model, scene.image, "none", prompt=question, answer="yes",
        text_regions=[colour_shape, (0, 8)], progress=False,
    )  # fmt: skip
    assert [t for t, _, _ in expl.text_spans] == [question[slice(*colour_shape)], "is there"]
    with pytest.raises(ValueError, match="regions='none' leaves no feature"):
        ek.baselines.occlusion(shapes_model, scene.image, "none", prompt=question, answer="yes")
    with pytest.raises(ValueError, match="needs its regions"):
        ek.baselines.lime(shapes_model, scene.image, None, prompt=question, answer="yes")
    with pytest.raises(ValueError, match="text_baseline only applies"):
        ek.baselines.rise(
            shapes_model, scene.image, ek.segment(scene.image, 4, "grid"), prompt=question,
            answer="yes", text_baseline="a",
        )  # fmt: skip


def test_a_black_box_scorer_cannot_remove_prompt_words() -> None:
    scorer = AdditiveScorer(WEIGHTS)
    with pytest.raises(TypeError, match="replace prompt tokens"):
        ek.baselines.occlusion(
            scorer, scorer.image(), scorer.regions(), text_regions="words", progress=False
        )
    # without prompt spans nothing changes: the features are the regions
    f = KeepObjective(
        scorer,
        scorer.image(),
        FeatureSet(scorer.image(), scorer.regions()),
        targets=[0],
        batch_size=4,
        options={},
    )
    assert f.n_features == len(WEIGHTS)


@pytest.mark.parametrize("method", ["llava_cam", "token_activation_map"])
def test_gradient_maps_refuse_prompt_spans(shapes_model, scene, question, method) -> None:
    fn = getattr(ek.baselines, method)
    with pytest.raises(ValueError, match="cannot attribute prompt spans.*text_regions"):
        fn(shapes_model, scene.image, prompt=question, answer="yes", text_regions="words")
    with pytest.raises(ValueError, match="text_baseline"):
        fn(shapes_model, scene.image, prompt=question, answer="yes", text_baseline="a")
    # an explicit None means "no prompt spans": the same image map as without it
    plain = fn(shapes_model, scene.image, prompt=question, answer="yes")
    none = fn(
        shapes_model, scene.image, prompt=question, answer="yes", text_regions=None,
        text_baseline=None,
    )  # fmt: skip
    np.testing.assert_array_equal(
        none.dataset["baseline_map"].values, plain.dataset["baseline_map"].values
    )


@pytest.mark.parametrize("method", ["kernel_shap", "lime", "shapley_sampling"])
def test_captum_methods_with_one_feature_give_its_full_change(
    shapes_model, scene, question, method
) -> None:
    """One feature: every coalition is empty or full, so each method's value is the full change
    p(word kept) − p(word replaced), computed here with plain transformers."""
    start = question.index(scene.objects[0].colour)
    span = (start, start + len(scene.objects[0].colour))
    expl = getattr(ek.baselines, method)(
        shapes_model, scene.image, "none", prompt=question, answer="yes", text_regions=[span],
        n_samples=16, progress=False,
    )  # fmt: skip
    messages = _user(question)
    answer_ids = shapes_model.tokenizer("yes", add_special_tokens=False)["input_ids"]
    (pos,) = [
        p
        for p, w in zip(
            word_positions(shapes_model, scene.image, messages, question), question.split()
        )
        if w == scene.objects[0].colour
    ]
    pad = shapes_model.tokenizer.pad_token_id
    full = teacher_forced(shapes_model, scene.image, messages, answer_ids, [], pad).mean()
    gone = teacher_forced(shapes_model, scene.image, messages, answer_ids, [pos], pad).mean()
    assert abs(full - gone) > 0.05  # the colour word matters: the test can fail
    np.testing.assert_allclose(expl.dataset["baseline_values"].values, [full - gone], atol=1e-5)


# -- runs store and CLI ----------------------------------------------------------------------


def test_cli_run_ranks_prompt_words_with_every_feature_method(tmp_path, capsys, question) -> None:
    pytest.importorskip("captum")
    from eagle_kit.cli import main

    Image.fromarray(shapes.make_scene(SEED).image).save(tmp_path / "s.png")
    manifest = tmp_path / "m.jsonl"
    line = {"id": "s", "image": "s.png", "prompt": question, "answer": "yes"}
    manifest.write_text(json.dumps(line) + "\n")
    out = tmp_path / "out"
    args = [
        "run", str(manifest), "-o", str(out), "--model", "shapes", "--n-regions", "4",
        "--segmentation", "grid", "--search", "exact", "--rise-masks", "16", "--n-samples", "2",
        "--quiet", "--methods", "eagle,occlusion,rise,random,shapley",
    ]  # fmt: skip
    assert main([*args, "--text-regions", "words"]) == 0
    capsys.readouterr()
    table = ek.open_results(out)
    assert sorted(table["method"]) == ["eagle", "occlusion", "random", "rise", "shapley"]
    assert set(table["status"]) == {"done"}
    loaded = {r["method"]: ek.load_explanation(r["path"]) for r in table.to_dict("records")}
    eagle = loaded["eagle"].dataset
    for method, expl in loaded.items():
        assert expl.n_regions == 4 + len(question.split()), method
        assert expl.text_spans == loaded["eagle"].text_spans, method
        assert expl.dataset["region_kind"].values.tolist() == eagle["region_kind"].values.tolist()
    scores = ek.evaluate(out)
    assert set(scores["method"]) == set(loaded)
    # prompt-span results integrate over the fraction of features, and are named so
    assert scores[scores["metric"] == "insertion_auc_features"]["mean"].notna().all()
    assert not (scores["metric"] == "insertion_auc").any()
    # the same run without prompt words is another result for every method, never a reuse
    assert main(args) == 0
    assert "5 done, 0 skipped" in capsys.readouterr().out
    table = ek.open_results(out)
    assert len(table) == 10  # both kept, under different keys
    plain = table[table["current"]]
    assert sorted(plain["method"]) == ["eagle", "occlusion", "random", "rise", "shapley"]
    assert all(ek.load_explanation(p).text_spans == [] for p in plain["path"])


def test_without_an_answer_the_model_generates_once(shapes_model, scene, question, monkeypatch):
    calls: list[str] = []
    generate = shapes_model.generate

    def counted(*args, **kwargs):
        gen = generate(*args, **kwargs)
        calls.append(gen.text)
        return gen

    monkeypatch.setattr(shapes_model, "generate", counted)
    expl = ek.baselines.occlusion(
        shapes_model, scene.image, "none", prompt=question, text_regions="words", progress=False
    )
    # the method's scores and its curves explain the one answer generated
    assert calls == ["yes"] and expl.dataset.attrs["answer"] == "yes"


def test_point_game_of_a_joint_result_reads_the_top_image_region(shapes_model, scene, question):
    from eagle_kit import metrics

    grid = ek.segment(scene.image, 4, "grid")
    n = 4 + len(question.split())
    # a seed whose random order puts a word first: the map's maximum is still on the image
    seed = next(s for s in range(50) if np.random.default_rng(s).permutation(n)[0] >= 4)
    expl = ek.baselines.random_order(
        shapes_model, scene.image, grid, seed=seed, prompt=question, answer="yes",
        text_regions="words", progress=False,
    )  # fmt: skip
    assert expl.region_kind[expl.order[0]] == "text"
    top = next(int(f) for f in expl.order if f < 4)  # the first image region of the order
    y, x = metrics.max_location(expl)
    assert grid.labels[y, x] == top
    ys, xs = np.nonzero(grid.labels == top)
    cell = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    other = next(r for r in range(4) if r != top)
    ys, xs = np.nonzero(grid.labels == other)
    elsewhere = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    for reading in ("strict", "paper"):
        assert metrics.point_game(expl, box=cell, reading=reading) == 1.0
        assert metrics.point_game(expl, box=elsewhere, reading=reading) == 0.0


@pytest.mark.parametrize("command", ["explain", "run"])
@pytest.mark.parametrize(
    ("baseline", "message"),
    [("red square", "is 2 tokens"), ("<image>", "image/video placeholder")],
)
def test_cli_refuses_a_bad_text_baseline_before_any_sample(
    tmp_path, capsys, question, command, baseline, message
) -> None:
    from eagle_kit.cli import main

    Image.fromarray(shapes.make_scene(SEED).image).save(tmp_path / "s.png")
    out = tmp_path / "out"
    if command == "explain":
        args = ["explain", str(tmp_path / "s.png"), "--prompt", question, "--answer", "yes"]
    else:
        manifest = tmp_path / "m.jsonl"
        line = {"id": "s", "image": "s.png", "prompt": question, "answer": "yes"}
        manifest.write_text(json.dumps(line) + "\n")
        args = ["run", str(manifest), "--model", "shapes", "--methods", "eagle,occlusion"]
    args += ["-o", str(out), "--quiet", "--text-regions", "words", "--text-baseline", baseline]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"--text-baseline {baseline!r} for model 'shapes'" in err and message in err
    assert not out.exists() or not any(out.rglob("*.nc"))  # no sample was computed
