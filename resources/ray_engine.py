"""The Ray engine behind EngineResource.map; imported only when `engine` is "ray".

Why plain Ray tasks and actors rather than Ray Data `map_batches`: a Dataset is built from a
materialised source (`from_items` holds every task), while here tasks come from a lazy generator
of unknown length; a driver loop over `ray.wait` submits at most `max_in_flight` tasks at once,
yields each result as it lands, and keeps the mapping task → index for per-task crash reports.
Ray tasks with `max_retries` are re-run by Ray itself when their worker process dies (and, with
`retry_exceptions=False`, never when task code raises), which is the retry we want for decoding.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.resources.engine_tasks import ModelHost, TaskCrashed, call

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent


def connect(address: str, where: str, workers: int) -> str:
    """Join (or, for "local", start) Ray once per process; a Ray already initialised is reused."""
    if address == "local":
        _loopback_only()
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address, "ignore_reinit_error": True}
        if address == "local":
            kwargs.update(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1")
        if not address.startswith("ray://"):
            # Same machine: workers import this repository (and the driver's project paths, such as
            # a test directory) as the driver does. A remote cluster runs the project's image instead.
            kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": _driver_pythonpath()}}
        try:
            ray.init(**kwargs)
        except Exception as exc:  # every failure here means the same thing: no Ray to run on
            raise ConnectionError(
                f"cannot reach Ray at {address!r} (from {where}): {_one_line(exc)}; "
                "start the cluster or fix the address, or set execution.engine: local"
            ) from None
    resources = ray.cluster_resources()
    return f"ray at {address} ({int(resources.get('CPU', 0))} CPUs, {int(resources.get('GPU', 0))} GPUs)"


def _loopback_only() -> None:
    """A Ray started here listens on 127.0.0.1 only.

    Ray 2.60 rewrites `_node_ip_address="127.0.0.1"` to the host's address
    (services.resolve_ip_for_localhost) and its servers then listen on every interface. With
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (read when `ray` is imported; inherited by the raylet and
    its workers) the node address stays 127.0.0.1, and every server binds it."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:  # imported earlier in this process: its constant was already read
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def _driver_pythonpath() -> str:
    inside = [p for p in sys.path if p and Path(p).is_dir() and Path(p).resolve().is_relative_to(REPO_ROOT)]
    paths = [str(REPO_ROOT), *inside, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return os.pathsep.join(dict.fromkeys(paths))


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:300]


# --- kind="cpu": Ray tasks ---------------------------------------------------------------------


