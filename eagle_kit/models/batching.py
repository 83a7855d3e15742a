"""Memory-aware batching: start from a planned batch size, halve on out-of-memory, remember."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

__all__ = ["is_out_of_memory", "AdaptiveBatcher", "plan_batch_size"]

T = TypeVar("T")


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a device (CUDA, MPS, XPU) or host out-of-memory error."""
    import torch

    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def _release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


class AdaptiveBatcher:
    """Runs work over ``n`` items in chunks of ``batch_size``, halving it on out-of-memory.

    The size that worked is kept in :attr:`batch_size` (and reported to ``on_shrink``), so the
    next call starts from it instead of failing again.

    Args:
        batch_size: the planned number of items per chunk (>= 1).
        on_shrink: called with the new size whenever the batch size is halved.
    """

    def __init__(self, batch_size: int, on_shrink: Callable[[int], None] | None = None) -> None:
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        self.batch_size = int(batch_size)
        self.on_shrink = on_shrink

    def run(self, n: int, chunk: Callable[[int, int], T]) -> list[T]:
        """Call ``chunk(start, stop)`` over ``range(n)`` and return the results in order.

        Raises:
            MemoryError: out of memory even with a batch of one.
        """
        results: list[T] = []
        start = 0
        while start < n:
            stop = min(n, start + self.batch_size)
            try:
                results.append(chunk(start, stop))
            except Exception as err:  # noqa: BLE001 - only out-of-memory is handled
                if not is_out_of_memory(err):
                    raise
                _release_memory()
                if stop - start == 1:
                    raise MemoryError(
                        "Out of memory while scoring a single masked image. Use a smaller "
                        "model, a smaller image, dtype='bfloat16'/'float16', or another device."
                    ) from err
                self.batch_size = max(1, (stop - start) // 2)
                if self.on_shrink is not None:
                    self.on_shrink(self.batch_size)
                continue
            start = stop
        return results


def plan_batch_size(
    free_bytes: int, per_sample_bytes: int, *, headroom: float = 0.7, cap: int = 256
) -> int:
    """The largest power of two of samples that fits ``headroom`` of the free memory.

    Args:
        free_bytes: free device memory.
        per_sample_bytes: memory one more sample in a batch costs (measured).
        headroom: fraction of the free memory to plan for.
        cap: the largest batch size returned.
    """
    if per_sample_bytes <= 0:
        return cap
    fits = int(headroom * free_bytes // per_sample_bytes)
    if fits < 1:
        return 1
    return min(cap, 1 << (fits.bit_length() - 1))
