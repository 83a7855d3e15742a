// node --test widgets/tests — the plotly figure of the Explorer's curves (curves="plotly").
import assert from "node:assert/strict";
import { test } from "node:test";

import { PALETTE, curveDomain, plotlyCurves } from "../helpers.js";

const area = Float64Array.from([0, 0.25, 0.5, 0.75, 1]);

test("two traces, insertion solid and deletion dashed, in the palette's colours", () => {
  const fig = plotlyCurves({ area, insertion: [0.1, 0.5, 0.8, 0.9, 0.9], deletion: [0.9, 0.4, 0.2, 0.1, 0.1], k: 2, names: ["red"] });
  assert.deepEqual(
    fig.data.map((t) => [t.name, t.line.color, t.line.dash]),
    [
      ["insertion", PALETTE.insertion, "solid"],
      ["deletion", PALETTE.deletion, "dash"],
    ],
  );
  assert.deepEqual(fig.data[0].x, [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(fig.data[1].y, [0.9, 0.4, 0.2, 0.1, 0.1]);
  assert.equal(fig.layout.title.text, "mean p of “red” · k = 2");
});

test("step k is marked at its area, clamped to the curve", () => {
  const at = (k) => plotlyCurves({ area, insertion: [0, 1, 1, 1, 1], deletion: [1, 0, 0, 0, 0], k }).layout.shapes[0];
  assert.equal(at(3).x0, 0.75);
  assert.equal(at(3).x1, 0.75);
  assert.equal(at(99).x0, 1);
  assert.equal(at(-4).x0, 0);
});

test("the y axis follows small data and says it is zoomed (a photo's p ≈ 0.02)", () => {
  const insertion = [0.01, 0.015, 0.02, 0.024, 0.025];
  const deletion = [0.025, 0.02, 0.012, 0.011, 0.01];
  const fig = plotlyCurves({ area, insertion, deletion, k: 1 });
  const [lo, hi] = fig.layout.yaxis.range;
  assert.ok(lo <= 0.01 && hi >= 0.025 && hi - lo < 0.2, `${lo}–${hi}`);
  assert.deepEqual(fig.layout.yaxis.range, curveDomain([insertion, deletion]).y);
  assert.equal(fig.layout.yaxis.title.text, "mean p (zoomed)");
  const full = plotlyCurves({ area, insertion: [0, 0.5, 1, 1, 1], deletion: [1, 0.5, 0, 0, 0], k: 1 });
  assert.deepEqual(full.layout.yaxis.range, [0, 1]);
  assert.equal(full.layout.yaxis.title.text, "mean p");
});

test("the x axis is titled as given (text-only explanations: prompt spans)", () => {
  const xLabel = "fraction of the prompt spans inserted / deleted";
  const fig = plotlyCurves({ area, insertion: [0, 1, 1, 1, 1], deletion: [1, 0, 0, 0, 0], k: 0, xLabel });
  assert.equal(fig.layout.xaxis.title.text, xLabel);
  assert.deepEqual(fig.layout.xaxis.range, [0, 1]);
});

test("many tokens are named up to six, then counted", () => {
  const names = ["a", "b", "c", "d", "e", "f", "g", "h"];
  const fig = plotlyCurves({ area, insertion: [0, 1, 1, 1, 1], deletion: [1, 0, 0, 0, 0], k: 0, names });
  assert.equal(fig.layout.title.text, "mean p of “a” “b” “c” “d” “e” “f” +2 · k = 0");
});
