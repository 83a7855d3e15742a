"""Composing masked images directly in a processor's output space, exactly.

Many image processors map a raw image to the model's ``pixel_values`` by a fixed
rearrangement of its pixels (crop, pad, patchify, temporal repeat) and a per-channel affine
map (rescale + normalise), with no resampling. Then processing a masked image equals taking,
element by element, the processed original where the mask keeps the source pixel and the
processed fill image elsewhere. :class:`PixelLayout` learns that rearrangement by running the
processor on a few probe images, verifies the equality on random masks, and then builds a
whole batch of masked inputs with one gather and one ``where`` on the model's device — no
processor call per masked image.

When the processor resamples (the image is not at the model's native size), the learned map
fails verification and the scorer falls back to running the processor on the composed images
(exact, slower). No border approximation is ever made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["PixelLayout"]


@dataclass
class PixelLayout:
    """Where each element of a processed tensor comes from in the raw image.

    Attributes:
        source: ``(numel,)`` long tensor: the flat raw position (``f·H·W + y·W + x``) each
            processed element reads, or ``0`` for elements that do not depend on the image.
        constant: ``(numel,)`` bool tensor: elements that do not depend on the image (padding).
        shape: shape of the processed tensor for one image.
        n_positions: number of raw positions (``[F·]H·W``).
    """

    source: object
    constant: object
    shape: tuple[int, ...]
    n_positions: int

    @classmethod
    def learn(
        cls,
        process: Callable[[np.ndarray], object],
        media_shape: tuple[int, ...],
        *,
        seed: int = 0,
        n_checks: int = 2,
    ) -> PixelLayout | None:
        """Learn the layout of ``process`` for raw inputs of ``media_shape``, or ``None``.

        Args:
            process: maps one raw ``[F×]H×W×3`` uint8 array to its processed float tensor.
            media_shape: the raw input's shape.
            seed: seed of the random verification images and masks.
            n_checks: random masks on which the composition must equal the processor.

        Returns:
            The layout, or ``None`` when the processor is not a pixel rearrangement plus a
            per-channel affine map (e.g. it resizes), so composition would not be exact.
        """
        import torch

        positions = int(np.prod(media_shape[:-1]))
        if positions >= 1 << 24:
            return None
        zero = process(np.zeros(media_shape, np.uint8)).float()
        full = process(np.full(media_shape, 255, np.uint8)).float()
        if zero.shape != full.shape:
            return None
        slope = (full - zero).flatten() / 255.0
        constant = slope.abs() < 1e-6
        safe = torch.where(constant, torch.ones_like(slope), slope)
        index = np.arange(positions, dtype=np.int64).reshape(media_shape[:-1])
        source = torch.zeros(slope.numel(), dtype=torch.long)
        n_bytes = max(1, int(np.ceil(np.log2(max(positions, 2)) / 8)))
        for k in range(n_bytes):
            byte = ((index >> (8 * k)) & 255).astype(np.uint8)
            probe = process(np.repeat(byte[..., None], media_shape[-1], axis=-1)).float()
            if probe.shape != zero.shape:
                return None
            value = (probe.flatten() - zero.flatten()) / safe
            rounded = value.round()
            if bool(((value - rounded).abs() > 1e-2)[~constant].any()):
                return None  # resampling mixed neighbouring pixels
            if bool(((rounded < 0) | (rounded > 255))[~constant].any()):
                return None
            source += rounded.long().clamp(0, 255) << (8 * k)
        source = torch.where(constant, torch.zeros_like(source), source)
        if bool((source >= positions).any()):
            return None
        layout = cls(
            source=source, constant=constant, shape=tuple(zero.shape), n_positions=positions
        )
        if not layout._verify(process, media_shape, seed=seed, n_checks=n_checks):
            return None
        return layout

    def _verify(
        self,
        process: Callable[[np.ndarray], object],
        media_shape: tuple[int, ...],
        *,
        seed: int,
        n_checks: int,
    ) -> bool:
        import torch

        rng = np.random.default_rng(seed)
        image = rng.integers(0, 256, media_shape, dtype=np.uint8)
        fill = (255 - image).astype(np.uint8)
        p_image = process(image).float()
        p_fill = process(fill).float()
        for _ in range(n_checks):
            mask = _random_blocks(rng, media_shape[:-1])
            composed = np.where(mask[..., None], image, fill)
            want = process(composed).float()
            got = self.compose(torch.from_numpy(mask.reshape(1, -1)), p_image, p_fill)
            if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-6, atol=1e-6):
                return False
        return True

    def to(self, device: object) -> PixelLayout:
        """This layout with its index tensors on ``device``."""
        return PixelLayout(
            source=self.source.to(device),
            constant=self.constant.to(device),
            shape=self.shape,
            n_positions=self.n_positions,
        )

    def compose(self, keep: object, original: object, fill: object) -> object:
        """Processed tensors of a batch of masked images, concatenated along dim 0.

        Args:
            keep: ``B×P`` bool tensor, ``True`` where the raw position keeps the original.
            original: the processed original (shape :attr:`shape`).
            fill: the processed fill image (same shape and dtype as ``original``).

        Returns:
            ``(B·shape[0], *shape[1:])`` — exactly what the processor returns for the ``B``
            masked images processed together.
        """
        import torch

        take = keep[:, self.source] | self.constant
        out = torch.where(take, original.reshape(1, -1), fill.reshape(1, -1))
        return out.reshape(keep.shape[0] * self.shape[0], *self.shape[1:])


def _random_blocks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random mask made of a few rectangles (per frame for video), never empty or full."""
    mask = np.zeros(shape, bool)
    h, w = shape[-2], shape[-1]
    for _ in range(4):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
        mask[..., y0:y1, x0:x1] = ~mask[..., y0:y1, x0:x1]
    mask |= rng.random(shape) < 0.05
    mask.flat[0], mask.flat[-1] = True, False
    return mask
