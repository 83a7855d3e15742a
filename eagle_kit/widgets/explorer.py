"""Explorer: timeline, overlay, slider, curves and metrics of one or several explanations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anywidget
import numpy as np
import traitlets
import xarray as xr

from ..explanation import Explanation
from ._assets import load_css, load_esm
from ._base import (
    as_explanation,
    check_step,
    check_token_indices,
    default_step,
    describe,
    finite_or_none,
)
from .overlay import RegionOverlay
from .slider import AblationSlider
from .timeline import TokenTimeline

__all__ = ["Explorer", "Panel", "CURVES"]

#: How the insertion/deletion curves are drawn: a plotly FigureWidget, or SVG by explorer.js.
CURVES: tuple[str, ...] = ("plotly", "svg")
_REF = "anywidget:"


@dataclass
class Panel:
    """The widgets of one explanation inside an :class:`Explorer`."""

    explanation: Explanation
    title: str
    subtitle: str
    timeline: TokenTimeline
    overlay: RegionOverlay
    slider: AblationSlider
    figure: Any = None  #: plotly ``FigureWidget`` of the curves (``curves="plotly"``), else None


class Explorer(anywidget.AnyWidget):
    """Everything about an explanation in one view: ``ek.Explorer(expl)`` or ``expl.show()``.

    Composes a :class:`TokenTimeline`, a :class:`RegionOverlay` and an
    :class:`AblationSlider` with the insertion/deletion curves (current k marked; click a
    point to move k) and the metrics table. Token selection, k and the insertion/deletion
    mode are linked both ways between all parts (by Python; in an exported page, by the
    page itself). Several
    explanations (methods or models on the same image) are shown side by side in a grid;
    selections are linked across panels that record the same tokens, k across panels with
    the same number of regions.

    Args:
        explanations: an :class:`~eagle_kit.Explanation`, a list of them, or a dict
            ``{title: explanation}``.
        titles: panel titles (default: method, search and model of each explanation).
        scorer: enables the slider's live mode: one scorer for every panel, or a list with
            one (or None) per explanation.
        curves: ``"plotly"`` (a FigureWidget) or ``"svg"`` (lighter; what exported pages use).
        selected, k, mode: initial token selection, step and ablation mode.
        width: displayed image width in CSS pixels.

    Attributes:
        panels: one :class:`Panel` per explanation.
        selected, k, mode: the linked state of the first panel (and every linked panel).

    Example:
        >>> explorer = ek.Explorer(expl)  # doctest: +SKIP
        >>> explorer.select(" cat"); explorer.k = 5  # doctest: +SKIP
        >>> explorer.save_html("explorer.html")  # doctest: +SKIP
    """

    _esm = load_esm("explorer.js")
    _css = load_css()

    _panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    _links = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: link in the browser (exported pages); with a kernel, Python links the parts
    _browser_links = traitlets.Bool(False).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    k = traitlets.Int(0).tag(sync=True)
    mode = traitlets.Enum(("insertion", "deletion"), default_value="insertion").tag(sync=True)

    def __init__(
        self,
        explanations: Any,
        *,
        titles: Sequence[str] | None = None,
        scorer: Any = None,
        curves: str = "plotly",
        selected: list[int] | None = None,
        k: int | None = None,
        mode: str = "insertion",
        width: int = 320,
    ) -> None:
        named = _as_list(explanations)
        if titles is not None:
            if isinstance(titles, str) or len(titles) != len(named):
                raise ValueError(
                    f"Give one title per explanation: {len(named)} expected; got {titles!r}."
                )
            named = [(str(t), e) for t, (_, e) in zip(titles, named)]
        if curves not in CURVES:
            raise ValueError(f"Unknown curves {curves!r}. Choose one of: {', '.join(CURVES)}.")
        scorers = _per_panel(scorer, len(named))
        self._first = named[0][1]
        self.panels: list[Panel] = []
        for (title, expl), panel_scorer in zip(named, scorers):
            auto_title, subtitle = describe(expl)
            slider = AblationSlider(expl, scorer=panel_scorer, mode=mode, width=width)
            panel = Panel(
                explanation=expl,
                title=title or auto_title,
                subtitle=subtitle,
                timeline=TokenTimeline(expl),
                overlay=RegionOverlay(expl, width=width),
                slider=slider,
            )
            if curves == "plotly":
                panel.figure = _curves_figure(expl, slider)
            self.panels.append(panel)
        groups = self._link_groups()
        super().__init__(
            _panels=[self._panel_state(p) for p in self.panels],
            _links=[
                {
                    "attr": attr,
                    "members": ["self" if w is self else f"{_REF}{w.model_id}" for w in members],
                }
                for attr, members in groups
            ],
            selected=list(selected or []),
            k=default_step(self._first.n_regions) if k is None else k,
            mode=mode,
        )
        # the explorer leads each group it belongs to, so its initial state wins
        self._python_links = [
            traitlets.link((members[0], attr), (w, attr))
            for attr, members in groups
            for w in members[1:]
        ]

    # -- parts of the first panel ------------------------------------------------------------
    @property
    def timeline(self) -> TokenTimeline:
        return self.panels[0].timeline

    @property
    def overlay(self) -> RegionOverlay:
        return self.panels[0].overlay

    @property
    def slider(self) -> AblationSlider:
        return self.panels[0].slider

    @property
    def figure(self) -> Any:
        """The first panel's plotly FigureWidget (None with ``curves="svg"``)."""
        return self.panels[0].figure

    @property
    def explanations(self) -> list[Explanation]:
        return [p.explanation for p in self.panels]

    def select(self, *tokens: int | str) -> None:
        """Select tokens by index or text in every linked part (see ``TokenTimeline.select``)."""
        self.timeline.select(*tokens)

    def close(self) -> None:
        """Close the explorer and every widget it made (unlinking them first)."""
        for link in getattr(self, "_python_links", []):  # also runs from __del__ of half-built ones
            link.unlink()
        self._python_links = []
        for p in getattr(self, "panels", []):
            for widget in (p.timeline, p.overlay, p.slider, p.figure):
                if widget is not None:
                    widget.close()
        super().close()

    def save_html(self, path: Any, *, title: str | None = None) -> Any:
        """Write a self-contained page with this explorer (no kernel needed); see :func:`save_html`."""
        from .export import save_html

        return save_html(self, path, title=title)

    # -- validation ----------------------------------------------------------------------
    @traitlets.validate("selected")
    def _check_selected(self, proposal: dict[str, Any]) -> list[int]:
        return check_token_indices(proposal["value"], self._first.tokens)

    @traitlets.validate("k")
    def _check_k(self, proposal: dict[str, Any]) -> int:
        return check_step(proposal["value"], self._first.n_regions)

    # -- wiring --------------------------------------------------------------------------
    def _panel_state(self, p: Panel) -> dict[str, Any]:
        return {
            "title": p.title,
            "subtitle": p.subtitle,
            "timeline": f"{_REF}{p.timeline.model_id}",
            "overlay": f"{_REF}{p.overlay.model_id}",
            "slider": f"{_REF}{p.slider.model_id}",
            "figure": f"{_REF}{p.figure.model_id}" if p.figure is not None else "",
            "metrics": [[name, finite_or_none(v)] for name, v in p.explanation.metrics().items()],
        }

    def _link_groups(self) -> list[tuple[str, list[Any]]]:
        """``(trait, widgets)`` groups kept equal; the explorer itself leads the first panel's."""
        first = self._first
        groups: list[tuple[str, list[Any]]] = []
        same_tokens = [p for p in self.panels if p.explanation.tokens == first.tokens]
        groups.append(
            (
                "selected",
                [self, *(w for p in same_tokens for w in (p.timeline, p.overlay, p.slider))],
            )
        )
        groups += [
            ("selected", [p.timeline, p.overlay, p.slider])
            for p in self.panels
            if p not in same_tokens
        ]
        same_n = [p for p in self.panels if p.explanation.n_regions == first.n_regions]
        groups.append(("k", [self, *(w for p in same_n for w in (p.timeline, p.slider))]))
        groups += [("k", [p.timeline, p.slider]) for p in self.panels if p not in same_n]
        groups.append(("mode", [self, *(p.slider for p in self.panels)]))
        groups += [("frame", [p.overlay, p.slider]) for p in self.panels]  # video frames
        return groups


