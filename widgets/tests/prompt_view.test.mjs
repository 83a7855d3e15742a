// node --test widgets/tests — pure helpers of the prompt view (prompt spans coloured by value).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { promptPieces, rampColor, spanValues, textColor } from "../prompt_view.js";

describe("prompt view", () => {
  test("no selection shows the objective's rank values", () => {
    const got = spanValues([[0.1, 0.2]], [1, 0], []);
    assert.deepEqual(got, { values: [1, 0], kind: "rank" });
  });
  test("a selection averages the tokens' gains; out-of-range tokens are ignored", () => {
    const got = spanValues(
      [
        [0.2, -0.4],
        [0.4, 0.0],
      ],
      [1, 0],
      [0, 1, 7],
    );
    assert.equal(got.kind, "gain");
    assert.ok(Math.abs(got.values[0] - 0.3) < 1e-12 && Math.abs(got.values[1] + 0.2) < 1e-12);
  });
  test("ramp ends and middle", () => {
    const stops = [
      [0, 0, 0],
      [100, 100, 100],
      [200, 0, 50],
    ];
    assert.deepEqual(rampColor(stops, -1, -1, 1), [0, 0, 0]);
    assert.deepEqual(rampColor(stops, 0, -1, 1), [100, 100, 100]);
    assert.deepEqual(rampColor(stops, 1, -1, 1), [200, 0, 50]);
    assert.deepEqual(rampColor(stops, 5, -1, 1), [200, 0, 50]);
  });
  test("text colour contrasts with the background", () => {
    assert.equal(textColor([255, 255, 255]), "#000");
    assert.equal(textColor([0, 0, 0]), "#fff");
  });
  test("pieces keep the text between spans and spans in prompt order", () => {
    const pieces = promptPieces("is there a cat ?", [
      { start: 11, end: 14 },
      { start: 0, end: 2 },
    ]);
    assert.deepEqual(pieces, [
      { text: "is", j: 1 },
      { text: " there a ", j: -1 },
      { text: "cat", j: 0 },
      { text: " ?", j: -1 },
    ]);
  });
});
