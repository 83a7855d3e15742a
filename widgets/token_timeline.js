// TokenTimeline: the recorded tokens in order, each a toggle button with a sparkline of its
// insertion curve. The selection is the synced `selected`. Image regions only: chips coloured
// by visual reliance I_t. With prompt span features: chips coloured by the label of the
// three-way reading of p(full) (image / prompt / language prior / mixed), and each token shows
// how much rests on each (a stacked bar, hover and aria). A token with no reading ("n/a") is
// the neutral grey, with its own legend entry.

import {
  PALETTE,
  RELIANCE_SCALE,
  clickSelection,
  column,
  decodeArray,
  formatProb,
  formatSigned,
  keySelection,
  linePath,
  navigate,
  normalizeSelection,
  pointIn,
  relianceGradient,
  rgbCss,
  sameList,
  textColorFor,
  tokenChipColor,
  tokenDisplay,
  MODALITY_COLORS,
} from "./helpers.js";
import { commit, h, keepNavigationKeys, listen, s } from "./dom.js";

const SPARK = { left: 1, top: 1, width: 38, height: 10 };

/** Colours of the three-way reading: image (visual red), prompt (orange), prior (blue). */
export const SPLIT_COLORS = Object.freeze({ image: PALETTE.visual, prompt: PALETTE.prompt, prior: PALETTE.prior });

/**
 * Widths (fractions summing to 1, or all 0) of the stacked bar of one token's three-way
 * reading: each part's positive share of p(full). Negative parts (an input that lowers the
 * token) take no width; the text states them with their sign.
 */
export function splitWidths(image, prompt, prior) {
  const parts = [image, prompt, prior].map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const total = parts[0] + parts[1] + parts[2];
  return total > 0 ? parts.map((v) => v / total) : [0, 0, 0];
}

/** "rests on image +0.50, prompt +0.44, prior +0.06" for token i, or "" without the split. */
export function splitText(d, i) {
  if (!d.split) return "";
  const [a, b, c] = d.split.map((arr) => arr[i]);
  return `p(full) rests on image ${formatSigned(a)}, prompt ${formatSigned(b)}, prior ${formatSigned(c)}`;
}

function readData(model) {
  const d = model.get("data");
  return {
    tokens: d.tokens,
    modality: d.modality,
    reading: d.reading === "split" ? "split" : "visual",
    targets: d.targets,
    reliance: decodeArray(d.reliance).data,
    pBlack: decodeArray(d.p_black).data,
    pFull: decodeArray(d.p_full).data,
    insertion: decodeArray(d.insertion),
    // sparkline x: the image area, or with prompt spans the fraction of features (curve_x)
    area: decodeArray(d.curve_x ?? d.area).data,
    split: d.reliance_image
      ? [d.reliance_image, d.reliance_prompt, d.reliance_prior].map((a) => decodeArray(a).data)
      : null,
  };
}

/** One sentence describing token i (aria-label, tooltip and the details line). */
function describe(d, i) {
  const target = d.targets.includes(i) ? ", in the objective" : "";
  const split = d.split ? `; ${splitText(d, i)}` : "";
  const reading =
    d.reading === "split"
      ? `rests mostly on: ${READING_NAMES[d.modality[i]] ?? d.modality[i]}`
      : `visual reliance ${formatProb(d.reliance[i])} (${d.modality[i]})`;
  return (
    `Token ${i} “${d.tokens[i]}”: p(black) ${formatProb(d.pBlack[i])}, p(full) ${formatProb(d.pFull[i])}, ` +
    `${reading}${target}${split}`
  );
}

function splitLegend() {
  const item = (name, label) =>
    h("span", { class: "ek-split-key" }, [
      h("span", { class: "ek-split-swatch", style: { background: SPLIT_COLORS[name] } }),
      ` ${label}`,
    ]);
  return h("div", { class: "ek-split-legend", "aria-hidden": "true" }, [
    "bar under a token: what p(full) rests on — ",
    item("image", "image"),
    " ",
    item("prompt", "prompt"),
    " ",
    item("prior", "language prior"),
  ]);
}

function splitBar(d, i) {
  const widths = splitWidths(...d.split.map((arr) => arr[i]));
  return h(
    "span",
    { class: "ek-split-bar", "aria-hidden": "true", "data-widths": widths.map((w) => w.toFixed(3)).join(",") },
    ["image", "prompt", "prior"].map((name, j) =>
      h("span", { class: `ek-split-${name}`, style: { width: `${widths[j] * 100}%`, background: SPLIT_COLORS[name] } }),
    ),
  );
}

/** Words of the token labels of the three-way reading (legend, hover, aria). */
export const READING_NAMES = Object.freeze({
  visual: "image",
  prompt: "prompt",
  prior: "language prior",
  mixed: "mixed (no part holds half of p(full))",
  "n/a": "n/a (no reading)",
});

function swatch(label, text) {
  return h("span", { class: "ek-split-key", "data-modality": label }, [
    h("span", { class: "ek-split-swatch", style: { background: MODALITY_COLORS[label] } }),
    ` ${text}`,
  ]);
}

/**
 * The chips' legend: with prompt span features (`d.reading === "split"`) one swatch per label
 * of the three-way reading, "n/a" included; otherwise the I_t scale, with an "n/a" swatch
 * when a token has no reading.
 */