def _as_list(value: Any) -> list[tuple[str, Explanation]]:
    """``[(title or "", explanation)]`` from one explanation, a sequence or a mapping."""
    if isinstance(value, (Explanation, xr.Dataset)):
        return [("", as_explanation(value, "Explorer"))]
    if isinstance(value, Mapping):
        items = [(str(t), as_explanation(e, "Explorer")) for t, e in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = [("", as_explanation(e, "Explorer")) for e in value]
    else:
        raise TypeError(
            f"Explorer expects an eagle_kit.Explanation, a list of them or a dict {{title: explanation}}; "
            f"got {type(value).__name__}."
        )
    if not items:
        raise ValueError("Explorer needs at least one explanation; got an empty collection.")
    return items


def _per_panel(scorer: Any, n: int) -> list[Any]:
    if isinstance(scorer, (list, tuple)):
        if len(scorer) != n:
            raise ValueError(
                f"Give one scorer (or None) per explanation: {n} expected; got {len(scorer)}."
            )
        return list(scorer)
    return [scorer] * n


def _curves_figure(expl: Explanation, slider: AblationSlider) -> Any:
    """A plotly FigureWidget of the insertion/deletion curves that follows ``slider``."""
    import plotly.graph_objects as go

    area = expl.dataset["area"].values
    fig = go.FigureWidget(
        data=[
            go.Scatter(x=area, mode="lines+markers", name="insertion", line={"color": "#1976d2"}),
            go.Scatter(
                x=area,
                mode="lines+markers",
                name="deletion",
                line={"color": "#d84315", "dash": "dash"},
            ),
        ],
        layout=go.Layout(
            width=440,
            height=280,
            margin={"l": 48, "r": 12, "t": 40, "b": 44},
            xaxis={"title": {"text": "fraction of the image inserted / deleted"}, "range": [0, 1]},
            yaxis={"title": {"text": "mean p"}, "range": [0, 1.02]},
            title={"font": {"size": 12}},
            legend={
                "orientation": "h",
                "y": 1.0,
                "x": 1.0,
                "xanchor": "right",
                "yanchor": "bottom",
            },
            shapes=[
                {
                    "type": "line",
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"dash": "dot", "width": 1},
                }
            ],
            template="plotly_white",
        ),
    )

    def update(change: Any = None) -> None:
        tokens = list(slider.selected) or expl.targets
        names = " ".join(repr(expl.tokens[t].strip() or expl.tokens[t]) for t in tokens[:6])
        more = f" +{len(tokens) - 6}" if len(tokens) > 6 else ""
        x = float(area[slider.k])
        with fig.batch_update():
            fig.data[0].y = expl.curve("insertion", tokens)
            fig.data[1].y = expl.curve("deletion", tokens)
            fig.layout.shapes[0].x0 = x
            fig.layout.shapes[0].x1 = x
            fig.layout.title.text = (
                f"mean p of {names}{more} · k = {slider.k} (click a point to move k)"
            )

    def on_click(trace: Any, points: Any, state: Any) -> None:
        if points.point_inds:
            slider.k = int(np.clip(points.point_inds[0], 0, expl.n_regions))

    for trace in fig.data:
        trace.on_click(on_click)
    slider.observe(update, names=["k", "selected"])
    update()
    return fig
