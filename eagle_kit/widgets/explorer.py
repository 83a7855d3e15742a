"""Explorer: timeline, overlay, slider, curves and metrics of one or several explanations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anywidget
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
from ._plotly import plotly_library
from .overlay import RegionOverlay
from .prompt import PromptView
from .slider import AblationSlider
from .timeline import TokenTimeline

__all__ = ["Explorer", "Panel", "CURVES"]

#: How the insertion/deletion curves are drawn: ``"svg"`` (default) by explorer.js in each
#: panel (light: no plotting library in the notebook, works in exported pages, downloads), or
#: ``"plotly"``: a plotly chart in each panel, drawn in the browser with plotly.js from the
#: kernel's one :class:`~eagle_kit.widgets._plotly.PlotlyLibrary` (sent once per notebook).
CURVES: tuple[str, ...] = ("svg", "plotly")
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
    #: the prompt's spans coloured by value (explanations with ``text_regions=...``), else None
    prompt: PromptView | None = None

    @property
    def has_image_map(self) -> bool:
        """False for a text-only explanation (``regions="none"``): no map, overlay or slider
        is shown, only the prompt view and the curves."""
        return self.explanation.n_image_regions > 0


class Explorer(anywidget.AnyWidget):
    """Everything about an explanation in one view: ``ek.Explorer(expl)`` or ``expl.show()``.

    Composes a :class:`TokenTimeline`, a :class:`RegionOverlay` and an
    :class:`AblationSlider` with the insertion/deletion curves (current k marked; click a
    point to move k) and the metrics table. For an explanation with prompt span features
    (``ek.explain(..., text_regions="words")``) a :class:`~eagle_kit.widgets.PromptView`
    sits next to the overlay: the prompt's words coloured by their value, recoloured by the
    selected tokens' gain as the overlay is; a text-only explanation (``regions="none"``)
    shows the prompt view and the curves instead of a map. Token selection, k and the insertion/deletion
    mode are linked both ways between all parts (by Python; in an exported page, by the
    page itself). Several
    explanations (methods or models on the same image) are shown side by side in a grid;
    selections are linked across panels that record the same tokens, k across panels with
    the same number of regions.

    Displayed in a notebook, the explorer also leaves a static view of its state (maps
    with colour bars, token strip, curves, metrics; HTML and PNG) just before the widget,
    so that ``jupyter nbconvert --to html`` and GitHub show the explanation; a live front
    end hides it once the widget renders.

    Args:
        explanations: an :class:`~eagle_kit.Explanation`, a list of them, or a dict
            ``{title: explanation}``.
        titles: panel titles (default: method, search and model of each explanation).
        scorer: enables the slider's live mode: one scorer for every panel, or a list with
            one (or None) per explanation.
        curves: ``"svg"`` (default; drawn by the widget, the y range follows the data, with
            PNG/SVG downloads) or ``"plotly"`` (a plotly chart in each panel: zoom, pan,
            hover, click a point to move k; needs plotly. plotly.js, about 4.8 MB, travels
            in one model per kernel that every such explorer refers to, so a saved notebook
            or an exported page holds it once however many explorers it shows).
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
    #: reference of the kernel's plotly.js model (``curves="plotly"``), else ""
    _plotly = traitlets.Unicode("").tag(sync=True)
    #: id of the static view displayed with this explorer, hidden once the widget renders
    _static_id = traitlets.Unicode("").tag(sync=True)
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
        curves: str = "svg",
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
                prompt=PromptView(expl) if expl.text_spans else None,
            )
            self.panels.append(panel)
        self._plotly_library = plotly_library() if curves == "plotly" else None
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
            _plotly=(
                f"{_REF}{self._plotly_library.model_id}" if self._plotly_library is not None else ""
            ),
            _static_id=uuid.uuid4().hex,
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
    def curves(self) -> str:
        """How the curves are drawn: ``"svg"`` or ``"plotly"``."""
        return "plotly" if self._plotly else "svg"

    @property
    def explanations(self) -> list[Explanation]:
        return [p.explanation for p in self.panels]

    def select(self, *tokens: int | str | tuple[str, int]) -> None:
        """Select tokens by index, word, phrase or ``(word, k)`` in every linked part (the
        rule ``explain`` uses for targets; see ``TokenTimeline.select``)."""
        self.timeline.select(*tokens)

    def close(self) -> None:
        """Close the explorer and every widget it made (unlinking them first); the
        kernel's plotly.js model stays, other explorers share it."""
        for link in getattr(self, "_python_links", []):  # also runs from __del__ of half-built ones
            link.unlink()
        self._python_links = []
        for p in getattr(self, "panels", []):
            for widget in (p.timeline, p.overlay, p.slider, p.prompt):
                if widget is not None and widget.comm is not None:
                    widget.close()
        super().close()

    # -- display -------------------------------------------------------------------------
    def static_html(self) -> str:
        """The static view of the current state as self-contained HTML (no script): per
        panel the :mod:`eagle_kit.plot` figures (token strip, map with its colour bar,
        prompt strip, curves) as inline SVG, and the metrics."""
        from .static import static_html

        return static_html(self, static_id=self._static_id)

    def static_png(self) -> bytes:
        """The static view as PNG bytes (the same figures, rendered by matplotlib)."""
        from .static import static_png

        return static_png(self)

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Show the static view, then the widget (which hides the static view when it
        renders). Viewers without a widget manager (nbconvert, GitHub) keep the static view."""
        from IPython.display import display

        from .static import static_view

        page, png = static_view(self, static_id=self._static_id)
        display(
            {"text/html": page, "image/png": png},
            metadata={"text/html": {"isolated": False}},
            raw=True,
        )
        bundle = self._repr_mimebundle_(**kwargs)
        if bundle:
            data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
            display(data, metadata=metadata, raw=True)

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
            "prompt": f"{_REF}{p.prompt.model_id}" if p.prompt is not None else "",
            "image_map": p.has_image_map,
            "x_label": _x_label(p),
            "metrics": [[name, finite_or_none(v)] for name, v in p.explanation.metrics().items()],
        }

    def _link_groups(self) -> list[tuple[str, list[Any]]]:
        """``(trait, widgets)`` groups kept equal; the explorer itself leads the first panel's."""
        first = self._first
        groups: list[tuple[str, list[Any]]] = []
        same_tokens = [p for p in self.panels if p.explanation.tokens == first.tokens]
        groups.append(("selected", [self, *(w for p in same_tokens for w in _selectable(p))]))
        groups += [("selected", _selectable(p)) for p in self.panels if p not in same_tokens]
        same_n = [p for p in self.panels if p.explanation.n_regions == first.n_regions]
        groups.append(("k", [self, *(w for p in same_n for w in (p.timeline, p.slider))]))
        groups += [("k", [p.timeline, p.slider]) for p in self.panels if p not in same_n]
        groups.append(("mode", [self, *(p.slider for p in self.panels)]))
        groups += [("frame", [p.overlay, p.slider]) for p in self.panels]  # video frames
        return groups


def _x_label(p: Panel) -> str:
    """The curves' x axis: image area; with prompt spans the fraction of the features (image
    regions + spans; as the AUCs, :func:`eagle_kit.metrics.curve_x`), or of the prompt spans
    for a text-only panel."""
    if not p.has_image_map:
        return "fraction of the prompt spans inserted / deleted"
    if p.explanation.text_spans:
        return "fraction of the features (regions + spans) inserted / deleted"
    return "fraction of the image inserted / deleted"


def _selectable(p: Panel) -> list[Any]:
    """The widgets of a panel that follow the token selection."""
    parts: list[Any] = [p.timeline, p.overlay, p.slider]
    return parts + ([p.prompt] if p.prompt is not None else [])


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
