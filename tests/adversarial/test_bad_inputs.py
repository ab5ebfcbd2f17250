"""The bad-input corpus (corpus.py, ≥ 40 kinds) through raw → cleaned → unified → aligned, as a
user runs it (the `tessera` command, Dagster, a real lake): the run completes, every input is
accounted for at every stage (I1), each kind ends as expected (landed, or quarantined at the
expected stage with the expected reason code), and the whole process tree's memory stays under
a stated cap although the drop holds a 100 MB single-line text and decompression bombs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.discover import split_source
from resources.lake import STAGE_TABLES, LakeResource
from tests.adversarial.corpus import LANDED, Kind, kinds, write_drop

pytestmark = pytest.mark.slow
STAGES = ("raw", "cleaned", "unified", "aligned")
ROOT = Path(__file__).resolve().parents[2]
CAP_MIB = 3072  # the process tree's peak RSS while the corpus runs (measured: 2.1-2.3 GiB, Whisper and GX loaded; a bomb decoded would need 7 GiB)
CORPUS = kinds()


def _tree_rss_kib(pid: int) -> int:
    """RSS of `pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, IndexError, ValueError):
            continue
        todo += children.get(p, [])
    return total


def _tessera(home: Path, *argv: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run `tessera …` in its own process; (its result, its tree's peak RSS in KiB)."""
    env = {**os.environ, "TESSERA_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "PYTHONPATH": str(ROOT)}
    env.pop("TESSERA_LAKE_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate(timeout=900)
    done.set()
    sampler.join()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), peak


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("adversarial")
    drop = home / "drops" / "adv"
    manifest = write_drop(drop, CORPUS)
    ingested, _ = _tessera(home, "ingest", str(drop), "--batch", "adv", "--manifest", str(manifest), "--json")
    assert ingested.returncode == 0, ingested.stderr
    ran, peak = _tessera(home, "materialize", "--batch", "adv", "--through", "aligned", "--json")
    return {"home": home, "ran": ran, "peak_kib": peak}


def _outcomes(home: Path) -> dict[str, tuple[str, str | None]]:
    """landing name (or manifest row) → (stage, reason) of its first quarantine, or LANDED when it reached aligned."""
    lake = LakeResource(uri=str(home / "lake"))
    first: dict[str, tuple[str, str | None]] = {}
    landed_last: set[str] = set()
    for stage in STAGES:
        rows = lake.dataset(STAGE_TABLES[stage]).to_table(columns=["source", "status", "reason", "parent_id"], filter="batch = 'adv'").to_pylist()
        for r in rows:
            for name in split_source(r["source"] or ""):
                if r["status"] == "quarantined":
                    first.setdefault(name, (stage, r["reason"]))
                elif stage == STAGES[-1] and r["parent_id"] is None:
                    landed_last.add(name)
    return {**dict.fromkeys(landed_last, LANDED), **first}


def test_the_run_completes_and_every_stage_accounts_for_every_input(run: dict) -> None:
    assert run["ran"].returncode == 0, run["ran"].stderr[-2000:]
    (report,) = json.loads(run["ran"].stdout)
    assert report["success"], report
    from dagster import AssetCheckKey, AssetKey, DagsterInstance

    with DagsterInstance.from_config(str(run["home"] / "dagster")) as instance:
        for stage in STAGES:
            record = instance.get_latest_asset_check_evaluation_record(AssetCheckKey(AssetKey(stage), "accounted_for"))
            assert record is not None and record.event.asset_check_evaluation.passed, stage


def test_the_corpus_has_at_least_forty_kinds() -> None:
    assert len(CORPUS) >= 40 and len({k.name for k in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("kind", CORPUS, ids=lambda k: k.name)
def test_each_kind_ends_as_a_user_would_expect(run: dict, kind: Kind) -> None:
    outcomes = _outcomes(run["home"])
    key = kind.key or next(iter(kind.files))
    assert key in outcomes, f"{kind.name}: {key!r} is in no stage table (silently dropped?)"
    assert outcomes[key] == kind.expect, f"{kind.name}: ended {outcomes[key]}, expected {kind.expect}"


def test_memory_stays_under_the_cap(run: dict) -> None:
    assert run["peak_kib"] < CAP_MIB * 1024, f"process tree peaked at {run['peak_kib'] / 1024:.0f} MiB (cap {CAP_MIB})"
