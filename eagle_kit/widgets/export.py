"""``save_html``: a self-contained page of a widget that works without a kernel.

The page inlines the widgets' ES modules, their stylesheet, and the widget state (binary
buffers as base64) plus ``standalone.js``, a small runtime implementing the anywidget
model interface in the page. Nothing is fetched from the network. Everything read from
the recorded curves keeps working (token selection, maps, slider, curves); live
re-scoring needs a kernel and is switched off.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers

from .. import __version__
from ._assets import load_esm
from ._base import ExplanationWidget
from .explorer import Explorer
from .prompt import PromptView
from .slider import AblationSlider

__all__ = ["save_html", "page_state", "embed_widget_views"]

_LIVE_OFF = {
    "live": False,
    "has_scorer": False,
    "live_probs": [],
    "live_step": [],
    "live_answer": "",
    "live_status": "",
}
_DROP = ("layout", "comm", "keys", "tabbable", "tooltip", "_dom_classes")


def _parts(widget: Any) -> list[tuple[Any, dict[str, Any]]]:
    """The widgets to save with state overrides for a kernel-free page."""
    if isinstance(widget, Explorer):
        # no kernel to link the parts: the page links them
        out: list[tuple[Any, dict[str, Any]]] = [(widget, {"_browser_links": True})]
        if widget._plotly_library is not None:  # plotly curves: plotly.js once in the page
            out.append((widget._plotly_library, {}))
        for p in widget.panels:
            out += _parts(p.timeline) + _parts(p.overlay) + _parts(p.slider)
            if p.prompt is not None:
                out += _parts(p.prompt)
        return out
    if isinstance(widget, AblationSlider):
        return [(widget, dict(_LIVE_OFF))]
    if isinstance(widget, (ExplanationWidget, PromptView)):
        return [(widget, {})]
    raise TypeError(
        f"save_html saves eagle_kit widgets (Explorer, TokenTimeline, RegionOverlay, AblationSlider, "
        f"PromptView); "
        f"got {type(widget).__name__}."
    )


def page_state(widget: Any) -> dict[str, Any]:
    """``{"root": model id, "models": {id: {"state", "buffers": [{"path", "data": base64}]}}}``."""
    models: dict[str, Any] = {}
    for part, overrides in _parts(widget):
        state = {k: v for k, v in part.get_state().items() if k not in _DROP}
        state.update(overrides)
        state, paths, buffers = _remove_buffers(state)
        models[part.model_id] = {
            "state": state,
            "buffers": [
                {"path": list(path), "data": base64.b64encode(bytes(buf)).decode("ascii")}
                for path, buf in zip(paths, buffers)
            ],
        }
    return {"root": widget.model_id, "models": models}


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="eagle_kit {version}">
<title>{title}</title>
<style>
body {{ margin: 16px; background: #fff; }}
.ek-page-title {{ font: 600 16px system-ui, sans-serif; margin: 0 0 8px; }}
.ek-page-note {{ font: 12px system-ui, sans-serif; color: #555; margin: 0 0 12px; }}
</style>
{styles}
</head>
<body>
<h1 class="ek-page-title">{title}</h1>
<p class="ek-page-note">Exported from eagle_kit {version}. Interactive without a kernel: select tokens, hover the map,
move the slider. Live re-scoring needs the notebook.</p>
<main id="ek-root"></main>
<noscript>This page needs JavaScript to show the EAGLE widgets.</noscript>
<script type="application/json" id="ek-state">{state}</script>
<script type="module">
import {{ mount }} from "{runtime}";
const root = document.getElementById("ek-root");
const spec = JSON.parse(document.getElementById("ek-state").textContent);
mount(spec, root).then(
  (page) => {{ window.eagleKitPage = page; document.body.dataset.ready = "true"; }},
  (err) => {{ console.error(err); root.textContent = "Could not render the widgets: " + err.message; }},
);
</script>
</body>
</html>
"""