export function legend(d) {
  if (d.reading === "split") {
    return h("div", { class: "ek-legend ek-legend-split", "aria-hidden": "true" }, [
      h("span", { class: "ek-legend-end" }, "chip colour: what p(token) rests on —"),
      swatch("visual", "image"),
      swatch("prompt", "prompt"),
      swatch("prior", "language prior"),
      swatch("mixed", "mixed"),
      swatch("n/a", "n/a"),
      h(
        "span",
        { class: "ek-legend-note" },
        "label = the largest part of the three-way split when it holds ≥ ½ of p(full) and ≥ 0.1; line = p(token) as features are inserted",
      ),
    ]);
  }
  const { mid, top } = RELIANCE_SCALE;
  const na = d.modality && d.modality.includes("n/a") ? [swatch("n/a", "n/a (no reading)")] : [];
  return h("div", { class: "ek-legend", "aria-hidden": "true" }, [
    ...na,
    h("span", { class: "ek-legend-end" }, "language prior"),
    h("span", { class: "ek-legend-scale" }, [
      h("span", { class: "ek-legend-bar", style: { background: relianceGradient() } }),
      h("span", { class: "ek-legend-ticks" }, [
        h("span", {}, "0"),
        h("span", { style: { left: `${(mid / top) * 100}%` } }, String(mid)),
        h("span", { style: { left: "100%" } }, `≥ ${top}`),
      ]),
    ]),
    h("span", { class: "ek-legend-end" }, "visual evidence"),
    h("span", { class: "ek-legend-note" }, "colour = visual reliance I_t; line = p(token) as regions are inserted"),
  ]);
}

function render({ model, el }) {
  const root = h("div", { class: "ek ek-timeline" });
  el.replaceChildren(root);
  const releaseKeys = keepNavigationKeys(root);
  let d = readData(model);
  let focus = 0;
  let buttons = [];
  let markers = [];

  const group = h("div", {
    class: "ek-tokens",
    role: "group",
    "aria-label": "Generated tokens. Arrow keys move, Shift extends the selection, Escape clears it.",
  });
  const details = h("div", { class: "ek-token-details", "aria-hidden": "true" }, "\u00a0");
  const status = h("div", { class: "ek-selection-status", role: "status", "aria-live": "polite" });
  const split = h("div", {});
  const key = h("div", {});
  root.append(key, split, group, details, status);

  const selected = () => normalizeSelection(model.get("selected"), d.tokens.length);
  const select = (next) => commit(model, "selected", next, sameList);

  function sparkline(i) {
    const curve = column(d.insertion, i);
    const marker = s("circle", { r: 1.6, class: "ek-spark-marker" });
    markers[i] = { marker, curve };
    return s("svg", { class: "ek-spark", viewBox: "0 0 40 12", width: 40, height: 12, "aria-hidden": "true" }, [
      s("path", { d: linePath(d.area, curve, SPARK), class: "ek-spark-line" }),
      marker,
    ]);
  }

  function build() {
    markers = [];
    key.replaceChildren(legend(d));
    split.replaceChildren(...(d.split ? [splitLegend()] : []));
    focus = Math.min(focus, Math.max(0, d.tokens.length - 1));
    buttons = d.tokens.map((text, i) => {
      const bg = tokenChipColor(d, i);
      const b = h(
        "button",
        {
          type: "button",
          class: `ek-token${d.targets.includes(i) ? " ek-target" : ""}`,
          "data-index": i,
          "data-modality": d.modality[i],
          "aria-pressed": "false",
          "aria-label": describe(d, i),
          title: describe(d, i),
          style: { background: rgbCss(bg), color: textColorFor(bg) },
        },
        [h("span", { class: "ek-token-text" }, tokenDisplay(text)), sparkline(i), d.split ? splitBar(d, i) : null],
      );
      b.addEventListener("click", (e) => {
        focus = i;
        select(clickSelection(selected(), i, e.shiftKey || e.metaKey || e.ctrlKey));
      });
      b.addEventListener("mouseenter", () => (details.textContent = describe(d, i)));
      b.addEventListener("focus", () => (details.textContent = describe(d, i)));
      return b;
    });
    group.replaceChildren(...buttons);
    if (!buttons.length) group.append(h("span", { class: "ek-empty" }, "No recorded tokens."));
    update();
    updateK();
  }

  function update() {
    const sel = selected();
    buttons.forEach((b, i) => {
      b.setAttribute("aria-pressed", String(sel.includes(i)));
      b.tabIndex = i === focus ? 0 : -1;
    });
    root.dataset.selected = sel.join(",");
    status.textContent = sel.length
      ? `Selected: ${sel.map((i) => `“${tokenDisplay(d.tokens[i])}”`).join(" ")}`
      : "No token selected: the overlay shows the objective's map. Click a token (Shift+click for several).";
  }

  function updateK() {
    const k = Math.max(0, Math.min(d.area.length - 1, model.get("k") ?? 0));
    for (const m of markers) {
      if (!m) continue;
      const p = pointIn(d.area[k], m.curve[k], SPARK);
      m.marker.setAttribute("cx", p.x);
      m.marker.setAttribute("cy", p.y);
    }
  }

  function onKey(e) {
    if (e.key === "Escape") {
      select([]);
      return;
    }
    const next = navigate(e.key, focus, buttons.length);
    if (next === null) return;
    e.preventDefault();
    focus = next;
    buttons[next].focus();
    select(keySelection(selected(), next, e.shiftKey));
    update();
  }
  group.addEventListener("keydown", onKey);
  group.addEventListener("mouseleave", () => (details.textContent = "\u00a0"));

  const unlisten = listen(model, {
    selected: update,
    k: updateK,
    data: () => {
      d = readData(model);
      build();
    },
  });
  build();
  return () => {
    unlisten();
    releaseKeys();
    group.removeEventListener("keydown", onKey);
  };
}

export default { render };
