"""Smoke test of bench/stages.py's own machinery: the /proc tree sampler and the drop builder."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_stages", ROOT / "bench" / "stages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_tree_memory_counts_grandchildren(bench):
    """A child that starts a grandchild holding 64 MiB: the tree's peak sees both, at depths 0 and 1."""
    holder = "import time; x = bytearray(64 << 20); x[::4096] = b'x' * len(x[::4096]); time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {holder!r}])"
    proc = subprocess.Popen([sys.executable, "-c", parent])
    sampler = bench.TreeMemory(proc.pid, interval=0.02)
    sampler.start()
    proc.wait()
    time.sleep(0.05)
    sampler.stop.set()
    sampler.join()
    got = sampler.summary()
    assert got["peak_tree_bytes"] >= 64 << 20
    assert got["peak_single_bytes"] >= 64 << 20 and got["peak_single_depth"] == 1
    assert got["by_depth"][0]["processes"] == 1 and got["by_depth"][1]["processes"] == 1
    assert got["peak_tree_pss_bytes"] > 0


def test_drop_from_pool_takes_the_shortest_prefix(bench, tmp_path: Path):
    pool = tmp_path / "pool"
    pool.mkdir()
    items = []
    for i, kind in enumerate(["image", "audio", "video", "image"]):
        name = f"item{i}" + {"image": ".jpg", "audio": ".flac", "video": ".mp4"}[kind]
        (pool / name).write_bytes(b"x" * 100)
        if kind == "image":
            (pool / (name[:-4] + ".txt")).write_text("caption")
        items.append({"kind": kind, "bytes": 100, "name": name})
    counts = bench.drop_from_pool(pool, items, 250, tmp_path / "drop")
    assert counts == {"files": 4, "media_files": 3, "image": 1, "audio": 1, "video": 1}
    assert bench.drop_bytes(tmp_path / "drop")["media_bytes"] == 300
