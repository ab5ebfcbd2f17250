"""Task functions and model classes for tests/resources/test_engine.py.

Kept apart from the test module, and free of Dagster imports, so that every worker process that
unpickles them (forkserver children, Ray workers and actors) starts fast."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

INITS = 0  # model instances created in this process


def square(x: int) -> int:
    return x * x


def pid_of(_: int) -> int:
    return os.getpid()


def segfault_on_3(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x * x


def raise_on_2(x: int) -> int:
    if x == 2:
        raise ValueError("task 2 is a bug")
    return x * x


def first_time(marker_dir: str, x: int) -> bool:
    """True exactly once per (marker_dir, x), across processes."""
    try:
        os.close(os.open(Path(marker_dir) / f"{x}.ran", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def kill_worker_once(task: tuple[str, int, str]) -> int:
    """Kills the process running it when `mode` says so: "once" (first run only) or "always"."""
    marker_dir, x, mode = task
    with open(Path(marker_dir) / f"{x}.attempts", "a") as fh:
        fh.write("run\n")
    if mode == "always" or (mode == "once" and first_time(marker_dir, x)):
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


class Squarer:
    """A "model": heavy state loaded in __init__, once per worker process."""

    def __init__(self) -> None:
        global INITS
        INITS += 1
        self.pid = os.getpid()

    def __call__(self, x: int) -> tuple[int, int, int]:
        return self.pid, INITS, x * x


class FragileModel:
    """A model whose process dies on some tasks (see kill_worker_once)."""

    def __call__(self, task: tuple[str, int, str]) -> Any:
        return kill_worker_once(task)


def variable(name: str) -> str | None:
    """An environment variable as the worker running the task sees it."""
    return os.environ.get(name)
