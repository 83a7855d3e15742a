// RegionOverlay: the image under one of the two maps of METHOD §5 (rank: the paper's; gain:
// each region's marginal effect in probability), with region outlines, optional ground
// truth, a colour bar with units and span, and the rank, gain and rank value of the region
// under the pointer.

import {
  COLORMAPS,
  GAIN_COLORMAP,
  MIN_MAP_SPAN,
  ZOOM,
  colorbarStops,
  colormapGradient,
  colormapLut,
  decodeArray,
  downloadName,
  formatProb,
  formatSigned,
  frameCount,
  frameOf,
  gainGradient,
  gainLut,
  heatRgba,
  heatValues,
  mapFor,
  maskedRgba,
  navigate,
  edgesRgba,
  normalizeSelection,
  outlineScale,
  overlaySvgDocument,
  panBy,
  pixelAt,
  ranksFromOrder,
  regionAt,
  tokenDisplay,
  wrapText,
  zoomBy,
  zoomTransform,
} from "./helpers.js";
import { canvasBlob, commit, downloadBlob, h, keepNavigationKeys, listen, paint, s, wipe } from "./dom.js";

function readData(model) {
  const d = model.get("data");
  const order = decodeArray(d.order).data;
  return {
    tokens: d.tokens,
    targets: d.targets,
    nImageRegions: d.n_image_regions,
    image: decodeArray(d.image),
    labels: decodeArray(d.labels),
    order,
    ranks: ranksFromOrder(order),
    attribution: decodeArray(d.attribution).data,
    objective: decodeArray(d.objective).data,
    insertion: decodeArray(d.insertion),
  };
}

const names = (d, idx) =>
  idx.length > 4 ? `${idx.length} tokens` : idx.map((i) => `“${tokenDisplay(d.tokens[i])}”`).join(" ");

