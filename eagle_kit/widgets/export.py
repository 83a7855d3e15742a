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

__all__ = ["save_html", "page_state"]

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
        # curves drawn as SVG in the page (no plotly); no kernel to link the parts: the page
        # links them
        out: list[tuple[Any, dict[str, Any]]] = [(widget, {"_figure": "", "_browser_links": True})]
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
