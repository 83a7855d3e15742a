"""The Explorer's static view: what a notebook shows where no widget can run.

``jupyter nbconvert --to html``, GitHub and other viewers without a widget manager cannot
draw the Explorer. Displaying an Explorer therefore puts a static picture of its current
state in the notebook just before the widget. Its figures are the ones of
:mod:`eagle_kit.plot` (the one place static figures are drawn), per panel: the map shown
by the overlay with its colour bar in the map's units and its span
(:func:`eagle_kit.plot.overlay`), the token strip coloured by each token's reading — visual
reliance, or with prompt spans the label of the three-way split, "n/a" in neutral grey
(:func:`~eagle_kit.plot.tokens`), for explanations with prompt span features the prompt's
words coloured as the prompt view colours them (:func:`~eagle_kit.plot.prompt`; a
text-only explanation shows them in place of the map), the insertion/deletion curves with
step k marked (:func:`~eagle_kit.plot.curves`) and the metrics. ``text/html`` carries the
figures as inline SVG (text as text, no script, no stylesheet, no network), with a
``image/png`` of the same figures for viewers that do not show HTML. When the widget
renders in a live front end it hides this picture (``explorer.js``).
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..explanation import MapInfo

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .explorer import Explorer, Panel

__all__ = ["static_html", "static_png", "static_view", "prompt_state"]

_FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"


def prompt_state(panel: Panel) -> tuple[list[int] | None, str]:
    """The tokens and kind the panel's prompt view colours by now (as ``prompt_view.js``):
    the mean gain of the selected tokens, or the objective's rank values with none."""
    selected = list(panel.overlay.selected)
    return (selected, "gain") if selected else (None, "rank")


@dataclass
class _Figure:
    """One figure of a panel: what it shows (``part``), the figure and an HTML caption."""

    part: str
    figure: Figure
    caption: str = ""
    kind: str = ""


def _map_tokens(panel: Panel) -> list[int] | None:
    tokens = panel.overlay._map_tokens()
    return list(tokens) if tokens else None


def _panel_figures(panel: Panel) -> list[_Figure]:
    """The :mod:`eagle_kit.plot` figures of a panel in its current state."""
    from .. import plot

    expl = panel.explanation
    selected = list(panel.overlay.selected)
    out = [_Figure("tokens", plot.tokens(expl, width="single"))]
    if expl.n_image_regions:
        overlay = panel.overlay
        info: MapInfo = overlay.map_info()
        frames = expl.labels.shape[0] if expl.labels.ndim == 3 else 1
        fig = plot.overlay(
            expl,
            _map_tokens(panel),
            kind=info.kind,
            frame=min(int(overlay.frame), frames - 1),
            alpha=float(overlay.opacity),
            width="single",
        )
        kind = info.kind if info.shown else "none"
        out.append(_Figure("map", fig, html.escape(info.caption()), kind))
    if expl.text_spans:
        tokens, kind = prompt_state(panel)
        out.append(_Figure("prompt", plot.prompt(expl, tokens, kind, width="single"), "", kind))
    k = min(max(int(panel.slider.k), 0), expl.n_regions)
    out.append(_Figure("curves", plot.curves(expl, selected or None, k=k, width="single")))
    return out


def _metrics(panel: Panel) -> str:
    from ..metrics import metric_label  # "insertion AUC (over features)" with prompt spans

    rows = "".join(
        f'<tr><th style="text-align:left;font-weight:400;padding:0 8px 0 0">'
        f"{html.escape(metric_label(name))}</th>"
        f'<td style="text-align:right">{value:.3f}</td></tr>'
        for name, value in panel.explanation.metrics().items()
        if np.isfinite(value)
    )
    return f'<table style="font-size:12px;border-collapse:collapse">{rows}</table>'


_SVG_STYLE = re.compile(r'\s*<style type="text/css">\*\{([^}]*)\}</style>')


def _inline_svg(fig: Figure) -> str:
    """:func:`eagle_kit.plot.to_svg` without the ``<style>`` block matplotlib writes (a
    ``*`` rule that would apply to the whole notebook page, and that GitHub strips): its
    properties become presentation attributes of the root ``<svg>``, inherited the same."""
    from ..plot import to_svg

    svg = to_svg(fig)
    match = _SVG_STYLE.search(svg)
    if match is None:
        return svg
    attrs = "".join(
        f' {name.strip()}="{value.strip()}"'
        for name, value in (rule.split(":", 1) for rule in match.group(1).split(";") if ":" in rule)
    )
    svg = svg[: match.start()] + svg[match.end() :]
    return svg.replace("<svg", f"<svg{attrs}", 1)


_PNG_HREF = re.compile(r'(href=")data:image/png;base64,([A-Za-z0-9+/=\s]+)(")')


def _shrink_rasters(svg: str, max_side: int) -> str:
    """Raster layers inside the SVG (the image under a map, the map) reduced to at most
    ``max_side`` pixels on their long side: ``<image>`` keeps its display size, so the
    figure looks the same, but a notebook does not store a photo in full (twice)."""
    import base64

    from PIL import Image

    def shrink(match: re.Match[str]) -> str:
        img = Image.open(io.BytesIO(base64.b64decode(match.group(2))))
        if max(img.size) <= max_side:
            return match.group(0)
        f = max_side / max(img.size)
        img = img.resize(
            (max(1, round(img.width * f)), max(1, round(img.height * f))), Image.LANCZOS
        )
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return f"{match.group(1)}data:image/png;base64,{data}{match.group(3)}"

    return _PNG_HREF.sub(shrink, svg)


