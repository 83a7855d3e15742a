"""PromptView: the prompt's spans coloured by their value, linked with the token selection."""

from __future__ import annotations

import html
import uuid
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..colors import _PUOR, viridis
from ..explanation import MIN_MAP_SPAN, Explanation
from ._assets import load_esm

__all__ = ["PromptView", "link_prompt_view"]


class PromptView(anywidget.AnyWidget):
    """The prompt of an explanation with text features, each span coloured by its value.

    With no token selected, spans show the objective's rank value (viridis, as the map);
    with tokens selected, the mean of their gains (signed, PuOr, scaled by the largest
    absolute span value), i.e. :meth:`Explanation.text_values` for those tokens. Put it
    next to the image overlay and link its ``selected`` with the timeline's
    (:func:`link_prompt_view`).

    As the image map and :func:`eagle_kit.plot.prompt`, the view colours no span when the
    prompt barely moves what it shows: when the largest absolute span gain of the selected
    tokens (their mean gain), or of the objective F with none selected (the curve its rank
    values are read from), is below :data:`eagle_kit.explanation.MIN_MAP_SPAN`
    (``min_span``), the words stay uncoloured and the caption says the prompt barely
    moves the quantity (:meth:`faint`).

    Displayed in a notebook, the view also leaves a static picture of its current state
    just before the widget (the strip of :func:`eagle_kit.plot.prompt` with its colour bar,
    as inline SVG with a PNG copy), so that ``jupyter nbconvert --to html`` and GitHub show
    the prompt's values; a live front end hides it once the widget renders. Front ends that
    ask for the bundle (``_repr_mimebundle_``) get the widget with the same static view as
    its fallback.

    Args:
        explanation: an :class:`~eagle_kit.Explanation` made with ``text_regions=...``.
        selected: initially selected token indices.

    Raises:
        ValueError: the explanation has no prompt span features.

    Example:
        >>> view = ek.widgets.PromptView(expl)  # doctest: +SKIP
        >>> ek.widgets.link_prompt_view(expl.show(), view)  # doctest: +SKIP
    """

    _esm = load_esm("prompt_view.js")

    prompt = traitlets.Unicode("").tag(sync=True)
    spans = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: T×S: gain of each span for each recorded token
    token_values = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    #: S: the objective's rank value of each span
    objective = traitlets.List(traitlets.Float()).tag(sync=True)
    #: S: the objective F's gain of each span (probability), read for ``min_span``
    objective_gains = traitlets.List(traitlets.Float()).tag(sync=True)
    #: the objective as text, e.g. ``F("yes" ".")`` (the caption's quantity with no selection)
    objective_name = traitlets.Unicode("").tag(sync=True)
    #: T: the recorded tokens' texts (the caption's quantity for a selection)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: below this largest |span gain| no span is coloured (MIN_MAP_SPAN, probability)
    min_span = traitlets.Float(MIN_MAP_SPAN).tag(sync=True)
    gain_stops = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    rank_stops = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    #: id of the static view displayed with this view, hidden once the widget renders
    _static_id = traitlets.Unicode("").tag(sync=True)

    def __init__(self, explanation: Any, *, selected: list[int] | None = None) -> None:
        if not isinstance(explanation, Explanation):
            raise TypeError(
                f"PromptView takes an eagle_kit Explanation; got {type(explanation).__name__}."
            )
        if not explanation.text_spans:
            raise ValueError(
                "PromptView needs an explanation with prompt span features: "
                "ek.explain(..., text_regions='words')."
            )
        self.explanation = explanation
        n_tokens = len(explanation.tokens)
        super().__init__(
            prompt=str(explanation.attrs.get("prompt", "")),
            spans=[
                {"text": t, "start": int(a), "end": int(b)} for t, a, b in explanation.text_spans
            ],
            token_values=[
                [float(v) for v in explanation.text_values(t, kind="gain")] for t in range(n_tokens)
            ],
            objective=[float(v) for v in explanation.text_values(kind="rank")],
            objective_gains=[float(v) for v in explanation.text_values(kind="gain")],
            objective_name=explanation.map_info(None, kind="gain").quantity,
            tokens=[str(t) for t in explanation.tokens],
            min_span=float(MIN_MAP_SPAN),
            gain_stops=[[int(c) for c in row] for row in np.round(_PUOR).astype(int)],
            rank_stops=[
                [int(c) for c in row] for row in viridis(np.linspace(0.0, 1.0, 11)).astype(int)
            ],
            selected=list(selected or []),
            _static_id=uuid.uuid4().hex,
        )

    @traitlets.validate("selected")
    def _check_selected(self, proposal: dict[str, Any]) -> list[int]:
        n = len(self.token_values) if self.token_values else len(self.explanation.tokens)
        values = [int(t) for t in proposal["value"]]
        bad = [t for t in values if not 0 <= t < n]
        if bad:
            raise traitlets.TraitError(f"selected holds token indices 0..{n - 1}; got {bad}.")
        return values

    def values(self) -> np.ndarray:
        """The span values shown now ``(S,)``: mean gain of the selected tokens, or the
        objective's rank values when none is selected."""
        if self.selected:
            return np.mean(np.asarray(self.token_values)[self.selected], axis=0)
        return np.asarray(self.objective)

    def gains(self) -> np.ndarray:
        """The span gains ``(S,)`` that decide whether the view colours the spans (probability):
        the selected tokens' mean gain, or the objective F's gain when none is selected."""
        if self.selected:
            return np.mean(np.asarray(self.token_values)[self.selected], axis=0)
        return np.asarray(self.objective_gains)

    def faint(self) -> bool:
        """``True`` when the prompt barely moves what the view shows (largest absolute span
        gain below ``min_span``): the view then colours no span, as ``prompt_view.js``."""
        gains = self.gains()
        return not (float(np.max(np.abs(gains))) if gains.size else 0.0) >= self.min_span

    # -- the static view -----------------------------------------------------------------
    def _state(self) -> tuple[list[int] | None, str]:
        """The tokens and kind shown now (as ``prompt_view.js``): the selected tokens' mean
        gain, or the objective's rank values with none selected."""
        selected = list(self.selected)
        return (selected, "gain") if selected else (None, "rank")

    def _figure(self) -> Any:
        from .. import plot

        tokens, kind = self._state()
        return plot.prompt(self.explanation, tokens, kind, width="single")

    def static_html(self) -> str:
        """The static view of the current state as self-contained HTML (no script, no
        network): the :func:`eagle_kit.plot.prompt` strip with its colour bar as inline SVG
        (the prompt's words as text), and what it shows."""
        return self._static_html(self._figure())

    def static_png(self, *, dpi: int = 100) -> bytes:
        """The static view as PNG bytes (the same :func:`eagle_kit.plot.prompt` figure)."""
        from ..plot import to_png

        return to_png(self._figure(), dpi=dpi)

    def _static_html(self, fig: Any) -> str:
        from .static import _FONT, _inline_svg

        tokens, kind = self._state()
        names = self.explanation.tokens
        note = (
            "gain of the selected token(s) "
            + " ".join(repr(names[t].strip() or names[t]) for t in tokens)
            + " in probability"
            if tokens
            else "no token selected: the objective's rank value in [0, 1]"
        )
        if getattr(fig, "ek_faint", False):
            note += f" — the prompt barely moves it (under {MIN_MAP_SPAN:g}): no colours"
        return (
            f'<div class="ek-static ek-static-prompt" data-ek-static="{html.escape(self._static_id)}"'
            f' data-kind="{kind}" style="font-family:{_FONT};color:#1f1f1f;font-size:13px">'
            f'<figure class="ek-figure ek-static-prompt-strip" style="margin:0;max-width:100%">'
            f"{_inline_svg(fig)}</figure>"
            f'<div style="font-size:11px;color:#444">prompt words: {html.escape(note)}. '
            "EAGLE prompt view, static (open the notebook in Jupyter for the interactive one)."
            "</div></div>"
        )

    def _static_bundle(self) -> dict[str, Any]:
        from ..plot import to_png

        fig = self._figure()
        return {"text/html": self._static_html(fig), "image/png": to_png(fig, dpi=100)}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, with the static view (``text/html`` and ``image/png``) as the
        fallback of front ends that cannot draw widgets."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        data = {**self._static_bundle(), **data}
        return data, {**metadata, "text/html": {"isolated": False}}

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Show the static view, then the widget (which hides the static view when it
        renders). Viewers without a widget manager (nbconvert, GitHub) keep the static view."""
        from IPython.display import display

        display(self._static_bundle(), metadata={"text/html": {"isolated": False}}, raw=True)
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
            display(data, metadata=metadata, raw=True)


def link_prompt_view(source: Any, view: PromptView) -> traitlets.link:
    """Link ``view.selected`` with a widget's ``selected`` (an Explorer or TokenTimeline),
    both ways; returns the link (``.unlink()`` to stop)."""
    return traitlets.link((source, "selected"), (view, "selected"))
