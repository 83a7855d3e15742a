"""CPU threads for scoring: one intra-op thread for small models, unless you choose.

A tiny vision-language model on CPU runs many small operations per forward pass; with
torch's default intra-op threading, every one of them wakes and synchronises all threads.
On a machine whose cores are busy with other work this made an exact search 6–16× slower
than with one thread (``benchmarks/bench_threads.py``), and on an idle machine two threads
gained little. So, for a model below :data:`SMALL_MODEL_PARAMETERS` parameters on the CPU,
:func:`eagle_kit.explain` scores with **one** thread, restores the previous setting when it
returns, and says so once per process — unless you chose:

* ``ek.explain(..., threads=N)`` (CLI: ``--threads N``) for one call;
* ``ek.set_threads(N)`` for the process (it calls ``torch.set_num_threads(N)``);
* ``torch.set_num_threads(N)`` yourself, or ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` in the
  environment: eagle_kit then leaves threading alone.

Larger models (and any model on a GPU) keep torch's threading.

Thread counts above ``os.cpu_count() * 4`` are refused with a ``ValueError`` (not clamped),
wherever they are given: ``threads=``, ``set_threads`` and ``--threads``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "set_threads",
    "scoring_threads",
    "check_threads",
    "ThreadsNotice",
    "SMALL_MODEL_PARAMETERS",
]

#: Models with at most this many parameters count as small (scored with one CPU thread).
SMALL_MODEL_PARAMETERS = 50_000_000

_state: dict[str, Any] = {"user": None, "initial": None, "told": False}


class ThreadsNotice(UserWarning):
    """eagle_kit chose the number of CPU threads for scoring (said once per process)."""


def _torch() -> Any:
    import torch

    if _state["initial"] is None:
        _state["initial"] = torch.get_num_threads()
    return torch


def max_threads() -> int:
    """The largest thread count accepted: ``os.cpu_count() * 4`` (4 if unknown)."""
    return max(1, os.cpu_count() or 1) * 4


def check_threads(threads: Any) -> int:
    """``threads`` as an int in ``1 .. os.cpu_count() * 4``, or a ValueError saying what is
    expected.

    Values above ``os.cpu_count() * 4`` are refused, not clamped: more threads than that
    never speed up scoring, and a huge count (``10**6``) makes torch fail later with a
    ``MemoryError`` far from its cause. A refusal keeps the run as the user asked or not at all.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int (e.g. threads=1); got {threads!r}.")
    limit = max_threads()
    if threads > limit:
        raise ValueError(
            f"threads={threads} is more than 4× the {limit // 4} CPU cores of this machine "
            f"(os.cpu_count()); choose 1..{limit}, e.g. threads={limit // 4}."
        )
    return int(threads)


def set_threads(threads: int | None) -> None:
    """Set the CPU threads torch uses for the rest of the process, and keep eagle_kit from
    choosing for you (``None``: let it choose again for small models).

    Args:
        threads: intra-op threads (``torch.set_num_threads``), ``>= 1``; or ``None``.

    Raises:
        ValueError: ``threads`` is not a positive int, or above ``os.cpu_count() * 4``.

    Example:
        >>> import eagle_kit as ek
        >>> ek.set_threads(2)  # doctest: +SKIP
    """
    if threads is None:
        _state["user"] = None
        return
    n = check_threads(threads)
    torch = _torch()
    torch.set_num_threads(n)
    _state["user"] = n
    _state["initial"] = n


def _parameters(scorer: Any) -> int | None:
    """Parameter count of a model scorer on the CPU, or ``None`` (not a local CPU model)."""
    model = getattr(scorer, "model", None)
    device = getattr(scorer, "device", None)
    if model is None or not hasattr(model, "parameters") or getattr(device, "type", "") != "cpu":
        return None
    return int(sum(p.numel() for p in model.parameters()))


def _user_chose(torch: Any) -> bool:
    if _state["user"] is not None:
        return True
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return True
    return torch.get_num_threads() != _state["initial"]


@contextmanager
def scoring_threads(scorer: Any, threads: int | None = None) -> Iterator[int | None]:
    """Run the block with the CPU threads chosen for ``scorer``; restore them afterwards.

    Args:
        scorer: what :func:`eagle_kit.explain` was given.
        threads: an explicit choice (``>= 1``), or ``None`` for the rule above.

    Yields:
        The number of intra-op threads used, or ``None`` when threading was left alone.
    """
    if threads is not None:
        threads = check_threads(threads)
    elif _parameters(scorer) is None:
        yield None
        return
    torch = _torch()
    if threads is None:
        n_params = _parameters(scorer) or 0
        if n_params > SMALL_MODEL_PARAMETERS or _user_chose(torch):
            yield None
            return
        threads = 1
        if not _state["told"] and torch.get_num_threads() > 1:
            _state["told"] = True
            warnings.warn(
                f"eagle_kit scores this small CPU model ({n_params / 1e6:.1f} M parameters) with "
                "1 thread: on a busy CPU torch's default threading ran exact searches 6–16× "
                "slower. Choose with explain(..., threads=N), ek.set_threads(N) or --threads N.",
                ThreadsNotice,
                stacklevel=4,
            )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