def _figure_html(item: _Figure, max_side: int) -> str:
    kind = f' data-kind="{item.kind}"' if item.kind else ""
    caption = (
        f'<figcaption style="font-size:11px;color:#444">{item.caption}</figcaption>'
        if item.caption
        else ""
    )
    return (
        f'<figure class="ek-figure ek-static-{item.part}"{kind} style="margin:0;max-width:100%">'
        f"{_shrink_rasters(_inline_svg(item.figure), max_side)}{caption}</figure>"
    )


def _split(panel: Panel) -> str:
    """The three-way reading of each token (explanations with prompt span features): what
    p(full) rests on — image, prompt, language prior (METHOD; adds up to p(full))."""
    d = panel.explanation.dataset
    names = ("reliance_image", "reliance_prompt", "reliance_prior")
    if not all(n in d for n in names):
        return ""
    parts = np.stack([d[n].values for n in names], axis=1)
    rows = "".join(
        f"<li>{html.escape(repr(tok.strip() or tok))}: p(full) rests on image {a:+.3f}, "
        f"prompt {b:+.3f}, prior {c:+.3f}</li>"
        for tok, (a, b, c) in zip(panel.explanation.tokens, parts)
    )
    return (
        '<div class="ek-static-split" style="font-size:11px;color:#444">what p(full) rests on '
        f'(image + prompt + language prior = p(full)):<ul style="margin:2px 0">{rows}</ul></div>'
    )


def _panel_html(panel: Panel, figures: list[_Figure]) -> str:
    selected = list(panel.overlay.selected)
    tokens = panel.explanation.tokens
    note = (
        "selected: " + " ".join(repr(tokens[i].strip() or tokens[i]) for i in selected)
        if selected
        else "no token selected: the objective"
    )
    return (
        '<section style="border:1px solid #ccc;border-radius:6px;padding:8px 10px;min-width:0">'
        f'<div style="font-weight:600;font-size:14px">{html.escape(panel.title)}</div>'
        f'<div style="font-size:12px;color:#444">{html.escape(panel.subtitle)}</div>'
        f'<div style="font-size:12px;color:#444">{html.escape(note)}; k = {int(panel.slider.k)}'
        "</div>"
        '<div style="display:flex;flex-direction:column;gap:8px;margin-top:6px">'
        + _figure_html(figures[0], max(160, int(panel.overlay.width)))
        + _split(panel)
        + "".join(_figure_html(f, max(160, int(panel.overlay.width))) for f in figures[1:])
        + _metrics(panel)
        + "</div></section>"
    )


def _html(explorer: Explorer, figures: list[list[_Figure]], static_id: str) -> str:
    columns = min(len(explorer.panels), 3)
    panels = "".join(_panel_html(p, f) for p, f in zip(explorer.panels, figures))
    return (
        f'<div class="ek-static" data-ek-static="{html.escape(static_id)}" '
        f'style="font-family:{_FONT};color:#1f1f1f;font-size:13px">'
        f'<div style="display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));gap:16px">'
        f"{panels}</div>"
        '<div style="font-size:11px;color:#555;margin-top:4px">EAGLE Explorer, static view '
        "(open the notebook in Jupyter for the interactive one).</div></div>"
    )


def _png(figures: list[list[_Figure]], *, dpi: int = 100) -> bytes:
    """The panels' figures rendered by matplotlib, stacked per panel, panels side by side."""
    from PIL import Image

    from ..plot import to_png

    columns = []
    for panel in figures:
        shots = [Image.open(io.BytesIO(to_png(f.figure, dpi=dpi))).convert("RGB") for f in panel]
        width = max(s.width for s in shots)
        column = Image.new("RGB", (width, sum(s.height for s in shots)), "white")
        y = 0
        for shot in shots:
            column.paste(shot, (0, y))
            y += shot.height
        columns.append(column)
    gap = 16
    out = Image.new(
        "RGB",
        (sum(c.width for c in columns) + gap * (len(columns) - 1), max(c.height for c in columns)),
        "white",
    )
    x = 0
    for column in columns:
        out.paste(column, (x, 0))
        x += column.width + gap
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def static_view(explorer: Explorer, *, static_id: str = "") -> tuple[str, bytes]:
    """The static view of ``explorer`` in its current state: ``(html, png)``, both from the
    same :mod:`eagle_kit.plot` figures (drawn once)."""
    figures = [_panel_figures(p) for p in explorer.panels]
    return _html(explorer, figures, static_id), _png(figures)


def static_html(explorer: Explorer, *, static_id: str = "") -> str:
    """The static view of ``explorer`` in its current state, as self-contained HTML."""
    return _html(explorer, [_panel_figures(p) for p in explorer.panels], static_id)


def static_png(explorer: Explorer) -> bytes:
    """The static view as one PNG: per panel the token strip, the map with its colour bar
    (the prompt strip for text features), and the curves, as :mod:`eagle_kit.plot` draws
    them."""
    return _png([_panel_figures(p) for p in explorer.panels])
