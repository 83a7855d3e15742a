"""Self-contained HTML reports (no CDN, no kernel): figures from :mod:`eagle_kit.plot` as
inline SVG, images inline."""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .colors import GAIN_COLORMAP, css_gradient
from .explanation import Explanation, MapInfo

__all__ = [
    "png_data_uri",
    "curves_svg",
    "metrics_table",
    "section",
    "figure",
    "map_figure",
    "plot_html",
    "explanation_page",
    "colorbar_html",
    "write_report",
    "draw_boxes",
]

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;color:#222;padding:0 12px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.row{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0} figcaption{font-size:12px;color:#555;max-width:340px}
figure.ek-figure svg{max-width:100%;height:auto;display:block}
img.px{image-rendering:pixelated;border:1px solid #ccc}
table{border-collapse:collapse;font-size:13px} td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
.caption{line-height:2;font-size:15px} .note{font-size:12px;color:#555}
"""


def png_data_uri(image: np.ndarray, scale: int = 1) -> str:
    """An RGB uint8 array as a ``data:image/png`` URI (nearest-neighbour upscaled)."""
    from PIL import Image

    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def draw_boxes(
    image: np.ndarray, boxes: Sequence[Sequence[float]], colour=(255, 64, 64)
) -> np.ndarray:
    """A copy of ``image`` with 1-px rectangles ``(x0, y0, x1, y1)`` (x1/y1 exclusive)."""
    out = np.array(image, copy=True)
    h, w = out.shape[:2]
    for x0, y0, x1, y1 in boxes:
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(w, int(x1)) - 1, min(h, int(y1)) - 1
        out[y0, x0 : x1 + 1] = colour
        out[y1, x0 : x1 + 1] = colour
        out[y0 : y1 + 1, x0] = colour
        out[y0 : y1 + 1, x1] = colour
    return out


def plot_html(fig: Any, caption: str = "", *, data_kind: str | None = None) -> str:
    """A :mod:`eagle_kit.plot` figure as an HTML ``<figure>`` with the SVG inline (text as
    text, no network), and an optional caption."""
    from .plot import to_svg

    kind = f' data-kind="{html.escape(data_kind)}"' if data_kind else ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure class="ek-figure"{kind}>{to_svg(fig)}{cap}</figure>'


def curves_svg(expl: Explanation, tokens: Any = None, *, width: str | float = "single") -> str:
    """Insertion (solid) and deletion (dashed) curves with their AUCs, as inline SVG
    (:func:`eagle_kit.plot.curves`: labelled axes, y zoomed to small data)."""
    from .plot import curves, to_svg

    return to_svg(curves(expl, tokens, width=width))


def metrics_table(rows: dict[str, Any]) -> str:
    """A two-column HTML table of named values; :func:`eagle_kit.metrics.summary` keys are
    shown by their label (:func:`eagle_kit.metrics.metric_label`: "insertion AUC (over
    area)", or "(over features)" for explanations with prompt spans). Numbers to 4 decimals;
    an undefined value (NaN) reads :data:`eagle_kit.tables.NA` with the reason as its
    tooltip, as in the text tables."""
    from .metrics import metric_label
    from .tables import NA, NA_NOTE

    cells = []
    for k, v in rows.items():
        if isinstance(v, (float, np.floating)) and np.isnan(v):
            text = f'<span title="{html.escape(NA_NOTE)}">{NA}</span>'
        elif isinstance(v, (float, np.floating)):
            text = f"{float(v):.4f}"
        else:
            text = html.escape(str(v))
        name = metric_label(k) if ("auc" in k or k == "highest_confidence") else k
        cells.append(
            f'<tr><td title="{html.escape(k)}">{html.escape(name)}</td><td>{text}</td></tr>'
        )
    return "<table>" + "".join(cells) + "</table>"


def section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def figure(image: np.ndarray, caption: str, scale: int = 4) -> str:
    return (
        f'<figure><img class="px" src="{png_data_uri(image, scale)}" alt="{html.escape(caption)}"/>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def colorbar_html(info: MapInfo, *, width: int = 256, scale: float | None = None) -> str:
    """The colour bar of a map with its units and effect size, as HTML (METHOD §5).

    Gain maps: PuOr from ``−scale`` to ``+scale`` (default ``info.scale``, the largest single
    gain), in probability. Rank maps: viridis from 0 (last region) to 1 (first). A map
    whose span is below :data:`eagle_kit.explanation.MIN_MAP_SPAN` gets no bar, only the
    statement that the image barely moves the quantity.
    """
    note = (
        f'<div class="ek-map-note" style="font-size:11px;color:#555;max-width:{width}px">'
        f"{html.escape(info.caption())}</div>"
    )
    if not info.shown and scale is None:
        return f'<div class="ek-map-colorbar" data-kind="none">{note}</div>'
    if info.kind == "gain":
        s = info.scale if scale is None else float(scale)
        gradient, ends = css_gradient(GAIN_COLORMAP), (f"{-s:+.3f}", "0", f"{s:+.3f}")
        title = f"{info.label} (probability)"
    else:
        gradient, ends = css_gradient("viridis"), ("0 = last", "", "1 = first")
        title = (
            f"{info.label}; {info.quantity} moves by {info.span:.3f}"
            if info.image_span is None
            else f"{info.label}; the image regions move {info.quantity} by {info.image_span:.3f}"
        )
    labels = "".join(
        f'<span style="flex:1;text-align:{a}">{html.escape(t)}</span>'
        for t, a in zip(ends, ("left", "center", "right"))
    )
    return (
        f'<div class="ek-map-colorbar" data-kind="{info.kind}" style="width:{width}px;font-size:11px;color:#333">'
        f"<div>{html.escape(title)}</div>"
        f'<div style="height:10px;border-radius:2px;background:{gradient}"></div>'
        f'<div style="display:flex">{labels}</div>{note}</div>'
    )


def map_figure(
    expl: Explanation,
    tokens: Any = None,
    *,
    kind: str | None = None,
    title: str = "",
    boxes: Sequence[Sequence[float]] | None = None,
    width: str | float = "single",
) -> str:
    """A map over the image with its colour bar (:func:`eagle_kit.plot.overlay`, inline
    SVG) and a caption saying which map it is and how much the image moves it.

    Args:
        expl: the explanation.
        tokens, kind: which map (see :meth:`eagle_kit.Explanation.attribution_map`):
            the objective's rank map by default, a gain map for tokens.
        title: what the figure is about (put before the map's own caption).
        boxes: ground-truth boxes ``(x0, y0, x1, y1)`` drawn on top.
        width: ``"single"``, ``"double"`` or inches.
    """
    from .plot import overlay

    info = expl.map_info(tokens, kind=kind)
    fig = overlay(expl, tokens, kind=info.kind, boxes=boxes, width=width)
    head = f"<div><b>{html.escape(title)}</b></div>" if title else ""
    note = f'<div class="ek-map-note">{html.escape(info.caption())}</div>'
    return plot_html(fig, head + note, data_kind=info.kind if info.shown else "none")


def explanation_page(expl: Explanation, *, title: str | None = None) -> list[str]:
    """The static HTML view of one explanation (``eagle-kit show``): the overlay with its
    colour bar, the token strip coloured by each token's reading (visual reliance; with prompt
    spans the label of the three-way split, :func:`eagle_kit.plot.tokens`), the curves and
    the metrics (AUCs over image area, or over the fraction of features with prompt spans).
    With prompt span features (``text_regions=...``) a "Prompt" section shows the prompt's
    words coloured by their rank value for the objective and by their gain on the targets
    (:func:`eagle_kit.plot.prompt`, colour bars in their units); a text-only explanation
    (``regions="none"``) has no map section.

    Returns:
        The body sections; write them with :func:`write_report`.
    """
    from . import plot

    a = expl.dataset.attrs
    rows: dict[str, Any] = {}
    for key in ("model", "prompt", "answer", "region_method"):
        if a.get(key):
            rows[key] = str(a[key])
    rows["regions"] = expl.n_regions
    rows["evaluations"] = expl.n_evaluations
    rows.update(expl.metrics())
    tok = plot_html(plot.tokens(expl))
    out = []
    if expl.n_image_regions:
        out.append(
            section(
                title or "Map",
                '<div class="row">'
                + map_figure(expl)
                + (map_figure(expl, expl.targets) if expl.targets else "")
                + "</div>",
            )
        )
    if expl.text_spans:
        words = plot_html(plot.prompt(expl), data_kind="rank") + (
            plot_html(plot.prompt(expl, expl.targets), data_kind="gain") if expl.targets else ""
        )
        out.append(section("Prompt" if expl.n_image_regions else title or "Prompt", words))
    return [
        *out,
        section("Tokens", tok),
        section(
            "Faithfulness",
            '<div class="row">' + plot_html(plot.curves(expl), "") + metrics_table(rows) + "</div>",
        ),
    ]


def write_report(path: str | os.PathLike, title: str, sections: Sequence[str]) -> Path:
    """Write a self-contained HTML page atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n"
        + "".join(sections)
        + "</body></html>"
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8", errors="xmlcharrefreplace")  # lone surrogates
    os.replace(tmp, path)
    return path
