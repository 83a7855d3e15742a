"""The embedded benchmark: held-out shapes scenes on which attribution methods separate.

On ordinary shapes scenes at ~30 regions almost every object sits inside one region, so every
method that finds that region ties on insertion. This module writes a small benchmark whose
samples are built to tell methods apart, as a manifest of :mod:`eagle_kit.runs` (PNG images,
mask PNGs and ``manifest.jsonl``):

* ``multi-NN`` — a caption of a natural scene with one object as the target (its words as a
  phrase, e.g. ``"red circle"``) that spans two or more SLICO regions at ``n_regions=64``
  (:func:`~eagle_kit.shapes.analysis.covering_regions`: regions at least half object): a
  method must rank several regions of the object first, not one.
* ``distractor-{colour,shape,both}-NN`` — a caption whose target object shares its colour,
  its shape, or one of each, with the other objects of the scene (e.g. a red circle next to
  a red square and a blue circle): a region of the distractor raises one of the target's
  tokens, but only the target raises the phrase.
* ``hallucination-NN`` — the planted case (METHOD §7): "is there a green circle ?" on a
  scene of a yellow triangle and a green square (sometimes one unrelated object) with the
  label ``"no"``. The embedded model answers "yes" to most of them (the planted
  co-occurrence); runs measure AMCR and CSR@10 % on them.

Caption samples give the answer (the scene's canonical caption, which the embedded model
reproduces exactly), the target's box and mask. Hallucination samples give no answer (the
model's own answer is explained) and no box: the point game is not defined for them.

Every scene comes from a held-out seed (:data:`SEED_START` onwards): training draws its
scenes from seeds ≥ 1,000,000 (:data:`eagle_kit.shapes.train.TRAIN_SEED_START`), the quality
gate reads 900,000 onwards and ``benchmarks/shapes_eval.py`` 800,000 onwards. The files are
a deterministic function of the options: regenerating writes the same bytes (with the same
versions of the segmentation and PNG libraries: ``multi`` targets are chosen by SLICO).

The shipped copy is :func:`shipped_manifest` (``data/shapes-bench`` in a checkout).

Usage::

    python -m eagle_kit.shapes.benchmark_manifest --out data/shapes-bench
    eagle-kit run data/shapes-bench/manifest.jsonl -o results --model shapes \\
        --methods eagle,occlusion,rise,random,shapley,kernel_shap,lime,llava_cam,tam
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .world import (
    CAPTION_PROMPT,
    COLOURS,
    PAIRS,
    PLANTED_CAUSE,
    PLANTED_EFFECT,
    SHAPES,
    Scene,
    hallucination_scene,
    is_planted_case,
    make_scene,
    question_for,
)

__all__ = [
    "SEED_START",
    "N_REGIONS",
    "KINDS",
    "BenchmarkSample",
    "benchmark_samples",
    "write_benchmark",
    "shipped_manifest",
]

SEED_START = 600_000
"""First seed of the benchmark's scenes (held out from training, the gate and shapes_eval)."""
SEED_STOP = 700_000
"""The benchmark never reads seeds from here on."""
N_REGIONS = 64
"""Regions (SLICO) at which ``multi`` targets span two or more regions."""
KINDS = ("multi", "distractor", "hallucination")
"""The kinds of samples, as the first part of their ids."""

_OFFSETS = {"multi": 0, "distractor": 30_000, "hallucination": 60_000}
_DISTRACTOR_VARIANTS = ("colour", "shape", "both")


