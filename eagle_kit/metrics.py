"""Faithfulness, localisation and hallucination metrics (METHOD.md §6–8).

Every metric takes one :class:`~eagle_kit.Explanation` (→ a number) or a sequence of them
(→ the mean over samples, NaNs — e.g. no sensitive token — left out).

``tokens`` selects the curve a metric reads: ``None`` = the objective's targets (mean
probability over them), ``"all"``, ``"sensitive"`` (tokens with ``p(full) − p(black) > 0.2``),
or anything ``explain(targets=...)`` takes — indices, whole words, phrases, ``(word, k)``
occurrences — resolved by the same rule (:func:`eagle_kit.targets.resolve_targets`).

Curve x axis (:func:`curve_x`): explanations of image regions integrate over the revealed
image area (METHOD §8, the paper's; unchanged). Explanations with prompt span features
integrate over ``feature_fraction`` (k/N, every feature one step): a span covers no pixel, so
over image area a jump caused by a span inserted first would count in full and an order that
puts text first would win. Their figures are named apart — ``insertion_auc_features``,
``deletion_auc_features`` in :func:`summary` (hence in ``ek.evaluate`` tables), "insertion AUC
(over features)" in labels (:func:`metric_label`) — so they never average with area AUCs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .explanation import Explanation, attribution_values, visual_reliance_curve

__all__ = [
    "curve_x",
    "curve_x_name",
    "metric_label",
    "insertion_auc",
    "deletion_auc",
    "highest_confidence",
    "average_highest_confidence",
    "sensitive_tokens",
    "visual_reliance",
    "point_game",
    "Correction",
    "mitigate",
    "amcr",
    "csr",
    "rank_correlation",
    "summary",
    "SENSITIVE_THRESHOLD",
]

SENSITIVE_THRESHOLD = 0.2


def _many(expl: Any) -> list[Explanation] | None:
    if isinstance(expl, Explanation):
        return None
    if isinstance(expl, Sequence) and not isinstance(expl, (str, bytes)):
        items = list(expl)
        if not items:
            raise ValueError("An empty list of explanations has no metric.")
        for e in items:
            if not isinstance(e, Explanation):
                raise TypeError(f"Expected Explanation objects; got {type(e).__name__}.")
        return items
    raise TypeError(f"Expected an Explanation or a list of them; got {type(expl).__name__}.")


def _mean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if np.all(np.isnan(arr)):
        return float("nan")
    return float(np.nanmean(arr))


def sensitive_tokens(expl: Explanation, threshold: float = SENSITIVE_THRESHOLD) -> list[int]:
    """Tokens whose probability the image raises by more than ``threshold``."""
    d = expl.dataset
    gain = d["p_full"].values - d["p_black"].values
    return [int(i) for i in np.flatnonzero(gain > threshold)]


def _curve(expl: Explanation, kind: str, tokens: Any) -> np.ndarray | None:
    if isinstance(tokens, str) and tokens == "sensitive":
        idx = sensitive_tokens(expl)
        if not idx:
            return None
        tokens = idx
    return expl.curve(kind, tokens)


def curve_x_name(expl: Explanation) -> str:
    """``"area"`` (image regions only) or ``"features"`` (with prompt span features): the x
    axis the curve metrics of ``expl`` integrate over (see the module docstring)."""
    return "features" if bool(np.any(expl.region_kind == "text")) else "area"


def curve_x(expl: Explanation) -> np.ndarray:
    """The x axis ``(N+1,)`` of the insertion/deletion AUCs, 0 … 1: the revealed image area
    ``area`` for explanations of image regions (METHOD §8), ``feature_fraction`` (k/N) for
    explanations with prompt span features (a span adds no image area)."""
    if curve_x_name(expl) == "features":
        return expl.dataset["feature_fraction"].values.astype(np.float64)
    return expl.dataset["area"].values.astype(np.float64)


_LABELS = {
    "insertion_auc": "insertion AUC",
    "deletion_auc": "deletion AUC",
    "highest_confidence": "highest confidence",
}


def metric_label(name: str) -> str:
    """Display label of a :func:`summary` key: ``"insertion_auc_features_sensitive"`` →
    ``"insertion AUC (over features), sensitive tokens"``; area AUCs read
    ``"insertion AUC (over area)"``."""
    base, extra = str(name), []
    if base.endswith("_sensitive"):
        base, extra = base[: -len("_sensitive")], ["sensitive tokens"]
    over = ""
    if base.endswith("_features"):
        base, over = base[: -len("_features")], " (over features)"
    elif base in ("insertion_auc", "deletion_auc"):
        over = " (over area)"
    label = _LABELS.get(base, base.replace("_", " ")) + over
    return ", ".join([label, *extra])


def insertion_auc(expl: Any, tokens: Any = None) -> float:
    """Area under the insertion curve, y = p with the first k features kept.

    x = revealed image area (0 … 1; METHOD §8) for image regions; x = ``feature_fraction``
    (k/N) for explanations with prompt span features (:func:`curve_x`). A list of
    explanations mixing the two axes is refused. Higher is better. NaN when
    ``tokens="sensitive"`` and the explanation has none.

    Raises:
        ValueError: a list mixes explanations with and without prompt span features.
    """
    many = _many(expl)
    if many is not None:
        _same_axis(many)
        return _mean([insertion_auc(e, tokens) for e in many])
    y = _curve(expl, "insertion", tokens)
    if y is None:
        return float("nan")
    return float(np.trapezoid(y, curve_x(expl)))


def deletion_auc(expl: Any, tokens: Any = None) -> float:
    """Area under the deletion curve: x = 1 − removed fraction, y = p with the first k
    features removed; the fraction is of the image area, or of the features with prompt
    span features (:func:`curve_x`). Lower is better.

    Raises:
        ValueError: a list mixes explanations with and without prompt span features.
    """
    many = _many(expl)
    if many is not None:
        _same_axis(many)
        return _mean([deletion_auc(e, tokens) for e in many])
    y = _curve(expl, "deletion", tokens)
    if y is None:
        return float("nan")
    x = 1.0 - curve_x(expl)  # 1 → 0
    return float(np.trapezoid(y[::-1], x[::-1]))


def _same_axis(many: list[Explanation]) -> None:
    axes = {curve_x_name(e) for e in many}
    if len(axes) > 1:
        raise ValueError(
            "These explanations integrate over different axes: image regions over the image "
            "area, those with prompt span features over the fraction of features; their AUCs do "
            "not average. Pass the two kinds separately."
        )


def highest_confidence(expl: Explanation, tokens: Any = None) -> float:
    """Max of the insertion curve of one explanation."""
    y = _curve(expl, "insertion", tokens)
    return float("nan") if y is None else float(y.max())


def average_highest_confidence(expl: Any, tokens: Any = None) -> float:
    """Mean over samples of the insertion curve's maximum."""
    many = _many(expl)
    if many is None:
        return highest_confidence(expl, tokens)
    return _mean([highest_confidence(e, tokens) for e in many])


