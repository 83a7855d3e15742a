"""The Explorer's static view: what a notebook shows where no widget can run.

``jupyter nbconvert --to html``, GitHub and other viewers without a widget manager cannot
draw the Explorer. Displaying an Explorer therefore puts a static picture of its current
state in the notebook just before the widget: per panel, the map over the image with its
colour bar, the token strip coloured by visual reliance, the insertion/deletion curves
(inline SVG, y range following the data) and the metrics — and, for explanations with prompt
span features, the prompt's words coloured by their value (a text-only explanation shows
them in place of the map) — as ``text/html`` with an
``image/png`` of the same content for viewers that do not show HTML. Everything is
inline (no script, no stylesheet, no network). When the widget renders in a live front
end it hides this picture (``explorer.js``).
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np

from ..colors import GAIN_COLORMAP, PALETTE, css_gradient, diverging_hex
from ..explanation import Explanation, MapInfo

if TYPE_CHECKING:
    from .explorer import Explorer, Panel

__all__ = [
    "MIN_CURVE_SPAN",
    "curve_domain",
    "nice_ticks",
    "static_html",
    "static_png",
    "curves_svg",
]

#: Smallest y span of the curves plot, in probability (helpers.js MIN_CURVE_SPAN).
MIN_CURVE_SPAN = 0.1

_INSERTION = PALETTE["insertion"]  # eagle_kit.colors: one palette everywhere
_DELETION = PALETTE["deletion"]
_FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"


def curve_domain(
    curves: list[np.ndarray], min_span: float = MIN_CURVE_SPAN
) -> tuple[float, float, bool]:
    """The y range ``(lo, hi, zoomed)`` of the curves plot (same rule as helpers.js
    ``curveDomain``): ``[0, 1]`` when the data covers most of it, else the data's range
    padded by 8 % and at least ``min_span`` wide, inside ``[0, 1]``."""
    values = np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in curves])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0, False
    lo, hi = float(values.min()), float(values.max())
    pad = 0.08 * (hi - lo)
    lo, hi = max(0.0, lo - pad), min(1.0, hi + pad)
    span = max(min(1.0, min_span), hi - lo)
    if span >= 0.8:
        return 0.0, 1.0, False
    mid = (lo + hi) / 2
    lo = min(max(0.0, mid - span / 2), 1.0 - span)
    return lo, lo + span, True


def nice_ticks(lo: float, hi: float, target: int = 5) -> tuple[list[float], int]:
    """Ticks at round values (multiples of 1, 2, 2.5 or 5 × 10^n; at most 6) in ``[lo, hi]``
    and the decimals their labels need (helpers.js ``niceTicks``)."""
    mag = 10.0 ** np.floor(np.log10((hi - lo) / target))
    step = 10 * mag
    for m in (1, 2, 2.5, 5):
        if (hi - lo) / (m * mag) <= target + 1e-9:
            step = m * mag
            break
    decimals = 0
    while decimals < 6 and abs(round(step * 10**decimals) - step * 10**decimals) > 1e-6:
        decimals += 1
    first = int(np.ceil(lo / step - 1e-9))
    ticks = []
    i = first
    while i * step <= hi + 1e-9:
        ticks.append(round(i * step, decimals))
        i += 1
    return ticks, decimals


def _ticks(lo: float, hi: float, zoomed: bool) -> tuple[list[float], int]:
    return nice_ticks(lo, hi) if zoomed else ([0.0, 0.5, 1.0], 1)


def _tick(v: float, decimals: int) -> str:
    return f"{round(v, decimals):g}"


def _x_label(expl: Explanation) -> str:
    """The curves' x axis: image area, or the share of prompt spans when there is no image."""
    if expl.n_image_regions:
        return "fraction of the image inserted / deleted"
    return "fraction of the prompt spans inserted / deleted"


