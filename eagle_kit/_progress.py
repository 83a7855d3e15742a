"""Progress bars that leave nothing behind in a saved notebook.

``tqdm.auto`` draws an ipywidgets bar in Jupyter. Even with ``leave=False`` and ``close()``,
the notebook keeps the bar's output (a widget view) and, when run by nbclient or papermill,
the state of its widgets in the notebook's metadata: a saved or exported notebook shows a
frozen bar (or "model not found"). In a Jupyter kernel the bar here is plain HTML in a
display that is updated in place and emptied when the bar closes, so the saved notebook
holds an empty output and no widget state. Elsewhere it is the terminal ``tqdm``.
"""

from __future__ import annotations

import html
import io
from typing import Any

from tqdm.std import tqdm as std_tqdm

__all__ = ["progress_bar", "NotebookBar", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where ``tqdm.auto`` would draw a widget)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class NotebookBar(std_tqdm):
    """A tqdm bar drawn as HTML in a notebook display (``display_id``), no widgets.

    Updates replace the display's content; ``close()`` empties it unless ``leave=True``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._handle: Any = None
        kwargs.setdefault("file", io.StringIO())  # the terminal fallback text goes nowhere
        kwargs.setdefault("mininterval", 0.2)
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:  # noqa: ARG002
        if msg == "":  # tqdm clears the bar this way on close(leave=False)
            self._show({}, raw=True)
            return True
        d = self.format_dict
        total = d.get("total") or 0
        text = html.escape(self.format_meter(**{**d, "ncols": 0}) if msg is None else msg)
        bar = (
            f'<progress value="{d["n"]}" max="{total}" style="width:220px;vertical-align:middle">'
            "</progress>"
            if total
            else ""
        )
        self._show(
            {
                "text/html": f'<div class="ek-progress" style="font:12px monospace">{bar} {text}</div>',
                "text/plain": text,
            },
            raw=True,
        )
        return True

    def _show(self, data: dict[str, Any], *, raw: bool) -> None:
        from IPython.display import display

        if self._handle is None:
            if not data:
                return  # never shown (shorter than ``delay``): nothing to clear
            self._handle = display(data, raw=raw, display_id=True)
        else:
            self._handle.update(data, raw=raw)


def progress_bar(*, total: int, desc: str, unit: str = "img", delay: float = 0.5) -> Any:
    """A progress bar that disappears when done: HTML in a notebook, tqdm in a terminal."""
    if in_notebook():
        return NotebookBar(total=total, desc=desc, unit=unit, delay=delay, leave=False)
    return std_tqdm(total=total, desc=desc, unit=unit, delay=delay, leave=False)