/** The map shown for the current selection and kind, with the texts that describe it. */
function currentMap(d, selected, kind) {
  const map = mapFor(d, selected, d.targets, kind);
  const idx = map.source === "objective" ? d.targets : selected;
  map.quantity = map.source === "objective" ? `F(${names(d, idx)})` : `${idx.length > 1 ? "mean p" : "p"}(${names(d, idx)})`;
  const moves =
    `${map.quantity}: black ${formatProb(map.black)} → full ${formatProb(map.full)}, span ${formatProb(map.span)}, ` +
    `largest single gain ${formatSigned(map.maxGain)}` +
    (map.imageMaxGain == null
      ? "."
      : ` (${map.maxGainRegion < d.nImageRegions ? `region ${map.maxGainRegion}` : "a prompt span"}); ` +
        `the image regions' steps move it by ${formatProb(map.imageSpan)}, the largest ${formatSigned(map.imageMaxGain)} ` +
        `(region ${map.imageMaxGainRegion}${map.kind === "gain" ? ", the image map's colour scale" : ""}).`);
  const whose = map.source === "objective" ? "Objective" : "Token";
  if (!map.shown && map.imageSpan != null && map.span >= MIN_MAP_SPAN) {
    map.caption =
      `Along this order the image regions' steps move ${map.quantity} by only ${formatProb(map.imageSpan)} (< ${MIN_MAP_SPAN}; ` +
      `the prompt spans make the rest of the span ${formatProb(map.span)}): no image map shown. This is their effect ` +
      `after the spans ranked before them, not whether the image matters — the three-way split (reliance_image) says that.`;
  } else if (!map.shown) {
    map.caption = `The image barely moves ${map.quantity} (span ${formatProb(map.span)} < ${MIN_MAP_SPAN}): no map shown.`;
  } else if (map.kind === "gain") {
    map.caption =
      `${whose} gain map: each region's marginal effect on ${map.quantity} along the order ` +
      `(signed, probability; orange raises, purple lowers). ${moves}`;
  } else {
    map.caption =
      `${whose} rank map (METHOD §5, the paper's): 1 = first region of the order, 0 = last; ` +
      `it shows rank, not effect size. ${moves}`;
  }
  return map;
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
  const kindSelect = h("select", { "aria-label": "Map" }, [
    h("option", { value: "auto" }, "auto (objective: rank, tokens: gain)"),
    h("option", { value: "rank" }, "rank (METHOD §5)"),
    h("option", { value: "gain" }, "gain (probability)"),
  ]);
  const cmap = h(
    "select",
    { "aria-label": "Colormap of rank maps" },
    Object.keys(COLORMAPS).map((name) => h("option", { value: name }, name)),
  );
  const outlines = h("input", { type: "checkbox" });
  const truth = h("input", { type: "checkbox" });
  const truthLabel = h("label", { class: "ek-check" }, [truth, " ground truth"]);
  const frame = h("input", { type: "range", min: 0, step: 1, "aria-label": "Frame" });
  const frameLabel = h("label", {}, ["frame ", frame]);
  const zoomOut = h("button", { type: "button", class: "ek-zoom-out", "aria-label": "Zoom out", title: "Zoom out (−)" }, "−");
  const zoomIn = h("button", { type: "button", class: "ek-zoom-in", "aria-label": "Zoom in", title: "Zoom in (+; Ctrl + wheel or pinch on the image)" }, "+");
  const zoomReset = h("button", { type: "button", class: "ek-zoom-reset", "aria-label": "Reset zoom", title: "Reset zoom (0)" }, "reset");
  const pngButton = h("button", { type: "button", class: "ek-download", "data-format": "png", title: "Download the view with its colour bar (PNG)" }, "PNG");
  const svgButton = h("button", { type: "button", class: "ek-download", "data-format": "svg", title: "Download the view with its colour bar (SVG)" }, "SVG");
  const toolbar = h("div", { class: "ek-toolbar" }, [
    h("label", {}, ["map ", kindSelect]),
    h("label", {}, ["opacity ", opacity]),
    h("label", {}, ["colormap ", cmap]),
    h("label", { class: "ek-check" }, [outlines, " outlines"]),
    truthLabel,
    frameLabel,
    h("span", { class: "ek-zoom-tools", role: "group", "aria-label": "Zoom" }, ["zoom ", zoomOut, zoomIn, zoomReset]),
    h("span", { class: "ek-download-tools", role: "group", "aria-label": "Download the view" }, ["download ", pngButton, svgButton]),
  ]);

  // stage: image, heat, outlines, hover highlight, ground truth
  const imageCanvas = h("canvas", { class: "ek-layer ek-image" });
  const heatCanvas = h("canvas", { class: "ek-layer ek-heat" });
  const outlineCanvas = h("canvas", { class: "ek-layer ek-outline" });
  const maskCanvas = h("canvas", { class: "ek-layer ek-mask" });
  const hoverCanvas = h("canvas", { class: "ek-layer ek-hover" });
  const boxes = s("svg", { class: "ek-layer ek-boxes", preserveAspectRatio: "none", "aria-hidden": "true" });
  // every layer sits in one zoomed element: CSS transform, origin top left
  const zoomLayer = h("div", { class: "ek-zoom" }, [imageCanvas, heatCanvas, outlineCanvas, maskCanvas, boxes, hoverCanvas]);
  const stage = h(
    "div",
    {
      class: "ek-stage",
      tabindex: 0,
      role: "group",
      "aria-roledescription": "attribution map",
    },
    [zoomLayer],
  );
  let view = { scale: 1, x: 0, y: 0 };
  const barLow = h("span", { class: "ek-colorbar-low" });
  const barHigh = h("span", { class: "ek-colorbar-high" });
  const barTitle = h("span", { class: "ek-colorbar-title" });
  const colorbar = h("div", { class: "ek-colorbar", "aria-hidden": "true" }, [
    barTitle,
    barLow,
    h("span", { class: "ek-colorbar-bar" }),
    barHigh,
  ]);
  const caption = h("p", { class: "ek-map-caption" });
  const readout = h(
    "p",
    { class: "ek-readout", role: "status", "aria-live": "polite" },
    "Point at the image (or focus it and use the arrow keys) to see a region's rank, its gain and its rank value.",
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
    map = currentMap(d, selected, model.get("map_kind"));
    const lab = size();
    const lut = map.kind === "gain" ? gainLut() : colormapLut(model.get("colormap"));
    paint(heatCanvas, heatRgba(lab.data, heatValues(map), lut), lab.width, lab.height);
    heatCanvas.style.display = map.shown ? "" : "none";
    // a diverging colour blended with a coloured object changes hue: gain maps sit on grey
    imageCanvas.style.filter = map.shown && map.kind === "gain" ? "grayscale(1)" : "";
    colorbar.style.display = map.shown ? "" : "none";
    colorbar.querySelector(".ek-colorbar-bar").style.background =
      map.kind === "gain" ? gainGradient() : colormapGradient(model.get("colormap"));
    if (map.kind === "gain") {
      barLow.textContent = formatSigned(-map.scale);
      barHigh.textContent = formatSigned(map.scale);
      barTitle.textContent = `gain in ${map.quantity} (probability)`;
    } else {
      barLow.textContent = "0 = last";
      barHigh.textContent = "1 = first";
      barTitle.textContent = `rank (METHOD §5); ${map.quantity} moves by ${formatProb(map.span)}`;
    }
    cmap.disabled = map.kind === "gain";
    cmap.title = map.kind === "gain" ? `gain maps use the diverging ${GAIN_COLORMAP} scale` : "";
    kindSelect.value = model.get("map_kind");
    caption.textContent = map.caption;
    root.dataset.mapSource = map.source;
    root.dataset.mapKind = map.shown ? map.kind : "none";
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
    const shown = map.shown ? `${map.kind} map` : "no map (span below " + MIN_MAP_SPAN + ")";
    readout.textContent =
      `Region ${region}: rank ${rank + 1} of ${d.order.length}. ` +
      `Gain in ${map.quantity}: ${formatSigned(map.gainValues[region])} (probability). ` +
      `Rank value (METHOD §5): ${formatProb(map.rankValues[region])}. Shown: ${shown}.`;
    root.dataset.hoverRegion = String(region);
  }

  function clearHover() {
    hoverRank = -1;
    wipe(hoverCanvas);
    delete root.dataset.hoverRegion;
  }

  function onMove(e) {
    if (drag) return onDrag(e);
    const outer = stage.getBoundingClientRect();
    if (e.clientX < outer.left || e.clientX >= outer.right || e.clientY < outer.top || e.clientY >= outer.bottom) return clearHover();
    const rect = zoomLayer.getBoundingClientRect(); // the zoomed image, possibly larger than the stage
    const lab = size();
    const px = pixelAt(e.clientX - rect.left, e.clientY - rect.top, rect.width, rect.height, lab.width, lab.height);
    if (!px) return clearHover();
    const region = regionAt(lab.data, lab.width, lab.height, px.x, px.y);
    if (region < 0 || d.ranks[region] === hoverRank) return;
    showRank(d.ranks[region]);
  }

  function onKey(e) {
    const zoomKeys = { "+": ZOOM.step, "=": ZOOM.step, "-": 1 / ZOOM.step, _: 1 / ZOOM.step };
    if (e.key in zoomKeys && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      return zoomCentre(zoomKeys[e.key]);
    }
    if (e.key === "0" && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      return setView({ scale: 1, x: 0, y: 0 });
    }
    const next = navigate(e.key, hoverRank < 0 ? -1 : hoverRank, d.order.length);
    if (next === null) return;
    e.preventDefault();
    showRank(Math.max(0, next));
  }

  // -- zoom: buttons, keys (+ − 0 on the focused image), Ctrl/⌘ + wheel or pinch; drag to pan
  function setView(next) {
    view = next;
    zoomLayer.style.transform = view.scale === 1 ? "" : zoomTransform(view);
    root.dataset.zoom = String(Math.round(view.scale * 1000) / 1000);
    stage.classList.toggle("ek-zoomed", view.scale > 1);
    zoomOut.disabled = view.scale <= ZOOM.min;
    zoomReset.disabled = view.scale <= ZOOM.min;
    zoomIn.disabled = view.scale >= ZOOM.max;
  }
  function zoomCentre(factor) {
    const { width, height } = stage.getBoundingClientRect();
    setView(zoomBy(view, factor, width / 2, height / 2, width, height));
  }
  function onWheel(e) {
    if (!(e.ctrlKey || e.metaKey)) return; // plain wheel scrolls the notebook
    e.preventDefault();
    const rect = stage.getBoundingClientRect();
    const factor = Math.exp(-e.deltaY * 0.0025);
    setView(zoomBy(view, factor, e.clientX - rect.left, e.clientY - rect.top, rect.width, rect.height));
  }
  let drag = null;
  function onDown(e) {
    if (view.scale <= 1 || e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY };
    stage.setPointerCapture?.(e.pointerId);
  }
  function onDrag(e) {
    const { width, height } = stage.getBoundingClientRect();
    setView(panBy(view, e.clientX - drag.x, e.clientY - drag.y, width, height));
    drag = { x: e.clientX, y: e.clientY };
  }
  const onUp = () => (drag = null);
  const onZoomIn = () => zoomCentre(ZOOM.step);
  const onZoomOut = () => zoomCentre(1 / ZOOM.step);
  const onZoomReset = () => setView({ scale: 1, x: 0, y: 0 });
  zoomIn.addEventListener("click", onZoomIn);
  zoomOut.addEventListener("click", onZoomOut);
  zoomReset.addEventListener("click", onZoomReset);
  stage.addEventListener("wheel", onWheel, { passive: false });
  stage.addEventListener("pointerdown", onDown);
  stage.addEventListener("pointerup", onUp);
  stage.addEventListener("pointercancel", onUp);

  // -- downloads: the current view (zoom included) with its colour bar and caption
  function composeView() {
    const lab = size();
    const f = Math.max(1, Math.round(model.get("width") / lab.width));
    const whole = h("canvas", { width: lab.width * f, height: lab.height * f });
    const ctx = whole.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    const draw = (canvas, alpha = 1, filter = "none") => {
      ctx.globalAlpha = alpha;
      ctx.filter = filter;
      ctx.drawImage(canvas, 0, 0, whole.width, whole.height);
      ctx.globalAlpha = 1;
      ctx.filter = "none";
    };
    draw(imageCanvas, 1, imageCanvas.style.filter || "none");
    if (map.shown) draw(heatCanvas, model.get("opacity"));
    if (model.get("show_outlines")) draw(outlineCanvas);
    if (model.get("show_ground_truth")) {
      draw(maskCanvas);
      ctx.strokeStyle = "#00e5ff";
      ctx.lineWidth = 2;
      for (const b of model.get("boxes") || []) ctx.strokeRect(b.x0 * f, b.y0 * f, (b.x1 - b.x0) * f, (b.y1 - b.y0) * f);
    }
    // the part of the image the zoomed stage shows
    const shown = h("canvas", { width: whole.width, height: whole.height });
    const { width: w, height: hgt } = stage.getBoundingClientRect();
    const sx = w > 0 ? whole.width / w : 1;
    const sy = hgt > 0 ? whole.height / hgt : 1;
    const sctx = shown.getContext("2d");
    sctx.imageSmoothingEnabled = false;
    sctx.drawImage(whole, (-view.x / view.scale) * sx, (-view.y / view.scale) * sy, whole.width / view.scale, whole.height / view.scale, 0, 0, shown.width, shown.height);
    return shown;
  }
  function barSpec() {
    if (!map.shown) return null;
    return {
      title: barTitle.textContent,
      low: barLow.textContent,
      high: barHigh.textContent,
      stops: colorbarStops(map.kind, model.get("colormap")),
    };
  }
  function zoomNote() {
    return view.scale > 1 ? ` Zoomed ×${Math.round(view.scale * 100) / 100}.` : "";
  }
  const stem = () => `${map.quantity} ${map.shown ? map.kind : "no"} map`;
  function onPng() {
    const img = composeView();
    const bar = barSpec();
    const text = wrapText(map.caption + zoomNote(), Math.max(20, Math.floor(img.width / 6.5)));
    const out = h("canvas", { width: img.width, height: img.height + (bar ? 46 : 6) + 14 * text.length + 4 });
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(img, 0, 0);
    let y = img.height + 16;
    ctx.font = "11px 'DejaVu Sans', Arial, sans-serif";
    ctx.fillStyle = "#222";
    if (bar) {
      ctx.fillText(bar.title, 0, y, out.width);
      const grad = ctx.createLinearGradient(0, 0, out.width, 0);
      for (const [o, c] of bar.stops) grad.addColorStop(o, c);
      ctx.fillStyle = grad;
      ctx.fillRect(0, y + 5, out.width, 10);
      ctx.fillStyle = "#222";
      ctx.fillText(bar.low, 0, y + 28);
      ctx.textAlign = "right";
      ctx.fillText(bar.high, out.width, y + 28);
      ctx.textAlign = "left";
      y += 46;
    }
    ctx.font = "10px 'DejaVu Sans', Arial, sans-serif";
    ctx.fillStyle = "#444";
    for (const line of text) {
      ctx.fillText(line, 0, y);
      y += 14;
    }
    canvasBlob(out).then(
      (blob) => downloadBlob(blob, downloadName(stem(), "png")),
      (err) => console.error("[eagle_kit] could not export the view as PNG", err),
    );
  }
  function onSvg() {
    const img = composeView();
    const doc = overlaySvgDocument({
      imageHref: img.toDataURL("image/png"),
      width: img.width,
      height: img.height,
      bar: barSpec(),
      caption: map.caption + zoomNote(),
    });
    downloadBlob(new Blob([doc], { type: "image/svg+xml" }), downloadName(stem(), "svg"));
  }
  pngButton.addEventListener("click", onPng);
  svgButton.addEventListener("click", onSvg);

  opacity.addEventListener("input", () => commit(model, "opacity", Number(opacity.value)));
  cmap.addEventListener("change", () => commit(model, "colormap", cmap.value));
  kindSelect.addEventListener("change", () => commit(model, "map_kind", kindSelect.value));
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
    "selected map_kind": paintHeat,
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
  setView(view);
  return () => {
    unlisten();
    releaseKeys();
  };
}

export default { render };
