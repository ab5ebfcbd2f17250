"""The execution engine seam: one `map` over tasks, run in a local process pool or on Ray.

Chosen by config (`execution.engine: local | ray` in params.yaml, or the resource's `engine`),
never by an `if` in an asset. Both engines keep one contract:

- `tasks` is pulled lazily; at most `max_in_flight` tasks are pulled and not yet yielded at any
  moment, so memory stays bounded however many tasks there are;
- results come back as `(index, result)` as tasks finish (not in order), each index exactly once;
- a task whose worker process dies (a decoder segfault, an OOM kill) becomes
  `(index, TaskCrashed(index, detail))`, alone: every other task still gets its own result;
- an exception raised by task code propagates out of `map` (operators never raise; one that does
  is a bug, not data);
- a task may run more than once (it is re-run after a crash), so task code must be idempotent.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from tessera.resources.engine_tasks import FORKSERVER, TaskCrashed, in_environment, run_alone
from tessera.resources.params import load_params

__all__ = ["ENGINES", "KINDS", "EngineResource", "TaskCrashed"]

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
RAY_ADDRESS = re.compile(r"local|auto|ray://[A-Za-z0-9.\-]+(:\d+)?")
KINDS = ("cpu", "model")
Kind = Literal["cpu", "model"]


class EngineResource(ConfigurableResource):
    """Where stage work runs: `local` (a process pool on this machine) or `ray` (a Ray cluster).

    `engine` "" → TESSERA_ENGINE → params.yaml `execution.engine` → "local".
    `ray_address` "" → TESSERA_RAY_ADDRESS → "local" (a Ray started here, bound to 127.0.0.1, for
    this process only); "auto" joins a cluster started on this machine (`ray start --head`);
    "ray://host:10001" reaches a remote one (KubeRay). An already-initialised Ray is reused.
    `workers` 0 → params.yaml `execution.decode_workers` → the CPUs this process may use.
    `max_retries`: how many more times a task whose worker died is run (Ray only; the local
    engine re-runs it once, alone).
    `start_timeout_s`: how long Ray model actors may take to start (GPU nodes scaling up).
    """

    engine: str = ""
    ray_address: str = ""
    workers: int = 0
    max_retries: int = 3
    start_timeout_s: float = 900.0

    _pool: LocalPool | None = PrivateAttr(default=None)  # kept for the run while one lasts

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """A run (in-process: the whole run; multiprocess executor: one step's process) keeps one
        local pool for all its stages: later stages start no workers, and the workers' own
        decoder forkservers stay warm. In a warm host (`keep_pools_warm`) every run shares it."""
        workers = self.resolved_workers()
        self._pool = _WARM.setdefault(workers, LocalPool(workers)) if _WARM_HOST else LocalPool(workers)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._pool is not None and not _WARM_HOST:
            self._pool.close()  # a step process that exits with live pool workers never exits
        self._pool = None

    def resolved_engine(self) -> str:
        name = (self.engine or os.environ.get("TESSERA_ENGINE") or _execution_params().get("engine") or "local").strip()
        if name not in ENGINES:
            where = (
                "EngineResource.engine"
                if self.engine
                else "TESSERA_ENGINE"
                if os.environ.get("TESSERA_ENGINE")
                else "params.yaml execution.engine"
            )
            raise ValueError(f"unknown execution engine {name!r} (from {where}); use one of: {', '.join(ENGINES)}")
        return name

    def resolved_ray_address(self) -> tuple[str, str]:
        """(address, where it came from): "local", "auto" or "ray://host:port"."""
        if self.ray_address:
            address, where = self.ray_address.strip(), "EngineResource.ray_address"
        elif os.environ.get("TESSERA_RAY_ADDRESS"):
            address, where = os.environ["TESSERA_RAY_ADDRESS"].strip(), "TESSERA_RAY_ADDRESS"
        else:
            address, where = "local", "default"
        # A bare GCS "host:port" is refused: Ray 2.60 waits on an unreachable one for minutes.
        if not RAY_ADDRESS.fullmatch(address):
            raise ValueError(f"Ray address {address!r} (from {where}) is not one of: local, auto, ray://host:port")
        return address, where

    def resolved_workers(self) -> int:
        if self.workers > 0:
            return self.workers
        configured = int(_execution_params().get("decode_workers") or 0)
        return configured if configured > 0 else len(os.sched_getaffinity(0))

    def start(self) -> str:
        """Make the engine ready (connects to or starts Ray); returns a one-line description."""
        engine, workers = self.resolved_engine(), self.resolved_workers()
        if engine == "local":
            return f"local process pool of {workers} workers"
        from tessera.resources import ray_engine

        address, where = self.resolved_ray_address()
        return ray_engine.connect(address, where, workers)

    def map(
        self,
        task_fn: Callable[[Any], Any] | type,
        tasks: Iterable[Any],
        *,
        kind: Kind = "cpu",
        num_gpus: float = 0.0,
        max_in_flight: int | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """`(index, task_fn(task))` for every task, as they finish.

        kind="cpu": `task_fn` is a picklable top-level function, run in worker processes.
        kind="model": `task_fn` is a picklable class; `task_fn()` loads heavy state once per worker
        (locally: once, in this process) and `instance(task)` does one task; on Ray each of the
        `workers` actors gets `num_gpus` GPUs."""
        if kind not in KINDS:
            raise ValueError(f"unknown task kind {kind!r} for EngineResource.map; use one of: {', '.join(KINDS)}")
        engine, workers = self.resolved_engine(), self.resolved_workers()
        bound = max_in_flight if max_in_flight is not None else 2 * workers
        if bound < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {bound}")
        if engine == "local":
            if kind == "model":
                return _map_local_model(task_fn, tasks)
            return _map_local_cpu(task_fn, tasks, self._pool or LocalPool(workers, for_one_map=True), bound)
        from tessera.resources import ray_engine  # Ray is imported only when it is the engine

        address, where = self.resolved_ray_address()
        ray_engine.connect(address, where, workers)
        if kind == "model":
            return ray_engine.map_model(
                task_fn,
                tasks,
                workers=workers,
                num_gpus=num_gpus,
                max_in_flight=bound,
                max_retries=self.max_retries,
                start_timeout_s=self.start_timeout_s,
            )
        return ray_engine.map_cpu(task_fn, tasks, max_in_flight=bound, max_retries=self.max_retries)


def _execution_params() -> dict[str, Any]:
    section = load_params().get("execution") or {}
    return section if isinstance(section, dict) else {}


# --- local engine ----------------------------------------------------------------------------


def _map_local_model(cls: Any, tasks: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    """One instance in this process: the model loads once, and a GPU is owned by one process."""
    model = cls()
    for index, task in enumerate(tasks):
        yield index, model(task)


_WARM_HOST = False
_WARM: dict[int, LocalPool] = {}  # workers → the pool every run of a warm host shares


def keep_pools_warm() -> None:
    """This process is a long-lived host running run after run (`tessera serve --watch`): runs
    share one local pool, whose workers keep their imports and decoders between runs; it closes
    when the process exits."""
    global _WARM_HOST
    if not _WARM_HOST:
        _WARM_HOST = True
        atexit.register(lambda: [pool.close() for pool in _WARM.values()])


def release_warm_pools() -> None:
    """The host stops running runs (its stream stopped): close the shared pools; later runs in this
    process keep a pool for their own length again."""
    global _WARM_HOST
    _WARM_HOST = False
    while _WARM:
        _WARM.popitem()[1].close()


class LocalPool:
    """Forkserver worker processes for `map` calls, started on first use. `for_one_map`: closed
    when that call ends (outside a Dagster run, nothing else would close it). A pool that broke
    (a worker died) or whose call ended early is closed; the next call starts a fresh one."""

    def __init__(self, workers: int, *, for_one_map: bool = False) -> None:
        self.workers, self.for_one_map = workers, for_one_map
        self._executor: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=FORKSERVER)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _map_local_cpu(fn: Callable[[Any], Any], tasks: Iterable[Any], pool: LocalPool, bound: int) -> Iterator[tuple[int, Any]]:
    if pool.workers <= 1:
        for index, task in enumerate(tasks):
            yield index, fn(task)
        return
    fn = functools.partial(in_environment, dict(os.environ), fn)  # workers see this process's environment as it is now
    source = enumerate(tasks)
    clean = False
    try:
        while True:  # a round ends when the tasks run out or a worker dies (the pool is then replaced)
            crashed: list[tuple[int, Any]] = []
            exhausted = yield from _pool_round(fn, source, pool.get(), bound, crashed)
            # A dead worker breaks the whole pool and fails every task in flight with it; only the
            # culprit should fail, so each is re-run alone, one at a time (most were innocent).
            if crashed:
                log.warning("a worker process died; re-running %d in-flight tasks one child process each", len(crashed))
                pool.close()
            for index, task in crashed:
                yield index, run_alone(fn, index, task)
            if exhausted:
                clean = True
                return
    finally:
        if pool.for_one_map or not clean:  # an error or an abandoned iteration leaves tasks running: close
            pool.close()


def _pool_round(
    fn: Callable[[Any], Any], source: Iterator[tuple[int, Any]], pool: ProcessPoolExecutor, bound: int, crashed: list[tuple[int, Any]]
) -> Iterator[tuple[int, Any]]:
    """Run tasks from `source` until the pool is idle; returns whether `source` is exhausted (a
    broken pool stops taking tasks early; its in-flight tasks land in `crashed`).
    Results are yielded before new tasks are pulled, so pulled - yielded <= bound."""
    inflight: dict[Future[Any], tuple[int, Any]] = {}
    exhausted = broken = False
    while True:
        while not (exhausted or broken) and len(inflight) + len(crashed) < bound:
            item = next(source, None)
            if item is None:
                exhausted = True
                break
            try:
                inflight[pool.submit(fn, item[1])] = item
            except BrokenProcessPool:
                crashed.append(item)
                broken = True
        if not inflight:
            return exhausted
        done, _ = wait(inflight, return_when=FIRST_COMPLETED)
        for future in done:
            index, task = inflight.pop(future)
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                crashed.append((index, task))
                broken = True
            elif error is not None:
                raise error
            else:
                yield index, future.result()
