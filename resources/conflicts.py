"""Retrying Lance commits that lost a race to a concurrent commit.

Every write to the lake is one Lance transaction; Lance decides which concurrent
transactions are compatible (format spec `transaction.md`). A *retryable* conflict means
ours was built on a version that a concurrent commit has since changed in an overlapping
way (e.g. compaction rewrote fragments that our index or delete refers to): redoing the
whole operation from the latest version is correct. Other conflicts are errors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from lance.commit import CommitConflictError

T = TypeVar("T")

# pylance 14 raises a retryable conflict as a plain OSError whose message starts with this
# (seen: "Retryable commit conflict for version 11: This Rewrite transaction was preempted by
# concurrent transaction Update at version 11. Please retry."); lancedb may wrap it.
_RETRYABLE = "retryable commit conflict"


def is_retryable_conflict(exc: BaseException) -> bool:
    """True for a commit that lost a race and may be redone from the latest version."""
    if isinstance(exc, CommitConflictError):
        return bool(getattr(exc, "retryable", True))  # pylance marks some conflicts as final
    return isinstance(exc, OSError | RuntimeError) and _RETRYABLE in str(exc).lower()


def retry_on_conflict(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 5,
    backoff_s: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Run `fn` (which must re-read the latest version each call) until it commits; returns
    (its result, retries used). Backoff doubles per attempt, with jitter so that two
    retrying writers do not collide again in lockstep."""
    if attempts < 1:
        raise ValueError(f"{what}: attempts must be ≥ 1, got {attempts}")
    for attempt in range(attempts):
        try:
            return fn(), attempt
        except (OSError, RuntimeError) as exc:
            if not is_retryable_conflict(exc):
                raise
            if attempt == attempts - 1:
                raise RuntimeError(
                    f"{what}: still conflicting with concurrent commits after {attempts} attempts ({_first_line(exc)}); "
                    "run it again, or when fewer stage runs are committing"
                ) from exc
            sleep(backoff_s * (2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
