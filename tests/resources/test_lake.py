"""The lake on a real Lance directory: one transaction per (table, batch), content-addressed blobs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tessera.core.records import Reason, Sample
from tessera.core.schema import SAMPLE_SCHEMA, samples_to_arrow, stage_schema
from tessera.resources.lake import LakeResource


def _s(i: int, batch: str, text: str = "t") -> Sample:
    return Sample(sample_id=f"id{i}", batch=batch, source=f'["f{i}"]', modalities=["text"], text=text)


def _commit(lake: LakeResource, batch: str, landed: list[Sample], quarantined=()) -> int:
    rows, _ = samples_to_arrow(landed, quarantined=list(quarantined), stage="cleaned", run_id="r", code_version="c", input_version=1)
    lake.ensure("cleaned", stage_schema())
    return lake.commit_batch("cleaned", batch, lake.write_rows("cleaned", rows))


def _ids(lake: LakeResource, batch: str) -> list[str]:
    return sorted(s.sample_id for s in lake.read_stage("cleaned", batch)[0])


def test_a_batch_is_replaced_whole_and_other_batches_are_untouched(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"))
    _commit(lake, "a", [_s(1, "a"), _s(2, "a")])
    _commit(lake, "b", [_s(3, "b")], [_s(4, "b").quarantine(Reason.CORRUPT, "bad", "text.decode")])
    _commit(lake, "a", [_s(2, "a", "new"), _s(5, "a")])  # a re-run that dropped id1 and added id5
    assert _ids(lake, "a") == ["id2", "id5"] and _ids(lake, "b") == ["id3"]
    assert next(s.text for s in lake.read_stage("cleaned", "a")[0] if s.sample_id == "id2") == "new"
    assert [r["sample_id"] for r in lake.quarantine_rows("b", "cleaned")] == ["id4"]
    stage_rows = lake.dataset("cleaned").to_table(filter="batch = 'b'").to_pylist()
    assert sorted((r["sample_id"], r["status"], r["reason"]) for r in stage_rows) == [("id3", "landed", None), ("id4", "quarantined", "CORRUPT")]
    rows_before = lake.dataset("cleaned").count_rows()
    _commit(lake, "a", [_s(2, "a", "new"), _s(5, "a")])  # same again: idempotent
    assert lake.dataset("cleaned").count_rows() == rows_before


def test_the_same_content_in_two_batches_is_two_rows(tmp_path: Path) -> None:
    """Row keys include the batch: one batch's write never takes over another's rows."""
    lake = LakeResource(uri=str(tmp_path / "lake"))
    _commit(lake, "a", [_s(1, "a")])
    _commit(lake, "b", [_s(1, "b")])
    _commit(lake, "a", [_s(1, "a")])
    assert _ids(lake, "a") == ["id1"] and _ids(lake, "b") == ["id1"]


def test_uncommitted_fragments_are_invisible_until_the_commit(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"))
    _commit(lake, "a", [_s(1, "a")])
    rows, _ = samples_to_arrow([_s(2, "a")], stage="cleaned", run_id="r2", code_version="c", input_version=1)
    fragments = lake.write_rows("cleaned", rows)  # a worker wrote them; the step has not committed
    assert _ids(lake, "a") == ["id1"]
    lake.commit_batch("cleaned", "a", fragments)
    assert _ids(lake, "a") == ["id2"]


def test_blobs_are_stored_once_and_read_back_as_streams(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"))
    from tessera.core.records import sha256_hex

    data = {sha256_hex(b"x" * 100_000): b"x" * 100_000, sha256_hex(b"y"): b"y"}
    lake.commit_appends("blobs", lake.write_blobs(data, "a"))
    assert lake.write_blobs(data, "b") == []  # already stored: nothing new to write
    streams = lake.open_blobs(data)
    assert {k: f.read() for k, f in streams.items()} == data


def test_a_table_written_by_older_code_gains_the_new_columns(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"))
    added = ("row_id", "reason", "detail", "op", "code_versions", "search_text")
    old_schema = pa.schema([f for f in SAMPLE_SCHEMA if f.name not in added])
    old = lake.db().create_table("cleaned", schema=old_schema)
    old.add(pa.Table.from_pylist([{"sample_id": "old", "batch": "a", "status": "landed"}], schema=old_schema))
    _commit(lake, "a", [_s(1, "a")])  # the old row belongs to batch a: the commit replaces it
    ds = lake.dataset("cleaned")
    assert set(added) <= set(ds.schema.names)
    assert ds.count_rows() == 1
    (row,) = lake.read_stage("cleaned", "a")[0]
    assert row.sample_id == "id1" and row.text == "t"


def test_a_batch_smaller_than_one_chunk_is_still_shared_by_the_workers() -> None:
    from tessera.resources.store import iter_chunks

    items, sizes = list(range(25)), [2_000_000] * 25  # 50 MB: one 64 MiB chunk would leave a worker idle
    assert len(list(iter_chunks(items, sizes, 256, 64 << 20))) == 1
    spread = list(iter_chunks(items, sizes, 256, 64 << 20, spread=4))
    assert 4 <= len(spread) <= 5 and [i for c in spread for i in c] == items  # order kept, nothing lost
    assert list(iter_chunks([0, 1, 2], [1, 100, 1], 256, 10, spread=2)) == [[0], [1], [2]]  # a large item stands alone


def test_a_table_written_before_a_metric_existed_keeps_the_new_metric(tmp_path: Path) -> None:
    """`metrics` is a struct: an older lake gains the new metric as a child (null on old rows),
    rather than having it cast away on every write."""
    from tessera.core.schema import METRICS

    lake = LakeResource(uri=str(tmp_path / "lake"))
    newest = METRICS[-1]
    old_metrics = pa.struct([(m, pa.float64()) for m in METRICS[:-1]])
    old_schema = pa.schema([pa.field("metrics", old_metrics) if f.name == "metrics" else f for f in SAMPLE_SCHEMA])
    old = lake.db().create_table("cleaned", schema=old_schema)
    old.add(pa.Table.from_pylist([{"sample_id": "old", "batch": "b", "status": "landed", "metrics": {"width": 5.0}}], schema=old_schema))
    _commit(lake, "a", [_s(1, "a").with_metrics(**{newest: 0.25, "width": 7.0})])
    (row,) = lake.read_stage("cleaned", "a")[0]
    assert row.metrics == {newest: 0.25, "width": 7.0}
    (old_row,) = lake.read_stage("cleaned", "b")[0]
    assert old_row.metrics == {"width": 5.0}


def test_a_windowed_medium_ends_at_its_stage_and_its_windows_carry_on(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"))
    parent = _s(1, "a").with_metrics(windows=2.0, duration_s=1200.0)
    windows = [_s(i, "a").evolve(parent_id="id1").with_metrics(window_start_s=600.0 * (i - 2), window_end_s=600.0 * (i - 1)) for i in (2, 3)]
    _commit(lake, "a", [parent, *windows, _s(4, "a")])
    rows, _ = lake.stage_inputs("cleaned", "a", ["sample_id"])
    assert sorted(rows["sample_id"].to_pylist()) == ["id2", "id3", "id4"]
    assert len(lake.read_stage("cleaned", "a")[0]) == 4  # the parent is landed (accounted for) at its own stage
