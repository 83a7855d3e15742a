// Explorer: one panel per explanation (a grid to compare several), each composing the
// TokenTimeline, RegionOverlay and AblationSlider child widgets, the insertion/deletion
// curves (SVG drawn here, y range following the data, with downloads; or, when asked for,
// plotly charts drawn with plotly.js from the kernel's one PlotlyLibrary model, loaded once
// per page) and the metrics table. With a kernel, Python links the children's
// selection, k and mode; in an exported page (`_browser_links`) this module links them.
// Never both: kernel updates are not filtered against newer browser values, so two
// link layers would race (quick slider moves snapping back).

import {
  curveDomain,
  decodeArray,
  downloadName,
  formatProb,
  gridColumns,
  linePath,
  meanCurve,
  metricLabel,
  nearestStep,
  normalizeSelection,
  plotlyCurves,
  pointIn,
  sameList,
  tickLabel,
  tokenDisplay,
} from "./helpers.js";
import { commit, downloadBlob, h, listen, loadPlotly, s, serializeSvg, svgToPng } from "./dom.js";

const VIEW = { width: 320, height: 204 };
const BOX = { left: 46, top: 22, width: 262, height: 132 };

/** SVG insertion/deletion curves of the slider model's data; click to move k. */
function svgCurves(slider, el, title = "", xLabel = "fraction of the image inserted / deleted") {
  const root = h("figure", { class: "ek-curves" });
  el.replaceChildren(root);
  const caption = h("figcaption", {});
  const plot = s("svg", {
    viewBox: `0 0 ${VIEW.width} ${VIEW.height}`,
    class: "ek-curves-svg",
    role: "img",
    tabindex: 0,
  });
  const svgButton = h("button", { type: "button", class: "ek-download", "data-format": "svg" }, "SVG");
  const pngButton = h("button", { type: "button", class: "ek-download", "data-format": "png" }, "PNG");
  const tools = h("div", { class: "ek-toolbar ek-curves-tools" }, [h("span", {}, "download curves "), svgButton, pngButton]);
  root.append(plot, caption, tools);
  let fileStem = "curves";

  function draw() {
    const data = slider.get("data");
    const area = curveX(data);
    const ins = decodeArray(data.insertion);
    const del = decodeArray(data.deletion);
    const selected = normalizeSelection(slider.get("selected"), data.tokens.length);
    const tokens = selected.length ? selected : data.targets;
    const yIns = meanCurve(ins, tokens);
    const yDel = meanCurve(del, tokens);
    const k = Math.max(0, Math.min(area.length - 1, slider.get("k")));
    const dom = curveDomain([yIns, yDel]);
    const domain = { x: [0, 1], y: dom.y };
    const at = pointIn(area[k], dom.y[0], BOX, domain);
    const bottom = BOX.top + BOX.height;
    const who = tokens.map((t) => `“${tokenDisplay(data.tokens[t])}”`).join(" ");
    const yLabel = dom.zoomed ? "mean p (zoomed)" : "mean p";
    plot.replaceChildren(
      s("rect", { x: BOX.left, y: BOX.top, width: BOX.width, height: BOX.height, class: "ek-plot-bg" }),
      ...dom.ticks.map((t) => {
        const p = pointIn(0, t, BOX, domain);
        return s("line", { x1: BOX.left, x2: BOX.left + BOX.width, y1: p.y, y2: p.y, class: "ek-grid-line" });
      }),
      ...dom.ticks.map((t) => {
        const p = pointIn(0, t, BOX, domain);
        return s("text", { x: BOX.left - 4, y: p.y + 3, class: "ek-tick", "text-anchor": "end" }, tickLabel(t, dom.decimals));
      }),
      ...[0, 0.5, 1].map((t) => {
        const p = pointIn(t, dom.y[0], BOX, domain);
        return s("text", { x: p.x, y: bottom + 12, class: "ek-tick", "text-anchor": "middle" }, String(t));
      }),
      s("text", { x: BOX.left + BOX.width / 2, y: VIEW.height - 6, class: "ek-axis", "text-anchor": "middle" }, xLabel),
      s(
        "text",
        { x: 10, y: BOX.top + BOX.height / 2, class: "ek-axis ek-y-label", "text-anchor": "middle",
          transform: `rotate(-90 10 ${BOX.top + BOX.height / 2})` },
        yLabel,
      ),
      s("path", { d: linePath(area, yIns, BOX, domain), class: "ek-line-insertion" }),
      s("path", { d: linePath(area, yDel, BOX, domain), class: "ek-line-deletion" }),
      s("line", { x1: at.x, x2: at.x, y1: BOX.top, y2: bottom, class: "ek-k-line" }),
      s(
        "text",
        { x: at.x > BOX.left + BOX.width / 2 ? at.x - 3 : at.x + 3, y: BOX.top + 10, class: "ek-tick",
          "text-anchor": at.x > BOX.left + BOX.width / 2 ? "end" : "start" },
        `k = ${k}`,
      ),
      s("line", { x1: BOX.left + BOX.width - 150, x2: BOX.left + BOX.width - 134, y1: 10, y2: 10, class: "ek-line-insertion" }),
      s("text", { x: BOX.left + BOX.width - 131, y: 13, class: "ek-tick" }, "insertion"),
      s("line", { x1: BOX.left + BOX.width - 70, x2: BOX.left + BOX.width - 54, y1: 10, y2: 10, class: "ek-line-deletion" }),
      s("text", { x: BOX.left + BOX.width - 51, y: 13, class: "ek-tick" }, "deletion"),
    );
    const zoomNote = dom.zoomed
      ? ` The y axis is zoomed to ${formatProb(dom.y[0])}–${formatProb(dom.y[1])} to show the data.`
      : "";
    caption.textContent =
      `Mean p of ${who}: insertion (solid) ${formatProb(yIns[k])}, deletion (dashed) ${formatProb(yDel[k])} at k = ${k}.` +
      `${zoomNote} Click the plot to move k.`;
    plot.setAttribute("aria-label", caption.textContent);
    root.dataset.k = String(k);
    root.dataset.yMin = String(dom.y[0]);
    root.dataset.yMax = String(dom.y[1]);
    root.dataset.zoomed = String(dom.zoomed);
    fileStem = `${title ? `${title} ` : ""}curves ${tokens.map((t) => tokenDisplay(data.tokens[t])).join(" ")} k${k}`;
  }

  function onClick(e) {
    const rect = plot.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * VIEW.width;
    const a = Math.max(0, Math.min(1, (x - BOX.left) / BOX.width));
    const area = curveX(slider.get("data"));
    commit(slider, "k", nearestStep(area, a));
  }
  const svgText = () => serializeSvg(plot, { width: VIEW.width * 2, height: VIEW.height * 2 });
  const onSvg = () => downloadBlob(new Blob([svgText()], { type: "image/svg+xml" }), downloadName(fileStem, "svg"));
  const onPng = async () => {
    try {
      downloadBlob(await svgToPng(svgText(), VIEW.width * 2, VIEW.height * 2), downloadName(fileStem, "png"));
    } catch (err) {
      console.error("[eagle_kit] could not export the curves as PNG", err);
    }
  };
  plot.addEventListener("click", onClick);
  svgButton.addEventListener("click", onSvg);
  pngButton.addEventListener("click", onPng);
  const unlisten = listen(slider, { "data selected k": draw });
  draw();
  return () => {
    unlisten();
    plot.removeEventListener("click", onClick);
    svgButton.removeEventListener("click", onSvg);
    pngButton.removeEventListener("click", onPng);
  };
}

