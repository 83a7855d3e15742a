"""The browser computes what Python computes: helpers.js against eagle_kit's core, in node.

The overlay derives per-token maps in the browser (so exported pages work without a
kernel); these tests check them against the independent Python implementation, and
decode an exported page's buffers with the page runtime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import eagle_kit as ek
from eagle_kit.colors import GAIN_COLORMAP, diverging_rgb, gain_colors
from eagle_kit.explanation import MIN_MAP_SPAN, attribution_values
from eagle_kit.widgets import Explorer

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"


def run_node(script: str, payload: object) -> object:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is needed for the JavaScript parity tests (CI is set: no skipping)")
        pytest.skip("node is not installed")
    proc = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=WIDGETS,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


READ_STDIN = "const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));"
PRELUDE = (
    "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
    + READ_STDIN
)


def test_attribution_and_token_maps_match_python(expl, expl_red) -> None:
    cases = []
    for e in (expl, expl_red):
        ins = e.dataset["insertion"].values
        for tokens in ([1], [4], [0, 5], [1, 2, 3]):
            cases.append(
                {
                    "order": e.order.tolist(),
                    "insertion": ins.tolist(),
                    "tokens": tokens,
                    "objective": e.dataset["objective"].values.tolist(),
                }
            )
    script = (
        PRELUDE
        + """
    const h = await import('./helpers.js');
    const out = input.map((c) => {
      const T = c.insertion[0].length;
      const curves = { data: Float64Array.from(c.insertion.flat()), shape: [c.insertion.length, T] };
      const order = Int32Array.from(c.order);
      return {
        objective: [...h.valuesByRegion(order, h.attributionByRank(c.objective))],
        tokens: [...h.valuesByRegion(order, h.attributionByRank(h.meanCurve(curves, c.tokens)))],
      };
    });
    console.log(JSON.stringify(out));
    """
    )
    results = run_node(script, cases)
    i = 0
    for e in (expl, expl_red):
        for tokens in ([1], [4], [0, 5], [1, 2, 3]):
            np.testing.assert_allclose(
                results[i]["objective"], e.dataset["attribution"].values, atol=1e-12
            )
            np.testing.assert_allclose(
                results[i]["tokens"], e.region_values(tokens, kind="rank"), atol=1e-12
            )
            i += 1


def test_gain_maps_and_spans_match_python(expl, expl_red) -> None:
    """mapFor (what the overlay draws and reads out) against Explanation.region_values and
    Explanation.map_info, for the objective and token selections, both kinds."""
    selections = ([], [1], [4], [0, 5], [1, 2, 3])
    cases = []
    for e in (expl, expl_red):
        ds = e.dataset
        for sel in selections:
            for kind in ("auto", "rank", "gain"):
                cases.append(
                    {
                        "order": e.order.tolist(),
                        "attribution": ds["attribution"].values.tolist(),
                        "objective": ds["objective"].values.tolist(),
                        "insertion": ds["insertion"].values.tolist(),
                        "targets": e.targets,
                        "selected": sel,
                        "kind": kind,
                    }
                )
    script = (
        PRELUDE
        + """
    const h = await import('./helpers.js');
    const out = input.map((c) => {
      const T = c.insertion[0].length;
      const d = { order: Int32Array.from(c.order), attribution: Float64Array.from(c.attribution),
        objective: Float64Array.from(c.objective),
        insertion: { data: Float64Array.from(c.insertion.flat()), shape: [c.insertion.length, T] } };
      const m = h.mapFor(d, c.selected, c.targets, c.kind);
      return { source: m.source, kind: m.kind, values: [...m.values], gain: [...m.gainValues],
        rank: [...m.rankValues], span: m.span, maxGain: m.maxGain, region: m.maxGainRegion,
        black: m.black, full: m.full, shown: m.shown, minSpan: h.MIN_MAP_SPAN };
    });
    console.log(JSON.stringify(out));
    """
    )
    results = iter(run_node(script, cases))
    for e in (expl, expl_red):
        for sel in selections:
            tokens = sel or None  # any selection reads the tokens (targets too)
            for kind in ("auto", "rank", "gain"):
                got = next(results)
                want_kind = None if kind == "auto" else kind
                info = e.map_info(tokens, kind=want_kind)
                assert got["source"] == info.source and got["kind"] == info.kind
                np.testing.assert_allclose(
                    got["values"], e.region_values(tokens, kind=want_kind), atol=1e-12
                )
                np.testing.assert_allclose(
                    got["gain"], e.region_values(tokens, kind="gain"), atol=1e-12
                )
                np.testing.assert_allclose(
                    got["rank"], e.region_values(tokens, kind="rank"), atol=1e-12
                )
                assert got["span"] == pytest.approx(info.span, abs=1e-12)
                assert got["maxGain"] == pytest.approx(info.max_gain, abs=1e-12)
                assert got["region"] == info.max_gain_region
                assert got["black"] == pytest.approx(info.black, abs=1e-12)
                assert got["full"] == pytest.approx(info.full, abs=1e-12)
                assert got["shown"] == info.shown
                assert got["minSpan"] == MIN_MAP_SPAN


def _as_joint(e: ek.Explanation, n_text: int) -> ek.Explanation:
    """The same explanation read as if its last ``n_text`` features were prompt spans."""
    n = e.n_regions
    ds = e.dataset.assign_coords(
        region_kind=("region", np.array(["image"] * (n - n_text) + ["text"] * n_text, object)),
        region_text=(
            "region",
            np.array([""] * (n - n_text) + [f"w{i}" for i in range(n_text)], object),
        ),
        region_start=("region", np.array([-1] * (n - n_text) + list(range(n_text)))),
        region_end=("region", np.array([-1] * (n - n_text) + list(range(1, n_text + 1)))),
    )
    return ek.Explanation(ds)


def test_joint_gain_scale_is_over_image_regions_in_python_and_js(expl, expl_red) -> None:
    """With prompt span features the gain map's colour scale is the largest image-region
    gain (MapInfo.scale = mapFor(...).scale), never a prompt word's."""
    cases, want = [], []
    for base in (expl, expl_red):
        for n_text in (1, 3):
            e = _as_joint(base, n_text)
            for sel in ([], [1], [0, 5]):
                tokens = sel or None  # any selection reads the tokens (targets too)
                info = e.map_info(tokens, kind="gain")
                gains = e.region_values(tokens, kind="gain")
                image = gains[: e.n_image_regions]
                top = int(np.argmax(np.abs(image)))
                assert info.image_max_gain == pytest.approx(image[top], abs=1e-12)
                region = info.image_max_gain_region
                assert region < e.n_image_regions and gains[region] == info.image_max_gain
                assert info.scale == pytest.approx(max(abs(image[top]), 1e-12), abs=1e-12)
                want.append(info)
                cases.append(
                    {
                        "order": e.order.tolist(),
                        "attribution": e.dataset["attribution"].values.tolist(),
                        "objective": e.dataset["objective"].values.tolist(),
                        "insertion": e.dataset["insertion"].values.tolist(),
                        "targets": e.targets,
                        "selected": sel,
                        "nImageRegions": e.n_image_regions,
                    }
                )
    script = (
        PRELUDE
        + """
    const h = await import('./helpers.js');
    const out = input.map((c) => {
      const T = c.insertion[0].length;
      const d = { order: Int32Array.from(c.order), attribution: Float64Array.from(c.attribution),
        objective: Float64Array.from(c.objective), nImageRegions: c.nImageRegions,
        insertion: { data: Float64Array.from(c.insertion.flat()), shape: [c.insertion.length, T] } };
      const m = h.mapFor(d, c.selected, c.targets, "gain");
      return { scale: m.scale, image: m.imageMaxGain, region: m.imageMaxGainRegion,
        maxGain: m.maxGain, heat: [...h.heatValues(m)], imageSpan: m.imageSpan, shown: m.shown };
    });
    console.log(JSON.stringify(out));
    """
    )
    for got, info in zip(run_node(script, cases), want, strict=True):
        assert got["scale"] == pytest.approx(info.scale, abs=1e-12)
        assert got["image"] == pytest.approx(info.image_max_gain, abs=1e-12)
        assert got["region"] == info.image_max_gain_region
        assert got["maxGain"] == pytest.approx(info.max_gain, abs=1e-12)
        assert max(got["heat"]) <= 1 and min(got["heat"]) >= 0
        # the image regions' own movement decides whether the map is drawn, in both
        assert got["imageSpan"] == pytest.approx(info.image_span, abs=1e-12)
        assert got["shown"] == info.shown


