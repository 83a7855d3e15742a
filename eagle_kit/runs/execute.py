"""``run``: samples × models × methods into a results store, resumable and kill-safe."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .compute import Outcome, Task
from .manifest import Sample, read_manifest
from .settings import RunSettings, as_model_specs, check_methods, settings_hash
from .store import ResultStore, result_key

__all__ = ["run", "RunSummary", "RunInterrupted"]


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT) or SIGTERM; finished results are in the store.

    Attributes:
        signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
        summary: the :class:`RunSummary` up to the stop.
    """

    def __init__(self, message: str, signum: int, summary: RunSummary):
        super().__init__(message)
        self.signum = signum
        self.summary = summary

    @property
    def exit_code(self) -> int:
        """``128 + signal``: 130 after Ctrl-C, 143 after SIGTERM (the shell's convention)."""
        return 128 + int(self.signum)


@dataclass
class RunSummary:
    """What a run did. ``exit_code`` is 0 when every result is done, else 1.

    Attributes:
        done: ``(id, model, method)`` computed by this run.
        skipped: already done by an earlier run with the same settings.
        failed: ``(id, model, method, error)`` of this run, and failed earlier but not
            retried (``--retry-failed`` reruns those).
        keys: the store keys of every result this run covers, in order.
    """

    out: Path
    done: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def __str__(self) -> str:
        lines = [
            f"{len(self.done)} done, {len(self.skipped)} skipped (already done), "
            f"{len(self.failed)} failed — results in {self.out}"
        ]
        for sid, model, method, err in self.failed:
            lines.append(f"  failed: {sid} [{model}, {method}]: {err}")
        if self.failed:
            lines.append("  rerun the same command with --retry-failed to retry the failed ones.")
        return "\n".join(lines)


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[list[int]]:
    """For the duration: SIGTERM raises KeyboardInterrupt like Ctrl-C; the signal is noted."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run(
    manifest: str | os.PathLike | Sequence[Sample],
    out: str | os.PathLike,
    *,
    models: Any,
    methods: Sequence[str] = ("eagle",),
    settings: RunSettings | None = None,
    retry_failed: bool = False,
    overwrite: bool = False,
    backend: str = "local",
    progress: bool = True,
    num_workers: int | None = None,
    num_gpus: float = 0,
    address: str | None = None,
    **options: Any,
) -> RunSummary:
    """Explain every sample with every model and method into the results store ``out``.

    Results already in the store for the same key (sample × model × method × settings hash,
    see :mod:`eagle_kit.runs.store`) are skipped; failed ones too unless ``retry_failed``.
    A sample that fails is recorded with its error and the run goes on. Ctrl-C or SIGTERM
    stops cleanly (the search checkpoint of the sample in progress is saved) and raises
    :class:`RunInterrupted`; the same call resumes.

    Args:
        manifest: a JSON-lines manifest path (:func:`eagle_kit.runs.read_manifest`) or samples.
        out: the store folder.
        models: a name (``"shapes"``, a hub id, a folder), a list of names, or
            ``{name: model or callable scorer}``.
        methods: any of ``eagle``, ``occlusion``, ``rise``, ``random``, ``shapley``,
            ``kernel_shap``, ``lime`` (:data:`eagle_kit.runs.METHODS`), on the same regions;
            ``llava_cam`` and ``tam`` (Hugging Face models only: a black-box scorer or a
            family without a known vision grid fails those samples with the reason) score
            pixel maps on ``saliency_steps`` rank bins.
        settings: a :class:`RunSettings`; or give its fields as keyword options
            (``n_regions=8, search="exact"`` …).
        retry_failed: rerun results recorded as failed.
        overwrite: recompute results already done.
        backend: ``"local"`` or ``"ray"`` (``num_workers``, ``num_gpus``, ``address``).
        progress: show a progress bar.

    Returns:
        A :class:`RunSummary` (``exit_code`` 1 when anything failed).

    Example:
        >>> summary = ek.runs.run("manifest.jsonl", "results", models="shapes",
        ...                       methods=["eagle", "random"], n_regions=16)  # doctest: +SKIP
    """
    if settings is None:
        settings = RunSettings(**options)
    elif options:
        raise TypeError("Give either settings=RunSettings(...) or keyword options, not both.")
    from .. import __version__

    samples = read_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else manifest
    samples = list(samples)
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ValueError("Sample ids must be unique.")
    methods = check_methods(methods)
    settings.check_text_methods(methods)
    specs = as_model_specs(models)
    out = Path(out)
    summary = RunSummary(out=out)
    with ResultStore(out) as store, _signals_as_interrupts() as received:
        records = store.records()
        seq = [time.time_ns()]

        def write(record: dict[str, Any], dataset: Any = None) -> None:
            seq[0] = max(seq[0] + 1, time.time_ns())
            record["seq"] = seq[0]
            if dataset is None:
                store.append(record)
            else:
                from ..explanation import Explanation

                dataset.attrs["sample_id"] = record["id"]
                dataset.attrs["image_source"] = record["id"]
                dataset.attrs["run_key"] = record["key"]
                store.save_result(record, Explanation(dataset))
                # the search checkpoint goes only now that the result file is complete
                store.checkpoint_for(record["key"]).unlink(missing_ok=True)
            records[record["key"]] = record

        # plan: the key of every result, what is left to do
        tasks: list[Task] = []
        base: dict[str, dict[str, Any]] = {}
        for spec in specs:
            for sample in samples:
                try:
                    digest = sample.media_digest()
                    media_error = ""
                except OSError as err:
                    digest = "unreadable"
                    media_error = f"{type(err).__name__}: {err}"
                todo: list[tuple[str, str, str | None]] = []
                for method in methods:
                    method_settings = settings.for_method(method)
                    parts = {
                        "eagle_kit": __version__,
                        "model": spec.name,
                        "model_fingerprint": spec.fingerprint,
                        "media": digest,
                        "prompt": sample.prompt,
                        "answer": sample.answer,
                        "targets": list(sample.targets or settings.targets or []) or None,
                        "label": sample.label,
                        "method": method,
                        "settings": method_settings,
                    }
                    h = settings_hash(parts)
                    key = result_key(sample.id, spec.name, method, h)
                    summary.keys.append(key)
                    rec = {
                        "key": key,
                        "id": sample.id,
                        "model": spec.name,
                        "method": method,
                        "settings_hash": h,
                        "settings": parts,
                        "image": sample.image or "",
                        "video": list(sample.video) if sample.video else None,
                        "prompt": sample.prompt,
                        "label": sample.label,
                        "targets": parts["targets"],
                        **sample.annotations(),
                        "file": store.file_for(key, sample.id, spec.name, method),
                        "eagle_kit_version": __version__,
                    }
                    base[key] = rec
                    old = records.get(key)
                    triple = (sample.id, spec.name, method)
                    if not overwrite and store.is_done(key, records):
                        summary.skipped.append(triple)
                        # marked current (newest seq) with today's annotations: boxes and
                        # masks are read by the metrics, not part of the key
                        write({**old, "boxes": rec["boxes"], "mask": rec["mask"]})
                        continue
                    failed_before = old is not None and old.get("status") == "failed"
                    if failed_before and not (retry_failed or overwrite):
                        summary.failed.append((*triple, str(old.get("error", ""))))
                        write(dict(old))
                        continue
                    if media_error:
                        err = f"cannot read the image: {media_error}"
                        write({**rec, "status": "failed", "error": err, "created": _now()})
                        summary.failed.append((*triple, err))
                        continue
                    ckpt = str(store.checkpoint_for(key)) if backend == "local" else None
                    if ckpt is not None:
                        Path(ckpt).parent.mkdir(exist_ok=True)
                    todo.append((method, key, ckpt))
                if todo:
                    tasks.append(Task(sample, spec.name, todo))
        n_total = sum(len(t.methods) for t in tasks)
        if summary.skipped:
            print(
                f"resuming: {len(summary.skipped)} of {len(summary.keys)} results already done "
                f"in {out} (same sample, model, method and settings)",
                file=sys.stderr,
            )
        bar = None
        if progress and n_total:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_total, desc="results", unit="result")
        runner = None
        try:
            if tasks:
                from .backends import make_backend

                extra: dict[str, Any] = {"progress": progress}
                if backend == "ray":
                    extra = {"num_workers": num_workers, "num_gpus": num_gpus, "address": address}
                runner = make_backend(backend, specs, settings, **extra)
                for task, outcome in runner.run(tasks):
                    _record(write, base[outcome.key], task, outcome, summary)
                    if bar is not None:
                        bar.update(1)
        except KeyboardInterrupt as err:
            signum = received[-1] if received else signal.SIGINT
            name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
            store.compact()
            raise RunInterrupted(
                f"{name}: stopped after {len(summary.done)} new results; finished results are "
                f"saved in {out} (and the search checkpoint of the one in progress). Run the same "
                "command again to resume.",
                signum,
                summary,
            ) from err
        finally:
            if bar is not None:
                bar.close()
            if runner is not None:
                runner.close()
        store.compact()
    return summary


def _record(write: Any, base: dict[str, Any], task: Task, outcome: Outcome, summary: RunSummary):
    record = {**base, "status": outcome.status, "error": outcome.error, "created": _now()}
    record.update(outcome.info)
    triple = (task.sample.id, task.model, outcome.method)
    if outcome.status == "done":
        write(record, outcome.dataset)
        summary.done.append(triple)
    else:
        write(record)
        summary.failed.append((*triple, outcome.error))
