// node --test widgets/tests — curves' y range, overlay zoom and the downloads' helpers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  GAIN_ANCHORS,
  MIN_CURVE_SPAN,
  ZOOM,
  colorbarStops,
  curveDomain,
  downloadName,
  escapeXml,
  linePath,
  niceTicks,
  overlaySvgDocument,
  panBy,
  rgbCss,
  tickLabel,
  wrapText,
  zoomBy,
  zoomTransform,
} from "../helpers.js";

describe("curves: the y range follows the data", () => {
  test("a photo's p ≈ 0.02 gets a zoomed axis that holds the data, not a flat line on [0, 1]", () => {
    const ins = [0.012, 0.018, 0.024, 0.027];
    const del = [0.027, 0.02, 0.015, 0.011];
    const d = curveDomain([ins, del]);
    assert.equal(d.zoomed, true);
    const [lo, hi] = d.y;
    assert.ok(lo <= 0.011 && hi >= 0.027, `range ${d.y} must hold the data`);
    assert.ok(hi - lo >= MIN_CURVE_SPAN - 1e-12, "the span has a floor");
    assert.ok(hi - lo < 0.2, "but is far narrower than [0, 1]");
    // drawn in a 100 px high box, the curve now moves by > 10 px (was < 2 px on [0, 1])
    const box = { left: 0, top: 0, width: 100, height: 100 };
    const zoomedPath = linePath([0, 1], [0.011, 0.027], box, { x: [0, 1], y: d.y });
    const [y0, y1] = [...zoomedPath.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(Math.abs(y0 - y1) > 10, `zoomed path ${zoomedPath}`);
    const fullPath = linePath([0, 1], [0.011, 0.027], box);
    const [f0, f1] = [...fullPath.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(Math.abs(f0 - f1) < 2, "on [0, 1] the same curve is flat");
    assert.deepEqual(d.ticks, [0, 0.02, 0.04, 0.06, 0.08, 0.1]); // round values, inside the range
    assert.equal(d.decimals, 2);
  });

  test("data covering most of [0, 1] keeps the full axis", () => {
    assert.deepEqual(curveDomain([[0.05, 0.5, 0.95]]), { y: [0, 1], zoomed: false, ticks: [0, 0.5, 1], decimals: 1 });
  });

  test("a flat curve gets the minimum span around it, inside [0, 1]", () => {
    const mid = curveDomain([[0.5, 0.5, 0.5]]);
    assert.ok(mid.zoomed);
    assert.ok(Math.abs(mid.y[0] - 0.45) < 1e-9 && Math.abs(mid.y[1] - 0.55) < 1e-9);
    const top = curveDomain([[0.99, 1, 1]]);
    assert.equal(top.y[1], 1);
    assert.ok(Math.abs(top.y[0] - 0.9) < 1e-9);
    const bottom = curveDomain([[0, 0.001]]);
    assert.equal(bottom.y[0], 0);
  });

  test("no finite data falls back to [0, 1]", () => {
    assert.deepEqual(curveDomain([[NaN, Infinity]]).y, [0, 1]);
    assert.deepEqual(curveDomain([]).y, [0, 1]);
  });

  test("ticks sit at round values inside the range, labelled with the decimals they need", () => {
    assert.deepEqual(niceTicks(0.586, 0.786), { ticks: [0.6, 0.65, 0.7, 0.75], decimals: 2 });
    assert.deepEqual(niceTicks(0.45, 0.55), { ticks: [0.46, 0.48, 0.5, 0.52, 0.54], decimals: 2 });
    assert.deepEqual(niceTicks(0, 1), { ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], decimals: 1 });
    assert.deepEqual(niceTicks(0.0125, 0.0375), { ticks: [0.015, 0.02, 0.025, 0.03, 0.035], decimals: 3 });
    assert.equal(tickLabel(0.5, 1), "0.5");
    assert.equal(tickLabel(0.05, 2), "0.05");
    assert.equal(tickLabel(0.025, 3), "0.025");
    assert.equal(tickLabel(0, 3), "0");
  });
});

describe("overlay zoom", () => {
  const W = 300;
  const H = 200;

  test("zooming keeps the point under the pointer fixed", () => {
    const v = zoomBy({ scale: 1, x: 0, y: 0 }, 2, 150, 100, W, H);
    assert.equal(v.scale, 2);
    // content point under (150, 100) before: (150, 100); after: x + scale·c
    assert.equal(v.x + v.scale * 150, 150);
    assert.equal(v.y + v.scale * 100, 100);
    const w = zoomBy(v, 1.5, 40, 30, W, H);
    const before = [(40 - v.x) / v.scale, (30 - v.y) / v.scale];
    assert.ok(Math.abs(w.x + w.scale * before[0] - 40) < 0.01);
    assert.ok(Math.abs(w.y + w.scale * before[1] - 30) < 0.01);
  });

  test("zoom stays within its limits and the image always covers the stage", () => {
    let v = { scale: 1, x: 0, y: 0 };
    for (let i = 0; i < 40; i++) v = zoomBy(v, ZOOM.step, 299, 199, W, H);
    assert.equal(v.scale, ZOOM.max);
    assert.ok(v.x <= 0 && v.x >= W * (1 - v.scale) && v.y <= 0 && v.y >= H * (1 - v.scale));
    v = zoomBy(v, 1e-6, 10, 10, W, H);
    assert.deepEqual(v, { scale: 1, x: 0, y: 0 });
  });

  test("panning is clamped to the image", () => {
    const v = { scale: 2, x: -100, y: -50 };
    assert.deepEqual(panBy(v, 500, 500, W, H), { scale: 2, x: 0, y: 0 });
    assert.deepEqual(panBy(v, -1000, -1000, W, H), { scale: 2, x: -300, y: -200 });
    assert.deepEqual(panBy(v, 10, -10, W, H), { scale: 2, x: -90, y: -60 });
  });

  test("the CSS transform translates then scales", () => {
    assert.equal(zoomTransform({ scale: 2, x: -10, y: -5.5 }), "translate(-10px, -5.5px) scale(2)");
  });
});

describe("downloads", () => {
  test("colour bar stops: PuOr anchors for gain maps, the colormap for rank maps", () => {
    const gain = colorbarStops("gain");
    assert.equal(gain.length, GAIN_ANCHORS.length);
    assert.deepEqual(gain[0], [0, rgbCss(GAIN_ANCHORS[0])]);
    assert.deepEqual(gain.at(-1), [1, rgbCss(GAIN_ANCHORS.at(-1))]);
    const rank = colorbarStops("rank", "viridis");
    assert.deepEqual(rank[0], [0, "rgb(68, 1, 84)"]);
    assert.deepEqual(rank.at(-1), [1, "rgb(253, 231, 37)"]);
  });

  test("file names are safe and keep the words", () => {
    assert.equal(downloadName("p(“red”) gain map", "png"), "p-red-gain-map.png");
    assert.equal(downloadName("  ", "svg"), "eagle.svg");
    assert.equal(downloadName("a/b\\c", "svg"), "a-b-c.svg");
  });

  test("the SVG document embeds the view, the colour bar and the caption, escaped", () => {
    const doc = overlaySvgDocument({
      imageHref: "data:image/png;base64,AAAA",
      width: 200,
      height: 100,
      bar: { title: 'gain in p("red") <probability>', low: "−0.500", high: "+0.500", stops: colorbarStops("gain") },
      caption: "Gain map: each region's marginal effect & more words to wrap around the width of the image",
    });
    assert.match(doc, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="200" height="\d+"/);
    assert.ok(doc.includes('<image href="data:image/png;base64,AAAA" x="0" y="0" width="200" height="100"'));
    assert.equal((doc.match(/<stop /g) || []).length, GAIN_ANCHORS.length);
    assert.ok(doc.includes("gain in p(&quot;red&quot;) &lt;probability&gt;"));
    assert.ok(doc.includes("−0.500") && doc.includes("+0.500"));
    assert.ok(doc.includes("effect &amp; more"));
    assert.ok(!/<[^>]*<|&(?!amp;|lt;|gt;|quot;|#39;)/.test(doc.replace(/<[^>]+>/g, "")), "no raw markup in text");
    const height = Number(doc.match(/height="(\d+)"/)[1]);
    assert.ok(height > 100 + 46, "room below the image for the bar and the caption");
  });

  test("no colour bar when no map is shown", () => {
    const doc = overlaySvgDocument({ imageHref: "data:,", width: 50, height: 50, bar: null, caption: "no map" });
    assert.ok(!doc.includes("<stop"));
    assert.ok(doc.includes(">no map</text>"));
  });

  test("escapeXml and wrapText", () => {
    assert.equal(escapeXml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    assert.deepEqual(wrapText("one two three four", 9), ["one two", "three", "four"]);
    assert.deepEqual(wrapText("", 9), []);
  });
});
