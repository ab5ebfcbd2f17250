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
import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger(__name__)
_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    if workers not in _POOLS:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["core.ops"])
        _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    return _POOLS[workers]


def pool_map(fn: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    """`[fn(x) for x in items]`, spread over `workers` processes; order kept."""
    if workers <= 1 or len(items) < 2:
        return [fn(x) for x in items]
    chunk = max(1, len(items) // (workers * 4))
    try:
        return list(_pool(workers).map(fn, items, chunksize=chunk))
    except BrokenProcessPool:
        log.warning("a pool worker died; running %d rows in-process", len(items))
        _POOLS.pop(workers, None)
        return [fn(x) for x in items]


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