def curves_svg(
    expl: Explanation, tokens: list[int] | None, k: int, *, width: int = 320, height: int = 204
) -> str:
    """Insertion (solid) and deletion (dashed) mean-p curves of ``tokens`` (default: the
    targets) against the fraction of the image inserted/deleted (of the prompt spans for a
    text-only explanation), step ``k`` marked, as a standalone SVG with axis labels and a
    legend; the y range follows the data."""
    area = expl.dataset["area"].values
    ins = expl.curve("insertion", tokens or None)
    dele = expl.curve("deletion", tokens or None)
    lo, hi, zoomed = curve_domain([ins, dele])
    span = hi - lo
    left, top, w, h = 46, 22, width - 58, height - 72
    sx = lambda a: left + a * w  # noqa: E731
    sy = lambda p: top + h - (min(max(p, lo), hi) - lo) / span * h  # noqa: E731

    def line(y: np.ndarray, colour: str, dash: str = "") -> str:
        pts = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(area, y))
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2"{extra} points="{pts}"/>'

    text = f'font-family="{_FONT}" fill="#333"'
    yticks, decimals = _ticks(lo, hi, zoomed)
    grid = "".join(
        f'<line x1="{left}" x2="{left + w}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#fff"/>'
        for t in yticks
    )
    ticks = (
        grid
        + "".join(
            f'<text x="{left - 4}" y="{sy(t) + 3:.1f}" font-size="10" text-anchor="end" {text}>'
            f"{_tick(t, decimals)}</text>"
            for t in yticks
        )
        + "".join(
            f'<text x="{sx(t):.1f}" y="{top + h + 13}" font-size="10" text-anchor="middle" {text}>{t:g}</text>'
            for t in (0, 0.5, 1)
        )
    )
    kx = sx(float(area[min(max(k, 0), len(area) - 1)]))
    ylabel = "mean p (zoomed)" if zoomed else "mean p"
    right = left + w
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="insertion and deletion curves">'
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#f4f4f4"/>'
        f"{ticks}{line(ins, _INSERTION)}{line(dele, _DELETION, '5,3')}"
        f'<line x1="{kx:.1f}" x2="{kx:.1f}" y1="{top}" y2="{top + h}" stroke="#333" stroke-dasharray="2,2"/>'
        f'<text x="{kx + 3:.1f}" y="{top + 11}" font-size="10" {text}>k = {k}</text>'
        f'<line x1="{right - 150}" x2="{right - 134}" y1="10" y2="10" stroke="{_INSERTION}" stroke-width="2"/>'
        f'<text x="{right - 131}" y="13" font-size="10" {text}>insertion</text>'
        f'<line x1="{right - 70}" x2="{right - 54}" y1="10" y2="10" stroke="{_DELETION}" stroke-width="2" stroke-dasharray="5,3"/>'
        f'<text x="{right - 51}" y="13" font-size="10" {text}>deletion</text>'
        f'<text x="{left + w / 2:.0f}" y="{height - 22}" font-size="10" text-anchor="middle" {text}>'
        f"{_x_label(expl)}</text>"
        f'<text x="10" y="{top + h / 2:.0f}" font-size="10" text-anchor="middle" {text} '
        f'transform="rotate(-90 10 {top + h / 2:.0f})">{ylabel}</text>'
        + (
            f'<text x="{left}" y="{height - 6}" font-size="10" {text}>y axis zoomed to '
            f"{lo:.3f}–{hi:.3f} to show the data</text>"
            if zoomed
            else ""
        )
        + "</svg>"
    )


def prompt_state(panel: Panel) -> tuple[list[int] | None, str]:
    """The tokens and kind the panel's prompt view colours by now (as ``prompt_view.js``):
    the mean gain of the selected tokens, or the objective's rank values with none."""
    selected = list(panel.overlay.selected)
    return (selected, "gain") if selected else (None, "rank")


