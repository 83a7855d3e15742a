// AblationSlider: k from 0 to N. Shows the image with the top-k regions inserted (or
// deleted) and the per-token probabilities at step k from the recorded curves; in live
// mode the Python side re-scores the masked image and sends back probabilities and answer.

import {
  decodeArray,
  formatPercent,
  formatProb,
  frameCount,
  frameOf,
  maskedRgba,
  normalizeSelection,
  tokenDisplay,
  visibleRegions,
} from "./helpers.js";
import { commit, h, keepNavigationKeys, listen, paint } from "./dom.js";

function readData(model) {
  const d = model.get("data");
  return {
    tokens: d.tokens,
    targets: d.targets,
    image: decodeArray(d.image),
    labels: decodeArray(d.labels),
    order: decodeArray(d.order).data,
    area: decodeArray(d.area).data,
    insertion: decodeArray(d.insertion),
    deletion: decodeArray(d.deletion),
  };
}

/** Rows of the probability table: the selection, else the objective's targets. */
function shownTokens(d, selected) {
  return selected.length ? { rows: selected, title: "selected tokens" } : { rows: d.targets, title: "objective tokens" };
}

function render({ model, el }) {
  const root = h("div", { class: "ek ek-slider" });
  el.replaceChildren(root);
  const releaseKeys = keepNavigationKeys(root);
  let d = readData(model);

  const canvas = h("canvas", { class: "ek-masked", role: "img" });
  const range = h("input", { type: "range", min: 0, step: 1, class: "ek-k", "aria-label": "Number of regions k" });
  const readout = h("output", { class: "ek-k-readout" });
  const insertBtn = h("button", { type: "button", class: "ek-mode", "data-mode": "insertion" }, "insert top-k");
  const deleteBtn = h("button", { type: "button", class: "ek-mode", "data-mode": "deletion" }, "delete top-k");
  const modes = h("div", { class: "ek-modes", role: "group", "aria-label": "Ablation mode" }, [insertBtn, deleteBtn]);
  const frame = h("input", { type: "range", min: 0, step: 1, "aria-label": "Frame" });
  const frameLabel = h("label", {}, ["frame ", frame]);
  const tableTitle = h("caption", {});
  const tbody = h("tbody", {});
  const liveHead = h("th", { scope: "col", class: "ek-live-col" }, "live");
  const table = h("table", { class: "ek-probs" }, [
    tableTitle,
    h("thead", {}, [
      h("tr", {}, [
        h("th", { scope: "col" }, "token"),
        h("th", { scope: "col" }, "p(token)"),
        h("th", { scope: "col" }, "recorded"),
        liveHead,
      ]),
    ]),
    tbody,
  ]);
  const liveBox = h("input", { type: "checkbox" });
  const liveLabel = h("label", { class: "ek-check" }, [liveBox, " live: re-score this image with the model"]);
  const liveStatus = h("p", { class: "ek-live-status", role: "status", "aria-live": "polite" });
  const liveAnswer = h("p", { class: "ek-live-answer" });
  const liveSection = h("div", { class: "ek-live" }, [liveLabel, liveStatus, liveAnswer]);
  root.append(
    h("div", { class: "ek-stage ek-stage-plain" }, [canvas]),
    h("div", { class: "ek-toolbar" }, [range, readout]),
    h("div", { class: "ek-toolbar" }, [modes, frameLabel]),
    h("div", { class: "ek-probs-wrap" }, [table]),
    liveSection,
  );

  const n = () => d.order.length;
  const k = () => Math.max(0, Math.min(n(), model.get("k")));

  function paintImage() {
    const mode = model.get("mode");
    const img = frameOf(d.image, model.get("frame"), true);
    const lab = frameOf(d.labels, model.get("frame"), false);
    paint(canvas, maskedRgba(img.data, lab.data, visibleRegions(d.order, k(), mode)), lab.width, lab.height);
    canvas.style.width = `${model.get("width")}px`;
    root.style.maxWidth = `${Math.max(model.get("width"), 300) + 40}px`;
    const verb = mode === "insertion" ? "kept" : "removed";
    const text = `k = ${k()} of ${n()} regions ${verb} (${formatPercent(d.area[k()])} of the image)`;
    readout.textContent = text;
    canvas.setAttribute("aria-label", `The image with the top ${k()} regions ${verb}.`);
    range.max = n();
    range.value = k();
    range.setAttribute("aria-valuetext", text);
    insertBtn.setAttribute("aria-pressed", String(mode === "insertion"));
    deleteBtn.setAttribute("aria-pressed", String(mode === "deletion"));
    const frames = frameCount(d.image);
    frameLabel.hidden = frames <= 1;
    frame.max = frames - 1;
    frame.value = model.get("frame");
    root.dataset.k = String(k());
    root.dataset.mode = mode;
  }

  function paintTable() {
    const selected = normalizeSelection(model.get("selected"), d.tokens.length);
    const { rows, title } = shownTokens(d, selected);
    const curves = model.get("mode") === "insertion" ? d.insertion : d.deletion;
    const live = model.get("live");
    const probs = model.get("live_probs") || [];
    const step = model.get("live_step") || [];
    const fresh = live && step[0] === k() && step[1] === model.get("mode");
    const verb = model.get("mode") === "insertion" ? "keeping" : "removing";
    tableTitle.textContent = `${title}, ${verb} the top ${k()} regions`;
    liveHead.hidden = !live;
    const T = curves.shape[1];
    tbody.replaceChildren(
      ...rows.map((t) => {
        const p = curves.data[k() * T + t];
        const lp = probs[t];
        return h("tr", { "data-token": t }, [
          h("th", { scope: "row" }, tokenDisplay(d.tokens[t])),
          h("td", { class: "ek-bar-cell" }, [
            h("span", { class: "ek-bar", style: { width: `${Math.max(0, Math.min(1, p)) * 100}%` } }),
          ]),
          h("td", { class: "ek-num" }, formatProb(p)),
          live
            ? h("td", { class: `ek-num ek-live-col${fresh ? "" : " ek-stale"}` }, fresh ? formatProb(lp) : "…")
            : null,
        ]);
      }),
    );
  }

  function paintLive() {
    // live mode exists only with a scorer (and a kernel): hidden otherwise
    liveSection.hidden = !model.get("has_scorer");
    liveBox.checked = model.get("live");
    liveStatus.textContent = model.get("live") ? model.get("live_status") : "";
    const answer = model.get("live_answer");
    liveAnswer.textContent = model.get("live") && answer ? `Model's answer for this image: ${answer}` : "";
    root.dataset.live = String(model.get("live"));
    paintTable();
  }

  range.addEventListener("input", () => commit(model, "k", Number(range.value)));
  insertBtn.addEventListener("click", () => commit(model, "mode", "insertion"));
  deleteBtn.addEventListener("click", () => commit(model, "mode", "deletion"));
  frame.addEventListener("input", () => commit(model, "frame", Number(frame.value)));
  liveBox.addEventListener("change", () => commit(model, "live", liveBox.checked));

  const unlisten = listen(model, {
    data: () => {
      d = readData(model);
      paintImage();
      paintTable();
    },
    "k mode frame width": () => {
      paintImage();
      paintTable();
    },
    selected: paintTable,
    "live live_probs live_step live_answer live_status has_scorer": paintLive,
  });
  paintImage();
  paintLive();
  return () => {
    unlisten();
    releaseKeys();
  };
}

export default { render };