/**
 * The x axis of the curves: the image area, or with prompt span features the fraction of the
 * features (`curve_x`, as the AUCs of the metrics table: a span adds no image area).
 */
export function curveX(data) {
  return decodeArray(data.curve_x ?? data.area).data;
}

/** The slider model's curves as a plotly chart (Plotly from loadPlotly); click to move k. */
function plotlyChart(Plotly, slider, el, xLabel) {
  const root = h("div", { class: "ek-curves ek-curves-plotly" });
  el.replaceChildren(root);
  function draw() {
    const data = slider.get("data");
    const selected = normalizeSelection(slider.get("selected"), data.tokens.length);
    const tokens = selected.length ? selected : data.targets;
    const k = slider.get("k");
    const fig = plotlyCurves({
      area: curveX(data),
      insertion: meanCurve(decodeArray(data.insertion), tokens),
      deletion: meanCurve(decodeArray(data.deletion), tokens),
      k,
      names: tokens.map((t) => tokenDisplay(data.tokens[t])),
      xLabel,
    });
    root.dataset.k = String(k);
    return Plotly.react(root, fig.data, fig.layout, { displaylogo: false, responsive: false });
  }
  const onClick = (event) => {
    const point = event?.points?.[0];
    if (point) commit(slider, "k", point.pointIndex);
  };
  const unlisten = listen(slider, { "data selected k": draw });
  const ready = Promise.resolve(draw()).then(() => root.on("plotly_click", onClick));
  return {
    ready,
    cleanup: () => {
      unlisten();
      Plotly.purge(root);
    },
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
  const svgFallback = async (panel, slot) =>
    cleanups.push(svgCurves(await host.getModel(panel.slider), slot, panel.title, panel.x_label));

  const jobs = [];
  const curveSlots = [];
  for (const panel of panels) {
    const timeline = h("div", { class: "ek-slot ek-slot-timeline" });
    const overlay = h("div", { class: "ek-slot" });
    const slider = h("div", { class: "ek-slot" });
    // prompt span features: the prompt's words coloured by value, next to the overlay (or
    // in its place for a text-only explanation, which has no image map and no slider view)
    const prompt = panel.prompt ? h("div", { class: "ek-slot ek-slot-prompt" }) : null;
    const imageMap = panel.image_map !== false;
    const curves = h("div", { class: "ek-slot ek-slot-curves" });
    curveSlots.push(curves);
    grid.append(
      h("section", { class: "ek-panel", "aria-label": panel.title }, [
        h("header", {}, [h("h3", {}, panel.title), panel.subtitle ? h("p", { class: "ek-subtitle" }, panel.subtitle) : null]),
        timeline,
        h("div", { class: "ek-row" }, imageMap ? [overlay, prompt, slider] : [prompt]),
        h("div", { class: "ek-row" }, [curves, metricsTable(panel.metrics)]),
      ]),
    );
    jobs.push(mount(panel.timeline, timeline));
    if (imageMap) jobs.push(mount(panel.overlay, overlay), mount(panel.slider, slider));
    if (prompt) jobs.push(mount(panel.prompt, prompt));
  }
  // curves: plotly charts when asked for (plotly.js from the one model every plotly
  // explorer refers to, evaluated once per page), else SVG drawn here (also the fallback
  // when plotly.js cannot load)
  const plotlyRef = model.get("_plotly");
  if (plotlyRef) {
    jobs.push(
      (async () => {
        let Plotly;
        try {
          Plotly = await loadPlotly(await host.getModel(plotlyRef));
        } catch (err) {
          console.warn("[eagle_kit] plotly.js unavailable; drawing the curves as SVG", err);
          await Promise.all(panels.map((p, i) => svgFallback(p, curveSlots[i])));
          return;
        }
        const charts = await Promise.all(
          panels.map(async (p, i) => plotlyChart(Plotly, await host.getModel(p.slider), curveSlots[i], p.x_label)),
        );
        for (const chart of charts) cleanups.push(chart.cleanup);
        await Promise.all(charts.map((c) => c.ready));
      })(),
    );
  } else {
    panels.forEach((p, i) => jobs.push(svgFallback(p, curveSlots[i])));
  }

  if (model.get("_browser_links")) {
    for (const group of model.get("_links")) {
      const models = await Promise.all(group.members.map((ref) => (ref === "self" ? model : host.getModel(ref))));
      cleanups.push(linkGroup(models, group.attr));
    }
  }
  await Promise.all(jobs);
  cleanups.push(hideStaticView(model.get("_static_id")));
  root.dataset.ready = "true";
  return () => cleanups.forEach((fn) => fn());
}

/**
 * The static view (the picture a notebook shows without a widget manager: nbconvert,
 * GitHub) is displayed just before the widget; once the widget renders it is hidden, and
 * shown again when the widget view goes away.
 */
function hideStaticView(id) {
  if (!id || typeof document === "undefined") return () => {};
  const nodes = [...document.querySelectorAll(`.ek-static[data-ek-static="${CSS.escape(id)}"]`)];
  for (const node of nodes) node.hidden = true;
  return () => nodes.forEach((node) => (node.hidden = false));
}

export default { render };
