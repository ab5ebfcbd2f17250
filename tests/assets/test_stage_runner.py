"""The stage runner's local engine: bounded, parallel, and a crashed worker costs only its task."""

from __future__ import annotations

import os
import signal

import pytest

from assets.runner import map_local
from core.records import Reason


def _crash_on_three(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x * 10


@pytest.mark.fault
def test_a_crashed_worker_hands_only_the_unfinished_tasks_to_the_fallback() -> None:
    out = dict(map_local(_crash_on_three, [1, 2, 3, 4, 5], 2, on_crash=lambda x: (x, Reason.DECODER_CRASH) if x == 3 else x * 10))
    assert out == {0: 10, 1: 20, 2: (3, Reason.DECODER_CRASH), 3: 40, 4: 50}


def test_tasks_are_drawn_lazily() -> None:
    drawn: list[int] = []

    def tasks():
        for i in range(1000):
            drawn.append(i)
            yield i

    first = next(map_local(abs, tasks(), 1, on_crash=abs))
    assert first == (0, 0) and len(drawn) == 1  # in-process: one task drawn per result
