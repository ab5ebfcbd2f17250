"""One process pool per process for heavy per-row operators (decoding, canonical encoding).

Workers come from a forkserver (safe beside threads, cheap to start) and live as long as the
process; a broken pool (a worker died) is discarded and the rows are run in-process instead.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
from collections.abc import Callable
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
def _shutdown() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _POOLS.clear()
