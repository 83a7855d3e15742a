// Pure helpers shared by the EAGLE widgets: array decoding, colour scales, the METHOD §5
// attribution formula, masking, hit-testing, selection and small layout maths.
// No DOM access here, so every function runs (and is tested) under `node --test`.

// ---------------------------------------------------------------------------------------
// Arrays that travel as binary buffers: {dtype, shape, data: DataView}
// ---------------------------------------------------------------------------------------

export const DTYPES = Object.freeze({
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
});

/**
 * Decode an encoded array ({dtype, shape, data}) into {data: TypedArray, shape}.
 * `data` may be a DataView (what the widget manager hands over), an ArrayBuffer or a
 * typed array. Bytes are copied so the typed array is always aligned. Little-endian,
 * like the Python encoder. Returns null for null/undefined.
 */
export function decodeArray(encoded) {
  if (encoded == null) return null;
  const { dtype, shape, data } = encoded;
  const Ctor = DTYPES[dtype];
  if (!Ctor) {
    throw new Error(`Unsupported dtype '${dtype}'; expected one of ${Object.keys(DTYPES).join(", ")}.`);
  }
  if (!Array.isArray(shape)) throw new Error("Encoded array lacks a shape list.");
  let bytes;
  if (data instanceof ArrayBuffer) bytes = data.slice(0);
  else if (ArrayBuffer.isView(data)) bytes = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  else throw new Error(`Encoded array data must be binary (DataView/ArrayBuffer); got ${typeof data}.`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== size * Ctor.BYTES_PER_ELEMENT) {
    throw new Error(
      `Encoded ${dtype} array of shape [${shape}] needs ${size * Ctor.BYTES_PER_ELEMENT} bytes; got ${bytes.byteLength}.`,
    );
  }
  return { data: new Ctor(bytes), shape: [...shape] };
}

/** Row `i` of a 2-D decoded array (a view, not a copy). */
export function row(arr, i) {
  const n = arr.shape[1];
  return arr.data.subarray(i * n, (i + 1) * n);
}

/** Column `j` of a 2-D decoded array as a Float64Array. */
export function column(arr, j) {
  const [m, n] = arr.shape;
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) out[i] = arr.data[i * n + j];
  return out;
}

// ---------------------------------------------------------------------------------------
// Colour scales
// ---------------------------------------------------------------------------------------

const hex = (s) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));

/** Sequential colormaps, sampled at 9 evenly spaced points (matplotlib's tables). */
export const COLORMAPS = Object.freeze({
  viridis: ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"].map(hex),
  magma: ["#000004", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55064", "#fb8761", "#fec287", "#fcfdbf"].map(hex),
  inferno: ["#000004", "#1f0c48", "#550f6d", "#88226a", "#ba3655", "#e35933", "#f98e09", "#f9cb35", "#fcffa4"].map(hex),
  plasma: ["#0d0887", "#4c02a1", "#7e03a8", "#a92395", "#cc4778", "#e56b5d", "#f89540", "#fdc527", "#f0f921"].map(hex),
  cividis: ["#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678", "#a59c74", "#c3b369", "#fee838"].map(hex),
  gray: ["#000000", "#ffffff"].map(hex),
});

const clamp01 = (v) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);

/** Colour of `t` in [0, 1] on a sequential colormap, as [r, g, b] integers. */
export function colormap(name, t) {
  const anchors = COLORMAPS[name];
  if (!anchors) throw new Error(`Unknown colormap '${name}'; choose one of ${Object.keys(COLORMAPS).join(", ")}.`);
  const x = clamp01(t) * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(anchors[i][c] + (anchors[i + 1][c] - anchors[i][c]) * f));
}

/** A 256-entry lookup table (Uint8Array of 256×3) for fast painting. */
export function colormapLut(name) {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(colormap(name, i / 255), i * 3);
  return lut;
}

