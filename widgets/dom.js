// Tiny DOM helpers shared by the widget modules (the pure maths lives in helpers.js).

const SVG_NS = "http://www.w3.org/2000/svg";

function assign(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
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
