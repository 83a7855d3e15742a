// node --test widgets/tests — the kernel-free runtime of exported pages.
import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeArray } from "../helpers.js";
import { PageModel, createHost, createModels, decodeBase64, restoreBuffers } from "../standalone.js";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");

test("base64 decodes to the original bytes", () => {
  const bytes = new Uint8Array(decodeBase64(b64([0, 1, 254, 255])));
  assert.deepEqual([...bytes], [0, 1, 254, 255]);
});

test("buffers go back to their nested paths as DataViews the helpers decode", () => {
  const floats = new Float32Array([0.25, -1]);
  const state = { data: { area: { dtype: "float32", shape: [2] }, tokens: ["a"] } };
  restoreBuffers(state, [{ path: ["data", "area", "data"], data: b64(new Uint8Array(floats.buffer)) }]);
  assert.ok(state.data.area.data instanceof DataView);
  assert.deepEqual([...decodeArray(state.data.area).data], [0.25, -1]);
  assert.deepEqual(state.data.tokens, ["a"]);
});

test("models implement get/set/on/off/save_changes/send without a kernel", () => {
  const model = new PageModel("m", { k: 1, selected: [] });
  const seen = [];
  const onK = (m, value) => seen.push(["k", value, m === model]);
  const onAny = (m, name) => seen.push(["change", name]);
  model.on("change:k", onK);
  model.on("change", onAny);
  model.set("k", 2);
  model.set("k", 2); // same value: no event
  model.save_changes();
  assert.deepEqual(seen, [
    ["k", 2, true],
    ["change", "k"],
  ]);
  model.off("change:k", onK);
  model.set("k", 3);
  assert.deepEqual(seen.at(-1), ["change", "k"]);
  model.off();
  model.set("k", 4);
  assert.equal(seen.length, 3);
  assert.equal(model.get("k"), 4);
  const info = console.info;
  let noted = 0;
  console.info = () => (noted += 1);
  try {
    model.send({ any: "message" });
  } finally {
    console.info = info;
  }
  assert.equal(noted, 1);
});

test("several events in one on() call, and off() by callback only", () => {
  const model = new PageModel("m", { a: 0, b: 0 });
  let calls = 0;
  const fn = () => (calls += 1);
  model.on("change:a change:b", fn);
  model.set("a", 1);
  model.set("b", 1);
  model.off(null, fn);
  model.set("a", 2);
  assert.equal(calls, 2);
});

test("the host resolves child models by 'anywidget:<id>' and rejects bad references", async () => {
  const models = createModels({
    root: "x",
    models: {
      x: { state: { _esm: "" }, buffers: [] },
      y: { state: { k: 5 }, buffers: [] },
    },
  });
  const host = createHost(models);
  assert.equal((await host.getModel("anywidget:y")).get("k"), 5);
  await assert.rejects(host.getModel("anywidget:nope"), /No widget anywidget:nope in this page/);
  await assert.rejects(host.getModel("IPY_MODEL_y"), /Invalid widget reference "IPY_MODEL_y"/);
});
