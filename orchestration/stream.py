"""The stream path: a warm host that lands each complete drop seconds after its ready marker.

`tessera serve --watch` runs a `Stream` beside the search server. Every `landing.stream_interval_s`
it registers the complete drops under the landing root that are not batches yet (the landing
sensor's rule: `register_new_drops`) and runs the pipeline job on each in this process, on the
Dagster instance: the same assets, operators, commit protocol and checks as a sensor's run, and
the run in the UI like any other. What it saves is what a fresh run process pays for every drop:
the Dagster and Great Expectations imports, the job's construction, the models' loading and the
pool's workers (`keep_pools_warm`), the GX project's opening.

Invariants:
- One drop at a time, in the order the landing lists them: a batch runs once at a time (I4) and
  each table takes one writer at a time.
- A drop is a batch partition from the moment it is registered, so the landing sensor (if it also
  runs) never starts a second run of it.
- A drop whose run fails stays a registered batch with a failed run (`tessera status` shows it;
  `tessera materialize --batch NAME` retries it): never dropped. A landing that cannot be listed
  (gone, credentials) is logged and tried again at the next tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from tessera.resources.store import LakeStore

log = logging.getLogger(__name__)


class Stream:
    """Polls `root` for complete drops (`marker` written last) and runs each through the pipeline."""

    def __init__(self, lake: LakeStore, root: str, marker: str, interval_s: float, landed: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.lake, self.root, self.marker, self.interval_s, self.landed = lake, root, marker, interval_s, landed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> list[dict[str, Any]]:
        """One tick: register the new complete drops, then run each; their runs' summaries."""
        from tessera.orchestration.cli import materialize
        from tessera.orchestration.instance import get_instance
        from tessera.orchestration.sensors import register_new_drops

        instance = get_instance()
        new = register_new_drops(self.lake, set(instance.get_dynamic_partitions("batch")), self.root, self.marker)
        if new:
            instance.add_dynamic_partitions("batch", new)
        results = []
        for batch in new:
            result = materialize(batch, quiet=True)
            log.info("stream: batch %s %s in %.2f s (run %s)", batch, "landed" if result["success"] else "FAILED", result["seconds"], result["run_id"][:8])
            results.append(result)
            if self.landed is not None:
                self.landed(result)
        return results

    def run(self) -> None:
        from tessera.resources.engine import keep_pools_warm

        keep_pools_warm()
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # the host keeps serving; the next tick tries again
                log.error("stream: landing %s: %s", self.root, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="tessera-stream", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop after the run in progress, if any, ends; the warm pool's workers go with it."""
        from tessera.resources.engine import release_warm_pools

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        release_warm_pools()