def map_cpu(fn: Callable[[Any], Any], tasks: Iterable[Any], *, max_in_flight: int, max_retries: int) -> Iterator[tuple[int, Any]]:
    import ray
    from ray.exceptions import NodeDiedError, OutOfMemoryError, RayTaskError, WorkerCrashedError

    remote = ray.remote(call).options(num_cpus=1, max_retries=max_retries, retry_exceptions=False)
    fn_ref = ray.put(fn)  # serialised once, not with every task
    source = enumerate(tasks)
    inflight: dict[Any, int] = {}  # ObjectRef -> task index; len <= max_in_flight
    exhausted = False
    try:
        while True:
            while not exhausted and len(inflight) < max_in_flight:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                inflight[remote.remote(fn_ref, item[1])] = item[0]
            if not inflight:
                return
            done, _ = ray.wait(list(inflight), num_returns=1)
            for ref in done:  # results are yielded before new tasks are pulled
                index = inflight.pop(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError:
                    raise  # task code raised: a bug, not data
                except (WorkerCrashedError, OutOfMemoryError, NodeDiedError) as exc:  # its worker died on every attempt
                    result = TaskCrashed(index, f"worker died running task {index}, {max_retries} retries: {_one_line(exc)}")
                yield index, result
    finally:
        for ref in inflight:
            ray.cancel(ref)


# --- kind="model": one actor per worker, each loading the model once ------------------------------


@dataclass(eq=False)
class _Actor:
    handle: Any
    ready: bool = False
    dead: bool = False
    solo: bool = False  # running a task that must run alone
    running: set[Any] = field(default_factory=set)  # refs of tasks sent to it


@dataclass(slots=True)
class _Pending:
    index: int
    task: Any
    deaths: int = 0  # how many times its actor died while it ran alone there


def map_model(
    cls: type,
    tasks: Iterable[Any],
    *,
    workers: int,
    num_gpus: float,
    max_in_flight: int,
    max_retries: int,
    start_timeout_s: float,
) -> Iterator[tuple[int, Any]]:
    """Tasks spread over `workers` actors, at most `max_in_flight` at once.

    An actor that dies fails every task queued on it, whether it ran or not. The actor is replaced
    by a new one, and those tasks are re-run each alone on an idle actor, so an innocent task is
    never blamed for its neighbour. A task that killed its actor while alone `max(1, max_retries)`
    times becomes TaskCrashed: at most `max_retries + 1` runs in all, as for Ray tasks. Actors
    live only for the call (GPU memory is given back at the end)."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    gpus = float(ray.cluster_resources().get("GPU", 0.0))
    if num_gpus > 0 and gpus < num_gpus:  # CPU where there is none: asking for a GPU would wait forever
        log.warning("the Ray cluster has %g GPUs; %s actors run on CPU", gpus, cls.__qualname__)
        num_gpus = 0.0
    host = ray.remote(ModelHost).options(num_cpus=1, num_gpus=num_gpus, max_restarts=0, max_task_retries=0)
    depth = max(1, max_in_flight // workers)  # tasks queued per actor: keeps each busy between results
    actors: list[_Actor] = []
    starting: dict[Any, _Actor] = {}  # ready() ref -> actor
    owner: dict[Any, tuple[_Actor, _Pending]] = {}  # task ref -> (actor, task)
    alone: deque[_Pending] = deque()  # tasks to re-run each alone
    start_failures = 0

    def spawn() -> None:
        actor = _Actor(host.remote(cls))
        actors.append(actor)
        starting[actor.handle.ready.remote()] = actor

    def retire(actor: _Actor) -> None:
        if not actor.dead:
            actor.dead = True
            actors.remove(actor)
            ray.kill(actor.handle, no_restart=True)
            spawn()

    def submit(actor: _Actor, pending: _Pending, solo: bool) -> None:
        ref = actor.handle.run.remote(pending.task)
        actor.running.add(ref)
        actor.solo = solo
        owner[ref] = (actor, pending)

    for _ in range(workers):
        spawn()
    source = enumerate(tasks)
    exhausted = False
    try:
        while True:
            live = [a for a in actors if a.ready]
            # Re-runs first, each on an idle actor; new tasks wait until they are done, so that
            # busy actors drain and become idle.
            for actor in live:
                if alone and not actor.running:
                    submit(actor, alone.popleft(), solo=True)
            while not alone and not exhausted and len(owner) < max_in_flight:
                free = [a for a in live if not a.solo and len(a.running) < depth]
                if not free:
                    break
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                submit(min(free, key=lambda a: len(a.running)), _Pending(*item), solo=False)
            if exhausted and not owner and not alone:
                return
            done, _ = ray.wait([*owner, *starting], num_returns=1, timeout=None if live else start_timeout_s)
            if not done:
                raise TimeoutError(
                    f"no Ray actor for {cls.__qualname__} started within {start_timeout_s:g} s (each needs 1 CPU, {num_gpus:g} GPU; "
                    f"cluster has {ray.cluster_resources()}); lower workers or num_gpus, or add nodes"
                )
            for ref in done:
                if ref in starting:
                    actor = starting.pop(ref)
                    try:
                        ray.get(ref)
                        actor.ready = True
                    except RayActorError as exc:
                        if exc.actor_init_failed:
                            raise RuntimeError(
                                f"{cls.__qualname__}() failed in a Ray actor: {_one_line(exc)}; fix the model or its settings"
                            ) from None
                        start_failures += 1  # died while loading (OOM, node lost): bounded retries
                        if start_failures > max_retries * workers:
                            raise RuntimeError(
                                f"Ray actors for {cls.__qualname__} keep dying while loading: {_one_line(exc)}"
                            ) from None
                        retire(actor)
                    continue
                actor, pending = owner.pop(ref)
                actor.running.discard(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError:
                    raise  # task code raised: a bug, not data
                except RayActorError as exc:
                    if not actor.dead:
                        log.warning("a %s actor died; its %d tasks re-run each alone", cls.__qualname__, len(actor.running) + 1)
                    retire(actor)
                    if actor.solo:  # it ran alone, so it killed the actor itself
                        pending.deaths += 1
                    if pending.deaths >= max(1, max_retries):
                        detail = (
                            f"model worker died running task {pending.index} ({pending.deaths} times alone): {_one_line(exc)}"
                        )
                        yield pending.index, TaskCrashed(pending.index, detail)
                    else:
                        alone.append(pending)
                    continue
                actor.solo = False
                yield pending.index, result
    finally:
        for actor in actors:
            ray.kill(actor.handle, no_restart=True)
