"""A Dagster logger for the command line: one line per finished stage, failures with their cause."""

from __future__ import annotations

import logging
import sys
import time

from dagster import InitLoggerContext, logger


class _StageLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None or event.step_key is None:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[event.step_key] = time.perf_counter()
        elif kind == "STEP_SUCCESS":
            took = time.perf_counter() - self.started.get(event.step_key, time.perf_counter())
            print(f"  ✓ {event.step_key:<10} {took:6.1f} s", file=sys.stderr, flush=True)
        elif kind == "STEP_FAILURE":
            cause = (event.message or "failed").splitlines()[0]
            print(f"  ✗ {event.step_key:<10} {cause[:160]}", file=sys.stderr, flush=True)
        elif kind == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            data = event.event_specific_data
            print(f"  ! {event.step_key:<10} check {data.check_name} failed ({data.severity.value})", file=sys.stderr, flush=True)


@logger(description="One line per finished stage on stderr (the tessera command uses it).")
def stage_progress(init_context: InitLoggerContext) -> logging.Logger:
    log = logging.Logger("tessera.progress", level=logging.DEBUG)
    log.addHandler(_StageLines())
    return log
