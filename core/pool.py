"""A process pool for heavy per-row operators (decoding, canonical encoding).

Workers come from a forkserver (safe beside threads, cheap to start). They live for one
`pool_scope()` — a stage run — and are shut down when it ends: a process that exits with live
pool workers (a Dagster step subprocess does) would wait for them forever. A broken pool (a
worker died) is discarded and its rows run in-process instead.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from core.decode import DecodeFailure
from core.isolate import FORKSERVER, run_isolated

log = logging.getLogger(__name__)
_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=FORKSERVER)
    return _POOLS[workers]


def pool_map(
    fn: Callable[[Any], Any], items: list[Any], workers: int, on_crash: Callable[[Any, DecodeFailure], Any], timeout_s: float = 300.0
) -> list[Any]:
    """`[fn(x) for x in items]`, spread over `workers` processes; order kept.

    If a worker dies (a decoder crashed the process), the items are re-run one child each
    (core.isolate), so only the item that crashes becomes `on_crash(item, failure)`."""
    if workers <= 1 or len(items) < 2:
        return [fn(x) for x in items]
    chunk = max(1, len(items) // (workers * 4))
    try:
        return list(_pool(workers).map(fn, items, chunksize=chunk))
    except BrokenProcessPool:
        log.warning("a decode worker died; re-running %d rows one child process each", len(items))
        _POOLS.pop(workers, None)
    outcomes = run_isolated(fn, [((x,), {}) for x in items], workers=workers, timeout_s=timeout_s)
    return [o.value if o.failure is None else on_crash(x, o.failure) for x, o in zip(items, outcomes, strict=True)]


@atexit.register
def shutdown_pools() -> None:
    """Stop every pool's workers (waits for them to exit)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def pool_scope() -> Iterator[None]:
    """Pools created inside live until the scope ends."""
    try:
        yield
    finally:
        shutdown_pools()