def _prompt_strip(panel: Panel) -> str:
    """The prompt's words coloured by their value, with a legend stating kind and units."""
    expl = panel.explanation
    if not expl.text_spans:
        return ""
    tokens, kind = prompt_state(panel)
    values = expl.text_values(tokens, kind=kind)
    if kind == "gain":
        scale = float(np.max(np.abs(values))) or 1.0
        legend = (
            f"prompt words: gain of the selected token(s), probability, PuOr scale "
            f"{-scale:+.3f} (purple) … {scale:+.3f} (orange)"
        )
    else:
        legend = (
            "prompt words: the objective's rank value in [0, 1] (viridis; 1 = first in the order)"
        )
    return (
        f'<div class="ek-static-prompt" data-kind="{kind}" style="margin:6px 0;line-height:1.9">'
        f"{expl.prompt_html(tokens, kind=kind)}</div>"
        f'<div style="font-size:11px;color:#444">{html.escape(legend)}</div>'
    )


def _panel_map(panel: Panel) -> tuple[np.ndarray, MapInfo] | tuple[None, None]:
    """The overlay image (RGB, one frame) and the map info the panel's overlay shows now;
    ``(None, None)`` for a text-only explanation (no image map)."""
    if not panel.explanation.n_image_regions:
        return None, None
    overlay = panel.overlay
    info = overlay.map_info()
    tokens = overlay._map_tokens()
    over = panel.explanation.overlay(tokens, kind=info.kind, smooth=0.0, alpha=overlay.opacity)
    if over.ndim == 4:
        over = over[min(overlay.frame, over.shape[0] - 1)]
    return over, info


def _upscaled(image: np.ndarray, width: int) -> Any:
    """The image at about ``width`` pixels: small ones enlarged by a whole factor (crisp
    regions), large ones (photos) reduced, so the notebook does not store them in full."""
    from PIL import Image

    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if img.width > width:
        return img.resize((width, max(1, round(img.height * width / img.width))), Image.LANCZOS)
    f = max(1, round(width / img.width))
    return img.resize((img.width * f, img.height * f), Image.NEAREST)


def _png_uri(img: Any) -> str:
    import base64

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colorbar(info: MapInfo, width: int) -> str:
    caption = html.escape(info.caption())
    note = f'<div style="font-size:11px;color:#444;max-width:{width}px">{caption}</div>'
    if not info.shown:
        return f'<div class="ek-static-colorbar" data-kind="none">{note}</div>'
    if info.kind == "gain":
        gradient = css_gradient(GAIN_COLORMAP)
        ends = (f"{-info.scale:+.3f}", f"{info.scale:+.3f}")
        title = f"{info.label} (probability)"
    else:
        gradient = css_gradient("viridis")
        ends = ("0 = last", "1 = first")
        title = f"{info.label}; {info.quantity} moves by {info.span:.3f}"
    return (
        f'<div class="ek-static-colorbar" data-kind="{info.kind}" style="width:{width}px;'
        f'font-size:11px;color:#333">'
        f"<div>{html.escape(title)}</div>"
        f'<div style="height:10px;border-radius:2px;background:{gradient}"></div>'
        f'<div style="display:flex;justify-content:space-between"><span>{html.escape(ends[0])}</span>'
        f"<span>{html.escape(ends[1])}</span></div>{note}</div>"
    )


#: Colours of the three-way reading (image / prompt / language prior; token_timeline.js).
SPLIT_COLORS: dict[str, str] = {
    "image": PALETTE["visual"],
    "prompt": PALETTE["cause"],
    "prior": PALETTE["prior"],
}


def _split(expl: Explanation) -> np.ndarray | None:
    """``(T, 3)`` reliance on image, prompt and prior, or None without prompt span features."""
    names = ("reliance_image", "reliance_prompt", "reliance_prior")
    if not all(n in expl.dataset for n in names):
        return None
    return np.stack([expl.dataset[n].values for n in names], axis=1)


def _split_bar(parts: np.ndarray) -> str:
    """A small stacked bar of the positive shares of one token's three-way reading."""
    pos = np.clip(np.nan_to_num(parts), 0.0, None)
    total = float(pos.sum())
    cells = "".join(
        f'<span style="display:block;width:{100 * v / total:.1f}%;background:{SPLIT_COLORS[name]}">'
        "</span>"
        for name, v in zip(SPLIT_COLORS, pos)
        if total > 0
    )
    return (
        '<span style="display:flex;height:4px;margin-top:1px;background:#ddd;overflow:hidden">'
        f"{cells}</span>"
    )