def test_gain_colours_match_python() -> None:
    values = [-1.5, -1, -0.73, -0.5, -0.1, 0, 0.05, 0.3, 0.5, 0.99, 1, 2]
    script = (
        PRELUDE
        + """
    const h = await import('./helpers.js');
    console.log(JSON.stringify({ colours: input.map((v) => h.gainColor(v)), name: h.GAIN_COLORMAP }));
    """
    )
    out = run_node(script, values)
    assert out["name"] == GAIN_COLORMAP
    want = gain_colors(np.array(values))
    assert np.abs(np.subtract(out["colours"], want)).max() <= 1  # rounding of .5 differs


def test_degenerate_curves_match_python() -> None:
    curves = [
        [0, 1, 1, 1],
        [0.3, 0.3, 0.3],
        [0, 0.5, 0.8, 0.9, 1.0],
        [0, 1, 0.5, 1],
        [1, 0.2, 0.2, 0.9],
    ]
    script = (
        PRELUDE
        + """
    const h = await import('./helpers.js');
    console.log(JSON.stringify(input.map((c) => [...h.attributionByRank(c)])));
    """
    )
    for got, curve in zip(run_node(script, curves), curves):
        np.testing.assert_allclose(got, attribution_values(np.array(curve)), atol=1e-12)


