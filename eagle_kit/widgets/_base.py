"""What every explanation widget shares: input checks, the data payload, token selection."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, ClassVar

import anywidget
import traitlets
import xarray as xr

from ..explanation import Explanation, has_text_features
from ._assets import load_css
from ._encoding import encode_array

__all__ = ["ExplanationWidget", "as_explanation", "explanation_payload", "describe"]

# What each payload field is made of: (dataset variable, dtype sent to the browser).
_ARRAYS: dict[str, tuple[str, str]] = {
    "reliance": ("reliance", "float32"),
    "p_black": ("p_black", "float32"),
    "p_full": ("p_full", "float32"),
    "insertion": ("insertion", "float32"),
    "deletion": ("deletion", "float32"),
    "area": ("area", "float32"),
    "objective": ("objective", "float64"),
    "attribution": ("attribution", "float64"),
    "order": ("order", "int32"),
    "image": ("image", "uint8"),
    "reliance_image": ("reliance_image", "float32"),
    "reliance_prompt": ("reliance_prompt", "float32"),
    "reliance_prior": ("reliance_prior", "float32"),
}
#: Fields sent only when the explanation has them (the three-way reading of explanations
#: with prompt span features); left out of the payload otherwise.
_OPTIONAL: frozenset[str] = frozenset({"reliance_image", "reliance_prompt", "reliance_prior"})


def as_explanation(value: Any, widget: str = "This widget") -> Explanation:
    """Accept an :class:`~eagle_kit.Explanation` or its ``xarray.Dataset``; reject the rest."""
    if isinstance(value, Explanation):
        return value
    if isinstance(value, xr.Dataset):
        return Explanation(value)
    if isinstance(value, (list, tuple, dict)):
        raise TypeError(
            f"{widget} shows one explanation; got a {type(value).__name__}. To compare several side "
            f"by side use eagle_kit.Explorer([expl_a, expl_b])."
        )
    raise TypeError(
        f"{widget} expects an eagle_kit.Explanation (from ek.explain(...) or "
        f"ek.load_explanation(...)) or its xarray.Dataset; got {type(value).__name__}."
    )


def explanation_payload(expl: Explanation, fields: Iterable[str]) -> dict[str, Any]:
    """The ``data`` trait of a widget: token lists plus the requested arrays, encoded."""
    ds = expl.dataset
    out: dict[str, Any] = {
        "tokens": expl.tokens,
        "targets": expl.targets,
    }
    if "region_kind" in ds.coords:
        # joint image + prompt features: ids below this are image regions (gain map scale)
        out["n_image_regions"] = expl.n_image_regions
    # how the token chips read: "split" (prompt span features: the label of the three-way
    # split, categorical colours) or "visual" (image regions: the I_t scale)
    out["reading"] = "split" if has_text_features(ds) else "visual"
    for name in fields:
        if name in _OPTIONAL and _ARRAYS[name][0] not in ds:
            continue
        if name == "modality":
            out[name] = expl.modality()
        elif name == "reliance":  # I_t, or the split's image part with prompt spans
            out[name] = encode_array(expl.reliance(), _ARRAYS[name][1])
        elif name == "labels":
            labels = ds["labels"].values
            out[name] = encode_array(labels, "uint16" if expl.n_regions <= 65535 else "int32")
        elif name in _ARRAYS:
            var, dtype = _ARRAYS[name]
            out[name] = encode_array(ds[var].values, dtype)
            if name == "area" and has_text_features(ds):
                # the curves' x axis with prompt spans: the fraction of features, as the
                # AUCs in the metrics table (eagle_kit.metrics.curve_x)
                out["curve_x"] = encode_array(ds["feature_fraction"].values, "float32")
        else:
            raise KeyError(f"Unknown payload field '{name}'.")
    return out


def describe(expl: Explanation) -> tuple[str, str]:
    """A short title and a subtitle (prompt, answer, search) for an explanation."""
    a = expl.dataset.attrs
    try:
        search = json.loads(str(a.get("search", "{}"))).get("search", "")
    except json.JSONDecodeError:
        search = ""
    method = str(a.get("method", "eagle"))
    who = str(a.get("model") or a.get("scorer") or "")
    title = " · ".join(p for p in (f"{method} ({search})" if search else method, who) if p)
    parts = []
    if a.get("prompt"):
        parts.append(f"prompt: {a['prompt']}")
    if a.get("answer"):
        parts.append(f"answer: {a['answer']}")
    parts.append(f"{expl.n_regions} regions, {expl.n_evaluations} evaluations")
    return title, " · ".join(parts)


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: missing figures travel as null."""
    value = float(value)
    return value if math.isfinite(value) else None


