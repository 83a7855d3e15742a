"""The error raised for a value the user gave that does not fit the input.

:class:`InputError` is a ``ValueError`` (code that catches ``ValueError`` keeps working); its
own class lets callers tell bad input from a failure — ``eagle-kit report`` exits with 2
(bad input) rather than 1 when a notebook cell raises it, e.g. for a target the answer does
not contain or an option combination that cannot work.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """A value given by the user does not fit: an option combination, a target, a baseline.

    The message says what was expected and how to fix it."""