def visual_reliance(expl: Explanation) -> np.ndarray:
    """Visual reliance of every recorded token, ``(T,)``: ``I_t = AUC(area, p_t) − min_k p_t``
    for image regions (METHOD §6); with prompt span features, the image's part of the
    three-way split, as :meth:`eagle_kit.Explanation.reliance` (never the area integral,
    where a span adds no width)."""
    if curve_x_name(expl) == "features":
        return expl.reliance()
    d = expl.dataset
    return visual_reliance_curve(d["area"].values, d["insertion"].values)


def _smooth_sigma(expl: Explanation) -> float:
    h, w = expl.labels.shape[-2:]
    return 0.5 * float(np.sqrt(h * w / expl.n_regions))


READINGS = ("strict", "paper")
POINTS = ("medoid", "centroid")


def _rank_values(expl: Explanation, tokens: Any) -> np.ndarray:
    """The paper's rank map (METHOD §5) per region: the objective's, or ``tokens``' along
    the order."""
    if tokens is None:
        return np.asarray(expl.dataset["attribution"].values, dtype=np.float64)
    values = np.empty(expl.n_regions)
    values[expl.order] = attribution_values(expl.curve("insertion", tokens))
    return values


def point_game(
    expl: Any,
    *,
    box: Any = None,
    mask: Any = None,
    tokens: Any = None,
    reading: str = "strict",
    point: str = "medoid",
    smooth: float | None = 0.0,
) -> float:
    """Point game (METHOD §8): 1 if the attribution map's maximum lies inside the object, else 0.

    The map is the paper's rank map (METHOD §5), region-constant, so its maximum is a whole
    region. Two readings, and a table must say which one it reports:

    - ``reading="strict"`` (default): one point of the top-ranked region must be inside — its
      medoid (``point="medoid"``: the region's pixel with the least summed distance to its
      other pixels, inside the region even when it is fragmented) or the pixel nearest its
      centroid (``point="centroid"``). With ``smooth > 0`` (Gaussian sigma in pixels; ``None``
      = half the typical region side, ``0.5·sqrt(H·W/N)``, as for a display map) the point is
      the argmax within the top region of the smoothed map.
    - ``reading="paper"``: the reference's reading, a hit if *any* pixel at the map's maximum
      is inside. Lenient: the whole top region has value 1, and the reference's float16 map
      (emulated here) ties every region whose value rounds to 1. Compare with the paper's
      Table 2 only through this reading.

    Args:
        box: ``(x0, y0, x1, y1)`` in pixels, x1/y1 exclusive (box variant).
        mask: ``H×W`` bool (mask variant). For a list of explanations, lists of boxes/masks.
        tokens: which tokens' map (default: the objective's).
        reading: ``"strict"`` or ``"paper"``.
        point: strict reading — ``"medoid"`` or ``"centroid"``.
        smooth: strict reading — smooth the map before taking the point (see above).

    Returns:
        1.0 or 0.0; for a list of explanations, the hit rate.

    Raises:
        ValueError: unknown ``reading``/``point``, both or neither of ``box``/``mask``, a mask of
            the wrong shape, ``smooth`` with the paper reading, or a video explanation; a
            box that is not 4 finite numbers, is empty/inverted or lies outside the image; an
            explanation without image regions (prompt spans only).
        TypeError: a box that is not a sequence of numbers (e.g. the str ``"0,0,5,5"``).
    """
    if reading not in READINGS:
        raise ValueError(f"Unknown reading {reading!r}. Choose one of: {', '.join(READINGS)}.")
    if reading == "paper" and smooth not in (0, 0.0):
        raise ValueError(
            "smooth applies to reading='strict'; the paper reading uses the region map as is."
        )
    many = _many(expl)
    if many is not None:
        boxes = box if box is not None else [None] * len(many)
        masks = mask if mask is not None else [None] * len(many)
        if len(boxes) != len(many) or len(masks) != len(many):
            raise ValueError("Give one box (or mask) per explanation.")
        return _mean(
            [
                point_game(
                    e, box=b, mask=m, tokens=tokens, reading=reading, point=point, smooth=smooth
                )
                for e, b, m in zip(many, boxes, masks)
            ]
        )
    if (box is None) == (mask is None):
        raise ValueError("Give exactly one of box=(x0, y0, x1, y1) or mask=H×W bool.")
    if expl.labels.ndim != 2:
        raise ValueError("point game is defined for images, not video.")
    if getattr(expl, "n_image_regions", expl.n_regions) == 0:
        raise ValueError(
            "point game needs a map over image regions; this explanation has only prompt spans "
            "(regions='none'). Explain with image regions (and text_regions=...) for a point game."
        )
    h, w = expl.labels.shape
    if box is not None:
        x0, y0, x1, y1 = _check_box(box, h, w)
        ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
        inside = (x0 <= xs) & (xs < x1) & (y0 <= ys) & (ys < y1)
    else:
        inside = np.asarray(mask, dtype=bool)
        if inside.shape != (h, w):
            raise ValueError(f"mask has shape {inside.shape}; the image is {(h, w)}.")
    if reading == "paper":
        pixel_map = _rank_values(expl, tokens)[expl.labels].astype(np.float16)
        return float(np.any(inside & (pixel_map == pixel_map.max())))
    y, x = max_location(expl, tokens=tokens, smooth=smooth, point=point)
    return float(inside[y, x])


