// node --test widgets/tests — pure helpers of the prompt view (prompt spans coloured by value).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import view, {
  largestGain,
  promptCaption,
  promptColouring,
  promptPieces,
  promptQuantity,
  rampColor,
  spanValues,
  textColor,
} from "../prompt_view.js";

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

// -- the MIN_MAP_SPAN rule: a prompt that barely moves the quantity is not coloured ---------

// The caption prompt "describe the picture ." explained for " yellow" " square" (tokens 8, 9
// of the shapes model's caption): span gains of ≈ 1e-4, as measured with ek.explain.
const FAINT = {
  prompt: "describe the picture .",
  spans: [
    { text: "describe", start: 0, end: 8 },
    { text: "the", start: 9, end: 12 },
    { text: "picture", start: 13, end: 20 },
    { text: ".", start: 21, end: 22 },
  ],
  tokens: ["the", " yellow", " square"],
  token_values: [
    [0.97, 0.0, 0.0, 0.0],
    [0.0002, 0.00006, -0.00004, -0.00002],
    [0.0001, 0.00002, -0.00001, 0.0],
  ],
  objective: [1, 0.4, 0.6, 0],
  objective_gains: [0.000125, 0.00004, 0.000096, 0.000045],
  objective_name: 'F("yellow" "square")',
  gain_stops: [
    [0, 0, 255],
    [255, 255, 255],
    [255, 128, 0],
  ],
  rank_stops: [
    [68, 1, 84],
    [253, 231, 37],
  ],
  min_span: 0.01,
  selected: [],
  _static_id: "",
};

/** Just enough of the DOM for render(): elements with children, dataset, style, attributes. */
function fakeDocument() {
  class Node {
    constructor(tag) {
      Object.assign(this, { tagName: tag, children: [], dataset: {}, style: {}, attributes: {} });
      this.textContent = "";
    }
    append(...nodes) {
      this.children.push(...nodes);
    }
    replaceChildren(...nodes) {
      this.children = nodes;
    }
    setAttribute(name, value) {
      this.attributes[name] = value;
    }
  }
  return {
    createElement: (tag) => new Node(tag),
    createTextNode: (text) => ({ text }),
    querySelectorAll: () => [],
  };
}

function fakeModel(state) {
  const handlers = {};
  return {
    get: (name) => state[name],
    set(name, value) {
      state[name] = value;
      for (const h of handlers[`change:${name}`] || []) h();
    },
    on: (event, h) => (handlers[event] = [...(handlers[event] || []), h]),
    off: (event, h) => (handlers[event] = (handlers[event] || []).filter((x) => x !== h)),
  };
}

function drawn(state) {
  globalThis.document = fakeDocument();
  const el = globalThis.document.createElement("div");
  const model = fakeModel({ ...state });
  const cleanup = view.render({ model, el });
  const root = () => el.children[0];
  const spans = () => root().children[0].children.filter((c) => c.className === "ek-prompt-span");
  const caption = () => root().children[1].textContent;
  return { model, root, spans, caption, cleanup };
}

describe("prompt view: a prompt that barely moves the quantity is not coloured", () => {
  test("the largest gain keeps its sign", () => {
    assert.equal(largestGain([0.1, -0.3, 0.2]), -0.3);
    assert.equal(largestGain([]), 0);
  });
  test("the quantity is named as Explanation.map_info names it", () => {
    assert.equal(promptQuantity(FAINT.tokens, [], FAINT.objective_name), 'F("yellow" "square")');
    assert.equal(promptQuantity(FAINT.tokens, [1], ""), 'p("yellow")');
    assert.equal(promptQuantity(FAINT.tokens, [1, 2], ""), 'mean p("yellow" "square")');
  });
  test("faint: the selected tokens' gains (or the objective F's) under min_span", () => {
    const colouring = (selected, minSpan = 0.01) =>
      promptColouring({
        tokenValues: FAINT.token_values,
        objective: FAINT.objective,
        objectiveGains: FAINT.objective_gains,
        selected,
        minSpan,
      });
    const sel = colouring([1, 2]);
    assert.equal(sel.kind, "gain");
    assert.ok(Math.abs(sel.maxGain - 0.00015) < 1e-12 && sel.faint);
    const none = colouring([]);
    assert.equal(none.kind, "rank");
    assert.deepEqual(none.values, FAINT.objective); // the rank values are still the values
    assert.ok(Math.abs(none.maxGain - 0.000125) < 1e-12 && none.faint);
    const strong = colouring([0]);
    assert.ok(!strong.faint && strong.maxGain === 0.97);
    // the threshold comes from Python: a smaller min_span colours the same gains
    assert.ok(!colouring([1, 2], 0.0001).faint);
  });
  test("the caption states the largest span gain and the threshold", () => {
    const state = { kind: "gain", values: [0.00015], maxGain: 0.00015, faint: true };
    assert.equal(
      promptCaption(state, 'mean p("yellow" "square")', 0.01),
      'prompt words: the prompt barely moves mean p("yellow" "square") (largest span gain +0.00015, under 0.01): ' +
        "no colours shown",
    );
  });
  test("rendered: faint selection and objective leave the spans uncoloured; a strong token colours them", () => {
    const v = drawn(FAINT);
    try {
      assert.equal(v.root().dataset.faint, "true");
      assert.equal(v.spans().length, 4);
      for (const s of v.spans()) assert.equal(s.style.background, undefined);
      const objective = /barely moves F\("yellow" "square"\) \(largest span gain \+0\.00013, under 0\.01\): no colours/;
      assert.match(v.caption(), objective);
      v.model.set("selected", [1, 2]);
      assert.equal(v.root().dataset.kind, "gain");
      assert.equal(v.root().dataset.faint, "true");
      for (const s of v.spans()) assert.equal(s.style.background, undefined);
      assert.match(v.caption(), /barely moves mean p\("yellow" "square"\)/);
      v.model.set("selected", [0]); // "the" rests on "describe": gain 0.97
      assert.equal(v.root().dataset.faint, "false");
      assert.equal(v.spans()[0].style.background, "rgb(255,128,0)"); // the scale's + end
      assert.equal(v.spans()[1].style.background, "rgb(255,255,255)"); // 0: the middle
      assert.match(v.caption(), /largest \|gain\| 0\.970/);
      v.model.set("min_span", 1); // the threshold is read from the model
      assert.equal(v.root().dataset.faint, "true");
    } finally {
      v.cleanup();
      delete globalThis.document;
    }
  });
  test("rendered: strong objective gains colour the rank values", () => {
    const v = drawn({ ...FAINT, objective_gains: [0.2, 0, 0, 0] });
    try {
      assert.equal(v.root().dataset.faint, "false");
      assert.equal(v.spans()[0].style.background, "rgb(253,231,37)"); // rank 1: viridis top
      assert.equal(v.spans()[3].style.background, "rgb(68,1,84)");
      assert.match(v.caption(), /rank value in \[0, 1\]/);
    } finally {
      v.cleanup();
      delete globalThis.document;
    }
  });
});
