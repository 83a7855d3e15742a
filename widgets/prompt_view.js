// PromptView: the prompt's words coloured by their value as EAGLE features, linked with the
// token selection (the synced `selected`). Values per recorded token are gains along the one
// order shared with the image regions (probability units, signed); with no token selected,
// the objective's rank value in [0, 1]. As the image map, a prompt that barely moves what the
// view shows (largest |span gain| below `min_span`, MIN_MAP_SPAN sent from Python) is not
// coloured: the caption says so instead. Self-contained: no imports, no framework.

/** Mean over the selected tokens of each span's value; the objective's values when none. */
export function spanValues(tokenValues, objective, selected) {
  const rows = (selected || []).filter((t) => t >= 0 && t < tokenValues.length);
  if (!rows.length) return { values: objective.slice(), kind: "rank" };
  const n = objective.length;
  const values = new Array(n).fill(0);
  for (const t of rows) for (let j = 0; j < n; j++) values[j] += tokenValues[t][j] / rows.length;
  return { values, kind: "gain" };
}

/** Largest |gain| with its sign (0 for no spans). */
export function largestGain(gains) {
  let top = 0;
  for (const g of gains) if (Math.abs(g) > Math.abs(top)) top = g;
  return top;
}

/** The quantity the view shows as text, as Explanation.map_info: `p("yes")`,
 * `mean p("yellow" "square")` (`mean p(15 tokens)` for many), or the objective's name. */
export function promptQuantity(tokens, selected, objectiveName) {
  const rows = (selected || []).filter((t) => t >= 0 && t < tokens.length);
  if (!rows.length) return objectiveName || "the objective";
  const quoted = rows.map((t) => `"${tokens[t].trim() || tokens[t]}"`).join(" ");
  const names = rows.length > 4 ? `${rows.length} tokens` : quoted;
  return `${rows.length === 1 ? "p" : "mean p"}(${names})`;
}

/**
 * What the view draws now: the span values and their kind (spanValues), the gains that
 * decide whether they are coloured (the selected tokens' mean gain, else the objective F's
 * gain), the largest of them (signed) and `faint` — below `minSpan` the prompt barely moves
 * the quantity and no span is coloured (the image map's MIN_MAP_SPAN rule).
 */
export function promptColouring({ tokenValues, objective, objectiveGains, selected, minSpan }) {
  const { values, kind } = spanValues(tokenValues, objective, selected);
  const gains = kind === "gain" ? values : (objectiveGains || []).slice();
  const maxGain = largestGain(gains);
  const faint = !(Math.abs(maxGain) >= minSpan);
  return { values, kind, gains, maxGain, faint };
}

/** The caption under the prompt: what the colours show, or that the prompt barely moves it. */
export function promptCaption({ kind, values, maxGain, faint }, quantity, minSpan) {
  if (faint) {
    const largest = `${maxGain >= 0 ? "+" : "−"}${Math.abs(maxGain).toPrecision(2)}`;
    return `prompt words: the prompt barely moves ${quantity} (largest span gain ${largest}, under ${minSpan}): no colours shown`;
  }
  if (kind === "gain") {
    const scale = Math.max(1e-12, ...values.map(Math.abs));
    const largest = `largest |gain| ${scale.toFixed(3)}`;
    return `prompt words: gain of the selected token(s) in probability (purple −, orange +), ${largest}`;
  }
  return "prompt words: the objective's rank value in [0, 1] (viridis; 1 = first in the order)";
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
    const minSpan = model.get("min_span");
    const state = promptColouring({
      tokenValues: model.get("token_values"),
      objective: model.get("objective"),
      objectiveGains: model.get("objective_gains"),
      selected: model.get("selected"),
      minSpan,
    });
    const { values, kind, faint } = state;
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
      const span = document.createElement("span");
      span.className = "ek-prompt-span";
      span.dataset.index = String(piece.j);
      span.textContent = piece.text;
      span.dataset.value = String(v);
      span.title = `${kind} ${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
      span.setAttribute("aria-label", `“${piece.text}”: ${span.title}`);
      if (!faint) {
        const rgb = kind === "gain" ? rampColor(stops, v, -scale, scale) : rampColor(stops, v, 0, 1);
        span.style.background = `rgb(${rgb.join(",")})`;
        span.style.color = textColor(rgb);
      }
      span.style.padding = "1px 3px";
      span.style.borderRadius = "3px";
      p.append(span);
    }
    const caption = document.createElement("p");
    caption.className = "ek-prompt-caption";
    const tokens = model.get("tokens") || [];
    const quantity = promptQuantity(tokens, model.get("selected"), model.get("objective_name"));
    caption.textContent = promptCaption(state, quantity, minSpan);
    root.dataset.kind = kind;
    root.dataset.faint = String(faint);
    root.replaceChildren(p, caption);
  };
  draw();
  const names = ["selected", "spans", "token_values", "objective", "objective_gains", "min_span"];
  names.push("tokens", "objective_name", "prompt");
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
