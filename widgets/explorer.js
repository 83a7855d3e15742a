// Explorer: one panel per explanation (a grid to compare several), each composing the
// TokenTimeline, RegionOverlay and AblationSlider child widgets, the insertion/deletion
// curves (the plotly FigureWidget child, or an SVG drawing when there is none, e.g. in an
// exported page) and the metrics table. With a kernel, Python links the children's
// selection, k and mode; in an exported page (`_browser_links`) this module links them.
// Never both: kernel updates are not filtered against newer browser values, so two
// link layers would race (quick slider moves snapping back).

import {
  decodeArray,
  formatProb,
  gridColumns,
  linePath,
  meanCurve,
  metricLabel,
  nearestStep,
  normalizeSelection,
  pointIn,
  sameList,
  tokenDisplay,
} from "./helpers.js";
import { commit, h, listen, s } from "./dom.js";

const BOX = { left: 34, top: 10, width: 250, height: 130 };

/** SVG insertion/deletion curves of the slider model's data; click to move k. */
function svgCurves(slider, el) {
  const root = h("figure", { class: "ek-curves" });
  el.replaceChildren(root);
  const caption = h("figcaption", {});
  const plot = s("svg", {
    viewBox: "0 0 300 170",
    class: "ek-curves-svg",
    role: "img",
    tabindex: 0,
  });
  root.append(plot, caption);

  function draw() {
    const data = slider.get("data");
    const area = decodeArray(data.area).data;
    const ins = decodeArray(data.insertion);
    const del = decodeArray(data.deletion);
    const selected = normalizeSelection(slider.get("selected"), data.tokens.length);
    const tokens = selected.length ? selected : data.targets;
    const yIns = meanCurve(ins, tokens);
    const yDel = meanCurve(del, tokens);
    const k = Math.max(0, Math.min(area.length - 1, slider.get("k")));
    const at = pointIn(area[k], 0, BOX);
    const ticks = [0, 0.5, 1];
    plot.replaceChildren(
      s("rect", { x: BOX.left, y: BOX.top, width: BOX.width, height: BOX.height, class: "ek-plot-bg" }),
      ...ticks.map((t) => {
        const p = pointIn(0, t, BOX);
        return s("text", { x: BOX.left - 4, y: p.y + 3, class: "ek-tick", "text-anchor": "end" }, String(t));
      }),
      ...ticks.map((t) => {
        const p = pointIn(t, 0, BOX);
        return s("text", { x: p.x, y: BOX.top + BOX.height + 12, class: "ek-tick", "text-anchor": "middle" }, String(t));
      }),
      s("text", { x: BOX.left + BOX.width / 2, y: 166, class: "ek-axis", "text-anchor": "middle" }, "fraction of the image inserted / deleted"),
      s("path", { d: linePath(area, yIns, BOX), class: "ek-line-insertion" }),
      s("path", { d: linePath(area, yDel, BOX), class: "ek-line-deletion" }),
      s("line", { x1: at.x, x2: at.x, y1: BOX.top, y2: BOX.top + BOX.height, class: "ek-k-line" }),
      s(
        "text",
        { x: at.x > BOX.left + BOX.width / 2 ? at.x - 3 : at.x + 3, y: BOX.top + 10, class: "ek-tick",
          "text-anchor": at.x > BOX.left + BOX.width / 2 ? "end" : "start" },
        `k = ${k}`,
      ),
    );
    const who = tokens.map((t) => `“${tokenDisplay(data.tokens[t])}”`).join(" ");
    caption.textContent =
      `Mean p of ${who}: insertion (solid) ${formatProb(yIns[k])}, deletion (dashed) ${formatProb(yDel[k])} at k = ${k}. ` +
      "Click the plot to move k.";
    plot.setAttribute("aria-label", caption.textContent);
    root.dataset.k = String(k);
  }

  function onClick(e) {
    const rect = plot.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * 300;
    const a = Math.max(0, Math.min(1, (x - BOX.left) / BOX.width));
    const area = decodeArray(slider.get("data").area).data;
    commit(slider, "k", nearestStep(area, a));
  }
  plot.addEventListener("click", onClick);
  const unlisten = listen(slider, { "data selected k": draw });
  draw();
  return () => {
    unlisten();
    plot.removeEventListener("click", onClick);
  };
}

