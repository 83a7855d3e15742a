"""``mitigate`` on an explanation with prompt spans removes image regions only (METHOD §7)."""

from __future__ import annotations

import warnings

import numpy as np

import eagle_kit as ek
from eagle_kit import shapes


def test_mitigate_skips_prompt_spans_and_counts_image_regions() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ek.load_model("shapes")
    scene = shapes.make_scene(950001)
    regions = ek.segment(scene.image, 3, "grid")
    expl = ek.explain(
        model,
        scene.image,
        prompt="is there a red triangle ?",
        answer="yes .",
        regions=regions,
        text_regions="words",
        search="fast",
        progress=False,
    )
    labels = np.asarray(regions.labels)
    n = int(labels.max()) + 1
    assert n >= 4 and expl.n_regions == n + 6  # image regions, then the six words
    seen: list[np.ndarray] = []

    def never_right(img: np.ndarray) -> str:
        seen.append(img.copy())
        return "yes"

    out = ek.metrics.mitigate(expl, never_right, "no")
    # the unmodified image, then 1 … n−1 image regions removed: no step for a span
    assert not out.corrected and out.n_removed == n - 1 and len(out.answers) == n
    # independently: the image order is the explanation's order without the spans
    image_order = [int(i) for i in expl.order if int(i) < n]
    for r, img in enumerate(seen):
        kept = image_order[: n - r]
        expected = np.where(np.isin(labels, kept)[..., None], scene.image, 0)
        np.testing.assert_array_equal(img, expected if r else scene.image)
    # corrected at the first removal step whose image differs: counted in image regions
    first_black = next(r for r in range(1, n) if not np.array_equal(seen[r], scene.image))
    calls = iter(range(100))
    fixed = ek.metrics.mitigate(
        expl, lambda img: "no" if next(calls) == first_black else "yes", "no"
    )
    assert fixed.corrected and fixed.n_removed == first_black
    area = expl.dataset["region_area"].values
    assert np.isclose(fixed.area_removed, area[image_order[n - first_black :]].sum())
