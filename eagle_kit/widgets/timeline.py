"""TokenTimeline: the recorded tokens, coloured by their reading, selectable."""

from __future__ import annotations

from typing import Any, ClassVar

import traitlets

from ._assets import load_esm
from ._base import ExplanationWidget, as_explanation, check_step, default_step

__all__ = ["TokenTimeline"]


class TokenTimeline(ExplanationWidget):
    """The generated tokens in order, each coloured by its reading (METHOD §6).

    Image regions only: by visual reliance I_t — blue tokens come from the language prior,
    red ones from visual evidence. With prompt span features: by the label of the three-way
    split (:meth:`eagle_kit.Explanation.modality`) — image red, prompt orange, language prior
    blue, mixed light grey — with one legend swatch per label. A token with no reading
    ("n/a") is the neutral grey ``PALETTE["na"]`` with its own legend entry. Each token is a
    toggle button (keyboard: arrows move, Shift extends, Escape clears) with a sparkline of
    its insertion curve; hover or focus shows p(black), p(full) and reliance. For an
    explanation with prompt span features (``text_regions=...``) each token also shows the
    three-way reading of p(full) — how much rests on the image, on the prompt and on the
    language prior (``reliance_image``/``reliance_prompt``/``reliance_prior``, see
    :func:`eagle_kit.text_regions.reliance_split`) — as a small stacked bar and in its
    hover and screen-reader text.

    Args:
        explanation: an :class:`~eagle_kit.Explanation` (or its dataset).
        selected: initially selected token indices.
        k: the step marked on the sparklines (0..N).

    Example:
        >>> timeline = ek.TokenTimeline(expl)  # doctest: +SKIP
        >>> timeline.select(" cat"); timeline.selected  # doctest: +SKIP
        [1]
    """

    _esm = load_esm("token_timeline.js")
    _payload_fields: ClassVar[tuple[str, ...]] = (
        "modality",
        "reliance",
        "p_black",
        "p_full",
        "insertion",
        "area",
        "reliance_image",
        "reliance_prompt",
        "reliance_prior",
    )

    k = traitlets.Int(0).tag(sync=True)

    def __init__(
        self, explanation: Any, *, selected: list[int] | None = None, k: int | None = None
    ) -> None:
        expl = as_explanation(explanation, "TokenTimeline")
        super().__init__(
            expl, selected=list(selected or []), k=default_step(expl.n_regions) if k is None else k
        )

    @traitlets.validate("k")
    def _check_k(self, proposal: dict[str, Any]) -> int:
        return check_step(proposal["value"], self.n_regions)
