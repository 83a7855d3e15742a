// Tiny DOM helpers shared by the widget modules (the pure maths lives in helpers.js).

const SVG_NS = "http://www.w3.org/2000/svg";

function assign(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "style" && typeof value === "object") setStyle(el, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return el;
}

/**
 * Set inline styles from an object. Custom properties ("--name") need setProperty:
 * assigning them as fields of `el.style` (Object.assign) silently does nothing.
 */
export function setStyle(el, styles) {
  for (const [name, value] of Object.entries(styles)) {
    if (value == null) continue;
    if (name.startsWith("--")) el.style.setProperty(name, String(value));
    else el.style[name] = value;
  }
  return el;
}

function append(el, children) {
  for (const child of [].concat(children)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Create an HTML element: h("button", {class: "x", onclick: fn}, ["text", child]). */
export function h(tag, attrs = {}, children = []) {
  return append(assign(document.createElement(tag), attrs), children);
}

/** Create an SVG element (same arguments as h). */
export function s(tag, attrs = {}, children = []) {
  return append(assign(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** Put RGBA pixels on a canvas, resizing it to width × height. */
export function paint(canvas, rgba, width, height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.putImageData(new ImageData(rgba, width, height), 0, 0);
}

/** Clear a canvas. */
export function wipe(canvas) {
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

let counter = 0;
/** A document-unique id for aria wiring. */
export function uid(prefix = "ek") {
  counter += 1;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Subscribe to model changes; returns a function that unsubscribes them all. */
export function listen(model, handlers) {
  const pairs = Object.entries(handlers).map(([names, fn]) => {
    const events = names
      .split(/\s+/)
      .map((n) => `change:${n}`)
      .join(" ");
    return [events, fn];
  });
  for (const [events, fn] of pairs) for (const e of events.split(" ")) model.on(e, fn);
  return () => {
    for (const [events, fn] of pairs) for (const e of events.split(" ")) model.off(e, fn);
  };
}

const NAVIGATION_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);

/**
 * Keep navigation keys pressed inside `el` from reaching the notebook, whose shortcuts
 * (e.g. arrows moving between cells in command mode) would otherwise swallow them.
 */
export function keepNavigationKeys(el) {
  const stop = (e) => {
    if (NAVIGATION_KEYS.has(e.key)) e.stopPropagation();
  };
  el.addEventListener("keydown", stop);
  return () => el.removeEventListener("keydown", stop);
}

/** Set a model trait and sync it, unless it already has that value. */
export function commit(model, name, value, equal = (a, b) => a === b) {
  if (equal(model.get(name), value)) return;
  model.set(name, value);
  model.save_changes();
}

/** Offer `blob` as a download named `name` (an <a download> click; works offline). */
export function downloadBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const INLINED = ["fill", "stroke", "stroke-width", "stroke-dasharray", "opacity", "font-size", "font-family", "font-weight"];

/**
 * A standalone copy of an SVG element as text: computed styles written as attributes, so
 * it looks the same outside the page (theme variables and classes do not travel).
 */
export function serializeSvg(svg, { width, height, background = "#fff" } = {}) {
  const clone = svg.cloneNode(true);
  const src = [svg, ...svg.querySelectorAll("*")];
  const dst = [clone, ...clone.querySelectorAll("*")];
  src.forEach((node, i) => {
    const style = getComputedStyle(node);
    for (const name of INLINED) {
      const value = style.getPropertyValue(name);
      if (value) dst[i].setAttribute(name, value);
    }
  });
  clone.setAttribute("xmlns", SVG_NS);
  if (width) clone.setAttribute("width", String(width));
  if (height) clone.setAttribute("height", String(height));
  clone.insertBefore(document.createElementNS(SVG_NS, "rect"), clone.firstChild);
  const bg = clone.firstChild;
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", background);
  return new XMLSerializer().serializeToString(clone);
}

/** Rasterise SVG text to a PNG blob at `scale` × its size. */
export async function svgToPng(svgText, width, height, scale = 2) {
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgText)}`;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
  return canvasBlob(canvas);
}

/** A canvas as a PNG blob. */
export function canvasBlob(canvas) {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the canvas could not be encoded as PNG"))), "image/png"),
  );
}

/**
 * plotly.js from the kernel's PlotlyLibrary model ({version, source}), evaluated at most once
 * per page: the promise is cached on globalThis by version, and a page that already has the
 * same plotly.js (e.g. an exported report with plotly charts) is reused. The source runs as
 * a classic script (from a blob URL) with CommonJS `module`/`exports` in scope and no AMD
 * `define`, so the UMD bundle neither needs eval nor registers with a page's require.js.
 */
export function loadPlotly(library) {
  const version = String(library.get("version") || "");
  const cache = (globalThis.__eagleKitPlotly ??= new Map());
  if (!cache.has(version)) {
    const ready = globalThis.Plotly?.version === version && version
      ? Promise.resolve(globalThis.Plotly)
      : evaluatePlotly(library.get("source"), version);
    cache.set(version, ready);
    ready.catch(() => cache.delete(version));
  }
  return cache.get(version);
}

function evaluatePlotly(source, version) {
  if (!source) return Promise.reject(new Error("the plotly.js model holds no source"));
  const key = `__eagleKitPlotly_${version.replace(/\W/g, "_")}`;
  const text =
    "(function(){var module={exports:{}},exports=module.exports,define=undefined;\n" +
    source +
    `\n;globalThis[${JSON.stringify(key)}]=module.exports;})();`;
  const url = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => {
      URL.revokeObjectURL(url);
      script.remove();
      const plotly = globalThis[key];
      if (plotly && typeof plotly.react === "function") resolve(plotly);
      else reject(new Error(`plotly.js ${version} did not load`));
    };
    script.onerror = () => {
      URL.revokeObjectURL(url);
      script.remove();
      reject(new Error(`plotly.js ${version} could not be evaluated`));
    };
    document.head.append(script);
  });
}