def test_reliance_and_its_colours_match_python(expl) -> None:
    ds = expl.dataset
    payload = {
        "area": ds["area"].values.tolist(),
        "insertion": ds["insertion"].values.T.tolist(),
        "values": [0, 0.05, 0.1, 0.2, 0.33, 0.6, 0.9],
    }
    script = (
        PRELUDE
        + """
    const h = await import('./helpers.js');
    console.log(JSON.stringify({
      reliance: input.insertion.map((c) => h.visualReliance(input.area, c)),
      colours: input.values.map((v) => h.relianceColor(v)),
    }));
    """
    )
    out = run_node(script, payload)
    np.testing.assert_allclose(out["reliance"], ds["reliance"].values, atol=1e-12)
    for got, v in zip(out["colours"], payload["values"]):
        assert np.abs(np.subtract(got, diverging_rgb(v))).max() <= 1  # rounding of .5 differs


def test_exported_page_decodes_in_the_page_runtime(expl, tmp_path: Path) -> None:
    explorer = Explorer(expl, curves="svg")
    page = explorer.save_html(tmp_path / "e.html").read_text()
    start = page.index('id="ek-state">') + len('id="ek-state">')
    spec = json.loads(page[start : page.index("</script>", start)])
    script = (
        PRELUDE
        + """
    const { createModels } = await import('./standalone.js');
    const { decodeArray } = await import('./helpers.js');
    const models = createModels(input.spec);
    const d = models.get(input.slider).get('data');
    const ins = decodeArray(d.insertion), img = decodeArray(d.image), lab = decodeArray(d.labels);
    console.log(JSON.stringify({ insertion: [...ins.data], shape: ins.shape, image: [...img.data.subarray(0, 300)],
      labels: [...lab.data], labelsType: lab.data.constructor.name, tokens: d.tokens }));
    """
    )
    out = run_node(script, {"spec": spec, "slider": explorer.slider.model_id})
    ds = expl.dataset
    assert out["shape"] == [17, 6] and out["tokens"] == expl.tokens
    np.testing.assert_allclose(
        np.reshape(out["insertion"], (17, 6)), ds["insertion"].values, rtol=1e-6
    )
    assert out["image"] == ds["image"].values.ravel()[:300].tolist()
    assert (
        out["labels"] == ds["labels"].values.ravel().tolist() and out["labelsType"] == "Uint16Array"
    )
