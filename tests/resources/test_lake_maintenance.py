"""Lake maintenance (resources/maintenance.py) on real LanceDB tables: compaction, index
merge and rebuild, cleanup that keeps tagged versions, and commits racing it.

Vectors are index plumbing vectors (seeded numpy unit vectors), not embeddings."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import lance
import lancedb
import pytest
from lance.optimize import Compaction
from lancedb.index import HnswSq

from tessera.resources.conflicts import is_retryable_conflict, retry_on_conflict
from tessera.resources.indexes import IndexState, index_states, update_indexes
from tessera.resources.maintenance import MaintenanceParams, index_action, maintain
from tests.resources.plumbing import VEC, plumbing_vectors, samples_batch


def params(**maintenance) -> dict:
    return {"indexes": {"ann_min_rows": 100}, "maintenance": {"compact_min_fragments": 2, "retry_backoff_s": 0.05, **maintenance}}


@pytest.fixture
def db(tmp_path: Path) -> lancedb.DBConnection:
    return lancedb.connect(tmp_path / "lake")


def _batches(db: lancedb.DBConnection, n: int, rows: int = 60, indexed: bool = True) -> lancedb.table.Table:
    """`samples` with `n` batches appended one commit each, indexes grown after each."""
    table = db.create_table("samples", samples_batch("b0", plumbing_vectors(rows, seed=0), first=0))
    for i in range(1, n):
        if indexed:
            update_indexes(table, params())
        table.add(samples_batch(f"b{i}", plumbing_vectors(rows, seed=i), first=i * rows))
    if indexed:
        update_indexes(table, params())
    return table


def test_maintain_compacts_fragments_and_merges_index_segments(db) -> None:
    table = _batches(db, 6)
    assert len(lance.dataset(table.uri).get_fragments()) == 6
    assert index_states(lance.dataset(table.uri))[f"{VEC}_idx"].segments == 5  # created at batch 2, one delta per batch after

    report = maintain(db, params())
    samples = report["tables"]["samples"]
    assert report["errors"] == [] and samples["fragments"] == [6, 1]
    ds = lance.dataset(table.uri)
    assert len(ds.get_fragments()) == 1 and ds.count_rows() == 360
    for name, state in index_states(ds).items():
        assert state.segments == 1 and state.rows_unindexed == 0, name
    table.checkout_latest()
    q = plumbing_vectors(60, seed=4)[11]
    assert table.search(q, vector_column_name=VEC).limit(1).to_list()[0]["sample_id"] == "b4-00251"


def test_cleanup_keeps_a_tagged_version_readable_and_removes_old_untagged_ones(db) -> None:
    table = _batches(db, 3, indexed=False)
    ds = lance.dataset(table.uri)
    tagged = ds.version
    ds.tags.create("release-1", tagged)
    untagged_old = tagged - 1
    table.add(samples_batch("b9", plumbing_vectors(10, seed=9), first=900))
    table.delete("batch = 'b0'")

    report = maintain(db, params(keep_versions_days=0))

    assert report["tables"]["samples"]["cleanup"]["versions_removed"] > 0
    release = lance.dataset(table.uri, version="release-1")
    assert release.version == tagged and release.count_rows() == 180
    assert release.count_rows(filter="batch = 'b0'") == 60  # the release still holds rows deleted since
    with pytest.raises((ValueError, OSError)):
        lance.dataset(table.uri, version=untagged_old)
    versions = [v["version"] for v in lance.dataset(table.uri).versions()]
    assert versions == [tagged, lance.dataset(table.uri).latest_version]
    assert lance.dataset(table.uri).count_rows() == 130


def test_an_index_far_behind_the_table_is_rebuilt_on_all_rows(db) -> None:
    table = _batches(db, 2, indexed=False)
    table.create_index(VEC, config=HnswSq(distance_type="cosine"))
    for i in range(2, 5):  # three batches that the per-batch path never saw
        table.add(samples_batch(f"b{i}", plumbing_vectors(60, seed=i), first=i * 60))
    assert index_states(lance.dataset(table.uri))[f"{VEC}_idx"].rows_unindexed == 180

    report = maintain(db, params(compact_min_fragments=100))
    assert report["tables"]["samples"]["indexes"][f"{VEC}_idx"].startswith("rebuild: 60% of rows unindexed")
    state = index_states(lance.dataset(table.uri))[f"{VEC}_idx"]
    assert state.segments == 1 and state.rows_unindexed == 0 and state.rows_indexed == 300


def _state(segments: int, indexed: int, unindexed: int, kind: str = "IVF_HNSW_SQ") -> IndexState:
    return IndexState("i", "c", kind, tuple(f"u{i}" for i in range(segments)), indexed, unindexed, (9,) if unindexed else ())


@pytest.mark.parametrize(
    ("state", "due", "action"),
    [
        (_state(1, 100, 0), False, None),
        (_state(2, 100, 0), False, None),  # few segments and nothing to compact: leave them
        (_state(2, 100, 0), True, "merge"),  # compaction needs one segment over the fragments
        (_state(5, 100, 0), False, "merge"),
        (_state(1, 100, 10), False, "delta"),
        (_state(1, 100, 50), False, "rebuild"),
        (_state(1, 100, 50, kind="Inverted"), False, "delta"),  # nothing to retrain in a text index
    ],
)
def test_index_actions(state: IndexState, due: bool, action: str | None) -> None:
    cfg = MaintenanceParams.from_params(params())
    assert index_action(state, cfg, compaction_due=due)[0] == action


def test_a_retryable_lance_conflict_is_recognised_and_the_step_redone(db) -> None:
    table = _batches(db, 4, indexed=False)
    ds = lance.dataset(table.uri)
    plan = Compaction.plan(ds, {"target_rows_per_fragment": 10_000})
    rewritten = [task.execute(ds) for task in plan.tasks]
    # a stage commit replaces batch b1's rows meanwhile: an Update on fragments the plan rewrote
    table.merge_insert("sample_id").when_matched_update_all().when_not_matched_insert_all().when_not_matched_by_source_delete(
        "batch = 'b1'"
    ).execute(samples_batch("b1", plumbing_vectors(60, seed=1), first=60))
    with pytest.raises(OSError) as lost:
        Compaction.commit(ds, rewritten)
    assert is_retryable_conflict(lost.value)

    attempts = []

    def compact() -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise lost.value  # the race above, then a redo from the latest version
        return lance.dataset(table.uri).optimize.compact_files(target_rows_per_fragment=10_000)

    metrics, retries = retry_on_conflict(compact, what="samples: compaction", backoff_s=0.01)
    assert retries == 1 and metrics.fragments_added == 1 and lance.dataset(table.uri).count_rows() == 240
    with pytest.raises(ValueError):  # other errors are not retried
        retry_on_conflict(lambda: (_ for _ in ()).throw(ValueError("bad filter")), what="x")


def test_maintain_beside_concurrent_commits_loses_no_rows(db) -> None:
    table = _batches(db, 4)
    expected = {f"b{i}-{i * 60 + j:05d}" for i in range(4) for j in range(60)}
    errors: list[BaseException] = []
    done = threading.Event()

    def stage_commits() -> None:
        """Another process's stage runs: append new batches, replace an old one's rows."""
        writer = lancedb.connect(Path(table.uri).parent).open_table("samples")
        try:
            for i in range(4, 16):
                rows = samples_batch(f"b{i}", plumbing_vectors(60, seed=i), first=i * 60)
                writer.add(rows)
                expected.update(rows["sample_id"].to_pylist())
                if i % 4 == 0:
                    again = i - 3
                    writer.merge_insert("sample_id").when_matched_update_all().when_not_matched_insert_all().when_not_matched_by_source_delete(
                        f"batch = 'b{again}'"
                    ).execute(samples_batch(f"b{again}", plumbing_vectors(60, seed=again), first=again * 60))
                update_indexes(writer, params())
                time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001  (surfaced by the assertion below)
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=stage_commits)
    thread.start()
    reports = []
    while not done.is_set():
        reports.append(maintain(db, params(keep_versions_days=1)))
    thread.join()
    reports.append(maintain(db, params(keep_versions_days=1)))

    assert errors == [] and all(r["errors"] == [] for r in reports), (errors, [r["errors"] for r in reports])
    ds = lance.dataset(table.uri)
    ids = ds.to_table(columns=["sample_id"])["sample_id"].to_pylist()
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    assert len(reports) >= 2 and len(ds.get_fragments()) == 1
