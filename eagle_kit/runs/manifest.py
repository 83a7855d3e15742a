"""Manifests: one JSON object per line describing a sample to explain.

A line holds ``id`` (str, unique), ``image`` (a path relative to the manifest's folder) or
``video`` (a list of frame paths), ``prompt`` (str), and optionally ``answer`` (str: explain
this answer instead of generating one), ``targets`` (token indices or words), ``boxes``
(``[x0, y0, x1, y1]`` or a list of them, pixels, x1/y1 exclusive), ``mask`` (path of an
image whose non-zero pixels are the object) and ``label`` (``"yes"``/``"no"``: the correct
answer of a hallucination question). Blank lines and lines starting with ``#`` are skipped.

Example line::

    {"id": "cat-1", "image": "images/cat.png", "prompt": "describe the picture .",
     "targets": ["cat"], "boxes": [[4, 8, 30, 40]], "label": "yes"}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Sample", "read_manifest", "samples_from_images", "ManifestError"]

FIELDS = ("id", "image", "video", "prompt", "answer", "targets", "boxes", "mask", "label")
LABELS = ("yes", "no")


class ManifestError(ValueError):
    """A manifest line is not valid; the message names the line, the field and the fix."""


@dataclass(frozen=True)
class Sample:
    """One sample of a run.

    Attributes:
        id: unique name of the sample (results are keyed by it).
        image: absolute path of the image (``None`` for video samples).
        prompt: the question or instruction.
        answer: explain this answer instead of generating one.
        targets: token indices or words forming the objective (``None``: the run's default).
        boxes: object boxes ``(x0, y0, x1, y1)`` for the point game (box variant).
        mask: path of the object mask for the point game (mask variant).
        label: ``"yes"``/``"no"``, the correct answer of a hallucination question.
        video: absolute paths of the frames of a video sample.
    """

    id: str
    image: str | None
    prompt: str
    answer: str | None = None
    targets: tuple[int | str, ...] | None = None
    boxes: tuple[tuple[float, float, float, float], ...] | None = None
    mask: str | None = None
    label: str | None = None
    video: tuple[str, ...] | None = field(default=None)

    def load_media(self) -> np.ndarray:
        """The image ``H×W×3`` (or frames ``F×H×W×3``) as uint8."""
        from ..images import load_frames, load_image

        if self.video is not None:
            return load_frames(list(self.video))
        return load_image(self.image)

    def media_digest(self) -> str:
        """SHA-256 of the media files' bytes: a replaced image never reuses a result."""
        h = hashlib.sha256()
        for path in self.video if self.video is not None else (self.image,):
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            h.update(b"\0")
        return h.hexdigest()

    def load_mask(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The object mask as ``H×W`` bool (non-zero pixels), or ``None``."""
        if self.mask is None:
            return None
        from PIL import Image

        with Image.open(self.mask) as img:
            arr = np.asarray(img)
        if arr.ndim == 3:
            arr = arr[..., :3].max(axis=-1) if arr.shape[-1] >= 3 else arr[..., 0]
        who = f"sample '{self.id}': " if self.id else ""
        if arr.ndim != 2 or arr.shape != tuple(shape):
            raise ValueError(
                f"{who}mask '{self.mask}' is {arr.shape[1]}×{arr.shape[0]} but the "
                f"image is {shape[1]}×{shape[0]}; give a mask of the image's size."
            )
        if not arr.any():
            raise ValueError(
                f"{who}mask '{self.mask}' has no non-zero pixel; the object's pixels must be "
                "non-zero."
            )
        return arr != 0

    def annotations(self) -> dict[str, Any]:
        """The ground truth that metrics read (not part of the result's key)."""
        return {
            "boxes": [list(b) for b in self.boxes] if self.boxes is not None else None,
            "mask": self.mask,
        }


def _fail(where: str, name: str, expected: str, got: Any) -> ManifestError:
    return ManifestError(f"{where}: field '{name}' must be {expected}; got {got!r}.")


def _resolve(base: Path, where: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, name, "a path (a non-empty string, relative to the manifest)", value)
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path))


def _targets(where: str, value: Any) -> tuple[int | str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
    if not isinstance(items, list) or not items:
        raise _fail(where, "targets", "a token index, a word, or a non-empty list of them", value)
    for t in items:
        if isinstance(t, bool) or not isinstance(t, (int, str)) or (isinstance(t, str) and not t):
            raise _fail(where, "targets", "token indices (int) or words (str)", value)
    return tuple(items)


def _boxes(where: str, value: Any) -> tuple[tuple[float, float, float, float], ...] | None:
    if value is None:
        return None
    expected = "[x0, y0, x1, y1] or a list of such boxes (pixels, x1 > x0, y1 > y0)"
    if not isinstance(value, list) or not value:
        raise _fail(where, "boxes", expected, value)
    items = [value] if not isinstance(value[0], list) else value
    out = []
    for b in items:
        if (
            not isinstance(b, list)
            or len(b) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
            or not (b[2] > b[0] and b[3] > b[1])
        ):
            raise _fail(where, "boxes", expected, value)
        out.append(tuple(float(v) for v in b))
    return tuple(out)


def _image_size(path: str | None) -> tuple[int, int] | None:
    """``(width, height)`` of an image from its header, or ``None`` when it cannot be read."""
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError):
        return None


def _check_ground_truth(sample: Sample, where: str) -> None:
    """Boxes inside the image; the mask readable, of the image's size and not empty.

    Checked only when the image can be read (a missing image fails its sample in the run).
    """
    size = _image_size(sample.image)
    if size is None:
        return
    w, h = size
    for b in sample.boxes or ():
        x0, y0, x1, y1 = b
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise _fail(
                where,
                "boxes",
                f"inside the {w}×{h} image (0 ≤ x0 < x1 ≤ {w}, 0 ≤ y0 < y1 ≤ {h}, pixels)",
                list(b),
            )
    if sample.mask is None:
        return
    if not Path(sample.mask).is_file():
        raise _fail(where, "mask", "the path of an existing image file", sample.mask)
    try:
        sample.load_mask((h, w))
    except OSError as err:
        raise _fail(where, "mask", f"a readable image ({err})", sample.mask) from None
    except ValueError as err:
        raise ManifestError(f"{where}: field 'mask': {err}") from None


def parse_line(obj: Any, base: Path, where: str) -> Sample:
    """Validate one manifest object and return its :class:`Sample`."""
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: expected a JSON object {{...}}; got {type(obj).__name__}.")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise ManifestError(
            f"{where}: unknown field(s) {', '.join(unknown)}. Known fields: {', '.join(FIELDS)}."
        )
    sid = obj.get("id")
    if isinstance(sid, bool) or not isinstance(sid, (str, int)) or sid == "":
        raise _fail(where, "id", "a non-empty string", sid)
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _fail(where, "prompt", "a non-empty string", prompt)
    image, video = obj.get("image"), obj.get("video")
    if (image is None) == (video is None):
        raise ManifestError(
            f"{where}: give exactly one of 'image' (a path) or 'video' (a list of frame paths)."
        )
    frames = None
    if video is not None:
        if not isinstance(video, list) or not video:
            raise _fail(where, "video", "a non-empty list of frame paths", video)
        frames = tuple(_resolve(base, where, "video", v) for v in video)
    answer = obj.get("answer")
    if answer is not None and (not isinstance(answer, str) or not answer.strip()):
        raise _fail(where, "answer", "a non-empty string", answer)
    label = obj.get("label")
    if label is not None:
        if not isinstance(label, str) or label.strip().lower() not in LABELS:
            raise _fail(where, "label", '"yes" or "no"', label)
        label = label.strip().lower()
    sample = Sample(
        id=str(sid),
        image=_resolve(base, where, "image", image) if image is not None else None,
        prompt=prompt,
        answer=answer,
        targets=_targets(where, obj.get("targets")),
        boxes=_boxes(where, obj.get("boxes")),
        mask=_resolve(base, where, "mask", obj["mask"]) if obj.get("mask") is not None else None,
        label=label,
        video=frames,
    )
    _check_ground_truth(sample, where)
    return sample


