"""Peak resident memory of a child process and everything it starts, sampled from /proc."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(slots=True)
class Peak:
    tree_bytes: int = 0  # the most the process tree held at once (sum over its live processes), as sampled
    samples: int = 0


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and parentheses
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants now."""
    children, total, todo = _children(), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        todo += children.get(p, [])
    return total


def run_measured(cmd: list[str], env: dict[str, str], timeout_s: float, interval_s: float = 0.05) -> tuple[subprocess.CompletedProcess[str], Peak]:
    """Run `cmd`, sampling its tree's resident memory every `interval_s` (a spike shorter than
    that can slip between samples: the kernel's per-process ru_maxrss, which the child can
    report itself, does not miss one)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = Peak(), threading.Event()

    def sample() -> None:
        while not done.wait(interval_s):
            peak.tree_bytes = max(peak.tree_bytes, tree_rss(proc.pid))
            peak.samples += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        done.set()
        sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), peak
