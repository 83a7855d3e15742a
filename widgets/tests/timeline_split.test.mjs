// node --test widgets/tests — the three-way reading of a token in the timeline (image /
// prompt / language prior), recorded with prompt span features.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PALETTE } from "../helpers.js";
import { SPLIT_COLORS, splitText, splitWidths } from "../token_timeline.js";

describe("token timeline: what p(full) rests on", () => {
  test("bar widths are the positive shares of p(full)", () => {
    const w = splitWidths(0.5, 0.3, 0.2);
    [0.5, 0.3, 0.2].forEach((v, i) => assert.ok(Math.abs(w[i] - v) < 1e-12));
    const neg = splitWidths(0.6, -0.2, 0.2); // a prompt that lowers the token takes no width
    assert.ok(Math.abs(neg[0] - 0.75) < 1e-12 && neg[1] === 0 && Math.abs(neg[2] - 0.25) < 1e-12);
    assert.deepEqual(splitWidths(-0.1, 0, Number.NaN), [0, 0, 0]);
  });
  test("the text states each part with its sign", () => {
    const d = { split: [[0.506], [-0.1], [0.057]] };
    assert.equal(splitText(d, 0), "p(full) rests on image +0.506, prompt −0.100, prior +0.057");
    assert.equal(splitText({ split: null }, 0), "");
  });
  test("colours: image = visual red, prior = prior blue, prompt distinct from both", () => {
    assert.equal(SPLIT_COLORS.image, PALETTE.visual);
    assert.equal(SPLIT_COLORS.prior, PALETTE.prior);
    assert.ok(![PALETTE.visual, PALETTE.prior].includes(SPLIT_COLORS.prompt));
  });
});