def _check_box(box: Any, h: int, w: int) -> tuple[float, float, float, float]:
    """``box`` as four finite floats ``x0, y0, x1, y1`` that overlap the ``h×w`` image."""
    expected = "box must be 4 numbers (x0, y0, x1, y1) in pixels, x1/y1 exclusive"
    if isinstance(box, (str, bytes)) or not hasattr(box, "__len__"):
        raise TypeError(f"{expected}, e.g. box=(10, 20, 50, 60); got {type(box).__name__} {box!r}.")
    if len(box) != 4:
        raise ValueError(f"{expected}; got {len(box)} values {tuple(box)!r}.")
    for v in box:
        if isinstance(v, (bool, np.bool_)) or not isinstance(
            v, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"{expected}; got {type(v).__name__} {v!r} in {tuple(box)!r}.")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(np.isfinite([x0, y0, x1, y1])):
        raise ValueError(f"{expected}; got a non-finite value in {tuple(box)!r}.")
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"box {tuple(box)!r} is empty or inverted: it needs x1 > x0 and y1 > y0 "
            f"(order x0, y0, x1, y1, not x, y, width, height)."
        )
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise ValueError(
            f"box {tuple(box)!r} lies entirely outside the {w}×{h} image (width×height); "
            f"give pixel coordinates of the explained image."
        )
    return x0, y0, x1, y1


