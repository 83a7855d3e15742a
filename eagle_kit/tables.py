"""Files for other programs: CSV through the ``csv`` module, JSON with plain, rounded numbers.

Every table the notebooks, reports and benchmarks write goes through these helpers, so that
pandas, R, spreadsheets and ``json.load`` in any language read them as written:

* CSV: RFC 4180 quoting by :mod:`csv` (a token ``","`` or ``'"'`` or one with a line break is
  one quoted field), UTF-8, ``\\r\\n`` line ends, a header row; missing numbers (NaN, None)
  are empty fields.
* JSON: only ``dict``/``list``/``str``/``int``/``float``/``bool``/``null``; NumPy scalars and
  arrays become plain numbers and lists; NaN and infinities become ``null`` (JSON has no NaN);
  floats are rounded to :data:`DIGITS` significant digits.

Both writes are atomic (a temporary file next to the target, renamed when complete).

Example:
    >>> import numpy as np
    >>> plain({"auc": np.float32(0.86641234), "n": np.int64(3), "amcr": float("nan")})
    {'auc': 0.866412, 'n': 3, 'amcr': None}
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DIGITS",
    "NA",
    "NA_NOTE",
    "plain",
    "write_json",
    "write_csv",
    "estimate_text",
    "latex_table",
]

#: Significant digits kept in written numbers (probabilities and AUCs to 1e-6, seconds to µs
#: for runs under a second): far below any difference the figures are read for.
DIGITS = 6

#: What text tables (LaTeX, markdown, printed) show for an undefined value (NaN), e.g. a
#: ``_sensitive`` AUC when no answer token is sensitive (p_full ≈ 0). The numbers stay NaN
#: in the data; CSV leaves the field empty, JSON writes ``null``.
NA = "n/a"

#: The footnote of a table with :data:`NA` cells.
NA_NOTE = (
    "n/a: not defined for these samples (e.g. a _sensitive AUC when no answer token is "
    "sensitive, p_full ≈ 0)."
)


def _round(x: float, digits: int) -> float | None:
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def plain(value: Any, *, digits: int = DIGITS) -> Any:
    """``value`` as plain JSON data: NumPy → Python, NaN/inf → ``None``, floats rounded.

    Args:
        value: nested dicts, lists, tuples, NumPy arrays and scalars, numbers, strings,
            booleans, ``None`` and paths.
        digits: significant digits of floats.

    Raises:
        TypeError: a value JSON cannot hold (e.g. an object), naming where it is.
    """
    return _plain(value, digits, "value")


def _plain(value: Any, digits: int, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _round(float(value), digits)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), digits, where)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, digits, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, digits, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{where} is a {type(value).__name__}, which JSON cannot hold. Convert it to numbers, "
        "strings, lists or dicts first."
    )


def _atomic_write(path: Path, text: str, newline: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, value: Any, *, digits: int = DIGITS) -> Path:
    """Write ``plain(value)`` as indented UTF-8 JSON (atomically); returns the path."""
    text = json.dumps(plain(value, digits=digits), indent=2, allow_nan=False, ensure_ascii=False)
    return _atomic_write(Path(path), text + "\n")


def write_csv(
    path: str | os.PathLike,
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    digits: int = DIGITS,
) -> Path:
    """Write rows of a table as CSV with the :mod:`csv` module (atomically); returns the path.

    Args:
        path: the ``.csv`` file.
        rows: one mapping per row; numbers are written as :func:`plain` makes them (NaN and
            ``None`` as empty fields), text as is (quoted when it holds a comma, quote or
            line break).
        columns: the header, in order (default: the keys of the first row). A row with a
            key outside it is an error.
        digits: significant digits of floats.

    Raises:
        ValueError: no columns (no rows and none given), or a row with unknown keys.
    """
    rows = list(rows)
    header = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if not header:
        raise ValueError("write_csv needs columns=[...] or at least one row to take them from.")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, extrasaction="raise", lineterminator="\r\n")
    writer.writeheader()
    for i, row in enumerate(rows):
        extra = set(row) - set(header)
        if extra:
            raise ValueError(f"row {i} has columns {sorted(extra)} not in the header {header}.")
        writer.writerow({k: _cell(row.get(k), digits) for k in header})
    return _atomic_write(Path(path), buf.getvalue(), newline="")


def _cell(value: Any, digits: int) -> Any:
    value = plain(value, digits=digits)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


_NA_NOTE_LATEX = (
    r"n/a: not defined for these samples (e.g.\ a \_sensitive AUC when no answer token is "
    r"sensitive, $p_\mathrm{full} \approx 0$)."
)


def _undefined(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(value))


def estimate_text(
    mean: float | None, low: float | None = None, high: float | None = None, *, digits: int = 3
) -> str:
    """A table cell: ``"0.812 [0.790, 0.834]"``, ``"0.812"`` without an interval (fewer than
    two samples: ``low``/``high`` NaN or None), :data:`NA` when ``mean`` is NaN or None."""
    if _undefined(mean):
        return NA
    text = f"{float(mean):.{digits}f}"
    if _undefined(low) or _undefined(high):
        return text
    return f"{text} [{float(low):.{digits}f}, {float(high):.{digits}f}]"


def latex_table(
    frame: Any, *, caption: str, label: str, digits: int = 3, column_format: str | None = None
) -> str:
    """A pandas DataFrame as a LaTeX table (``booktabs``, text escaped): NaN cells and
    cells already :data:`NA` print as ``n/a``, and the caption then ends with
    :data:`NA_NOTE` (the numbers in ``frame`` are not changed). Index is not written;
    ``frame.reset_index()`` first to keep it. ``caption`` is used as LaTeX (escape ``%``);
    ``column_format`` defaults to ``l`` for text columns and ``r`` for numbers.
    """
    shown = frame.astype(object).where(frame.notna(), NA)
    shown = shown.map(lambda v: f"{v:.{digits}f}" if isinstance(v, (float, np.floating)) else v)
    if (shown == NA).to_numpy().any():
        caption = f"{caption.rstrip().rstrip('.')}. {_NA_NOTE_LATEX}"
    if column_format is None:  # text columns left, numbers right
        from pandas.api.types import is_numeric_dtype

        column_format = "".join("r" if is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    return shown.to_latex(
        index=False,
        escape=True,
        column_format=column_format,
        caption=caption,
        label=label,
    )