function metricsTable(rows) {
  return h("table", { class: "ek-metrics" }, [
    h("caption", {}, "metrics"),
    h(
      "tbody",
      {},
      rows.map(([name, value]) =>
        h("tr", {}, [h("th", { scope: "row" }, metricLabel(name)), h("td", { class: "ek-num" }, formatProb(value))]),
      ),
    ),
  ]);
}

/** Keep `attr` equal across the models of one link group (browser side). */
function linkGroup(models, attr) {
  const equal = (a, b) => (Array.isArray(a) ? sameList(a, b) : a === b);
  const handlers = models.map((source) => {
    const fn = () => {
      const value = source.get(attr);
      for (const target of models) if (target !== source) commit(target, attr, value, equal);
    };
    source.on(`change:${attr}`, fn);
    return [source, fn];
  });
  return () => handlers.forEach(([m, fn]) => m.off(`change:${attr}`, fn));
}

async function render({ model, el, host, signal }) {
  const root = h("div", { class: "ek ek-explorer" });
  el.replaceChildren(root);
  if (!host) {
    root.append(
      h(
        "p",
        { class: "ek-error", role: "alert" },
        "The Explorer composes child widgets and needs anywidget >= 0.11 (pip install -U anywidget). " +
          "Meanwhile display its parts: explorer.panels[0].timeline, .overlay, .slider.",
      ),
    );
    return () => {};
  }
  const cleanups = [];
  const panels = model.get("_panels");
  const grid = h("div", { class: "ek-grid", style: { "--ek-columns": gridColumns(panels.length) } });
  root.append(grid);

  const mount = async (ref, slot) => {
    try {
      const child = await host.getWidget(ref);
      await child.render({ el: slot, signal });
    } catch (err) {
      slot.replaceChildren(h("p", { class: "ek-error", role: "alert" }, `Could not render ${ref}: ${err.message}`));
      console.error("[eagle_kit] Explorer child failed to render", err);
    }
  };
  const svgFallback = async (sliderRef, slot) => cleanups.push(svgCurves(await host.getModel(sliderRef), slot));
  const mountFigure = async (panel, slot) => {
    try {
      const child = await host.getWidget(panel.figure);
      await child.render({ el: slot, signal });
    } catch (err) {
      console.warn("[eagle_kit] plotly figure unavailable; drawing the curves as SVG", err);
      await svgFallback(panel.slider, slot);
    }
  };

  const jobs = [];
  for (const panel of panels) {
    const timeline = h("div", { class: "ek-slot ek-slot-timeline" });
    const overlay = h("div", { class: "ek-slot" });
    const slider = h("div", { class: "ek-slot" });
    const curves = h("div", { class: "ek-slot ek-slot-curves" });
    grid.append(
      h("section", { class: "ek-panel", "aria-label": panel.title }, [
        h("header", {}, [h("h3", {}, panel.title), panel.subtitle ? h("p", { class: "ek-subtitle" }, panel.subtitle) : null]),
        timeline,
        h("div", { class: "ek-row" }, [overlay, slider]),
        h("div", { class: "ek-row" }, [curves, metricsTable(panel.metrics)]),
      ]),
    );
    jobs.push(mount(panel.timeline, timeline), mount(panel.overlay, overlay), mount(panel.slider, slider));
    jobs.push(panel.figure ? mountFigure(panel, curves) : svgFallback(panel.slider, curves));
  }

  if (model.get("_browser_links")) {
    for (const group of model.get("_links")) {
      const models = await Promise.all(group.members.map((ref) => (ref === "self" ? model : host.getModel(ref))));
      cleanups.push(linkGroup(models, group.attr));
    }
  }
  await Promise.all(jobs);
  root.dataset.ready = "true";
  return () => cleanups.forEach((fn) => fn());
}

export default { render };