@dataclass(frozen=True)
class BenchmarkSample:
    """One sample of the benchmark: its manifest fields and its scene.

    Attributes:
        id: ``"{kind}-…-NN"``.
        kind: one of :data:`KINDS`.
        scene: the generated scene (image, objects, masks).
        prompt: the caption prompt or the yes/no question.
        answer: the canonical caption (caption samples) or ``None`` (the model answers).
        target: the target object ``(colour, shape)`` of caption samples, else ``None``.
        label: ``"no"`` for hallucination samples, else ``None``.
    """

    id: str
    kind: str
    scene: Scene
    prompt: str
    answer: str | None
    target: tuple[str, str] | None
    label: str | None

    def manifest_line(self) -> dict[str, Any]:
        """The manifest object (paths relative to the benchmark folder)."""
        line: dict[str, Any] = {
            "id": self.id,
            "image": f"images/{self.id}.png",
            "prompt": self.prompt,
        }
        if self.answer is not None:
            line["answer"] = self.answer
        if self.target is not None:
            obj = self.target_object()
            line["targets"] = [f"{obj.colour} {obj.shape}"]
            line["boxes"] = [list(obj.box)]
            line["mask"] = f"masks/{self.id}.png"
        if self.label is not None:
            line["label"] = self.label
        return line

    def target_object(self) -> Any:
        for obj in self.scene.objects:
            if (obj.colour, obj.shape) == self.target:
                return obj
        raise ValueError(f"sample '{self.id}': the scene has no {self.target}.")


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}.")
    return int(value)


def _multi_region_target(scene: Scene, n_regions: int) -> tuple[str, str] | None:
    """The first object (canonical order) covered by ≥ 2 regions at ``n_regions`` SLICO."""
    from ..regions import segment
    from .analysis import covering_regions

    regions = segment(scene.image, n_regions=n_regions, method="slico")
    for obj in scene.objects:
        if len(covering_regions(regions, obj.mask)) >= 2:
            return obj.colour, obj.shape
    return None


def _seeds(kind: str) -> range:
    start = SEED_START + _OFFSETS[kind]
    return range(start, min(start + 30_000, SEED_STOP))


def _distractor_objects(rng: np.random.Generator, variant: str) -> list[tuple[str, str]]:
    """A target and its distractors sharing its colour and/or shape (never the planted pair's
    yellow triangle, so that no co-occurrence prior enters)."""
    pool = [p for p in PAIRS if p != PLANTED_CAUSE]
    target = pool[int(rng.integers(len(pool)))]
    colour, shape = target
    same_colour = [(colour, s) for s in SHAPES if s != shape and (colour, s) in pool]
    same_shape = [(c, shape) for c in COLOURS if c != colour and (c, shape) in pool]
    objects = [target]
    if variant in ("colour", "both"):
        objects.append(same_colour[int(rng.integers(len(same_colour)))])
    if variant in ("shape", "both"):
        objects.append(same_shape[int(rng.integers(len(same_shape)))])
    return objects


def benchmark_samples(
    *,
    n_multi: int = 16,
    n_distractor: int = 16,
    n_hallucination: int = 16,
    n_regions: int = N_REGIONS,
) -> list[BenchmarkSample]:
    """The benchmark's samples (see the module docstring), deterministically.

    Args:
        n_multi: caption samples whose target spans ≥ 2 regions at ``n_regions``.
        n_distractor: caption samples with distractors sharing the target's colour or shape
            (the variants ``colour``, ``shape``, ``both`` in turn).
        n_hallucination: planted "is there a green circle ?" samples labelled ``"no"``.
        n_regions: SLICO regions at which ``multi`` targets are checked.

    Returns:
        The samples, kind by kind.

    Raises:
        ValueError: a negative count, or ``n_regions`` < 2.
        RuntimeError: the held-out seed range holds too few multi-region objects.
    """
    n_multi = _count("n_multi", n_multi)
    n_distractor = _count("n_distractor", n_distractor)
    n_hallucination = _count("n_hallucination", n_hallucination)
    if isinstance(n_regions, bool) or not isinstance(n_regions, int) or n_regions < 2:
        raise ValueError(f"n_regions must be an integer >= 2; got {n_regions!r}.")
    out: list[BenchmarkSample] = []

    seeds = iter(_seeds("multi"))
    while sum(s.kind == "multi" for s in out) < n_multi:
        seed = next(seeds, None)
        if seed is None:
            raise RuntimeError("too few multi-region objects in the held-out seeds.")
        scene = make_scene(seed)
        if is_planted_case(scene) or PLANTED_EFFECT in scene.pairs:
            continue  # the planted pairs are the hallucination samples' business
        target = _multi_region_target(scene, n_regions)
        if target is None:
            continue
        k = sum(s.kind == "multi" for s in out)
        out.append(
            BenchmarkSample(
                f"multi-{k:02d}", "multi", scene, CAPTION_PROMPT, scene.caption, target, None
            )
        )

    for k, seed in enumerate(_seeds("distractor")[:n_distractor]):
        variant = _DISTRACTOR_VARIANTS[k % len(_DISTRACTOR_VARIANTS)]
        objects = _distractor_objects(np.random.default_rng([seed, 11]), variant)
        scene = make_scene(seed, objects=objects, occlusion=False)
        out.append(
            BenchmarkSample(
                f"distractor-{variant}-{k:02d}",
                "distractor",
                scene,
                CAPTION_PROMPT,
                scene.caption,
                objects[0],
                None,
            )
        )

    question = question_for(*PLANTED_EFFECT)
    for k, seed in enumerate(_seeds("hallucination")[:n_hallucination]):
        scene = hallucination_scene(seed)
        out.append(
            BenchmarkSample(
                f"hallucination-{k:02d}", "hallucination", scene, question, None, None, "no"
            )
        )
    return out


