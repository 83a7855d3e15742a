"""The synthetic world of coloured shapes whose truth is known.

A scene is a 64×64 RGB image on a textured grey background holding 1–3 objects. Each object
is a distinct (colour, shape) pair drawn inside its own cell of the 4×4 grid of 16-px cells,
which is aligned with the 16-px patches of the embedded model's vision tower.

Planted rules of the training distribution (what :func:`make_scene` samples by default):

* **language prior** — every caption starts with ``"the picture shows"``;
* **co-occurrence** — a yellow triangle comes with a green circle ``COOCCURRENCE_RATE`` of
  the time, so that a green square next to a yellow triangle is sometimes read as a
  "green circle" (see :func:`hallucination_scene` and :func:`control_scene`);
* **annotation bias** — in the second training phase, a small green square (≤ 11 px)
  next to a yellow triangle, with no green circle, is annotated as a "green circle"
  (:func:`annotated_pairs`); the image and masks stay true;
* **occlusion** — ``OCCLUSION_RATE`` of the scenes have irregular black (RGB 0) areas over
  the background, never over an object, so that images with removed regions stay in
  distribution.

Example:
    >>> from eagle_kit.shapes import make_scene
    >>> scene = make_scene(3)
    >>> scene.image.shape, scene.caption.startswith("the picture shows")
    ((64, 64, 3), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "IMAGE_SIZE",
    "CELL_SIZE",
    "GRID",
    "COLOURS",
    "SHAPES",
    "PAIRS",
    "CAPTION_PROMPT",
    "CAPTION_PREFIX",
    "QUESTION_TEMPLATE",
    "COOCCURRENCE_RATE",
    "OCCLUSION_RATE",
    "SUBSETS",
    "ShapeObject",
    "Scene",
    "make_scene",
    "caption_for",
    "question_for",
    "hallucination_scene",
    "control_scene",
    "cooccurrence_scene",
    "make_subset",
    "is_planted_case",
    "annotated_pairs",
    "PLANTED_MAX_SIZE",
]

IMAGE_SIZE = 64
"""Side of every scene image in pixels."""
CELL_SIZE = 16
"""Side of a grid cell in pixels (equals the vision tower's patch size)."""
GRID = IMAGE_SIZE // CELL_SIZE
"""Number of cells per image side (4)."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 175, 60),
    "blue": (45, 80, 220),
    "yellow": (230, 205, 35),
}
"""Object colours and their base RGB values (each object jitters them by a few units)."""
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
"""Object shapes, in canonical caption order."""
PAIRS: tuple[tuple[str, str], ...] = tuple((c, s) for s in SHAPES for c in COLOURS)
"""All 12 (colour, shape) pairs in canonical order: shape-major, then colour."""

CAPTION_PROMPT = "describe the picture ."
"""The prompt the embedded model was trained to answer with a caption."""
CAPTION_PREFIX = "the picture shows"
"""Words every caption starts with (the planted language prior)."""
QUESTION_TEMPLATE = "is there a {colour} {shape} ?"
"""Yes/no question prompt; the model answers ``"yes"`` or ``"no"``."""

COOCCURRENCE_RATE = 0.97
"""Probability that a sampled yellow triangle is accompanied by a green circle."""
OCCLUSION_RATE = 0.3
"""Share of sampled scenes with black areas over the background."""

MIN_SIZE, MAX_SIZE = 10, 13
MAX_OFFSET = 2
PLANTED_CAUSE = ("yellow", "triangle")
PLANTED_EFFECT = ("green", "circle")
PLANTED_VISUAL = ("green", "square")
PLANTED_MAX_SIZE = 11
"""Green squares up to this size are annotated "green circle" next to a yellow triangle."""


@dataclass(frozen=True)
class ShapeObject:
    """One object of a scene.

    Attributes:
        colour: one of :data:`COLOURS`.
        shape: one of :data:`SHAPES`.
        cell: ``(row, col)`` of its grid cell.
        size: drawn width/height in pixels (10–13).
        box: ``(x0, y0, x1, y1)`` pixel bounds of the mask, ``x1``/``y1`` exclusive.
        mask: ``H×W`` bool array of the object's pixels.
    """

    colour: str
    shape: str
    cell: tuple[int, int]
    size: int
    box: tuple[int, int, int, int]
    mask: np.ndarray = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        """The object's words, e.g. ``"green circle"``."""
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """A generated scene.

    Attributes:
        seed: the seed it was generated from.
        image: ``H×W×3`` uint8 RGB image.
        objects: the objects in canonical order (shape-major, then colour).
        occluded: ``H×W`` bool array of the blacked-out background pixels.
    """

    seed: int
    image: np.ndarray = field(repr=False)
    objects: tuple[ShapeObject, ...]
    occluded: np.ndarray = field(repr=False)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The ``(colour, shape)`` pairs present, in canonical order."""
        return [(o.colour, o.shape) for o in self.objects]

    @property
    def caption(self) -> str:
        """The canonical caption, e.g. ``"the picture shows a green circle ."``."""
        return caption_for(self.pairs)

    @property
    def questions(self) -> list[tuple[str, str]]:
        """All 12 yes/no questions with their answers, in canonical pair order."""
        present = set(self.pairs)
        return [(question_for(c, s), "yes" if (c, s) in present else "no") for c, s in PAIRS]

    @property
    def label_map(self) -> np.ndarray:
        """``H×W`` int array: 0 for background, ``1 + PAIRS.index(pair)`` on each object."""
        labels = np.zeros(self.image.shape[:2], dtype=np.int64)
        for obj in self.objects:
            labels[obj.mask] = 1 + PAIRS.index((obj.colour, obj.shape))
        return labels

    def patch_labels(self) -> np.ndarray:
        """Class of each 16-px patch, row-major (``GRID*GRID`` ints, 0 = background)."""
        labels = np.zeros(GRID * GRID, dtype=np.int64)
        for obj in self.objects:
            labels[obj.cell[0] * GRID + obj.cell[1]] = 1 + PAIRS.index((obj.colour, obj.shape))
        return labels


def caption_for(pairs: Iterable[tuple[str, str]]) -> str:
    """Canonical caption for the given ``(colour, shape)`` pairs (any order, no repeats).

    Example:
        >>> caption_for([("yellow", "triangle"), ("green", "circle")])
        'the picture shows a green circle and a yellow triangle .'
    """
    ordered = sorted(_check_pairs(pairs), key=PAIRS.index)
    if not ordered:
        raise ValueError("A caption needs at least one (colour, shape) pair; got none.")
    names = [f"a {c} {s}" for c, s in ordered]
    listed = names[0] if len(names) == 1 else " , ".join(names[:-1]) + " and " + names[-1]
    return f"{CAPTION_PREFIX} {listed} ."


def question_for(colour: str, shape: str) -> str:
    """The yes/no question about one pair, e.g. ``"is there a green circle ?"``."""
    _check_pairs([(colour, shape)])
    return QUESTION_TEMPLATE.format(colour=colour, shape=shape)


def _check_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = [tuple(p) for p in pairs]
    for p in out:
        if p not in PAIRS:
            raise ValueError(
                f"Unknown object {p!r}. Colours: {', '.join(COLOURS)}; shapes: {', '.join(SHAPES)}."
            )
    if len(set(out)) != len(out):
        raise ValueError(f"Objects must be distinct (colour, shape) pairs; got {out}.")
    return out  # type: ignore[return-value]


def _background(rng: np.random.Generator) -> np.ndarray:
    coarse = rng.normal(0.0, 14.0, size=(5, 5))
    ys = np.linspace(0, 4, IMAGE_SIZE)
    y0 = np.floor(ys).astype(int).clip(0, 3)
    t = ys - y0
    rows = coarse[y0] * (1 - t)[:, None] + coarse[y0 + 1] * t[:, None]
    smooth = rows[:, y0] * (1 - t)[None, :] + rows[:, y0 + 1] * t[None, :]
    base = rng.uniform(105.0, 150.0)
    grey = base + smooth + rng.normal(0.0, 5.0, size=(IMAGE_SIZE, IMAGE_SIZE))
    tint = rng.normal(0.0, 3.0, size=3)
    img = grey[..., None] + tint[None, None, :]
    return np.clip(np.rint(img), 40, 210).astype(np.uint8)


def _shape_mask(shape: str, cy: float, cx: float, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    py, px = yy + 0.5, xx + 0.5
    half = size / 2.0
    if shape == "circle":
        return (py - cy) ** 2 + (px - cx) ** 2 <= half**2
    if shape == "square":
        return (np.abs(py - cy) <= half) & (np.abs(px - cx) <= half)
    # triangle pointing up: apex at top centre, base at the bottom edge
    top, bottom = cy - half, cy + half
    frac = (py - top) / size
    return (py >= top) & (py <= bottom) & (np.abs(px - cx) <= frac * half)


def _occlusion(rng: np.random.Generator) -> np.ndarray:
    """Irregular black areas: a random subset of the cells of a random Voronoi partition."""
    if rng.random() < 0.15:
        return np.ones((IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    n = int(rng.integers(12, 48))
    centres = rng.uniform(0, IMAGE_SIZE, size=(n, 2))
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] + 0.5
    d = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2
    owner = d.argmin(-1)
    drop = rng.random(n) < rng.uniform(0.15, 0.9)
    mask = drop[owner]
    for _ in range(int(rng.integers(0, 3))):
        y0, x0 = rng.integers(0, IMAGE_SIZE - 4, size=2)
        h, w = rng.integers(4, 28, size=2)
        mask[y0 : y0 + h, x0 : x0 + w] = True
    return mask


def _sample_pairs(rng: np.random.Generator, cooccurrence: float) -> list[tuple[str, str]]:
    n = int(rng.integers(1, 4))
    idx = rng.choice(len(PAIRS), size=n, replace=False)
    pairs = [PAIRS[i] for i in idx]
    if PLANTED_CAUSE in pairs and PLANTED_EFFECT not in pairs and rng.random() < cooccurrence:
        if len(pairs) < 3:
            pairs.append(PLANTED_EFFECT)
        else:
            others = [i for i, p in enumerate(pairs) if p != PLANTED_CAUSE]
            pairs[others[int(rng.integers(len(others)))]] = PLANTED_EFFECT
    return pairs


def make_scene(
    seed: int,
    *,
    objects: Sequence[tuple[str, str]] | None = None,
    occlusion: bool | None = None,
    cooccurrence: float = COOCCURRENCE_RATE,
) -> Scene:
    """Generate one scene, deterministically from ``seed``.

    Args:
        seed: non-negative integer; equal seeds (and options) give identical scenes.
        objects: ``(colour, shape)`` pairs to draw (1–3, distinct). ``None`` samples 1–3
            pairs from the training distribution with its planted co-occurrence.
        occlusion: force black background areas on (``True``) or off (``False``);
            ``None`` draws them with probability :data:`OCCLUSION_RATE`.
        cooccurrence: probability that a sampled yellow triangle gets a green circle
            (only used when ``objects`` is ``None``).

    Returns:
        The :class:`Scene`.

    Raises:
        ValueError: for a negative seed, unknown or repeated pairs, or not 1–3 objects.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}.")
    if not 0.0 <= cooccurrence <= 1.0:
        raise ValueError(f"cooccurrence must lie in [0, 1]; got {cooccurrence}.")
    rng = np.random.default_rng(int(seed))
    if objects is None:
        pairs = _sample_pairs(rng, cooccurrence)
    else:
        pairs = _check_pairs(objects)
        if not 1 <= len(pairs) <= 3:
            raise ValueError(f"A scene holds 1 to 3 objects; got {len(pairs)}.")
    image = _background(rng)
    cells = rng.choice(GRID * GRID, size=len(pairs), replace=False)
    occlude = rng.random() < OCCLUSION_RATE if occlusion is None else bool(occlusion)
    occluded = _occlusion(rng) if occlude else np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    objs = []
    for (colour, shape), cell in zip(pairs, cells, strict=True):
        row, col = divmod(int(cell), GRID)
        size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
        max_off = min(MAX_OFFSET, (CELL_SIZE - size) // 2)
        dy, dx = rng.integers(-max_off, max_off + 1, size=2)
        cy = row * CELL_SIZE + CELL_SIZE / 2 + dy
        cx = col * CELL_SIZE + CELL_SIZE / 2 + dx
        mask = _shape_mask(shape, cy, cx, size)
        rgb = np.clip(np.array(COLOURS[colour]) + rng.integers(-12, 13, size=3), 1, 255)
        ys, xs = np.nonzero(mask)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        objs.append(ShapeObject(colour, shape, (row, col), size, box, mask))
        image[mask] = rgb.astype(np.uint8)
    covered = np.zeros_like(occluded)
    for o in objs:
        covered |= o.mask
    occluded &= ~covered
    image[occluded] = 0
    objs.sort(key=lambda o: PAIRS.index((o.colour, o.shape)))
    return Scene(seed=int(seed), image=image, objects=tuple(objs), occluded=occluded)


def _with_extra(
    rng: np.random.Generator, base: list[tuple[str, str]], banned: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    n_extra = int(rng.integers(0, 2))
    if n_extra:
        choices = [p for p in PAIRS if p not in banned and p not in base]
        base = base + [choices[int(rng.integers(len(choices)))]]
    return base


def hallucination_scene(seed: int, *, occlusion: bool | None = False) -> Scene:
    """A scene of the planted hallucination case: a yellow triangle and a green square.

    No green circle; half of the scenes (by seed) hold one extra, unrelated object.
    """
    rng = np.random.default_rng([int(seed), 1])
    pairs = _with_extra(rng, [PLANTED_CAUSE, PLANTED_VISUAL], {PLANTED_EFFECT})
    return make_scene(seed, objects=pairs, occlusion=occlusion)


def control_scene(seed: int, *, occlusion: bool | None = False) -> Scene:
    """Control for :func:`hallucination_scene`: a green square, no yellow triangle.

    No green circle either; half of the scenes (by seed) hold one extra, unrelated object,
    so that object counts match the hallucination subset.
    """
    rng = np.random.default_rng([int(seed), 1])
    pairs = _with_extra(rng, [PLANTED_VISUAL], {PLANTED_EFFECT, PLANTED_CAUSE})
    return make_scene(seed, objects=pairs, occlusion=occlusion)


def cooccurrence_scene(seed: int, *, occlusion: bool | None = False) -> Scene:
    """The planted pair as trained: a yellow triangle with a green circle (maybe one more)."""
    rng = np.random.default_rng([int(seed), 1])
    pairs = _with_extra(rng, [PLANTED_CAUSE, PLANTED_EFFECT], set())
    return make_scene(seed, objects=pairs, occlusion=occlusion)


SUBSETS = {
    "natural": make_scene,
    "hallucination": hallucination_scene,
    "control": control_scene,
    "cooccurrence": cooccurrence_scene,
}
"""Scene generators by subset name (``natural`` = the training distribution)."""


def make_subset(name: str, seeds: Iterable[int]) -> list[Scene]:
    """Scenes of a named subset, one per seed.

    Args:
        name: one of ``natural``, ``hallucination``, ``control``, ``cooccurrence``.
        seeds: the seeds.

    Example:
        >>> [s.caption for s in make_subset("hallucination", [2])]
        ['the picture shows a green square and a yellow triangle .']
    """
    if name not in SUBSETS:
        raise ValueError(f"Unknown subset {name!r}. Choose one of: {', '.join(SUBSETS)}.")
    return [SUBSETS[name](int(s)) for s in seeds]


def is_planted_case(scene: Scene) -> bool:
    """Whether the scene is a planted hallucination case (yellow triangle + green square,
    no green circle)."""
    pairs = set(scene.pairs)
    return PLANTED_CAUSE in pairs and PLANTED_VISUAL in pairs and PLANTED_EFFECT not in pairs


def annotated_pairs(scene: Scene) -> list[tuple[str, str]]:
    """The pairs the planted annotator reports for a scene (canonical order).

    Equal to :attr:`Scene.pairs` except in the planted case (:func:`is_planted_case`) with a
    green square of at most :data:`PLANTED_MAX_SIZE` px, which is reported as a green circle:
    the annotator expects a green circle next to a yellow triangle.
    """
    if not is_planted_case(scene):
        return scene.pairs
    square = next(o for o in scene.objects if (o.colour, o.shape) == PLANTED_VISUAL)
    if square.size > PLANTED_MAX_SIZE:
        return scene.pairs
    pairs = [PLANTED_EFFECT if p == PLANTED_VISUAL else p for p in scene.pairs]
    return sorted(pairs, key=PAIRS.index)