def _token_strip(expl: Explanation, selected: list[int]) -> str:
    rel = expl.reliance()
    split = _split(expl)
    spans = []
    for i, tok in enumerate(expl.tokens):
        ring = "outline:2px solid #222;" if i in selected else ""
        weight = "700" if i in expl.targets else "400"
        title = f"reliance {rel[i]:.3f}"
        bar = ""
        if split is not None:
            a, b, c = split[i]
            title += f"; p(full) rests on image {a:+.3f}, prompt {b:+.3f}, prior {c:+.3f}"
            bar = _split_bar(split[i])
        spans.append(
            f'<span title="{html.escape(title)}" style="display:inline-block;'
            f"background:{diverging_hex(float(rel[i]))};"
            f"color:#111;padding:1px 4px;border-radius:3px;font-weight:{weight};{ring}"
            f'white-space:pre">{html.escape(tok)}{bar}</span>'
        )
    legend = (
        '<div style="font-size:11px;color:#444">token colour: visual reliance (blue = language '
        "prior, red = visual evidence); bold = in the objective</div>"
    )
    if split is not None:
        keys = " ".join(
            f'<span style="display:inline-block;width:10px;height:8px;background:{c}"></span> {n}'
            for n, c in zip(("image", "prompt", "language prior"), SPLIT_COLORS.values())
        )
        legend += (
            '<div class="ek-static-split" style="font-size:11px;color:#444">bar under a token: '
            f"what p(full) rests on — {keys}</div>"
        )
    return f'<div style="line-height:2;margin:4px 0">{" ".join(spans)}</div>{legend}'


def _metrics(expl: Explanation) -> str:
    rows = "".join(
        f'<tr><th style="text-align:left;font-weight:400;padding:0 8px 0 0">'
        f"{html.escape(name.replace('_', ' '))}</th>"
        f'<td style="text-align:right">{value:.3f}</td></tr>'
        for name, value in expl.metrics().items()
        if np.isfinite(value)
    )
    return f'<table style="font-size:12px;border-collapse:collapse">{rows}</table>'


def _panel_html(panel: Panel, width: int) -> str:
    expl = panel.explanation
    over, info = _panel_map(panel)
    k = int(panel.slider.k)
    selected = list(panel.overlay.selected)
    if over is None:
        figure = f'<div style="max-width:{width}px">{_prompt_strip(panel)}</div>'
    else:
        img = _upscaled(over, width)
        alt = f"{panel.title}: {info.caption()}"
        figure = (
            f'<figure style="margin:0"><img src="{_png_uri(img)}" width="{img.width}" '
            f'height="{img.height}" alt="{html.escape(alt)}" '
            'style="image-rendering:pixelated;display:block"/>'
            f"<figcaption>{_colorbar(info, img.width)}</figcaption></figure>"
        )
        if expl.text_spans:
            figure += f'<div style="max-width:{width}px">{_prompt_strip(panel)}</div>'
    return (
        '<section style="border:1px solid #ccc;border-radius:6px;padding:8px 10px;min-width:0">'
        f'<div style="font-weight:600;font-size:14px">{html.escape(panel.title)}</div>'
        f'<div style="font-size:12px;color:#444">{html.escape(panel.subtitle)}</div>'
        f"{_token_strip(expl, selected)}"
        '<div style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin-top:8px">'
        f"{figure}"
        f"<div>{curves_svg(expl, selected or None, k)}{_metrics(expl)}</div>"
        "</div></section>"
    )


def static_html(explorer: Explorer, *, static_id: str = "") -> str:
    """The static view of ``explorer`` in its current state, as self-contained HTML."""
    width = max(160, int(explorer.panels[0].overlay.width))
    columns = min(len(explorer.panels), 3)
    panels = "".join(_panel_html(p, width) for p in explorer.panels)
    return (
        f'<div class="ek-static" data-ek-static="{html.escape(static_id)}" '
        f'style="font-family:{_FONT};color:#1f1f1f;font-size:13px">'
        f'<div style="display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));gap:16px">'
        f"{panels}</div>"
        '<div style="font-size:11px;color:#555;margin-top:4px">EAGLE Explorer, static view '
        "(open the notebook in Jupyter for the interactive one).</div></div>"
    )


