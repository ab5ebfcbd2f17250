"""Run untrusted decoding in child processes, so a decoder crash costs one item, not the run.

Children come from a forkserver (clean, single-threaded parent; fast forks). Each item
gets its own child; at most `workers` run at once; each has a wall-clock `timeout_s`.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from tessera.core.decode import DecodeFailure
from tessera.core.records import Reason

# One forkserver for every child we start (here and in the stage engine): clean, single-threaded,
# with the decoders already imported, so each fork is cheap.
FORKSERVER = mp.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["tessera.core.ops"])


@dataclass(frozen=True, slots=True)
class Outcome:
    """`value` when the call returned; otherwise `failure` (a reason code and a one-line detail)."""

    value: Any = None
    failure: DecodeFailure | None = None


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        conn.send(("ok", fn(*args, **kwargs)))
    except DecodeFailure as exc:
        conn.send(("fail", (exc.reason.value, exc.detail)))
    except Exception as exc:  # a decoder bug surfaces as a crash of that item, with its message
        conn.send(("fail", (Reason.DECODER_CRASH.value, f"{type(exc).__name__}: {exc}"[:400])))
    finally:
        conn.close()


def call_each(fn: Callable[..., Any], arg_lists: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
    """`fn(*args)` for each, in this process: ("ok", value) or ("fail", (reason, detail)) per call.
    Run in one isolated child for a whole group (see `run_grouped`)."""
    out: list[tuple[str, Any]] = []
    for args in arg_lists:
        try:
            out.append(("ok", fn(*args)))
        except DecodeFailure as exc:
            out.append(("fail", (exc.reason.value, exc.detail)))
        except Exception as exc:  # a decoder bug surfaces as a crash of that item, with its message
            out.append(("fail", (Reason.DECODER_CRASH.value, f"{type(exc).__name__}: {exc}"[:400])))
    return out


def run_grouped(fn: Callable[..., Any], arg_lists: list[tuple[Any, ...]], *, workers: int, timeout_s: float) -> list[Outcome]:
    """Like `run_isolated`, but all calls first share one child (starting a child per item costs
    more than most decodes); only if that child dies or times out does each call get its own,
    so a crash still costs only the item that causes it."""
    if len(arg_lists) > 1:
        (group,) = run_isolated(call_each, [((fn, arg_lists), {})], workers=1, timeout_s=timeout_s * len(arg_lists))
        if group.failure is None:
            return [Outcome(value=v) if kind == "ok" else Outcome(failure=DecodeFailure(Reason(v[0]), v[1])) for kind, v in group.value]
    return run_isolated(fn, [(args, {}) for args in arg_lists], workers=workers, timeout_s=timeout_s)


def run_isolated(
    fn: Callable[..., Any], calls: list[tuple[tuple[Any, ...], dict[str, Any]]], *, workers: int, timeout_s: float
) -> list[Outcome]:
    """`fn(*args, **kwargs)` for each call, each in its own child; results in call order."""
    results: list[Outcome | None] = [None] * len(calls)
    pending = list(enumerate(calls))
    running: list[tuple[int, Any, Connection, float]] = []
    while pending or running:
        while pending and len(running) < max(1, workers):
            i, (args, kwargs) = pending.pop(0)
            parent, child = FORKSERVER.Pipe(duplex=False)
            proc = FORKSERVER.Process(target=_child, args=(child, fn, args, kwargs), daemon=True)
            proc.start()
            child.close()
            running.append((i, proc, parent, time.monotonic()))
        still: list[tuple[int, Any, Connection, float]] = []
        for i, proc, conn, started in running:
            left = max(0.1, timeout_s - (time.monotonic() - started))
            if conn.poll(0.01):
                results[i] = _receive(conn, proc, left)
            elif not proc.is_alive():
                results[i] = _receive(conn, proc, left) if conn.poll(0) else _crashed(proc)
            elif time.monotonic() - started > timeout_s:
                proc.kill()
                proc.join()
                results[i] = Outcome(failure=DecodeFailure(Reason.DECODER_CRASH, f"decoder timed out after {timeout_s:g} s"))
            else:
                still.append((i, proc, conn, started))
                continue
            conn.close()
        running = still
    return [r if r is not None else Outcome(failure=DecodeFailure(Reason.DECODER_CRASH, "no result")) for r in results]


def _receive(conn: Connection, proc: Any, grace_s: float) -> Outcome:
    try:
        kind, payload = conn.recv()
    except (EOFError, OSError):
        return _crashed(proc)
    _reap(proc, grace_s)  # the answer counts; a child that then will not exit is killed within its time
    if kind == "ok":
        return Outcome(value=payload)
    reason, detail = payload
    return Outcome(failure=DecodeFailure(Reason(reason), detail))


def _reap(proc: Any, grace_s: float = 5.0) -> None:
    """A child that answered but will not exit is killed after `grace_s`."""
    proc.join(grace_s)
    if proc.is_alive():
        proc.kill()
        proc.join()


def _crashed(proc: Any) -> Outcome:
    _reap(proc)
    code = proc.exitcode
    how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    return Outcome(failure=DecodeFailure(Reason.DECODER_CRASH, f"decoder process died ({how})"))
