"""How much memory the cleaned stage's operators take, beyond the input's own bytes, to reach
their verdict on each input; run in a child process, prints one JSON object {name: bytes}.

    python -m tests.adversarial.peaks DROP_DIR NAME [NAME …]

Each input is read and sniffed as raw does, then the kernel's peak-RSS mark is reset
(/proc/self/clear_refs, Linux ≥ 4.0) and the operator chain runs on it alone: the peak
above the resident size just before is what deciding on that input cost.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tessera.core.discover import Group, resolve
from tessera.core.ops.base import OpContext, build_ops
from tessera.core.runner import run_ops
from tessera.resources.landing import LocalLanding
from tessera.resources.params import load_params


def _status_kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE).group(1))


def main(argv: list[str]) -> int:
    landing = LocalLanding(argv[0])
    landing.list()
    ops = build_ops(load_params()["cleaned"]["ops"])
    out: dict[str, int] = {}
    for name in argv[1:]:
        found = resolve(landing, "peaks", Group(key=name, names=[name]))
        assert len(found.samples) == 1, f"{name!r} did not get past raw: {found.quarantined}"
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        before = _status_kib("VmRSS")
        result = run_ops(ops, found.samples, OpContext(batch="peaks"))
        out[name] = (_status_kib("VmHWM") - before) * 1024
        assert len(result.landed) + len(result.quarantined) == 1
        del found, result
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