/** CSS linear-gradient (left to right) of a colormap, for legends. */
export function colormapGradient(name) {
  const stops = [];
  for (let i = 0; i <= 8; i++) stops.push(`${rgbCss(colormap(name, i / 8))} ${(i / 8) * 100}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

// Visual reliance: blue (language prior) → light grey → red (visual evidence). Same
// anchors and break points as eagle_kit.colors.diverging_rgb, so notebook HTML and widgets agree.
export const RELIANCE_SCALE = Object.freeze({
  blue: [59, 76, 192],
  white: [242, 242, 242],
  red: [200, 40, 40],
  mid: 0.2,
  top: 0.6,
});

/** Colour of a visual reliance value I_t, as [r, g, b]. */
export function relianceColor(value, scale = RELIANCE_SCALE) {
  const r = clamp01(value);
  const { blue, white, red, mid, top } = scale;
  let from, to, t;
  if (r <= mid) {
    [from, to, t] = [blue, white, mid > 0 ? r / mid : 1];
  } else {
    [from, to, t] = [white, red, Math.min(1, (r - mid) / (top - mid))];
  }
  return [0, 1, 2].map((c) => Math.round(from[c] + (to[c] - from[c]) * t));
}

/** CSS gradient of the reliance scale from 0 to `scale.top`, for the legend. */
export function relianceGradient(scale = RELIANCE_SCALE) {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = f * scale.top;
    return `${rgbCss(relianceColor(v, scale))} ${f * 100}%`;
  });
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

export function rgbCss([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

/** WCAG relative luminance of an sRGB colour. */
export function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio of two colours (≥ 1). */
export function contrastRatio(a, b) {
  const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}

/** Black or white, whichever reads better on `background`. */
export function textColorFor(background) {
  return contrastRatio(background, [0, 0, 0]) >= contrastRatio(background, [255, 255, 255]) ? "#000" : "#fff";
}

// ---------------------------------------------------------------------------------------
// METHOD §5: attribution along the greedy order; per-token curves
// ---------------------------------------------------------------------------------------

/**
 * Value of the region at each rank from a curve F_0..F_N along the order:
 * C_k = Σ_{j≤k} |F_j − F_{j−1}|, rank k (1-based) gets (C_N − C_k)/(C_N − C_1).
 * When C_N = C_1 (no change after the first step) the first region is 1, the others 0.
 * Mirrors eagle_kit.explanation.attribution_values.
 */
export function attributionByRank(curve) {
  const n = curve.length - 1;
  const out = new Float64Array(Math.max(0, n));
  if (n < 1) return out;
  const c = new Float64Array(n + 1);
  for (let k = 1; k <= n; k++) c[k] = c[k - 1] + Math.abs(curve[k] - curve[k - 1]);
  const denom = c[n] - c[1];
  if (!(denom > 1e-12)) {
    out[0] = 1;
    return out;
  }
  for (let k = 1; k <= n; k++) out[k - 1] = clamp01((c[n] - c[k]) / denom);
  return out;
}

/** Per-region values from per-rank values: out[order[r]] = byRank[r]. */
export function valuesByRegion(order, byRank) {
  const out = new Float64Array(order.length);
  for (let r = 0; r < order.length; r++) out[order[r]] = byRank[r];
  return out;
}

/** Rank of every region id (inverse permutation of `order`). */
export function ranksFromOrder(order) {
  const ranks = new Int32Array(order.length).fill(-1);
  for (let r = 0; r < order.length; r++) ranks[order[r]] = r;
  return ranks;
}

/** Mean over `tokens` of a (step × token) decoded array, per step. */
export function meanCurve(curves, tokens) {
  const [steps, n] = curves.shape;
  const out = new Float64Array(steps);
  if (!tokens.length) return out;
  for (let s = 0; s < steps; s++) {
    let acc = 0;
    for (const t of tokens) acc += curves.data[s * n + t];
    out[s] = acc / tokens.length;
  }
  return out;
}

/** Marginal gain of the region at each rank: F_{r+1} − F_r. */
export function marginalGains(curve) {
  const out = new Float64Array(Math.max(0, curve.length - 1));
  for (let r = 0; r < out.length; r++) out[r] = curve[r + 1] - curve[r];
  return out;
}

/** Trapezoid-rule area under y(x). */
export function trapezoid(xs, ys) {
  let acc = 0;
  for (let i = 1; i < xs.length; i++) acc += ((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1])) / 2;
  return acc;
}

/** METHOD §6 visual reliance of one insertion curve: AUC(area, p) − min p. */
export function visualReliance(area, curve) {
  let min = Infinity;
  for (const v of curve) min = Math.min(min, v);
  return trapezoid(area, curve) - min;
}

/** Same sorted lists of integers? */
export function sameList(a, b) {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Which map the overlay shows for a token selection: the objective's own map when nothing
 * is selected or the selection is exactly the objective's targets; otherwise the map read
 * from the recorded insertion curves of the selected tokens.
 */
export function mapSource(selected, targets) {
  if (!selected.length || sameList(selected, targets)) return "objective";
  return "tokens";
}

// ---------------------------------------------------------------------------------------
// Images: masking, painting, outlines
// ---------------------------------------------------------------------------------------

/**
 * Which regions are visible at step k: insertion keeps the first k of the order, deletion
 * removes them. Returns a Uint8Array (1 = visible) indexed by region id.
 */
export function visibleRegions(order, k, mode) {
  if (mode !== "insertion" && mode !== "deletion") {
    throw new Error(`mode must be 'insertion' or 'deletion'; got '${mode}'.`);
  }
  const keep = new Uint8Array(order.length).fill(mode === "insertion" ? 0 : 1);
  for (let r = 0; r < Math.min(k, order.length); r++) keep[order[r]] = mode === "insertion" ? 1 : 0;
  return keep;
}

/** RGBA pixels (Uint8ClampedArray) of an RGB image with invisible regions black. */
export function maskedRgba(rgb, labels, visible) {
  const n = labels.length;
  const out = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    const on = visible[labels[p]] === 1;
    out[p * 4] = on ? rgb[p * 3] : 0;
    out[p * 4 + 1] = on ? rgb[p * 3 + 1] : 0;
    out[p * 4 + 2] = on ? rgb[p * 3 + 2] : 0;
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** RGBA heat layer: each pixel coloured by its region's value through a 256×3 LUT. */
export function heatRgba(labels, regionValues, lut) {
  const n = labels.length;
  const out = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    const i = Math.round(clamp01(regionValues[labels[p]]) * 255) * 3;
    out[p * 4] = lut[i];
    out[p * 4 + 1] = lut[i + 1];
    out[p * 4 + 2] = lut[i + 2];
    out[p * 4 + 3] = 255;
  }
  return out;
}

/**
 * Upsampling factor for drawing outlines crisply: outlines are drawn on a canvas `scale`
 * times the image size so they stay thin when the image is shown larger. Capped so the
 * canvas side stays ≤ `maxSide`.
 */
export function outlineScale(width, displayWidth, maxSide = 2048) {
  const want = Math.max(1, Math.round(displayWidth / Math.max(1, width)));
  return Math.max(1, Math.min(want, Math.floor(maxSide / Math.max(1, width))));
}

/**
 * RGBA (size width·scale × height·scale) with region boundaries drawn `thickness` px wide.
 * With `only` ≥ 0, draws the whole outline of that one region (image border included);
 * otherwise every boundary between two regions, once.
 */
export function edgesRgba(labels, width, height, scale, color, only = -1, thickness = 1) {
  const W = width * scale;
  const out = new Uint8ClampedArray(W * height * scale * 4);
  const t = Math.min(thickness, scale);
  const fill = (x0, y0, w, h) => {
    for (let yy = y0; yy < y0 + h; yy++) for (let xx = x0; xx < x0 + w; xx++) out.set(color, (yy * W + xx) * 4);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const l = labels[p];
      const bx = x * scale;
      const by = y * scale;
      if (only >= 0) {
        if (l !== only) continue;
        if (x === 0 || labels[p - 1] !== l) fill(bx, by, t, scale);
        if (x === width - 1 || labels[p + 1] !== l) fill(bx + scale - t, by, t, scale);
        if (y === 0 || labels[p - width] !== l) fill(bx, by, scale, t);
        if (y === height - 1 || labels[p + width] !== l) fill(bx, by + scale - t, scale, t);
      } else {
        if (x + 1 < width && labels[p + 1] !== l) fill(bx + scale - t, by, t, scale);
        if (y + 1 < height && labels[p + width] !== l) fill(bx, by + scale - t, scale, t);
      }
    }
  }
  return { rgba: out, width: W, height: height * scale };
}

/**
 * Frame `f` of an image ([frame,] y, x, channel; `channels` true) or label map
 * ([frame,] y, x; `channels` false): {data, height, width}. Still images have one frame.
 */
export function frameOf(arr, f, channels) {
  const video = arr.shape.length === (channels ? 4 : 3);
  const [height, width] = video ? arr.shape.slice(1, 3) : arr.shape.slice(0, 2);
  const frames = video ? arr.shape[0] : 1;
  const per = arr.data.length / frames;
  const i = Math.min(Math.max(0, Math.trunc(f) || 0), frames - 1);
  return { data: arr.data.subarray(i * per, (i + 1) * per), height, width };
}

/** Number of frames of an image ([frame,] y, x, channel) array. */
export function frameCount(image) {
  return image.shape.length === 4 ? image.shape[0] : 1;
}

// ---------------------------------------------------------------------------------------
// Hit-testing
// ---------------------------------------------------------------------------------------

/**
 * Image pixel under a pointer at (offsetX, offsetY) on an element displayed at
 * displayWidth × displayHeight showing a width × height image; null outside.
 */
export function pixelAt(offsetX, offsetY, displayWidth, displayHeight, width, height) {
  if (!(displayWidth > 0 && displayHeight > 0)) return null;
  if (offsetX < 0 || offsetY < 0 || offsetX >= displayWidth || offsetY >= displayHeight) return null;
  const x = Math.min(width - 1, Math.floor((offsetX / displayWidth) * width));
  const y = Math.min(height - 1, Math.floor((offsetY / displayHeight) * height));
  return { x, y };
}

/** Region id at pixel (x, y) of a row-major label map, or -1 outside. */
export function regionAt(labels, width, height, x, y) {
  if (x < 0 || y < 0 || x >= width || y >= height) return -1;
  return labels[y * width + x];
}

/** Nearest step index to a fraction `a` on the area axis (area is increasing). */
export function nearestStep(area, a) {
  let best = 0;
  for (let i = 1; i < area.length; i++) if (Math.abs(area[i] - a) < Math.abs(area[best] - a)) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------
// Token selection and roving focus
// ---------------------------------------------------------------------------------------

/** Sorted, de-duplicated, in-range integer indices. */
export function normalizeSelection(list, n) {
  const seen = new Set();
  for (const v of list ?? []) if (Number.isInteger(v) && v >= 0 && v < n) seen.add(v);
  return [...seen].sort((a, b) => a - b);
}

/**
 * Selection after activating token `index`: additive (Shift/Ctrl/Cmd) toggles it in the
 * selection; otherwise it becomes the only selected token, or clears the selection if it
 * already was.
 */
export function clickSelection(selected, index, additive) {
  if (additive) {
    return selected.includes(index) ? selected.filter((i) => i !== index) : [...selected, index].sort((a, b) => a - b);
  }
  return selected.length === 1 && selected[0] === index ? [] : [index];
}

/** Focus index after a navigation key, or null when the key does not navigate. */
export function navigate(key, index, n) {
  if (n <= 0) return null;
  switch (key) {
    case "ArrowRight":
    case "ArrowDown":
      return Math.min(n - 1, index + 1);
    case "ArrowLeft":
    case "ArrowUp":
      return Math.max(0, index - 1);
    case "Home":
      return 0;
    case "End":
      return n - 1;
    default:
      return null;
  }
}

/** Selection after keyboard navigation to `index`; Shift extends instead of replacing. */
export function keySelection(selected, index, extend) {
  return extend ? normalizeSelection([...selected, index], Infinity) : [index];
}

// ---------------------------------------------------------------------------------------
// Layout and formatting
// ---------------------------------------------------------------------------------------

/** SVG path through (xs[i], ys[i]) with xs in [x0, x1] and ys in [y0, y1] mapped to a box. */
export function linePath(xs, ys, box, domain = { x: [0, 1], y: [0, 1] }) {
  const { left, top, width, height } = box;
  const [x0, x1] = domain.x;
  const [y0, y1] = domain.y;
  const sx = (v) => left + ((v - x0) / (x1 - x0 || 1)) * width;
  const sy = (v) => top + height - ((clampTo(v, y0, y1) - y0) / (y1 - y0 || 1)) * height;
  let d = "";
  for (let i = 0; i < xs.length; i++) d += `${i ? "L" : "M"}${round2(sx(xs[i]))} ${round2(sy(ys[i]))}`;
  return d;
}

const clampTo = (v, lo, hi) => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo);
const round2 = (v) => Math.round(v * 100) / 100;

/** Screen position of data point (x, y) in a box (same mapping as linePath). */
export function pointIn(x, y, box, domain = { x: [0, 1], y: [0, 1] }) {
  const { left, top, width, height } = box;
  return {
    x: round2(left + ((x - domain.x[0]) / (domain.x[1] - domain.x[0] || 1)) * width),
    y: round2(top + height - ((clampTo(y, domain.y[0], domain.y[1]) - domain.y[0]) / (domain.y[1] - domain.y[0] || 1)) * height),
  };
}

/** Columns of a grid of `n` panels, at most `max` per row. */
export function gridColumns(n, max = 3) {
  return Math.max(1, Math.min(n, max));
}

/** Probability with 3 decimals ("0.123"); "–" for missing values. */
export function formatProb(p) {
  return Number.isFinite(p) ? p.toFixed(3) : "–";
}

/** Signed value with 3 decimals ("+0.123"). */
export function formatSigned(v) {
  if (!Number.isFinite(v)) return "–";
  return `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}`;
}

/** Percentage with one decimal ("12.5 %"). */
export function formatPercent(f) {
  return Number.isFinite(f) ? `${(f * 100).toFixed(1)} %` : "–";
}

/** Visible text of a token: whitespace and newlines made visible, never empty. */
export function tokenDisplay(text) {
  const shown = String(text).replace(/\n/g, "↵").replace(/\t/g, "⇥").trim();
  return shown.length ? shown : "␣";
}

/** Human-readable metric name ("insertion_auc" → "insertion AUC"). */
export function metricLabel(name) {
  return String(name)
    .split("_")
    .map((w) => (w === "auc" ? "AUC" : w))
    .join(" ");
}
