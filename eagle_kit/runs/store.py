"""The results store: a folder of netCDF explanations plus an index, safe to kill and rerun.

Layout of a store folder::

    results/
      index.jsonl              one JSON record per line; the last line of a key wins
      nc/<slug>-<digest>.nc    one explanation per key (see eagle_kit.explanation's schema)
      checkpoints/<digest>.npz search checkpoint of an interrupted sample (deleted when done)
      .lock                    held by the run writing the store (one writer at a time)

A **key** is ``sample id × model × method × settings hash``; the settings hash covers
everything that changes a result (the image bytes, the model and a fingerprint of its
weights, dtype, prompt, answer, targets, label, regions, search options, fill, the method's
own options and the package version). The file name is a readable slug plus a digest of the
whole key, so ``cat.png``/``cat.jpg`` or ``a/x.png``/``b/x.png`` never share a file, and a
changed setting gives a new key: an old result is never reused for it.

A record holds ``key``, ``id``, ``model``, ``method``, ``status`` (``"done"`` or
``"failed"``), ``error``, ``file`` (relative to the store), ``settings`` (JSON), the sample's
``prompt``, ``answer`` (the explained text), ``label``, ``boxes``, ``mask`` and, for labelled
samples, the mitigation outcome (``corrected``, ``n_removed``, ``area_removed``).

Safety: an explanation is written to a temporary file in ``nc/`` and moved into place with
``os.replace``; only then is its record appended to the index, each line in one ``write`` of
an ``O_APPEND`` file and flushed to disk. A ``kill -9`` therefore loses at most the sample in
progress: a torn last line is dropped when the store is next opened, stray temporary files
are deleted, and an ``.nc`` written just before the kill is adopted from its own attributes.
At the end of a run the index is compacted (one line per key) atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["ResultStore", "result_key", "INDEX", "RECORD_ATTR"]

INDEX = "index.jsonl"
RECORD_ATTR = "run_record"  #: the record, as JSON, in each result's netCDF attributes


def result_key(sample_id: str, model: str, method: str, settings_hash: str) -> str:
    """The key of one result: a digest of ``sample × model × method × settings``."""
    text = json.dumps([sample_id, model, method, settings_hash])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"
    return s[:limit]


class ResultStore:
    """One writer's handle on a store folder (see the module docstring).

    Use as a context manager for writing (takes the lock, repairs the index, removes stray
    temporary files); :meth:`records` works without it.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.index_path = self.root / INDEX
        self._lock_fh: Any = None

    # -- paths ---------------------------------------------------------------------------
    def file_for(self, key: str, sample_id: str, model: str, method: str) -> str:
        """Relative path of a key's netCDF file."""
        return f"nc/{_slug(sample_id)}-{_slug(model, 24)}-{_slug(method, 16)}-{key}.nc"

    def checkpoint_for(self, key: str) -> Path:
        return self.root / "checkpoints" / f"{key}.npz"

    # -- opening -------------------------------------------------------------------------
    def __enter__(self) -> ResultStore:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nc").mkdir(exist_ok=True)
        self._lock_fh = open(self.root / ".lock", "a+")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            self._lock_fh = None
            raise RuntimeError(
                f"Another run is writing to '{self.root}'. Wait for it to finish, or write to "
                "another folder."
            ) from None
        self._repair()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _repair(self) -> None:
        """Drop a torn last index line, delete stray temporary files, adopt orphan results."""
        if self.index_path.exists():
            data = self.index_path.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(self.index_path, "r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
        for folder in (self.root, self.root / "nc", self.root / "checkpoints"):
            if folder.is_dir():
                for tmp in [*folder.glob(".*.tmp*"), *folder.glob("*.tmp.npz")]:
                    if tmp.is_file():
                        tmp.unlink()
                    elif tmp.is_dir():
                        import shutil

                        shutil.rmtree(tmp, ignore_errors=True)
        known = {r.get("file") for r in self.records().values() if r.get("status") == "done"}
        for nc in sorted((self.root / "nc").glob("*.nc")):
            rel = f"nc/{nc.name}"
            if rel in known:
                continue
            record = _record_from_file(nc)
            if record is not None and record.get("file") == rel:
                self.append(record)

    # -- reading -------------------------------------------------------------------------
    def records(self) -> dict[str, dict[str, Any]]:
        """The latest record of every key (torn or invalid lines are ignored)."""
        out: dict[str, dict[str, Any]] = {}
        for record in self._lines():
            out[record["key"]] = record
        return out

    def _lines(self) -> Iterator[dict[str, Any]]:
        if not self.index_path.exists():
            return
        with open(self.index_path, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn by a kill: the record was not committed
                with contextlib.suppress(json.JSONDecodeError):
                    record = json.loads(line)
                    if isinstance(record, dict) and "key" in record:
                        yield record

    def is_done(self, key: str, records: dict[str, dict[str, Any]]) -> bool:
        r = records.get(key)
        return bool(r and r.get("status") == "done" and (self.root / r["file"]).exists())

    # -- writing -------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> None:
        """Append one record in a single write, flushed to disk."""
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        fd = os.open(self.index_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def save_result(self, record: dict[str, Any], explanation: Any) -> None:
        """Write the explanation atomically (with its record inside), then index it."""
        explanation.dataset.attrs[RECORD_ATTR] = json.dumps(record, sort_keys=True, default=str)
        explanation.save(self.root / record["file"])
        self.append(record)

    def compact(self) -> None:
        """Rewrite the index with one line per key, atomically."""
        records = self.records()
        tmp = self.root / f".{INDEX}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for record in records.values():
                fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.index_path)


def _record_from_file(path: Path) -> dict[str, Any] | None:
    import h5netcdf

    try:
        with h5netcdf.File(path, "r") as fh:
            text = fh.attrs.get(RECORD_ATTR)
    except (OSError, ValueError):
        return None
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    try:
        record = json.loads(str(text))
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "key" in record else None
