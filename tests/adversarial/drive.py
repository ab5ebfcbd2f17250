"""Run the adversarial drops through the pipeline as a user would (`tessera ingest` and
`tessera materialize`, in this process); prints one JSON line with each run's result.

    python -m tests.adversarial.drive DROPS_DIR STAGE [STAGE …]

Drop `a` (with its manifest) runs through the given stages; drop `b`, registered after it,
through raw and cleaned (enough to show who holds content the two share). Meant to run in
a child process, so that the parent can measure the memory the whole run takes.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from tessera.orchestration.cli import ingest, materialize
from tests.adversarial.corpus import MANIFEST


def main(argv: list[str]) -> int:
    drops, stages = Path(argv[0]), argv[1:]
    started = time.perf_counter()
    ingest(str(drops / "a"), "a", str(drops / "a" / MANIFEST))
    ingest(str(drops / "b"), "b")
    runs = [materialize("a", stages, quiet=True), materialize("b", ["raw", "cleaned"], quiet=True)]
    keep = ("batch", "success", "failed_steps", "checks_passed", "checks_warned", "seconds")
    # this process's peak: VmHWM, the high-water mark of its own memory map (ru_maxrss would carry
    # the RSS of the process that started it across fork+exec: a large test runner's); and the
    # largest ru_maxrss (KiB) among the workers it waited for, which it forked itself
    peaks = {"self": _own_peak(), "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}
    print(json.dumps({"runs": [{k: r[k] for k in keep} for r in runs], "seconds": round(time.perf_counter() - started, 2), "maxrss": peaks}))
    return 0 if all(r["success"] for r in runs) else 1


def _own_peak() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
