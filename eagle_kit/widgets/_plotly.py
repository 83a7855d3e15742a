"""plotly.js for the Explorer's opt-in plotly curves, sent to the front end once per kernel.

anywidget stores a widget's ES module in every instance's state, so a widget that bundled
plotly.js (4.8 MB) would put one copy in a saved notebook per widget. Instead one
:class:`PlotlyLibrary` model per kernel carries the library as text; every Explorer made
with ``curves="plotly"`` refers to it by a widget reference (``"anywidget:<model id>"``) and
``explorer.js`` evaluates it at most once per page (cached on ``globalThis`` by version).
The saved widget state therefore holds plotly.js once, however many Explorers a notebook
shows, and pages exported with :func:`eagle_kit.widgets.save_html` or ``eagle-kit report``
carry it once too.
"""

from __future__ import annotations

import ipywidgets
import traitlets

__all__ = ["PlotlyLibrary", "plotly_library"]


class PlotlyLibrary(ipywidgets.Widget):
    """A model without a view holding plotly.js (``source``) and its ``version``.

    Made by :func:`plotly_library`; not meant to be displayed. Its model is the plain
    ``WidgetModel`` of ``@jupyter-widgets/base``, so every widget manager (JupyterLab,
    Notebook 7, exported pages) can hold it.
    """

    version = traitlets.Unicode("").tag(sync=True)
    source = traitlets.Unicode("").tag(sync=True)


_LIBRARY: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """The kernel's one :class:`PlotlyLibrary` (made on first use, again if it was closed).

    Raises:
        ImportError: plotly is not installed (``pip install plotly``).
    """
    global _LIBRARY
    if _LIBRARY is None or _LIBRARY.comm is None:
        try:
            from plotly.offline import get_plotlyjs, get_plotlyjs_version
        except ImportError as err:  # pragma: no cover - plotly is a dependency
            raise ImportError(
                'Explorer(curves="plotly") needs plotly: pip install plotly. '
                'The default curves="svg" needs nothing.'
            ) from err
        _LIBRARY = PlotlyLibrary(version=get_plotlyjs_version(), source=get_plotlyjs())
    return _LIBRARY
