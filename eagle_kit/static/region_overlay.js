// RegionOverlay: the image under the attribution heat map, with region outlines, optional
// ground truth, and the rank / marginal gain of the region under the pointer.

import {
  COLORMAPS,
  attributionByRank,
  colormapGradient,
  colormapLut,
  decodeArray,
  formatProb,
  formatSigned,
  frameCount,
  frameOf,
  heatRgba,
  mapSource,
  marginalGains,
  maskedRgba,
  meanCurve,
  navigate,
  edgesRgba,
  normalizeSelection,
  outlineScale,
  pixelAt,
  ranksFromOrder,
  regionAt,
  tokenDisplay,
  valuesByRegion,
} from "./helpers.js";
import { commit, h, keepNavigationKeys, listen, paint, s, wipe } from "./dom.js";

function readData(model) {
  const d = model.get("data");
  const order = decodeArray(d.order).data;
  return {
    tokens: d.tokens,
    targets: d.targets,
    image: decodeArray(d.image),
    labels: decodeArray(d.labels),
    order,
    ranks: ranksFromOrder(order),
    attribution: decodeArray(d.attribution).data,
    objective: decodeArray(d.objective).data,
    insertion: decodeArray(d.insertion),
  };
}

/** The map shown for the current selection: per-region values, per-rank gains, caption. */
function currentMap(d, selected) {
  const source = mapSource(selected, d.targets);
  if (source === "objective") {
    const names = d.targets.map((i) => `“${tokenDisplay(d.tokens[i])}”`).join(" ");
    return {
      source,
      values: d.attribution,
      gains: marginalGains(d.objective),
      caption: `Objective map (F of the targets ${names}).`,
    };
  }
  const curve = meanCurve(d.insertion, selected);
  const names = selected.map((i) => `“${tokenDisplay(d.tokens[i])}”`).join(" ");
  return {
    source,
    values: valuesByRegion(d.order, attributionByRank(curve)),
    gains: marginalGains(curve),
    caption: `Map of ${names} from their recorded insertion curves along the objective's order.`,
  };
}