def static_png(explorer: Explorer) -> bytes:
    """The static view as one PNG: per panel, the token strip coloured by visual reliance,
    the map with its colour bar and the curves."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=12)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        font = ImageFont.load_default()
    tiles = []
    for panel in explorer.panels:
        over, info = _panel_map(panel)
        map_w = max(160, int(panel.overlay.width))
        img = _upscaled(over, map_w) if over is not None else None
        left_w = img.width if img is not None else map_w
        prompt = _prompt_strip_png(panel, left_w, font) if panel.explanation.text_spans else None
        left_h = (img.height + 44 if img is not None else 0) + (
            prompt.height + 4 if prompt is not None else 0
        )
        curve_w, curve_h = 320, 200
        width = left_w + curve_w + 24
        strip = _token_strip_png(panel.explanation, list(panel.overlay.selected), width, font)
        top = 20 + strip.height + 6
        tile = Image.new("RGB", (width, top + max(left_h, curve_h + 10)), "white")
        draw = ImageDraw.Draw(tile)
        draw.text((4, 2), panel.title[:60], fill="#111", font=font)
        tile.paste(strip, (0, 20))
        y = top
        if img is not None:
            tile.paste(img, (4, y))
            _draw_colorbar(draw, info, 4, y + 4 + img.height, img.width, font)
            y += img.height + 44
        if prompt is not None:
            tile.paste(prompt, (4, y))
        _draw_curves(draw, panel, left_w + 20, top, curve_w, curve_h, font)
        tiles.append(tile)
    width = sum(t.width for t in tiles)
    out = Image.new("RGB", (width, max(t.height for t in tiles)), "white")
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _prompt_strip_png(panel: Panel, width: int, font: Any) -> Any:
    """The prompt's words as chips coloured by their value (as :func:`_prompt_strip`),
    wrapped to ``width``, with a line stating the kind and units."""
    from PIL import Image, ImageDraw

    from ..colors import gain_colors, text_color_for, viridis

    expl = panel.explanation
    tokens, kind = prompt_state(panel)
    values = expl.text_values(tokens, kind=kind)
    if kind == "gain":
        scale = float(np.max(np.abs(values))) or 1.0
        colours = gain_colors(values / scale)
        note = f"prompt: gain (probability), ±{scale:.3f}"
    else:
        colours = viridis(np.clip(values, 0.0, 1.0))
        note = "prompt: rank value in [0, 1]"
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    chips = []
    for (text, _start, _), rgb in sorted(
        zip(expl.text_spans, colours, strict=True), key=lambda item: item[0][1]
    ):
        label = text.strip() or "␣"
        chips.append(
            (label, int(probe.textlength(label, font=font)) + 8, tuple(int(c) for c in rgb))
        )
    rows, x = 1, 0
    for _, w, _ in chips:
        if x + w > width and x > 0:
            rows, x = rows + 1, 0
        x += w + 4
    strip = Image.new("RGB", (width, rows * 22 + 16), "white")
    draw = ImageDraw.Draw(strip)
    x, y = 0, 0
    for label, w, rgb in chips:
        if x + w > width and x > 0:
            x, y = 0, y + 22
        draw.rectangle([x, y + 2, x + w, y + 19], fill=rgb)
        hex_ = "#{:02x}{:02x}{:02x}".format(*rgb)
        draw.text((x + 4, y + 4), label, fill=text_color_for(hex_), font=font)
        x += w + 4
    draw.text((0, rows * 22), note[:60], fill="#333", font=font)
    return strip


def _token_strip_png(expl: Explanation, selected: list[int], width: int, font: Any) -> Any:
    """The recorded tokens as chips coloured by visual reliance, wrapped to ``width``."""
    from PIL import Image, ImageDraw

    from ..colors import diverging_rgb

    rel = expl.reliance()
    chips = []
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for i, tok in enumerate(expl.tokens):
        text = tok.strip() or "␣"
        chips.append((text, int(probe.textlength(text, font=font)) + 8, i))
    rows, x = 1, 4
    for _, w, _ in chips:
        if x + w > width - 4 and x > 4:
            rows, x = rows + 1, 4
        x += w + 4
    strip = Image.new("RGB", (width, rows * 22), "white")
    draw = ImageDraw.Draw(strip)
    x, y = 4, 0
    for text, w, i in chips:
        if x + w > width - 4 and x > 4:
            x, y = 4, y + 22
        draw.rectangle([x, y + 2, x + w, y + 19], fill=diverging_rgb(float(rel[i])))
        if i in selected:
            draw.rectangle([x, y + 2, x + w, y + 19], outline="#111", width=2)
        draw.text((x + 4, y + 4), text, fill="#111", font=font)
        if i in expl.targets:
            draw.line([(x + 4, y + 17), (x + w - 4, y + 17)], fill="#111", width=1)
        x += w + 4
    return strip


def _draw_colorbar(draw: Any, info: MapInfo, x: int, y: int, width: int, font: Any) -> None:
    from ..colors import gain_colors, viridis

    if not info.shown:
        draw.text((x, y), f"no map: span {info.span:.3f} < 0.01", fill="#333", font=font)
        return
    t = np.linspace(0, 1, max(width, 2))
    colours = gain_colors(2 * t - 1) if info.kind == "gain" else viridis(t)
    for i, c in enumerate(np.asarray(colours, dtype=np.uint8).reshape(-1, 3)):
        draw.line([(x + i, y), (x + i, y + 9)], fill=tuple(int(v) for v in c))
    ends = (
        (f"{-info.scale:+.3f}", f"{info.scale:+.3f}")
        if info.kind == "gain"
        else ("0 = last", "1 = first")
    )
    draw.text((x, y + 12), ends[0], fill="#333", font=font)
    right = draw.textlength(ends[1], font=font)
    draw.text((x + width - right, y + 12), ends[1], fill="#333", font=font)
    draw.text((x, y + 26), info.label[:48], fill="#333", font=font)


def _draw_curves(draw: Any, panel: Panel, x: int, y: int, w: int, h: int, font: Any) -> None:
    expl = panel.explanation
    tokens = list(panel.overlay.selected) or None
    area = expl.dataset["area"].values
    ins, dele = expl.curve("insertion", tokens), expl.curve("deletion", tokens)
    lo, hi, zoomed = curve_domain([ins, dele])
    left, top, pw, ph = x + 40, y + 16, w - 48, h - 48
    draw.rectangle([left, top, left + pw, top + ph], fill="#f4f4f4")

    def pts(c: np.ndarray) -> list[tuple[float, float]]:
        return [
            (left + a * pw, top + ph - (min(max(p, lo), hi) - lo) / (hi - lo) * ph)
            for a, p in zip(area, c)
        ]

    draw.line(pts(ins), fill=_INSERTION, width=2)
    draw.line(pts(dele), fill=_DELETION, width=2)
    kx = left + float(area[min(int(panel.slider.k), len(area) - 1)]) * pw
    draw.line([(kx, top), (kx, top + ph)], fill="#333", width=1)
    span = hi - lo
    yticks, decimals = _ticks(lo, hi, zoomed)
    for t in yticks:
        label = _tick(t, decimals)
        ty = top + ph - (t - lo) / span * ph
        draw.text(
            (left - 4 - draw.textlength(label, font=font), ty - 6), label, fill="#333", font=font
        )
    draw.text((left, y), "insertion", fill=_INSERTION, font=font)
    draw.text((left + 80, y), "deletion", fill=_DELETION, font=font)
    draw.text(
        (left, top + ph + 4),
        "fraction inserted / deleted" + ("  (y zoomed)" if zoomed else ""),
        fill="#333",
        font=font,
    )
