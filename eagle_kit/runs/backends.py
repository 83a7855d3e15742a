"""Where tasks are computed: ``local`` (this process) or ``ray`` (an actor pool).

A backend has one method, ``run(tasks) -> iterator of (task, outcome)``; outcomes come back
to the driver, which alone writes the store. Both backends call
:func:`eagle_kit.runs.compute.compute`, so they give the same results.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .compute import Outcome, Task, compute
from .settings import ModelSpec, RunSettings

__all__ = ["LocalBackend", "RayBackend", "BACKENDS", "make_backend"]

BACKENDS = ("local", "ray")


def _set_threads(threads: int | None) -> None:
    if threads:
        from ..threads import set_threads

        set_threads(int(threads))  # torch.set_num_threads, and eagle_kit no longer chooses


def _load_error(spec: ModelSpec, err: Exception) -> str:
    return f"could not load model '{spec.name}': {type(err).__name__}: {err}"


class LocalBackend:
    """Computes tasks one after another in this process, one model in memory at a time."""

    def __init__(self, specs: list[ModelSpec], settings: RunSettings, *, progress: bool = False):
        self.specs = {s.name: s for s in specs}
        self.settings = settings
        self.progress = progress
        self._loaded: tuple[str, Any] | None = None

    def _scorer(self, name: str) -> Any:
        if self._loaded is None or self._loaded[0] != name:
            self._loaded = None  # release the previous model first
            try:
                self._loaded = (name, self.specs[name].load(self.settings))
            except Exception as err:  # noqa: BLE001 - recorded for each of its samples
                self._loaded = (name, err)
        return self._loaded[1]

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, Outcome]]:
        _set_threads(self.settings.threads)
        for task in tasks:
            scorer = self._scorer(task.model)
            if isinstance(scorer, Exception):
                for method, key, _ in task.methods:
                    msg = _load_error(self.specs[task.model], scorer)
                    yield task, Outcome(key, method, "failed", msg)
                continue
            for outcome in compute(scorer, task, self.settings, progress=self.progress):
                yield task, outcome

    def close(self) -> None:
        self._loaded = None


class RayBackend:
    """Tasks on a Ray actor pool: one model replica per actor, results back to the driver.

    Workers may be on other machines, so no search checkpoint is written: a sample
    interrupted on Ray is computed afresh by the next run.

    Args:
        num_workers: actors per model (default: as many as the cluster's CPUs, or GPUs
            divided by ``num_gpus``, allow; at least 1).
        num_gpus: GPUs per actor (0 on CPU-only clusters).
        address: join an existing cluster (``"auto"``, ``"ray://host:10001"`` …); ``None``
            starts a local one.
    """

    def __init__(
        self,
        specs: list[ModelSpec],
        settings: RunSettings,
        *,
        num_workers: int | None = None,
        num_gpus: float = 0,
        address: str | None = None,
    ):
        try:
            import ray
        except ImportError as err:
            raise ImportError(
                "--backend ray needs Ray: pip install 'eagle-kit[ray]' (or pip install ray)."
            ) from err
        self.ray = ray
        self._started = False
        if not ray.is_initialized():
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started = True
        self.specs = specs
        self.settings = settings
        self.num_gpus = float(num_gpus)
        if num_workers is None:
            res = ray.cluster_resources()
            if self.num_gpus > 0:
                num_workers = int(res.get("GPU", 0) // self.num_gpus)
            else:
                num_workers = int(res.get("CPU", 1))
        self.num_workers = max(1, int(num_workers))
        self._actors: dict[str, list[Any]] = {}

    def _actor_class(self) -> Any:
        ray = self.ray

        @ray.remote
        class _Worker:
            def __init__(self, spec: ModelSpec, settings: RunSettings) -> None:
                _set_threads(settings.threads)
                self.settings = settings
                self.spec = spec
                try:
                    self.scorer: Any = spec.load(settings)
                except Exception as err:  # noqa: BLE001 - reported per task
                    self.scorer = err

            def compute(self, task: Task) -> list[Outcome]:
                if isinstance(self.scorer, Exception):
                    msg = _load_error(self.spec, self.scorer)
                    return [Outcome(k, m, "failed", msg) for m, k, _ in task.methods]
                return list(compute(self.scorer, task, self.settings))

        return _Worker

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, Outcome]]:
        ray = self.ray
        worker_cls = self._actor_class().options(num_gpus=self.num_gpus, num_cpus=1)
        by_model: dict[str, list[Task]] = {}
        for task in tasks:
            by_model.setdefault(task.model, []).append(task)
        specs = {s.name: s for s in self.specs}
        for model, queue in by_model.items():
            n = min(self.num_workers, len(queue))
            actors = [worker_cls.remote(specs[model], self.settings) for _ in range(n)]
            self._actors[model] = actors
            pending: dict[Any, tuple[Task, Any]] = {}
            todo = list(queue)
            idle = list(actors)
            try:
                while todo or pending:
                    while todo and idle:
                        actor = idle.pop()
                        task = todo.pop(0)
                        pending[actor.compute.remote(task)] = (task, actor)
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    task, actor = pending.pop(ready[0])
                    idle.append(actor)
                    for outcome in ray.get(ready[0]):
                        yield task, outcome
            finally:
                for ref in pending:
                    ray.cancel(ref, force=True)
                for actor in actors:
                    ray.kill(actor)
                self._actors.pop(model, None)

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False


def make_backend(name: str, specs: list[ModelSpec], settings: RunSettings, **options: Any) -> Any:
    if name == "local":
        return LocalBackend(specs, settings, **options)
    if name == "ray":
        return RayBackend(specs, settings, **options)
    raise ValueError(f"Unknown backend '{name}'. Choose one of: {', '.join(BACKENDS)}.")
