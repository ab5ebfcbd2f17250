"""What runs inside engine workers: kept free of Dagster and Ray imports, so that a worker process
(a forkserver child, a Ray worker or actor) that unpickles these names starts fast."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# The shared forkserver (core.isolate sets what it preloads): children are forked from a clean,
# single-threaded server, safe beside the threads of a Dagster step; each child gets this
# process's sys.path, so top-level functions of the repository (and of tests) unpickle there.
FORKSERVER = mp.get_context("forkserver")


@dataclass(frozen=True, slots=True)
class TaskCrashed:
    """Task `index` killed the process running it (every time it ran); `detail` says how, in one line.

    Yielded as that task's result, never raised: the caller turns it into a quarantined row."""

    index: int
    detail: str


def in_environment(env: Mapping[str, str], fn: Callable[[Any], Any], task: Any) -> Any:
    """`fn(task)` under the caller's environment. A forkserver child starts with the environment the
    forkserver itself started with, not its caller's now: a lake or landing on S3 named later in a
    long-lived process (its AWS_* credentials, TESSERA_LAKE_URI) would otherwise be missing there."""
    if os.environ != env:
        os.environ.clear()
        os.environ.update(env)
    return fn(task)


def run_alone(fn: Callable[[Any], Any], index: int, task: Any) -> Any:
    """`fn(task)` in a fresh child process of its own; TaskCrashed if that child dies too.

    An exception raised by `fn` is re-raised here, as it would be in-process."""
    receiver, sender = FORKSERVER.Pipe(duplex=False)
    child = FORKSERVER.Process(target=_child_main, args=(sender, fn, task), daemon=True)
    child.start()
    sender.close()
    try:
        status, payload = receiver.recv()  # returns when the child answers; EOFError when it dies first
    except EOFError:
        child.join()
        return TaskCrashed(index, f"worker process died ({exit_cause(child.exitcode)}) running task {index}, also when run alone")
    finally:
        receiver.close()
    child.join()
    if status == "error":
        raise payload
    return payload


def _child_main(conn: Connection, fn: Callable[[Any], Any], task: Any) -> None:
    try:
        result: tuple[str, Any] = ("ok", fn(task))
    except Exception as exc:
        result = ("error", exc)
    try:
        conn.send(result)
    except Exception as exc:  # an unpicklable result or exception still reaches the parent as an error
        conn.send(("error", RuntimeError(f"task result could not be sent back: {type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def exit_cause(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def call(fn: Callable[[Any], Any], task: Any) -> Any:
    """The body of a Ray task."""
    return fn(task)


class ModelHost:
    """One model instance in one Ray actor process: `cls()` runs once, `run(task)` per task."""

    def __init__(self, cls: type) -> None:
        import os

        self.model = cls()
        self.pid = os.getpid()

    def ready(self) -> int:
        return self.pid

    def run(self, task: Any) -> Any:
        return self.model(task)
