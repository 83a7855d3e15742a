// PromptView: the prompt's words coloured by their value as EAGLE features, linked with the
// token selection (the synced `selected`). Values per recorded token are gains along the one
// order shared with the image regions (probability units, signed); with no token selected,
// the objective's rank value in [0, 1]. Self-contained: no imports, no framework.

/** Mean over the selected tokens of each span's value; the objective's values when none. */
export function spanValues(tokenValues, objective, selected) {
  const rows = (selected || []).filter((t) => t >= 0 && t < tokenValues.length);
  if (!rows.length) return { values: objective.slice(), kind: "rank" };
  const n = objective.length;
  const values = new Array(n).fill(0);
  for (const t of rows) for (let j = 0; j < n; j++) values[j] += tokenValues[t][j] / rows.length;
  return { values, kind: "gain" };
}

/** Piecewise-linear colour of v in [lo, hi] on `stops` (RGB triples evenly spaced). */
export function rampColor(stops, v, lo, hi) {
  const x = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
  const pos = x * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  const f = pos - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
}

/** Black or white text, whichever contrasts more with `rgb` (WCAG relative luminance). */
export function textColor(rgb) {
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff";
}

/** Pieces of the prompt: plain text between spans, and the spans with their index. */
export function promptPieces(prompt, spans) {
  const order = spans.map((s, j) => ({ ...s, j })).sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const s of order) {
    if (s.start > at) out.push({ text: prompt.slice(at, s.start), j: -1 });
    out.push({ text: prompt.slice(s.start, s.end), j: s.j });
    at = s.end;
  }
  if (at < prompt.length) out.push({ text: prompt.slice(at), j: -1 });
  return out;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "ek ek-prompt-view";
  el.replaceChildren(root);
  const draw = () => {
    const spans = model.get("spans");
    const { values, kind } = spanValues(model.get("token_values"), model.get("objective"), model.get("selected"));
    const scale = Math.max(1e-12, ...values.map(Math.abs));
    const stops = kind === "gain" ? model.get("gain_stops") : model.get("rank_stops");
    const p = document.createElement("p");
    p.className = "ek-prompt";
    for (const piece of promptPieces(model.get("prompt"), spans)) {
      if (piece.j < 0) {
        p.append(document.createTextNode(piece.text));
        continue;
      }
      const v = values[piece.j];
      const rgb = kind === "gain" ? rampColor(stops, v, -scale, scale) : rampColor(stops, v, 0, 1);
      const span = document.createElement("span");
      span.className = "ek-prompt-span";
      span.dataset.index = String(piece.j);
      span.textContent = piece.text;
      span.dataset.value = String(v);
      span.title = `${kind} ${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
      span.setAttribute("aria-label", `“${piece.text}”: ${span.title}`);
      span.style.background = `rgb(${rgb.join(",")})`;
      span.style.color = textColor(rgb);
      span.style.padding = "1px 3px";
      span.style.borderRadius = "3px";
      p.append(span);
    }
    const caption = document.createElement("p");
    caption.className = "ek-prompt-caption";
    caption.textContent =
      kind === "gain"
        ? `prompt words: gain of the selected token(s) in probability (purple −, orange +), largest |gain| ${scale.toFixed(3)}`
        : "prompt words: the objective's rank value in [0, 1] (viridis; 1 = first in the order)";
    root.dataset.kind = kind;
    root.replaceChildren(p, caption);
  };
  draw();
  const names = ["selected", "spans", "token_values", "objective", "prompt"];
  for (const name of names) model.on(`change:${name}`, draw);
  const showStatic = hideStaticView(model.get("_static_id"));
  return () => {
    names.forEach((name) => model.off(`change:${name}`, draw));
    showStatic();
  };
}

/**
 * The static view a notebook shows without a widget manager (nbconvert, GitHub) sits just
 * before the widget; once the widget renders it is hidden, and shown again when the widget
 * view goes away. Returns the function that shows it again.
 */
export function hideStaticView(id) {
  if (!id || typeof document === "undefined") return () => {};
  const nodes = [...document.querySelectorAll(`.ek-static[data-ek-static="${CSS.escape(id)}"]`)];
  for (const node of nodes) node.hidden = true;
  return () => nodes.forEach((node) => (node.hidden = false));
}

export default { render };