class ExplanationWidget(anywidget.AnyWidget):
    """Base of the widgets showing one explanation; holds the data payload and the selection.

    Attributes:
        explanation: the :class:`~eagle_kit.Explanation` shown.
        data: the arrays the front-end draws (binary buffers); derived from the explanation.
        selected: indices of the selected tokens (sorted); ``[]`` = none.
    """

    _css = load_css()
    _payload_fields: ClassVar[tuple[str, ...]] = ()

    data = traitlets.Dict().tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any) -> None:
        self._explanation = as_explanation(explanation, type(self).__name__)
        self._frozen = False
        super().__init__(
            data=explanation_payload(self._explanation, self._payload_fields), **kwargs
        )
        self._frozen = True

    @property
    def explanation(self) -> Explanation:
        return self._explanation

    @property
    def tokens(self) -> list[str]:
        """Text of the recorded tokens."""
        return self._explanation.tokens

    @property
    def n_regions(self) -> int:
        return self._explanation.n_regions

    @traitlets.validate("data")
    def _check_data(self, proposal: dict[str, Any]) -> dict[str, Any]:
        if getattr(self, "_frozen", False):
            raise traitlets.TraitError(
                f"{type(self).__name__}.data is derived from the explanation and cannot be replaced; "
                f"create a new widget for another explanation."
            )
        return proposal["value"]

    @traitlets.validate("selected")
    def _check_selected(self, proposal: dict[str, Any]) -> list[int]:
        return check_token_indices(proposal["value"], self.tokens)

    def select(self, *tokens: int | str | tuple[str, int]) -> None:
        """Select tokens, replacing the selection, by the rule ``explain`` uses for targets:
        indices, whole words or phrases, ``(word, k)`` for the k-th occurrence (see
        :func:`eagle_kit.targets.resolve_targets`). No argument clears the selection.

        Example:
            >>> timeline.select("cat", 4)  # doctest: +SKIP
        """
        self.selected = token_indices(tokens, self.tokens, self._explanation)

    def save_html(self, path: Any, *, title: str | None = None) -> Any:
        """Write a self-contained page with this widget (no kernel needed); see :func:`save_html`."""
        from .export import save_html

        return save_html(self, path, title=title)


def check_token_indices(value: Iterable[int], tokens: list[str]) -> list[int]:
    """Sorted unique token indices; a clear ``TraitError`` for out-of-range ones."""
    n = len(tokens)
    out = sorted({int(i) for i in value})
    bad = [i for i in out if not 0 <= i < n]
    if bad:
        raise traitlets.TraitError(
            f"Token index {bad[0]} is out of range: this explanation records {n} tokens "
            f"(indices 0..{n - 1}). Select by index, or by text with .select({tokens[0]!r})."
            if n
            else f"Token index {bad[0]} is out of range: this explanation records no tokens."
        )
    return out


def token_indices(
    tokens: Iterable[Any], names: list[str], explanation: Explanation | None = None
) -> list[int]:
    """Indices of the tokens given by index, word, phrase or ``(word, k)``, resolved by
    :func:`eagle_kit.targets.resolve_recorded_targets` (the rule ``explain`` uses); a
    ``TraitError`` listing the answer's words otherwise. Nothing given selects nothing."""
    from ..targets import resolve_recorded_targets

    items = list(tokens)
    if not items:
        return []
    attrs = explanation.attrs if explanation is not None else None
    ids = (
        explanation.dataset["token_id"].values
        if explanation is not None and "token_id" in explanation.dataset
        else None
    )
    try:
        out = resolve_recorded_targets(items, names, attrs=attrs, token_ids=ids)
    except (ValueError, TypeError) as err:
        raise traitlets.TraitError(str(err)) from None
    return check_token_indices(out or [], names)


def check_step(k: int, n_regions: int) -> int:
    """``k`` in 0..N, or a ``TraitError`` saying so."""
    if not 0 <= k <= n_regions:
        raise traitlets.TraitError(
            f"k must be in 0..{n_regions} (the number of regions inserted or deleted); got {k}."
        )
    return k


def default_step(n_regions: int) -> int:
    """The step shown first: a quarter of the regions, at least one."""
    return min(n_regions, max(1, n_regions // 4))


def image_shape(expl: Explanation) -> tuple[int, ...]:
    """Shape of the label map: ``(H, W)`` or ``(F, H, W)``."""
    return tuple(int(s) for s in expl.labels.shape)
