"""Jupyter widgets for EAGLE explanations (anywidget; front-end in the top-level ``widgets/``).

* :class:`TokenTimeline` — tokens coloured by visual reliance; click to select.
* :class:`RegionOverlay` — the attribution heat map of the objective or the selected tokens.
* :class:`AblationSlider` — insert/delete the top-k regions; optional live re-scoring.
* :class:`PromptView` — the prompt's spans coloured by their value (``text_regions``).
* :class:`Explorer` — all of them linked, with curves and metrics (``expl.show()``).
* :func:`save_html` — a self-contained page of any of them, working without a kernel.

Example:
    >>> import eagle_kit as ek
    >>> explorer = ek.Explorer(expl)        # doctest: +SKIP
    >>> explorer.save_html("explorer.html")  # doctest: +SKIP
"""

from __future__ import annotations

from ._encoding import decode_array, encode_array
from .explorer import Explorer, Panel
from .export import save_html
from .overlay import COLORMAPS, RegionOverlay
from .prompt import PromptView, link_prompt_view
from .slider import AblationSlider, LiveResult
from .timeline import TokenTimeline

__all__ = [
    "Explorer",
    "Panel",
    "TokenTimeline",
    "RegionOverlay",
    "PromptView",
    "link_prompt_view",
    "AblationSlider",
    "LiveResult",
    "COLORMAPS",
    "save_html",
    "encode_array",
    "decode_array",
]
