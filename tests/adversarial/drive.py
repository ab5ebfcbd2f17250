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

from orchestration.cli import ingest, materialize
from tests.adversarial.corpus import MANIFEST


def main(argv: list[str]) -> int:
    drops, stages = Path(argv[0]), argv[1:]
    started = time.perf_counter()
    ingest(str(drops / "a"), "a", str(drops / "a" / MANIFEST))
    ingest(str(drops / "b"), "b")
    runs = [materialize("a", stages, quiet=True), materialize("b", ["raw", "cleaned"], quiet=True)]
    keep = ("batch", "success", "failed_steps", "checks_passed", "checks_warned", "seconds")
    # ru_maxrss (KiB on Linux): this process's peak, and the largest peak among the workers it waited for
    peaks = {who: resource.getrusage(w).ru_maxrss * 1024 for who, w in (("self", resource.RUSAGE_SELF), ("children", resource.RUSAGE_CHILDREN))}
    print(json.dumps({"runs": [{k: r[k] for k in keep} for r in runs], "seconds": round(time.perf_counter() - started, 2), "maxrss": peaks}))
    return 0 if all(r["success"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