function render({ model, el }) {
  const root = h("div", { class: "ek ek-overlay" });
  el.replaceChildren(root);
  const releaseKeys = keepNavigationKeys(root);
  let d = readData(model);
  let map = null;
  let hoverRank = -1;

  // controls
  const opacity = h("input", { type: "range", min: 0, max: 1, step: 0.05, "aria-label": "Heat map opacity" });
  const cmap = h(
    "select",
    { "aria-label": "Colormap" },
    Object.keys(COLORMAPS).map((name) => h("option", { value: name }, name)),
  );
  const outlines = h("input", { type: "checkbox" });
  const truth = h("input", { type: "checkbox" });
  const truthLabel = h("label", { class: "ek-check" }, [truth, " ground truth"]);
  const frame = h("input", { type: "range", min: 0, step: 1, "aria-label": "Frame" });
  const frameLabel = h("label", {}, ["frame ", frame]);
  const toolbar = h("div", { class: "ek-toolbar" }, [
    h("label", {}, ["opacity ", opacity]),
    h("label", {}, ["colormap ", cmap]),
    h("label", { class: "ek-check" }, [outlines, " outlines"]),
    truthLabel,
    frameLabel,
  ]);

  // stage: image, heat, outlines, hover highlight, ground truth
  const imageCanvas = h("canvas", { class: "ek-layer ek-image" });
  const heatCanvas = h("canvas", { class: "ek-layer ek-heat" });
  const outlineCanvas = h("canvas", { class: "ek-layer ek-outline" });
  const maskCanvas = h("canvas", { class: "ek-layer ek-mask" });
  const hoverCanvas = h("canvas", { class: "ek-layer ek-hover" });
  const boxes = s("svg", { class: "ek-layer ek-boxes", preserveAspectRatio: "none", "aria-hidden": "true" });
  const stage = h(
    "div",
    {
      class: "ek-stage",
      tabindex: 0,
      role: "group",
      "aria-roledescription": "attribution map",
    },
    [imageCanvas, heatCanvas, outlineCanvas, maskCanvas, boxes, hoverCanvas],
  );
  const colorbar = h("div", { class: "ek-colorbar", "aria-hidden": "true" }, [
    h("span", {}, "less"),
    h("span", { class: "ek-colorbar-bar" }),
    h("span", {}, "more important"),
  ]);
  const caption = h("p", { class: "ek-map-caption" });
  const readout = h(
    "p",
    { class: "ek-readout", role: "status", "aria-live": "polite" },
    "Point at the image (or focus it and use the arrow keys) to see a region's rank and marginal gain.",
  );
  root.append(toolbar, stage, colorbar, caption, readout);

  const size = () => frameOf(d.labels, model.get("frame"), false);
  const scale = () => outlineScale(size().width, model.get("width"));

  function paintImage() {
    const img = frameOf(d.image, model.get("frame"), true);
    const lab = size();
    const all = new Uint8Array(d.order.length).fill(1);
    paint(imageCanvas, maskedRgba(img.data, lab.data, all), lab.width, lab.height);
    stage.style.aspectRatio = `${lab.width} / ${lab.height}`;
    stage.style.width = `${model.get("width")}px`;
    boxes.setAttribute("viewBox", `0 0 ${lab.width} ${lab.height}`);
    const edges = edgesRgba(lab.data, lab.width, lab.height, scale(), [255, 255, 255, 170]);
    paint(outlineCanvas, edges.rgba, edges.width, edges.height);
    hoverCanvas.width = edges.width;
    hoverCanvas.height = edges.height;
  }

  function paintHeat() {
    const selected = normalizeSelection(model.get("selected"), d.tokens.length);
    map = currentMap(d, selected);
    const lab = size();
    paint(heatCanvas, heatRgba(lab.data, map.values, colormapLut(model.get("colormap"))), lab.width, lab.height);
    caption.textContent = map.caption;
    root.dataset.mapSource = map.source;
    root.dataset.selected = selected.join(",");
    stage.setAttribute("aria-label", `Attribution map over the image. ${map.caption}`);
    if (hoverRank >= 0) showRank(hoverRank);
  }

  function paintGroundTruth() {
    const lab = size();
    const on = model.get("show_ground_truth");
    const boxList = model.get("boxes") || [];
    const maskEnc = model.get("mask");
    const has = boxList.length > 0 || (maskEnc && maskEnc.data);
    truthLabel.hidden = !has;
    truth.checked = on;
    // labels keep ~11 CSS px whatever the image size: the SVG's units are image pixels
    const unit = lab.width / Math.max(1, model.get("width"));
    boxes.replaceChildren(
      ...boxList.map((b) =>
        s("g", {}, [
          s("rect", {
            x: b.x0,
            y: b.y0,
            width: b.x1 - b.x0,
            height: b.y1 - b.y0,
            class: "ek-box",
            "vector-effect": "non-scaling-stroke",
          }),
          b.label
            ? s(
                "text",
                { x: b.x0 + 2 * unit, y: Math.max(b.y0 - 3 * unit, 11 * unit), class: "ek-box-label", "font-size": 11 * unit },
                b.label,
              )
            : null,
        ]),
      ),
    );
    boxes.style.display = on ? "" : "none";
    if (maskEnc && maskEnc.data) {
      const mask = frameOf(decodeArray(maskEnc), model.get("frame"), false);
      const edges = edgesRgba(mask.data, mask.width, mask.height, scale(), [0, 229, 255, 255], 1, 2);
      paint(maskCanvas, edges.rgba, edges.width, edges.height);
    } else {
      maskCanvas.width = lab.width;
      maskCanvas.height = lab.height;
      wipe(maskCanvas);
    }
    maskCanvas.style.display = on ? "" : "none";
  }

  function syncControls() {
    opacity.value = model.get("opacity");
    heatCanvas.style.opacity = model.get("opacity");
    cmap.value = model.get("colormap");
    colorbar.querySelector(".ek-colorbar-bar").style.background = colormapGradient(model.get("colormap"));
    outlines.checked = model.get("show_outlines");
    outlineCanvas.style.display = model.get("show_outlines") ? "" : "none";
    const frames = frameCount(d.image);
    frameLabel.hidden = frames <= 1;
    frame.max = frames - 1;
    frame.value = model.get("frame");
    stage.style.width = `${model.get("width")}px`;
    root.style.maxWidth = `${Math.max(model.get("width"), 300) + 40}px`;
  }

  function showRank(rank) {
    hoverRank = rank;
    const lab = size();
    const region = d.order[rank];
    const edges = edgesRgba(lab.data, lab.width, lab.height, scale(), [255, 214, 0, 255], region, 2);
    paint(hoverCanvas, edges.rgba, edges.width, edges.height);
    const value = map.values[region];
    readout.textContent =
      `Region ${region}: rank ${rank + 1} of ${d.order.length}, marginal gain ${formatSigned(map.gains[rank])}, ` +
      `value ${formatProb(value)}.`;
    root.dataset.hoverRegion = String(region);
  }

  function clearHover() {
    hoverRank = -1;
    wipe(hoverCanvas);
    delete root.dataset.hoverRegion;
  }

  function onMove(e) {
    const rect = stage.getBoundingClientRect();
    const lab = size();
    const px = pixelAt(e.clientX - rect.left, e.clientY - rect.top, rect.width, rect.height, lab.width, lab.height);
    if (!px) return clearHover();
    const region = regionAt(lab.data, lab.width, lab.height, px.x, px.y);
    if (region < 0 || d.ranks[region] === hoverRank) return;
    showRank(d.ranks[region]);
  }

  function onKey(e) {
    const next = navigate(e.key, hoverRank < 0 ? -1 : hoverRank, d.order.length);
    if (next === null) return;
    e.preventDefault();
    showRank(Math.max(0, next));
  }

  opacity.addEventListener("input", () => commit(model, "opacity", Number(opacity.value)));
  cmap.addEventListener("change", () => commit(model, "colormap", cmap.value));
  outlines.addEventListener("change", () => commit(model, "show_outlines", outlines.checked));
  truth.addEventListener("change", () => commit(model, "show_ground_truth", truth.checked));
  frame.addEventListener("input", () => commit(model, "frame", Number(frame.value)));
  stage.addEventListener("pointermove", onMove);
  stage.addEventListener("pointerleave", clearHover);
  stage.addEventListener("keydown", onKey);
  stage.addEventListener("blur", clearHover);

  function full() {
    paintImage();
    syncControls();
    paintHeat();
    paintGroundTruth();
  }
  const unlisten = listen(model, {
    data: () => {
      d = readData(model);
      clearHover();
      full();
    },
    selected: paintHeat,
    colormap: () => {
      syncControls();
      paintHeat();
    },
    "opacity show_outlines": syncControls,
    width: full,
    frame: () => {
      clearHover();
      full();
    },
    "boxes mask show_ground_truth": paintGroundTruth,
  });
  full();
  return () => {
    unlisten();
    releaseKeys();
  };
}

export default { render };
