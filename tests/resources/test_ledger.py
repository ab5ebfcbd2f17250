"""Who holds content that arrives in several batches (I6): decided in raw's commit, arbitrated by Lance."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pytest

from tessera.core.records import Sample, compute_sample_id
from tessera.core.schema import samples_to_arrow, stage_schema
from tessera.resources.lake import LakeResource
from tessera.resources.ledger import Spool, commit_raw, release_batch


def _sample(content: bytes, batch: str, name: str) -> Sample:
    sid = compute_sample_id({"text": content})
    return Sample(sample_id=sid, batch=batch, source=f'["{name}"]', modalities=["text"], media={"text": content})


def _raw(lake: LakeResource, batch: str, files: dict[str, bytes]) -> dict:
    spool = Spool()
    try:
        rows, _ = samples_to_arrow([_sample(c, batch, n) for n, c in files.items()], stage="raw", run_id="r", code_version="c", input_version=0)
        spool.add(rows)
        return commit_raw(lake, batch, spool).handoffs
    finally:
        spool.close()


def _holders(lake: LakeResource) -> dict[str, list[str]]:
    """sample id → batches where it landed at raw."""
    out: dict[str, list[str]] = {}
    for r in lake.dataset("raw").to_table(columns=["sample_id", "batch"], filter="status = 'landed'").to_pylist():
        out.setdefault(r["sample_id"], []).append(r["batch"])
    return {k: sorted(v) for k, v in out.items()}


def _verdicts(lake: LakeResource, batch: str) -> dict[str, tuple[str, str | None]]:
    rows = lake.dataset("raw").to_table(columns=["source", "status", "detail"], filter=f"batch = '{batch}'").to_pylist()
    return {r["source"]: (r["status"], r["detail"]) for r in rows}


def _lake(tmp_path: Path, *batches: str) -> LakeResource:
    lake = LakeResource(uri=str(tmp_path / "lake"))
    for b in batches:
        lake.register_batch(b, str(tmp_path), None)
        time.sleep(0.01)  # registration order decides who holds next
    return lake


SHARED = b"the same caption in two drops"


def test_the_first_batch_to_land_content_holds_it_whatever_reruns_follow(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b")
    _raw(lake, "a", {"a/x.txt": SHARED, "a/only.txt": b"a only"})
    _raw(lake, "b", {"b/x.txt": SHARED})
    _raw(lake, "a", {"a/x.txt": SHARED, "a/only.txt": b"a only"})  # a backfill of a: nothing moves
    sid = compute_sample_id({"text": SHARED})
    assert _holders(lake)[sid] == ["a"]
    assert _verdicts(lake, "b")['["b/x.txt"]'] == ("quarantined", "same content is held by batch 'a'")
    _raw(lake, "b", {"b/x.txt": SHARED})  # and a re-run of b neither takes it nor loses track of it
    assert _holders(lake)[sid] == ["a"]


def test_when_the_holder_loses_the_content_the_earliest_claimant_holds_it_next(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b", "c")
    _raw(lake, "a", {"a/x.txt": SHARED})
    _raw(lake, "c", {"c/x.txt": SHARED})
    _raw(lake, "b", {"b/x.txt": SHARED})
    handoffs = _raw(lake, "a", {"a/other.txt": b"the file left a's drop"})  # a's re-run no longer has it
    sid = compute_sample_id({"text": SHARED})
    assert handoffs == {"b": [sid]}  # b registered before c
    assert _holders(lake)[sid] == ["b"]
    assert _verdicts(lake, "c")['["c/x.txt"]'] == ("quarantined", "same content is held by batch 'b'")


def test_deleting_the_holding_batch_hands_its_content_on(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b")
    _raw(lake, "a", {"a/x.txt": SHARED})
    _raw(lake, "b", {"b/x.txt": SHARED})
    assert release_batch(lake, "a").handoffs == {"b": [compute_sample_id({"text": SHARED})]}
    assert _holders(lake) == {compute_sample_id({"text": SHARED}): ["b"]}


def test_inside_one_batch_the_smallest_source_lands(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a")
    _raw(lake, "a", {"z/copy.txt": SHARED, "a/first.txt": SHARED})
    assert _verdicts(lake, "a") == {
        '["a/first.txt"]': ("landed", None),
        '["z/copy.txt"]': ("quarantined", "same content as 'a/first.txt' in this batch"),
    }


def _commit_in_child(uri: str, batch: str, n: int) -> None:
    lake = LakeResource(uri=uri)
    files = {f"{batch}/s{i}.txt": f"shared {i}".encode() for i in range(n)}
    files |= {f"{batch}/own{i}.txt": f"{batch} own {i}".encode() for i in range(n)}
    _raw(lake, batch, files)


@pytest.mark.slow
def test_concurrent_batches_sharing_content_land_it_exactly_once(tmp_path: Path) -> None:
    """Four processes commit raw at once over one lake: Lance arbitrates (no host lock)."""
    batches = ["p", "q", "r", "s"]
    lake = _lake(tmp_path, *batches)
    lake.ensure("raw", stage_schema())
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_commit_in_child, args=(lake.resolved_uri(), b, 20)) for b in batches]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    holders = _holders(lake)
    shared = [compute_sample_id({"text": f"shared {i}".encode()}) for i in range(20)]
    assert all(len(holders[sid]) == 1 for sid in shared)  # landed exactly once across batches
    for b in batches:  # and accounted for in every batch: landed there, or DUPLICATE naming the holder
        verdicts = _verdicts(lake, b)
        assert len(verdicts) == 40
        for i, sid in enumerate(shared):
            status, detail = verdicts[f'["{b}/s{i}.txt"]']
            assert (status, detail) == ("landed", None) if holders[sid] == [b] else detail == f"same content is held by batch {holders[sid][0]!r}"
