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

from eagle_kit.colors import diverging_rgb
from eagle_kit.explanation import attribution_values
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
            np.testing.assert_allclose(results[i]["tokens"], e.region_values(tokens), atol=1e-12)
            i += 1


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