def save_html(widget: Any, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write ``widget`` as a self-contained HTML page that opens without a kernel.

    Args:
        widget: an :class:`Explorer`, :class:`TokenTimeline`, :class:`RegionOverlay` or
            :class:`AblationSlider`.
        path: the ``.html`` file to write (parent folders are created).
        title: the page title (default: the widget's kind).

    Returns:
        The path written.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"save_html writes an .html file; got '{path.name}'.")
    state = page_state(widget)
    try:
        state_json = json.dumps(state, allow_nan=False, separators=(",", ":"))
    except ValueError as err:
        raise ValueError(
            f"The widget state holds NaN or infinite values and cannot be saved: {err}"
        ) from err
    styles = []
    for saved in state["models"].values():
        css = saved["state"].get("_css")
        if css and css not in styles:
            styles.append(css)
    runtime = (
        "data:text/javascript;base64,"
        + base64.b64encode(load_esm("standalone.js").encode()).decode()
    )
    page = _PAGE.format(
        version=__version__,
        title=html.escape(title or f"EAGLE {type(widget).__name__}"),
        styles="\n".join(f"<style>\n{css}\n</style>" for css in styles),
        # inside <script> no "<" may appear ("</script>", "<!--<script>" would end or
        # derail it); JSON escapes keep the text exact, and ensure_ascii escapes U+2028 etc.
        state=state_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"),
        runtime=runtime,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8", errors="xmlcharrefreplace")  # lone surrogates
    return path


# -- widget views of a saved notebook ----------------------------------------------------------

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_REF = "anywidget:"
_OURS = "sourceURL=eagle_kit/widgets/"  # the last line of every eagle_kit widget module


def _refs(value: Any) -> list[str]:
    """Model ids referred to (``"anywidget:<id>"``) anywhere inside a saved state."""
    if isinstance(value, str):
        return [value[len(_REF) :]] if value.startswith(_REF) else []
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _page_model(saved: dict[str, Any], *, plotly_in_page: bool) -> dict[str, Any]:
    """A model of the notebook's widget state as the page runtime takes it, with the
    overrides of a kernel-free page (the page links the parts; no live re-scoring)."""
    state = {k: v for k, v in saved.get("state", {}).items() if k not in _DROP}
    if "_panels" in state:
        state["_browser_links"] = True
    if "live" in state and "has_scorer" in state:
        state.update(_LIVE_OFF)
    if plotly_in_page and saved.get("model_name") == "WidgetModel" and "source" in state:
        state["source"] = ""  # the page's own plotly.js is used (same version)
    buffers = [{"path": b["path"], "data": b["data"]} for b in saved.get("buffers", [])]
    return {"state": state, "buffers": buffers}


def embed_widget_views(nb: Any, *, plotly_in_page: bool = False) -> int:
    """Make the eagle_kit widgets of an executed notebook work in its HTML export, offline.

    A notebook saved with its widget state (JupyterLab's "Save Widget State", or nbclient
    and papermill, which store it) holds every model of every widget. nbconvert's page
    would fetch the widget manager from a CDN to draw them; this replaces each view of an
    eagle_kit widget (an Explorer, a TokenTimeline …) by a ``text/html`` output that draws it
    with the page runtime of :func:`save_html` from the saved state: nothing is fetched,
    selection, slider and curves work, live re-scoring is off. The models (the kernel's one
    plotly.js model among them) go into the page once, in the first such output, so plotly.js
    appears once however many Explorers use ``curves="plotly"``. Each static view shown
    before its widget is hidden once the widget draws.

    Args:
        nb: an ``nbformat`` notebook (changed in place).
        plotly_in_page: the page loads plotly.js already (e.g. for plotly charts); the
            plotly.js model is then left empty and the page's copy, of the same version,
            is used.

    Returns:
        How many widget views were replaced.
    """
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not saved:
        return 0
    views: list[tuple[Any, str]] = []
    needed: dict[str, dict[str, Any]] = {}

    def collect(model_id: str) -> None:
        if model_id in needed or model_id not in saved:
            return
        needed[model_id] = _page_model(saved[model_id], plotly_in_page=plotly_in_page)
        for ref in _refs(needed[model_id]["state"]):
            collect(ref)

    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            view = (out.get("data") or {}).get(WIDGET_VIEW)
            model_id = view.get("model_id") if isinstance(view, dict) else None
            if model_id in saved and _OURS in str(saved[model_id]["state"].get("_esm", "")):
                collect(model_id)
                views.append((out, model_id))
    if not views:
        return 0
    models = json.dumps(needed, allow_nan=False, separators=(",", ":"))
    styles = []
    for model in needed.values():
        css = model["state"].get("_css")
        if css and css not in styles:
            styles.append(css)
    runtime = (
        "data:text/javascript;base64,"
        + base64.b64encode(load_esm("standalone.js").encode()).decode()
    )
    for n, (out, model_id) in enumerate(views):
        head = ""
        if n == 0:
            head = "".join(f"<style>\n{css}\n</style>" for css in styles) + (
                f'<script type="application/json" id="ek-page-models">{_script_json(models)}'
                "</script>"
            )
        element = f"ek-view-{model_id}-{n}"
        out["data"].pop(WIDGET_VIEW)
        out["data"]["text/html"] = head + _VIEW.format(
            id=element, root=json.dumps(model_id), runtime=runtime
        )
        out.setdefault("metadata", {})["text/html"] = {"isolated": False}
    return len(views)


def _script_json(text: str) -> str:
    """JSON text that is safe inside ``<script>`` (no ``<``, ``>`` or ``&`` left)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_VIEW = """<div class="ek-page-widget" id="{id}"></div>
<script type="module">
import {{ mount }} from "{runtime}";
const el = document.getElementById("{id}");
const models = JSON.parse(document.getElementById("ek-page-models").textContent);
mount({{ root: {root}, models }}, el).then(
  () => {{ el.dataset.ready = "true"; }},
  (err) => {{ console.error(err); el.textContent = "Could not render the widget: " + err.message; }},
);
</script>"""