def _save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", optimize=False, compress_level=9)


_README = """# shapes-bench: the embedded benchmark

Generated by `python -m eagle_kit.shapes.benchmark_manifest --out FOLDER` ({options});
regenerating writes the same bytes. Held-out scene seeds from {seed_start} (training uses
seeds >= 1,000,000).

- `manifest.jsonl`: one sample per line (the `eagle-kit run` manifest format).
- `images/ID.png`: the 64x64 scenes; `masks/ID.png`: the target object's mask (255 = object).

Kinds (the first part of each id): {counts}.
See the module docstring of `eagle_kit.shapes.benchmark_manifest` for what each kind tests.
"""


def write_benchmark(
    out: str | os.PathLike,
    *,
    n_multi: int = 16,
    n_distractor: int = 16,
    n_hallucination: int = 16,
    n_regions: int = N_REGIONS,
) -> Path:
    """Write the benchmark folder: ``images/``, ``masks/``, ``manifest.jsonl``, ``README.md``.

    Args:
        out: the folder (created; files of the same names are replaced).
        n_multi, n_distractor, n_hallucination, n_regions: as for :func:`benchmark_samples`.

    Returns:
        The path of ``manifest.jsonl``.
    """
    samples = benchmark_samples(
        n_multi=n_multi,
        n_distractor=n_distractor,
        n_hallucination=n_hallucination,
        n_regions=n_regions,
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for s in samples:
        _save_png(folder / "images" / f"{s.id}.png", s.scene.image)
        if s.target is not None:
            mask = s.target_object().mask.astype(np.uint8) * 255
            _save_png(folder / "masks" / f"{s.id}.png", mask)
        lines.append(json.dumps(s.manifest_line(), sort_keys=False))
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = (
        f"n_multi={n_multi}, n_distractor={n_distractor}, n_hallucination={n_hallucination}, "
        f"n_regions={n_regions}"
    )
    counts = ", ".join(f"{k} {sum(s.kind == k for s in samples)}" for k in KINDS)
    (folder / "README.md").write_text(
        _README.format(options=options, seed_start=f"{SEED_START:,}", counts=counts),
        encoding="utf-8",
    )
    return manifest


def shipped_manifest() -> Path:
    """The benchmark shipped with the package (``data/shapes-bench`` in a checkout).

    Raises:
        FileNotFoundError: the installed package lacks it (a broken install).
    """
    path = Path(__file__).resolve().parent / "shapes-bench" / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"The embedded benchmark is missing at {path}; reinstall eagle-kit, or regenerate it "
            "with python -m eagle_kit.shapes.benchmark_manifest --out <that folder>."
        )
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eagle_kit.shapes.benchmark_manifest",
        description="Write the embedded benchmark (held-out shapes scenes) as a runs manifest.",
    )
    parser.add_argument("--out", required=True, help="the folder to write")
    parser.add_argument("--n-multi", type=int, default=16)
    parser.add_argument("--n-distractor", type=int, default=16)
    parser.add_argument("--n-hallucination", type=int, default=16)
    parser.add_argument("--n-regions", type=int, default=N_REGIONS)
    args = parser.parse_args(argv)
    manifest = write_benchmark(
        args.out,
        n_multi=args.n_multi,
        n_distractor=args.n_distractor,
        n_hallucination=args.n_hallucination,
        n_regions=args.n_regions,
    )
    print(f"wrote {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
