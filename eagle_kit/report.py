"""Self-contained HTML reports (no CDN, no kernel): images inline, curves as SVG."""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .explanation import Explanation

__all__ = ["png_data_uri", "curves_svg", "metrics_table", "section", "write_report", "draw_boxes"]

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;color:#222;padding:0 12px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.row{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0} figcaption{font-size:12px;color:#555;max-width:260px}
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


def curves_svg(expl: Explanation, tokens: Any = None, width: int = 300, height: int = 190) -> str:
    """Insertion (solid) and deletion (dashed) curves against revealed/removed area, as SVG."""
    area = expl.dataset["area"].values
    pad = 28
    sx = lambda v: pad + v * (width - pad - 8)  # noqa: E731
    sy = lambda v: height - pad - v * (height - pad - 8)  # noqa: E731

    def path(y: np.ndarray) -> str:
        return " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(area, y))

    ins, dele = expl.curve("insertion", tokens), expl.curve("deletion", tokens)
    ticks = "".join(
        f'<text x="{sx(t):.0f}" y="{height - 10}" font-size="10" text-anchor="middle">{t:g}</text>'
        f'<text x="{pad - 4}" y="{sy(t) + 3:.0f}" font-size="10" text-anchor="end">{t:g}</text>'
        for t in (0, 0.5, 1)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="insertion and deletion curves">'
        f'<rect x="{pad}" y="8" width="{width - pad - 8}" height="{height - pad - 8}" fill="none" stroke="#bbb"/>'
        f'<polyline fill="none" stroke="#c62828" stroke-width="2" points="{path(ins)}"/>'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="2" stroke-dasharray="5,3" points="{path(dele)}"/>'
        f"{ticks}"
        f'<text x="{pad + 6}" y="22" font-size="11" fill="#c62828">insertion</text>'
        f'<text x="{pad + 6}" y="36" font-size="11" fill="#1565c0">deletion</text>'
        f'<text x="{width / 2:.0f}" y="{height - 0}" font-size="10" text-anchor="middle">area</text></svg>'
    )


def metrics_table(rows: dict[str, Any]) -> str:
    """A two-column HTML table of named values."""
    cells = []
    for k, v in rows.items():
        text = f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))
        cells.append(f"<tr><td>{html.escape(k)}</td><td>{text}</td></tr>")
    return "<table>" + "".join(cells) + "</table>"


def section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def figure(image: np.ndarray, caption: str, scale: int = 4) -> str:
    return (
        f'<figure><img class="px" src="{png_data_uri(image, scale)}" alt="{html.escape(caption)}"/>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


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
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
