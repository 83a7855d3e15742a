"""Dataset-scale runs: manifests, a results store that never goes stale, evaluation tables.

>>> import eagle_kit as ek
>>> summary = ek.runs.run("manifest.jsonl", "results", models="shapes",
...                       methods=["eagle", "occlusion"], n_regions=16)   # doctest: +SKIP
>>> ek.open_results("results")      # one row per result, with its status  # doctest: +SKIP
>>> ek.evaluate("results")          # metric × model × method, bootstrap 95 % CI  # doctest: +SKIP

Parts: :mod:`~eagle_kit.runs.manifest` (JSON-lines samples), :mod:`~eagle_kit.runs.store`
(the layout, keys and crash safety), :mod:`~eagle_kit.runs.compute` (one sample × model,
every method), :mod:`~eagle_kit.runs.backends` (``local``, ``ray``),
:mod:`~eagle_kit.runs.execute` (the run loop) and :mod:`~eagle_kit.runs.evaluate` (tables).
The ``eagle-kit run`` and ``eagle-kit explain`` commands call :func:`run`.
"""

from .compute import Outcome, Task
from .evaluate import evaluate, open_results, sample_metrics
from .execute import RunInterrupted, RunSummary, run
from .manifest import ManifestError, Sample, read_manifest, samples_from_images
from .settings import METHODS, ModelSpec, RunSettings
from .store import ResultStore, result_key

__all__ = [
    "run",
    "RunSummary",
    "RunInterrupted",
    "RunSettings",
    "read_manifest",
    "samples_from_images",
    "Sample",
    "ManifestError",
    "ResultStore",
    "result_key",
    "open_results",
    "evaluate",
    "sample_metrics",
    "METHODS",
    "ModelSpec",
    "Task",
    "Outcome",
]
