// node --test widgets/tests — token chips read the right thing (image-only: I_t; prompt span
// features: the label of the three-way split; no reading: the neutral "n/a" grey), and a
// one-token answer selected switches the overlay to the same gain the prompt view shows.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { MODALITY_COLORS, PALETTE, hexRgb, mapFor, mapSource, relianceColor, tokenChipColor } from "../helpers.js";
import { spanValues } from "../prompt_view.js";
import { READING_NAMES, SPLIT_COLORS } from "../token_timeline.js";

describe("token chips: one colour per reading", () => {
  test("prompt span features: the chip is the colour of the split's label", () => {
    const d = {
      reading: "split",
      modality: ["prompt", "visual", "prior", "mixed", "n/a"],
      // image share; "the" (prompt-driven) has −0.002: never a visual colour
      reliance: Float32Array.from([-0.002, 0.97, 0.0, 0.3, Number.NaN]),
    };
    assert.deepEqual(tokenChipColor(d, 0), hexRgb(PALETTE.prompt));
    assert.deepEqual(tokenChipColor(d, 1), hexRgb(PALETTE.visual));
    assert.deepEqual(tokenChipColor(d, 2), hexRgb(PALETTE.prior));
    assert.deepEqual(tokenChipColor(d, 3), hexRgb(PALETTE.neutral));
    assert.deepEqual(tokenChipColor(d, 4), hexRgb(PALETTE.na));
  });

  test("a token with no reading is the n/a grey — neither prior blue nor visual red", () => {
    // a text-only explanation without the split: reliance NaN, modality "n/a"
    const d = { reading: "split", modality: ["n/a"], reliance: Float32Array.from([Number.NaN]) };
    const na = tokenChipColor(d, 0);
    assert.deepEqual(na, [0xbd, 0xbd, 0xbd]);
    assert.notDeepEqual(na, relianceColor(Number.NaN)); // the old chip: the prior's blue
    assert.notDeepEqual(na, hexRgb(PALETTE.visual));
    // image-only payload with a NaN reliance reads "n/a" too
    assert.deepEqual(tokenChipColor({ modality: ["mixed"], reliance: [Number.NaN] }, 0), na);
  });

  test("image regions only: the I_t scale, unchanged", () => {
    const d = { reading: "visual", modality: ["visual", "prior"], reliance: [0.7, 0.0] };
    assert.deepEqual(tokenChipColor(d, 0), relianceColor(0.7));
    assert.deepEqual(tokenChipColor(d, 1), relianceColor(0.0));
  });

  test("labels, the split bar and the Python palette name the same colours", () => {
    assert.equal(MODALITY_COLORS.visual, SPLIT_COLORS.image);
    assert.equal(MODALITY_COLORS.prompt, SPLIT_COLORS.prompt);
    assert.equal(MODALITY_COLORS.prior, SPLIT_COLORS.prior);
    assert.equal(MODALITY_COLORS["n/a"], PALETTE.na);
    for (const label of Object.keys(MODALITY_COLORS)) assert.ok(READING_NAMES[label], label);
  });
});

describe("a one-token answer: selecting it switches the overlay to gain", () => {
  // one token ("yes"), two image regions and one prompt span; order [2, 0, 1]:
  // p(yes) = 0 → 0.8 (span) → 0.9 (region 0) → 1.0 (region 1)
  const d = {
    order: Int32Array.from([2, 0, 1]),
    attribution: Float64Array.from([0.5, 0, 1]),
    objective: Float64Array.from([0, 1.2, 1.6, 2]),
    insertion: { data: Float64Array.from([0, 0.8, 0.9, 1.0]), shape: [4, 1] },
    nImageRegions: 2,
  };
  test("the overlay's map and the prompt view agree on gain", () => {
    assert.equal(mapSource([0], [0]), "tokens");
    const m = mapFor(d, [0], [0], "auto");
    assert.equal(m.kind, "gain");
    // gains per region id: region 0 +0.1, region 1 +0.1, the span (id 2) +0.8
    [0.1, 0.1, 0.8].forEach((want, region) => assert.ok(Math.abs(m.values[region] - want) < 1e-12));
    const prompt = spanValues([[0.8]], [1], [0]);
    assert.equal(prompt.kind, m.kind);
    assert.ok(Math.abs(prompt.values[0] - m.values[2]) < 1e-12);
    // nothing selected: both read the objective's rank values
    assert.equal(mapFor(d, [], [0], "auto").kind, "rank");
    assert.equal(spanValues([[0.8]], [1], []).kind, "rank");
  });
});

describe("curves with prompt spans: the x axis of the AUCs", () => {
  test("the Explorer's curves read curve_x (fraction of features) when the payload has it", async () => {
    const { curveX } = await import("../explorer.js");
    const enc = (a) => ({ dtype: "float32", shape: [a.length], data: new DataView(Float32Array.from(a).buffer) });
    // a span inserted first: image area 0, 0, 0.5, 1; features 0, 1/3, 2/3, 1
    const joint = { area: enc([0, 0, 0.5, 1]), curve_x: enc([0, 1 / 3, 2 / 3, 1]) };
    [0, 1 / 3, 2 / 3, 1].forEach((v, i) => assert.ok(Math.abs(curveX(joint)[i] - v) < 1e-6));
    assert.deepEqual([...curveX({ area: enc([0, 0.25, 1]) })], [0, 0.25, 1]); // image only
  });
});