def read_manifest(path: str | os.PathLike) -> list[Sample]:
    """Read and validate a JSON-lines manifest (see the module docstring).

    Paths in the manifest are relative to its folder. Images are not decoded here: a missing
    or unreadable image fails its sample during the run, not the whole run. When a line's
    image can be read, its ground truth is checked now: ``boxes`` inside the image, ``mask``
    an existing image file of the image's size with at least one non-zero pixel.

    Raises:
        FileNotFoundError: no manifest at ``path``.
        ManifestError: (a ``ValueError``) a line that is not valid JSON, a missing or
            mistyped field, an unknown field, a duplicate id, or bad ground truth (box outside
            the image; mask missing, of another size or empty) — with the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No manifest at '{path}'. A manifest is a .jsonl file.")
    base = path.resolve().parent
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{path.name} line {number}"
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise ManifestError(
                    f"{where}: not valid JSON ({err.msg} at column {err.colno}). Each line must "
                    'be one JSON object, e.g. {"id": "a", "image": "a.png", "prompt": "..."}.'
                ) from None
            sample = parse_line(obj, base, where)
            if sample.id in seen:
                raise ManifestError(
                    f"{where}: duplicate id '{sample.id}' (first on line {seen[sample.id]}); "
                    "ids must be unique."
                )
            seen[sample.id] = number
            samples.append(sample)
    if not samples:
        raise ManifestError(f"{path.name}: the manifest has no samples.")
    return samples


def samples_from_images(
    paths: Sequence[tuple[str, Path]],
    *,
    prompt: str,
    answer: str | None = None,
    targets: Sequence[int | str] | None = None,
) -> list[Sample]:
    """Samples for ``eagle-kit explain``: ``(id, path)`` pairs sharing one prompt."""
    ids = [sid for sid, _ in paths]
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        raise ValueError(f"Images with the same name were given twice: {', '.join(dup)}.")
    return [
        Sample(
            id=sid,
            image=str(Path(p).resolve()),
            prompt=prompt,
            answer=answer,
            targets=tuple(targets) if targets is not None else None,
        )
        for sid, p in paths
    ]
