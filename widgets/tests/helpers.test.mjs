// node --test widgets/tests — pure helpers of the EAGLE widgets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  COLORMAPS,
  GAIN_ANCHORS,
  MIN_MAP_SPAN,
  RELIANCE_SCALE,
  attributionByRank,
  clickSelection,
  colormap,
  colormapLut,
  column,
  contrastRatio,
  decodeArray,
  edgesRgba,
  formatPercent,
  formatProb,
  formatSigned,
  frameCount,
  frameOf,
  gainColor,
  gainLut,
  gridColumns,
  heatRgba,
  heatValues,
  keySelection,
  linePath,
  luminance,
  mapFor,
  mapSource,
  marginalGains,
  maskedRgba,
  meanCurve,
  metricLabel,
  navigate,
  nearestStep,
  normalizeSelection,
  outlineScale,
  pixelAt,
  pointIn,
  ranksFromOrder,
  regionAt,
  relianceColor,
  resolveMapKind,
  row,
  sameList,
  textColorFor,
  tokenDisplay,
  trapezoid,
  valuesByRegion,
  visibleRegions,
  visualReliance,
} from "../helpers.js";

/** Encode like eagle_kit.widgets.encode_array, the way the widget manager hands it over. */
function encoded(Ctor, values, shape, offset = 0) {
  const typed = Ctor.from(values);
  const buffer = new ArrayBuffer(offset + typed.byteLength);
  new Uint8Array(buffer, offset).set(new Uint8Array(typed.buffer));
  const dtype = Object.entries({
    uint8: Uint8Array,
    uint16: Uint16Array,
    int32: Int32Array,
    float32: Float32Array,
    float64: Float64Array,
  }).find(([, C]) => C === Ctor)[0];
  return { dtype, shape, data: new DataView(buffer, offset, typed.byteLength) };
}

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} !== ${b} (±${eps})`);

describe("decodeArray", () => {
  test("round-trips typed data and shape from a DataView", () => {
    const out = decodeArray(encoded(Float32Array, [0.5, 1.5, -2, 3], [2, 2]));
    assert.deepEqual(out.shape, [2, 2]);
    assert.ok(out.data instanceof Float32Array);
    assert.deepEqual([...out.data], [0.5, 1.5, -2, 3]);
    assert.deepEqual([...row(out, 1)], [-2, 3]);
    assert.deepEqual([...column(out, 0)], [0.5, -2]);
  });

  test("copies unaligned views (a DataView at an odd offset)", () => {
    const out = decodeArray(encoded(Float64Array, [1.25, -7], [2], 3));
    assert.deepEqual([...out.data], [1.25, -7]);
  });

  test("rejects wrong byte counts and unknown dtypes with clear messages", () => {
    const bad = { dtype: "float32", shape: [3], data: new DataView(new ArrayBuffer(8)) };
    assert.throws(() => decodeArray(bad), /needs 12 bytes; got 8/);
    assert.throws(() => decodeArray({ dtype: "complex64", shape: [1], data: new DataView(new ArrayBuffer(8)) }), /Unsupported dtype 'complex64'/);
    assert.throws(() => decodeArray({ dtype: "uint8", shape: [1], data: [1] }), /must be binary/);
    assert.equal(decodeArray(null), null);
  });
});

describe("colour scales", () => {
  test("viridis ends at matplotlib's end colours", () => {
    assert.deepEqual(colormap("viridis", 0), [0x44, 0x01, 0x54]);
    assert.deepEqual(colormap("viridis", 1), [0xfd, 0xe7, 0x25]);
    assert.deepEqual(colormap("viridis", 0.5), [0x21, 0x91, 0x8c]);
  });

  test("sequential maps get brighter monotonically", () => {
    for (const name of ["viridis", "magma", "inferno", "cividis", "gray"]) {
      let last = -1;
      for (let i = 0; i <= 20; i++) {
        const l = luminance(colormap(name, i / 20));
        assert.ok(l >= last - 1e-3, `${name} luminance drops at ${i / 20}`);
        last = l;
      }
    }
  });

  test("values outside [0, 1] and NaN clamp instead of throwing", () => {
    assert.deepEqual(colormap("gray", -3), [0, 0, 0]);
    assert.deepEqual(colormap("gray", 7), [255, 255, 255]);
    assert.deepEqual(colormap("gray", NaN), [0, 0, 0]);
    assert.throws(() => colormap("jet", 0.5), /Unknown colormap 'jet'; choose one of viridis/);
  });

  test("the LUT holds 256 colours matching colormap()", () => {
    const lut = colormapLut("magma");
    assert.equal(lut.length, 256 * 3);
    assert.deepEqual([...lut.subarray(255 * 3)], colormap("magma", 1));
    assert.deepEqual(Object.keys(COLORMAPS).sort(), ["cividis", "gray", "inferno", "magma", "plasma", "viridis"]);
  });

  test("reliance: blue for the language prior, grey at mid, red for visual evidence", () => {
    assert.deepEqual(relianceColor(0), RELIANCE_SCALE.blue);
    assert.deepEqual(relianceColor(RELIANCE_SCALE.mid), RELIANCE_SCALE.white);
    assert.deepEqual(relianceColor(RELIANCE_SCALE.top), RELIANCE_SCALE.red);
    assert.deepEqual(relianceColor(5), RELIANCE_SCALE.red);
    assert.deepEqual(relianceColor(-2e-16), RELIANCE_SCALE.blue); // float noise below 0
    // halfway between blue and white, rounded like eagle_kit.colors.diverging_rgb
    assert.deepEqual(relianceColor(0.1), [151, 159, 217]);
  });

  test("token text stays readable on every reliance colour (WCAG AA, 4.5:1)", () => {
    for (let v = 0; v <= 0.7; v += 0.01) {
      const bg = relianceColor(v);
      const fg = textColorFor(bg) === "#000" ? [0, 0, 0] : [255, 255, 255];
      assert.ok(contrastRatio(bg, fg) >= 4.5, `contrast too low at reliance ${v}`);
    }
  });
});

describe("METHOD §5 attribution", () => {
  test("first region 1, last 0, gaps proportional to |ΔF|", () => {
    // F: 0 → 0.5 → 0.8 → 0.9 → 1.0; |ΔF| = .5 .3 .1 .1; C = .5 .8 .9 1.0; C_N − C_1 = .5
    const v = attributionByRank([0, 0.5, 0.8, 0.9, 1.0]);
    [1, 0.4, 0.2, 0].forEach((want, i) => close(v[i], want));
  });

  test("absolute changes count, so a dip adds to the cumulative gain", () => {
    const v = attributionByRank([0, 1, 0.5, 1]); // |ΔF| = 1, .5, .5 → C = 1, 1.5, 2
    [1, 0.5, 0].forEach((want, i) => close(v[i], want));
  });

  test("no change after the first step: first region 1, the rest 0", () => {
    assert.deepEqual([...attributionByRank([0, 1, 1, 1])], [1, 0, 0]);
    assert.deepEqual([...attributionByRank([0.3, 0.3])], [1]);
    assert.deepEqual([...attributionByRank([1])], []);
  });

  test("per-region values follow the order; ranks invert it", () => {
    const order = Int32Array.from([2, 0, 1]);
    assert.deepEqual([...valuesByRegion(order, [1, 0.5, 0])], [0.5, 0, 1]);
    assert.deepEqual([...ranksFromOrder(order)], [1, 2, 0]);
  });

  test("mean curve over tokens and marginal gains per rank", () => {
    const curves = { data: Float32Array.from([0, 1, 0.5, 1, 1, 1]), shape: [3, 2] }; // 3 steps × 2 tokens
    assert.deepEqual([...meanCurve(curves, [0, 1])], [0.5, 0.75, 1]);
    assert.deepEqual([...meanCurve(curves, [0])], [0, 0.5, 1]);
    assert.deepEqual([...meanCurve(curves, [])], [0, 0, 0]);
    assert.deepEqual([...marginalGains([0.5, 0.75, 1])], [0.25, 0.25]);
  });

  test("visual reliance = trapezoid AUC − min (METHOD §6)", () => {
    const area = [0, 0.5, 1];
    close(trapezoid(area, [0, 1, 1]), 0.75);
    close(visualReliance(area, [0, 1, 1]), 0.75);
    close(visualReliance(area, [0.9, 0.9, 0.9]), 0); // a language-prior token
  });

  test("map source: the objective for no selection; any selection reads the tokens", () => {
    assert.equal(mapSource([], [0, 1]), "objective");
    // exactly the targets (a one-token "yes" selected) is a token selection too, as the
    // prompt view reads it (it was the objective's rank map while the prompt showed gain)
    assert.equal(mapSource([0, 1], [0, 1]), "tokens");
    assert.equal(mapSource([0], [0]), "tokens");
    assert.equal(mapSource([1], [0, 1]), "tokens");
    assert.ok(sameList([1, 2], [1, 2]) && !sameList([1, 2], [2, 1]) && !sameList([1], [1, 2]));
  });
});

describe("masking and painting", () => {
  const labels = Uint16Array.from([0, 0, 1, 2]); // 2×2 image, 3 regions
  const rgb = Uint8Array.from([10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42]);
  const order = Int32Array.from([2, 0, 1]);

  test("insertion keeps the first k regions of the order, deletion removes them", () => {
    assert.deepEqual([...visibleRegions(order, 1, "insertion")], [0, 0, 1]);
    assert.deepEqual([...visibleRegions(order, 2, "deletion")], [0, 1, 0]);
    assert.deepEqual([...visibleRegions(order, 0, "deletion")], [1, 1, 1]);
    assert.deepEqual([...visibleRegions(order, 3, "insertion")], [1, 1, 1]);
    assert.throws(() => visibleRegions(order, 1, "keep"), /mode must be 'insertion' or 'deletion'/);
  });

  test("masked pixels are black, kept ones unchanged, alpha opaque", () => {
    const out = maskedRgba(rgb, labels, visibleRegions(order, 1, "insertion"));
    assert.deepEqual([...out], [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 40, 41, 42, 255]);
  });

  test("heat layer colours each pixel by its region's value", () => {
    const out = heatRgba(labels, [0, 1, 0.5], colormapLut("gray"));
    assert.deepEqual([...out.subarray(0, 4)], [0, 0, 0, 255]);
    assert.deepEqual([...out.subarray(8, 12)], [255, 255, 255, 255]);
    assert.deepEqual([...out.subarray(12, 16)], [128, 128, 128, 255]);
  });

  test("edges are drawn between regions, once, at the upsampling scale", () => {
    const { rgba, width, height } = edgesRgba(Uint8Array.from([0, 1, 0, 1]), 2, 2, 2, [9, 9, 9, 9]);
    assert.equal(width, 4);
    assert.equal(height, 4);
    const alpha = [];
    for (let p = 0; p < width * height; p++) alpha.push(rgba[p * 4 + 3] ? 1 : 0);
    // a vertical boundary between x = 0 and x = 1: the right column of the left pixels
    assert.deepEqual(alpha, [0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]);
  });

  test("one region's outline includes the image border", () => {
    const { rgba } = edgesRgba(Uint8Array.from([5, 5, 5, 5]), 2, 2, 1, [1, 1, 1, 1], 5);
    assert.ok([0, 1, 2, 3].every((p) => rgba[p * 4 + 3] === 1));
    const none = edgesRgba(Uint8Array.from([5, 5, 5, 5]), 2, 2, 1, [1, 1, 1, 1], 7).rgba;
    assert.ok(none.every((v) => v === 0));
  });

  test("outline scale follows the display size, capped", () => {
    assert.equal(outlineScale(48, 320), 7);
    assert.equal(outlineScale(640, 320), 1);
    assert.equal(outlineScale(1000, 9000), 2);
  });

  test("frames: still images have one, videos select frame f", () => {
    const still = { data: new Uint8Array(2 * 3 * 3), shape: [2, 3, 3] };
    assert.equal(frameCount(still), 1);
    assert.deepEqual([frameOf(still, 0, true).height, frameOf(still, 0, true).width], [2, 3]);
    const video = { data: Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3]), shape: [2, 2, 2] };
    assert.deepEqual([...frameOf(video, 1, false).data], [2, 2, 3, 3]);
    assert.deepEqual([...frameOf(video, 9, false).data], [2, 2, 3, 3]); // clamped
    assert.equal(frameCount({ data: new Uint8Array(2 * 2 * 2 * 3), shape: [2, 2, 2, 3] }), 2);
  });
});

describe("hit-testing", () => {
  test("pointer position maps to image pixels at any display scale", () => {
    assert.deepEqual(pixelAt(0, 0, 320, 320, 48, 48), { x: 0, y: 0 });
    assert.deepEqual(pixelAt(319.9, 160, 320, 320, 48, 48), { x: 47, y: 24 });
    assert.deepEqual(pixelAt(100, 50, 200, 100, 4, 2), { x: 2, y: 1 });
    assert.equal(pixelAt(-1, 5, 320, 320, 48, 48), null);
    assert.equal(pixelAt(320, 5, 320, 320, 48, 48), null);
    assert.equal(pixelAt(5, 5, 0, 0, 48, 48), null);
  });

  test("region under a pixel", () => {
    const labels = Int32Array.from([0, 1, 2, 3, 4, 5]); // 3 wide × 2 high
    assert.equal(regionAt(labels, 3, 2, 2, 1), 5);
    assert.equal(regionAt(labels, 3, 2, 3, 0), -1);
  });

  test("nearest step on the area axis", () => {
    const area = [0, 0.25, 0.5, 1];
    assert.equal(nearestStep(area, 0.3), 1);
    assert.equal(nearestStep(area, 0.8), 3);
    assert.equal(nearestStep(area, -1), 0);
  });
});

describe("selection and keyboard", () => {
  test("click selects one token, clicking it again clears", () => {
    assert.deepEqual(clickSelection([], 3, false), [3]);
    assert.deepEqual(clickSelection([1, 3], 3, false), [3]);
    assert.deepEqual(clickSelection([3], 3, false), []);
  });

  test("shift/ctrl-click toggles within a multi-selection, kept sorted", () => {
    assert.deepEqual(clickSelection([4], 1, true), [1, 4]);
    assert.deepEqual(clickSelection([1, 4], 4, true), [1]);
  });

  test("arrow keys move focus within bounds; other keys do not navigate", () => {
    assert.equal(navigate("ArrowRight", 2, 5), 3);
    assert.equal(navigate("ArrowRight", 4, 5), 4);
    assert.equal(navigate("ArrowLeft", 0, 5), 0);
    assert.equal(navigate("ArrowUp", 3, 5), 2);
    assert.equal(navigate("Home", 3, 5), 0);
    assert.equal(navigate("End", 0, 5), 4);
    assert.equal(navigate("a", 0, 5), null);
    assert.equal(navigate("ArrowRight", 0, 0), null);
  });

  test("shift+arrow extends the selection, plain arrow replaces it", () => {
    assert.deepEqual(keySelection([1], 2, true), [1, 2]);
    assert.deepEqual(keySelection([1], 2, false), [2]);
  });

  test("normalizeSelection drops out-of-range, duplicates and non-integers", () => {
    assert.deepEqual(normalizeSelection([3, 1, 1, 9, -1, 2.5], 5), [1, 3]);
    assert.deepEqual(normalizeSelection(undefined, 5), []);
  });
});

describe("layout and formatting", () => {
  test("line paths map data to the box, y up", () => {
    const box = { left: 10, top: 0, width: 100, height: 50 };
    assert.equal(linePath([0, 1], [0, 1], box), "M10 50L110 0");
    assert.deepEqual(pointIn(0.5, 0.5, box), { x: 60, y: 25 });
    assert.deepEqual(pointIn(0.5, 2, box), { x: 60, y: 0 }); // clamped to the domain
  });

  test("grid columns and text formats", () => {
    assert.equal(gridColumns(1), 1);
    assert.equal(gridColumns(5), 3);
    assert.equal(formatProb(0.12345), "0.123");
    assert.equal(formatProb(null), "–");
    assert.equal(formatSigned(-0.5), "−0.500");
    assert.equal(formatSigned(0.25), "+0.250");
    assert.equal(formatPercent(0.125), "12.5 %");
    assert.equal(tokenDisplay(" cat"), "cat");
    assert.equal(tokenDisplay(" "), "␣");
    assert.equal(tokenDisplay("\n"), "↵");
    assert.equal(metricLabel("insertion_auc_sensitive"), "insertion AUC (over area), sensitive tokens");
  });
});

describe("gain maps (METHOD §5): effect in probability, not rank", () => {
  // 3 regions, order [2, 0, 1]; token 0 jumps when region 0 (rank 2) is inserted
  const d = {
    order: Int32Array.from([2, 0, 1]),
    attribution: Float64Array.from([0.5, 0, 1]),
    objective: Float64Array.from([0, 0.2, 1.8, 2]),
    insertion: { data: Float64Array.from([0.0, 0.5, 0.01, 0.5, 0.99, 0.502, 1.0, 0.503]), shape: [4, 2] },
  };

  test("auto: rank for the objective, gain for a token selection", () => {
    assert.equal(resolveMapKind("auto", "objective"), "rank");
    assert.equal(resolveMapKind("auto", "tokens"), "gain");
    assert.equal(resolveMapKind("gain", "objective"), "gain");
    assert.throws(() => resolveMapKind("effect", "tokens"), /auto, rank, gain/);
  });

  test("a token's gain map gives the big jump to its region, wherever it sits in the order", () => {
    const m = mapFor(d, [0], [1], "auto");
    assert.equal(m.source, "tokens");
    assert.equal(m.kind, "gain");
    [0.98, 0.01, 0.01].forEach((want, region) => close(m.values[region], want));
    // the rank map of the same token puts that region (rank 2 of 3) at only 0.01/0.99 of the top
    close(m.rankValues[0], 0.01 / 0.99);
    close(m.rankValues[2], 1);
    close(m.span, 1);
    close(m.maxGain, 0.98);
    assert.equal(m.maxGainRegion, 0);
    assert.equal(m.shown, true);
  });

  test("objective: F_k − F_{k−1} per region; rank values are the stored attribution", () => {
    const m = mapFor(d, [], [1], "gain");
    assert.equal(m.source, "objective");
    [1.6, 0.2, 0.2].forEach((want, region) => close(m.values[region], want));
    assert.deepEqual([...mapFor(d, [], [1], "auto").values], [0.5, 0, 1]);
    // selecting exactly the target token shows that token's gain map, not the objective's
    const one = mapFor(d, [1], [1], "auto");
    assert.equal(one.source, "tokens");
    assert.equal(one.kind, "gain");
    assert.deepEqual([...one.values], [...mapFor(d, [1], [0], "gain").values]);
  });

  test("a quantity that barely moves is not shown", () => {
    const m = mapFor(d, [1], [0], "gain"); // token 1: 0.5 → 0.503
    close(m.span, 0.003);
    assert.equal(m.shown, false);
    assert.equal(MIN_MAP_SPAN, 0.01);
  });

  test("heat values: rank as is, gain symmetric around 0.5 on ±max|gain|", () => {
    const m = mapFor(d, [0], [1], "gain");
    const v = heatValues(m);
    close(v[0], 1);
    close(v[1], (0.01 / 0.98 + 1) / 2);
    assert.deepEqual([...heatValues(mapFor(d, [], [1], "rank"))], [0.5, 0, 1]);
  });

  test("gain colours: purple below 0, neutral grey at 0, orange above; clipped at ±1", () => {
    assert.deepEqual(gainColor(0), [247, 247, 247]);
    assert.deepEqual(gainColor(-1), GAIN_ANCHORS[0]);
    assert.deepEqual(gainColor(1), GAIN_ANCHORS[GAIN_ANCHORS.length - 1]);
    assert.deepEqual(gainColor(5), gainColor(1));
    assert.deepEqual(gainColor(Number.NaN), gainColor(0));
    const [r, , b] = gainColor(0.6);
    assert.ok(r > b, "positive gain is orange");
    const [r2, , b2] = gainColor(-0.6);
    assert.ok(b2 > r2, "negative gain is purple");
    const lut = gainLut();
    assert.equal(lut.length, 256 * 3);
    assert.deepEqual([...lut.subarray(255 * 3)], gainColor(1));
  });
});