def _distance_sums(fy: np.ndarray, fx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Summed Euclidean distance from each point in ``rows`` to all points, in blocks."""
    out = np.empty(len(rows))
    chunk = max(1, 2_000_000 // max(len(fy), 1))
    for start in range(0, len(rows), chunk):
        r = rows[start : start + chunk]
        out[start : start + chunk] = np.hypot(
            fy[r, None] - fy[None, :], fx[r, None] - fx[None, :]
        ).sum(axis=1)
    return out


def _medoid(ys: np.ndarray, xs: np.ndarray, *, brute_below: int = 4096) -> int:
    """Index of the point with the least summed Euclidean distance to the others (the first
    of ties, in the given order — raster order for ``np.nonzero``).

    Exact. Large sets are pruned first: the sum of distances is convex, so its tangent planes
    at ~256 sampled points bound it from below; only points whose bound does not exceed the
    best sampled sum can be the medoid, and only those are summed in full.
    """
    fy, fx = ys.astype(np.float64), xs.astype(np.float64)
    n = len(fy)
    if n <= brute_below:
        sums = _distance_sums(fy, fx, np.arange(n))
        return int(np.flatnonzero(sums <= sums.min() + 1e-9)[0])
    sample = np.arange(0, n, max(1, n // 256))
    f_s = _distance_sums(fy, fx, sample)
    dy = fy[sample, None] - fy[None, :]
    dx = fx[sample, None] - fx[None, :]
    dist = np.hypot(dy, dx)
    dist[dist == 0] = np.inf  # a point's own term has no direction (0 is a valid subgradient)
    gy, gx = (dy / dist).sum(axis=1), (dx / dist).sum(axis=1)
    best = float(f_s.min())
    lower = np.full(n, -np.inf)
    for k in range(len(sample)):  # the convex function lies above each tangent plane
        plane = f_s[k] + gy[k] * (fy - fy[sample[k]]) + gx[k] * (fx - fx[sample[k]])
        np.maximum(lower, plane, out=lower)
    cand = np.flatnonzero(lower <= best + 1e-6 + 1e-9 * best)
    sums = _distance_sums(fy, fx, cand)
    return int(cand[np.flatnonzero(sums <= sums.min() + 1e-9)[0]])


def max_location(
    expl: Explanation,
    *,
    tokens: Any = None,
    smooth: float | None = 0.0,
    point: str = "medoid",
) -> tuple[int, int]:
    """``(y, x)`` of the attribution map's maximum, as the strict point game reads it.

    A point of the top-ranked region: its medoid (default), the pixel nearest its centroid
    (``point="centroid"``), or with ``smooth`` the argmax of the smoothed map within it (see
    :func:`point_game`).
    """
    if expl.labels.ndim != 2:
        raise ValueError("point game is defined for images, not video.")
    if point not in POINTS:
        raise ValueError(f"Unknown point {point!r}. Choose one of: {', '.join(POINTS)}.")
    sigma = _smooth_sigma(expl) if smooth is None else float(smooth)
    values = _rank_values(expl, tokens)
    # regions without marginal gain share the value of the one before them (METHOD §5), so
    # the maximum can be a tie: the earliest-ranked of the tied regions is the top one
    rank = np.empty(expl.n_regions, dtype=np.int64)
    rank[expl.order] = np.arange(expl.n_regions)
    # the map lives on the image: with prompt spans, the top region is the top image region
    # (as the paper reading's pixel map has it)
    image = np.flatnonzero(np.asarray(expl.region_kind) == "image")
    if image.size == 0:
        raise ValueError("This explanation has only prompt spans: its map has no maximum.")
    tied = image[values[image] >= values[image].max() - 1e-12]
    top = int(tied[np.argmin(rank[tied])])
    inside = expl.labels == top
    if sigma > 0:
        from scipy.ndimage import gaussian_filter

        m = gaussian_filter(values[expl.labels], sigma)
        flat = int(np.argmax(np.where(inside, m, -np.inf)))
        return divmod(flat, expl.labels.shape[1])
    ys, xs = np.nonzero(inside)
    if point == "medoid":
        i = _medoid(ys, xs)
    else:
        cy, cx = ys.mean(), xs.mean()
        i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
    return int(ys[i]), int(xs[i])


# -- hallucination -------------------------------------------------------------------------


@dataclass
class Correction:
    """Outcome of :func:`mitigate` for one sample.

    Attributes:
        corrected: the answer matched the label after removing ``n_removed`` regions.
        n_removed: lowest-ranked regions removed at that point (0: the answer on the unmodified
            image already matched), or the most removed when never corrected.
        area_removed: their pixel fraction (1.0 when never corrected, as AMCR counts it).
        answers: the answer on the unmodified image, then after each removal.
    """

    corrected: bool
    n_removed: int
    area_removed: float
    answers: list[str] = field(default_factory=list)


def _first_word(text: str) -> str:
    """The first word of ``text``, case-folded, without surrounding punctuation (METHOD §7).

    ``"No."`` and ``"no, there is none"`` give ``"no"``; ``"Not"`` gives ``"not"``.
    """
    for word in str(text).split():
        core = re.sub(r"^[\W_]+|[\W_]+$", "", word)
        if core:
            return core.casefold()
    return ""


def mitigate(
    expl: Explanation,
    answer: Any,
    label: str,
    *,
    prompt: str | None = None,
    max_area: float | None = 1.0,
    match: Callable[[str, str], bool] | None = None,
) -> Correction:
    """Remove the lowest-ranked image regions one at a time until the answer matches ``label``.

    Only image regions are removed (METHOD §7 corrects by removing image regions): prompt
    span features of the explanation are skipped — the prompt stays intact — and
    ``n_removed`` counts image regions, in the order the explanation ranks them.

    METHOD §7: first regenerate on the unmodified image (``r = 0``: a sample already right
    counts area 0), then keep the top ``N − r`` regions (black elsewhere) for ``r = 1 … N−1``,
    regenerate, and stop at the first answer that matches. Answers match when their first
    words agree, case-insensitively and without punctuation (``"No."`` matches ``"no"``,
    ``"Not"`` does not) — the reference's case-sensitive prefix test gets both wrong.

    Args:
        expl: the diagnosis (targets = the correct answer's token).
        answer: a model from :func:`eagle_kit.load_model` (then ``prompt`` is required) or any
            callable ``image -> answer text``.
        label: the correct answer (e.g. ``"no"``), a non-empty ``str``.
        max_area: stop trying once more than this fraction of the image would be removed: a
            finite number in (0, 1]; ``None`` = no limit (same as 1).
        match: ``(answer, label) -> bool``; default compares first words, case-insensitive.

    Raises:
        TypeError: ``label`` is not a ``str``, ``max_area`` is not a number, ``answer`` is
            neither a model nor a callable, or the callable/model returned something other
            than a ``str`` (the message names what came).
        ValueError: ``label`` is empty or has no word, ``max_area`` outside (0, 1] or not
            finite, or a model is given without ``prompt``.
    """
    if not isinstance(label, str):
        raise TypeError(
            f"label must be the correct answer as a str, e.g. 'no'; got {type(label).__name__} "
            f"{label!r}."
        )
    if not label.strip():
        raise ValueError(
            "label must be the correct answer as a non-empty str with a word to compare "
            "answers with, e.g. 'no'."
        )
    if max_area is None:
        max_area = 1.0
    if isinstance(max_area, (bool, np.bool_)) or not isinstance(
        max_area, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"max_area must be a number in (0, 1] (a fraction of the image) or None; got "
            f"{type(max_area).__name__} {max_area!r}."
        )
    if not (np.isfinite(max_area) and 0.0 < float(max_area) <= 1.0):
        raise ValueError(
            f"max_area must be a fraction of the image in (0, 1], or None for no limit; got "
            f"{max_area!r}."
        )
    max_area = float(max_area)
    if hasattr(answer, "generate"):
        if not prompt:
            raise ValueError("mitigate(model, ...) needs prompt=... to regenerate the answer.")
        model = answer

        def answer_fn(img: np.ndarray) -> str:
            return str(model.generate(img, prompt).text)

    elif callable(answer):
        answer_fn = answer
    else:
        raise TypeError("answer must be a model (with .generate) or a callable image -> text.")
    if match is None:
        if not _first_word(label):
            raise ValueError(f"label must contain a word to compare answers with; got {label!r}.")

        def match(a: str, b: str) -> bool:
            return _first_word(a) == _first_word(b)

    # image regions only, in the explanation's order: prompt spans are never removed here
    kinds = expl.region_kind
    order = [int(i) for i in expl.order if kinds[int(i)] == "image"]
    n = len(order)
    area = expl.dataset["region_area"].values
    labels = expl.labels
    answers: list[str] = []
    for r in range(max(n, 1)):
        removed_area = float(area[order[n - r :]].sum()) if r else 0.0
        if removed_area > max_area + 1e-12:
            break
        if r == 0:
            img = expl.image
        else:
            keep = np.zeros(expl.n_regions, dtype=bool)
            keep[order[: n - r]] = True
            shown = np.where(labels >= 0, keep[np.clip(labels, 0, None)], True)
            img = np.where(shown[..., None], expl.image, 0).astype(np.uint8)
        text = answer_fn(img)
        if not isinstance(text, str):
            raise TypeError(
                f"the answer callable must return the answer text as a str; it returned "
                f"{type(text).__name__} {text!r:.80}."
            )
        answers.append(text)
        if match(text, label):
            return Correction(True, r, removed_area, answers)
    return Correction(False, max(len(answers) - 1, 0), 1.0, answers)


def _areas(corrections: Sequence[Any]) -> np.ndarray:
    if isinstance(corrections, (str, bytes)) or not hasattr(corrections, "__iter__"):
        raise TypeError(
            f"corrections must be a list of mitigate() results (Correction) or removed-area "
            f"fractions in [0, 1] (None for never corrected); got {type(corrections).__name__}."
        )
    out = []
    for c in corrections:
        if isinstance(c, Correction):
            out.append(c.area_removed if c.corrected else 1.0)
        elif c is None or (isinstance(c, float) and np.isnan(c)):
            out.append(1.0)
        else:
            if isinstance(c, (bool, np.bool_)) or not isinstance(
                c, (int, float, np.integer, np.floating)
            ):
                raise TypeError(
                    f"each correction must be a Correction from mitigate(), a removed-area "
                    f"fraction in [0, 1], or None; got {type(c).__name__} {c!r}."
                )
            v = float(c)
            if not 0 <= v <= 1:
                raise ValueError(f"A removed-area fraction must be in [0, 1]; got {v}.")
            out.append(v)
    if not out:
        raise ValueError("No samples given.")
    return np.asarray(out)


def amcr(corrections: Sequence[Any]) -> float:
    """Average minimal correction region: mean removed-area fraction; never corrected = 1.

    Accepts :class:`Correction` objects, or floats with ``None``/NaN for never corrected.

    Raises:
        TypeError: ``corrections`` is not a list of those (e.g. a str).
        ValueError: a fraction outside [0, 1], or no samples.
    """
    return float(_areas(corrections).mean())


def csr(corrections: Sequence[Any], threshold: float = 0.1) -> float:
    """Correction success rate: share of samples corrected with ≤ ``threshold`` of the area
    removed. Never-corrected samples stay in the denominator (the reference drops them).

    Raises:
        ValueError: ``threshold`` is not a finite fraction in [0, 1].
        TypeError: ``threshold`` is not a number; bad ``corrections`` (see :func:`amcr`).
    """
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(
        threshold, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"threshold must be a removed-area fraction in [0, 1]; got "
            f"{type(threshold).__name__} {threshold!r}."
        )
    if not (np.isfinite(threshold) and 0.0 <= float(threshold) <= 1.0):
        raise ValueError(
            f"threshold must be a removed-area fraction in [0, 1] (e.g. 0.1); got {threshold!r}."
        )
    areas = _areas(corrections)
    corrected = np.array(
        [
            (
                c.corrected
                if isinstance(c, Correction)
                else not (c is None or (isinstance(c, float) and np.isnan(c)))
            )
            for c in corrections
        ]
    )
    return float(np.mean(corrected & (areas <= threshold + 1e-12)))


# -- comparisons ---------------------------------------------------------------------------


def rank_correlation(a: Any, b: Any) -> float:
    """Spearman rank correlation of two maps (pixel arrays or explanations' maps)."""
    from scipy.stats import spearmanr

    ma = a.attribution_map() if isinstance(a, Explanation) else np.asarray(a)
    mb = b.attribution_map() if isinstance(b, Explanation) else np.asarray(b)
    if ma.shape != mb.shape:
        raise ValueError(f"maps differ in shape: {ma.shape} vs {mb.shape}.")
    return float(spearmanr(ma.ravel(), mb.ravel()).statistic)


def summary(expl: Any) -> dict[str, float]:
    """The headline figures: insertion/deletion AUC (targets and sensitive tokens), highest
    confidence.

    Keys: ``insertion_auc``, ``deletion_auc``, ``highest_confidence``,
    ``insertion_auc_sensitive``, ``deletion_auc_sensitive`` for image regions (AUCs over image
    area); with prompt span features the AUC keys end in ``_features`` instead
    (``insertion_auc_features``, …, ``deletion_auc_features_sensitive``: over the fraction of
    features, :func:`curve_x`). :func:`metric_label` gives the display label of a key.
    """
    many = _many(expl)
    first = expl if many is None else many[0]
    if many is not None:
        _same_axis(many)
    tag = "_features" if curve_x_name(first) == "features" else ""
    return {
        f"insertion_auc{tag}": insertion_auc(expl),
        f"deletion_auc{tag}": deletion_auc(expl),
        "highest_confidence": average_highest_confidence(expl),
        f"insertion_auc{tag}_sensitive": insertion_auc(expl, "sensitive"),
        f"deletion_auc{tag}_sensitive": deletion_auc(expl, "sensitive"),
    }
