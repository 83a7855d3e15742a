"""``eagle-kit demo``: the embedded model hallucinates a "green circle"; EAGLE shows why.

Writes a self-contained report (``index.html``) with the caption coloured by visual
reliance, the overlay, the hallucination diagnosis and its mitigation, and the metrics; the
explanations are saved next to it as netCDF.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from . import metrics
from .plot import hallucination
from .report import (
    curves_svg,
    figure,
    map_figure,
    metrics_table,
    plot_html,
    section,
    write_report,
)

__all__ = ["run_demo"]


def run_demo(
    out: Path, *, seed: int | None = None, n_regions: int = 30, progress: bool = True
) -> str:
    """Run the demo; return the terminal summary. See the module docstring."""
    from .models import load_model
    from .shapes import CAPTION_PROMPT, hallucination_scene
    from .shapes.analysis import (
        PRIOR_WORDS,
        diagnose_caption,
        find_hallucinating_scene,
        word_indices,
    )

    t0 = time.perf_counter()
    model = load_model("shapes")
    if seed is None:
        found = find_hallucinating_scene(model, range(200))
        if found is None:
            raise RuntimeError("The embedded model hallucinated on none of 200 planted scenes.")
        scene, gen = found
    else:
        scene = hallucination_scene(seed)
        gen = model.generate(scene.image, CAPTION_PROMPT)
    diag = diagnose_caption(model, scene, gen, n_regions=n_regions, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    diag.caption.save(out / "caption.nc")
    diag.wrong.save(out / "hallucinated_token.nc")
    diag.correct.save(out / "diagnosis.nc")
    seconds = time.perf_counter() - t0

    cap = diag.caption
    rel = cap.reliance()
    prior_idx = word_indices(cap.tokens, PRIOR_WORDS)
    boxes = [o.box for o in scene.objects]
    truth = ", ".join(o.name for o in scene.objects)
    corr = diag.correction
    fix_text = (
        f"corrected after removing {corr.n_removed} lowest-ranked regions "
        f"({corr.area_removed:.1%} of the image): “{corr.answers[-1]}”"
        if corr.corrected
        else f"not corrected after {corr.n_removed} removals"
    )
    body = [
        section(
            "Scene and caption",
            '<div class="row">'
            + figure(scene.image, f"scene seed {scene.seed}: {truth}")
            + map_figure(cap, title="objective map of the whole caption (all tokens)")
            + f"<div><p>prompt: <code>{html.escape(CAPTION_PROMPT)}</code></p>"
            f"<p>truth: <code>{html.escape(scene.caption)}</code></p>"
            f'<p class="caption">{cap.caption_html()}</p>'
            '<p class="note">colour = visual reliance I<sub>t</sub>: blue = language prior, red = visual evidence</p>'
            + metrics_table({f"{i}: {t!r}": float(rel[i]) for i, t in enumerate(cap.tokens)})
            + "</div></div>",
        ),
        section(
            "Why “green circle”? (the hallucinated words)",
            '<div class="row">'
            + map_figure(
                diag.wrong,
                diag.wrong.targets,
                title="gain map of the hallucinated words; boxes: true objects",
                boxes=boxes,
            )
            + map_figure(
                diag.wrong,
                title="the paper's rank map of the same objective",
                boxes=boxes,
            )
            + f"<div>{curves_svg(diag.wrong)}"
            + metrics_table(
                {
                    "rank of the green square (visual cause)": diag.visual_rank,
                    "rank of the yellow triangle (context)": diag.context_rank,
                    **diag.wrong.metrics(),
                }
            )
            + "</div></div>",
        ),
        section(
            "Diagnosis and mitigation (METHOD §7)",
            '<div class="row">'
            + map_figure(
                diag.correct, diag.correct.targets, title="gain map of the correct word “square”"
            )
            + f"<div><p>{html.escape(fix_text)}</p>"
            + metrics_table({"evaluations": diag.correct.n_evaluations, **diag.correct.metrics()})
            + "</div></div>"
            + plot_html(hallucination(diag, width="double")),
        ),
    ]
    report = write_report(out / "index.html", "EAGLE demo — a hallucinated green circle", body)
    prior = ", ".join(f"{cap.tokens[i]}={rel[i]:.2f}" for i in prior_idx)
    objects = [i for i, m in enumerate(cap.modality()) if m == "visual"]
    gain = diag.wrong.map_info(diag.wrong.targets)
    lines = [
        f"scene {scene.seed}: {truth}",
        f"caption:   {gen.text}",
        f"truth:     {scene.caption}",
        f"language prior (reliance): {prior}",
        "visual tokens: " + ", ".join(f"{cap.tokens[i]}={rel[i]:.2f}" for i in objects),
        f"why 'green circle': green square at rank {diag.visual_rank}, yellow triangle at rank {diag.context_rank}",
        f"  gain map: region {gain.max_gain_region} moves {gain.quantity} by {gain.max_gain:+.3f} "
        f"(span {gain.span:.3f})",
        f"mitigation: {fix_text}",
        f"insertion AUC {metrics.insertion_auc(diag.wrong):.3f}, deletion AUC {metrics.deletion_auc(diag.wrong):.3f}",
        f"report: {report}  ({seconds:.1f} s)",
    ]
    return "\n".join(lines)
