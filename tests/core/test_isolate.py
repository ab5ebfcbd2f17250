"""core.isolate: a decoder that crashes or hangs costs one item, never the run.

The callables below are module-level so the forkserver child can import them by name.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tessera.core.decode import DecodeFailure
from tessera.core.isolate import run_isolated
from tessera.core.records import Reason


def square(x: int) -> int:
    return x * x


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def refuse(detail: str) -> None:
    raise DecodeFailure(Reason.TRUNCATED, detail)


def buggy() -> None:
    raise ZeroDivisionError("decoder divided by zero")


def hang(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


def exit_quietly() -> None:
    os._exit(3)


def answer_then_linger(seconds: float) -> str:
    """Returns at once but leaves a non-daemon thread behind, so the child cannot exit."""
    threading.Thread(target=time.sleep, args=(seconds,), daemon=False).start()
    return "answered"


def call(*args: object) -> tuple[tuple[object, ...], dict[str, object]]:
    return (args, {})


def test_results_come_back_in_call_order_with_parallel_workers() -> None:
    outcomes = run_isolated(square, [call(i) for i in range(6)], workers=3, timeout_s=30)
    assert [o.value for o in outcomes] == [0, 1, 4, 9, 16, 25]
    assert all(o.failure is None for o in outcomes)


def test_segfaulting_child_is_a_decoder_crash_and_its_neighbours_still_succeed() -> None:
    outcomes = run_isolated(_dispatch, [call("square", 3), call("segfault"), call("square", 4)], workers=2, timeout_s=30)
    assert outcomes[0].value == 9 and outcomes[2].value == 16
    crash = outcomes[1].failure
    assert crash is not None and crash.reason is Reason.DECODER_CRASH
    assert "SIGSEGV" in crash.detail


def test_decode_failure_raised_in_child_keeps_its_reason_and_detail() -> None:
    (outcome,) = run_isolated(refuse, [call("stream stops after 3 frames")], workers=1, timeout_s=30)
    assert outcome.failure is not None
    assert outcome.failure.reason is Reason.TRUNCATED
    assert outcome.failure.detail == "stream stops after 3 frames"


def test_unexpected_exception_in_child_is_a_decoder_crash_with_its_message() -> None:
    (outcome,) = run_isolated(buggy, [call()], workers=1, timeout_s=30)
    assert outcome.failure is not None and outcome.failure.reason is Reason.DECODER_CRASH
    assert "ZeroDivisionError: decoder divided by zero" in outcome.failure.detail


def test_child_exiting_without_an_answer_is_a_decoder_crash() -> None:
    (outcome,) = run_isolated(exit_quietly, [call()], workers=1, timeout_s=30)
    assert outcome.failure is not None and outcome.failure.reason is Reason.DECODER_CRASH
    assert "exit code 3" in outcome.failure.detail


def test_hanging_child_is_killed_at_the_timeout() -> None:
    started = time.monotonic()
    slow, fast = run_isolated(_dispatch, [call("hang", 30.0), call("square", 5)], workers=2, timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert slow.failure is not None and slow.failure.reason is Reason.DECODER_CRASH
    assert "timed out after 1 s" in slow.failure.detail
    assert fast.value == 25
    assert elapsed < 10


@pytest.mark.fault
def test_child_that_answers_but_never_exits_does_not_block_past_the_timeout() -> None:
    started = time.monotonic()
    run_isolated(answer_then_linger, [call(4.5)], workers=1, timeout_s=2.0)
    assert time.monotonic() - started < 3.5


def _dispatch(name: str, *args: object) -> object:
    return globals()[name](*args)


def _crash_on_three(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x * 10


@pytest.mark.fault
def test_a_group_shares_one_child_and_a_crash_in_it_costs_only_the_crashing_item() -> None:
    from tessera.core.isolate import run_grouped

    out = run_grouped(_crash_on_three, [(1,), (2,), (3,), (4,)], workers=2, timeout_s=30)
    assert [o.value for o in out] == [10, 20, None, 40]
    assert out[2].failure is not None and out[2].failure.reason is Reason.DECODER_CRASH
