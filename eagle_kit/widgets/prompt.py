"""PromptView: the prompt's spans coloured by their value, linked with the token selection."""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import traitlets

from ..colors import _PUOR, viridis
from ..explanation import Explanation
from ._assets import load_esm

__all__ = ["PromptView", "link_prompt_view"]


class PromptView(anywidget.AnyWidget):
    """The prompt of an explanation with text features, each span coloured by its value.

    With no token selected, spans show the objective's rank value (viridis, as the map);
    with tokens selected, the mean of their gains (signed, PuOr, scaled by the largest
    absolute span value), i.e. :meth:`Explanation.text_values` for those tokens. Put it
    next to the image overlay and link its ``selected`` with the timeline's
    (:func:`link_prompt_view`).

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
    gain_stops = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    rank_stops = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)

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
            gain_stops=[[int(c) for c in row] for row in np.round(_PUOR).astype(int)],
            rank_stops=[
                [int(c) for c in row] for row in viridis(np.linspace(0.0, 1.0, 11)).astype(int)
            ],
            selected=list(selected or []),
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


def link_prompt_view(source: Any, view: PromptView) -> traitlets.link:
    """Link ``view.selected`` with a widget's ``selected`` (an Explorer or TokenTimeline),
    both ways; returns the link (``.unlink()`` to stop)."""
    return traitlets.link((source, "selected"), (view, "selected"))
