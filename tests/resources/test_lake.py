"""The lake on a real LanceDB directory: batch-scoped idempotent replace, schema evolution."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from core.records import Reason, Sample
from core.schema import SAMPLE_SCHEMA
from resources.lake import LakeResource


def _s(i: int, batch: str, text: str = "t") -> Sample:
    return Sample(sample_id=f"id{i}", batch=batch, source=f'["f{i}"]', modalities=["text"], text=text)


def _commit(lake: LakeResource, batch: str, landed: list[Sample], quarantined=()) -> int:
    return lake.commit_stage(
        stage="cleaned", batch=batch, landed=landed, quarantined=list(quarantined), run_id="r", code_version="c", input_version=1
    )


def _ids(lake: LakeResource, batch: str) -> list[str]:
    return sorted(s.sample_id for s in lake.read_stage("cleaned", batch)[0])


def test_a_batch_is_replaced_whole_and_other_batches_are_untouched(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"), lock_dir=str(tmp_path / "locks"))
    _commit(lake, "a", [_s(1, "a"), _s(2, "a")])
    _commit(lake, "b", [_s(3, "b")], [_s(4, "b").quarantine(Reason.CORRUPT, "bad", "text.decode")])
    _commit(lake, "a", [_s(2, "a", "new"), _s(5, "a")])  # a re-run that dropped id1 and added id5
    assert _ids(lake, "a") == ["id2", "id5"] and _ids(lake, "b") == ["id3"]
    assert next(s.text for s in lake.read_stage("cleaned", "a")[0] if s.sample_id == "id2") == "new"
    assert [r["sample_id"] for r in lake.quarantine_rows("b", "cleaned")] == ["id4"]
    stage_rows = lake.open("cleaned").to_lance().to_table(filter="batch = 'b'").to_pylist()
    assert sorted((r["sample_id"], r["status"], r["reason"]) for r in stage_rows) == [("id3", "landed", None), ("id4", "quarantined", "CORRUPT")]
    rows_before = lake.open("cleaned").count_rows()
    _commit(lake, "a", [_s(2, "a", "new"), _s(5, "a")])  # same again: idempotent
    assert lake.open("cleaned").count_rows() == rows_before


def test_a_table_written_by_older_code_gains_the_new_columns(tmp_path: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"), lock_dir=str(tmp_path / "locks"))
    added = ("row_id", "reason", "detail", "op", "code_versions", "search_text")
    old_schema = pa.schema([f for f in SAMPLE_SCHEMA if f.name not in added])
    old = lake.db().create_table("cleaned", schema=old_schema)
    old.add(pa.Table.from_pylist([{"sample_id": "old", "batch": "a", "status": "landed"}], schema=old_schema))
    _commit(lake, "a", [_s(1, "a")])  # the old row has no row_id: it is replaced like any row the run no longer makes
    table = lake.open("cleaned")
    assert set(added) <= set(table.schema.names)
    assert table.count_rows() == 1
    (row,) = lake.read_stage("cleaned", "a")[0]
    assert row.sample_id == "id1" and row.text == "t"
