"""Search returns `k` hits when some of the fused ones are gone: a sample only the segments ranking
found, set aside or deleted since its segments were written, gives its place to the next one, and
only the rows returned are read."""

from __future__ import annotations

from pathlib import Path

import lance
import pyarrow as pa

from tessera.resources.search import _finish


def test_a_hit_that_is_gone_gives_its_place_to_the_next(tmp_path: Path) -> None:
    ids = [f"s{i}" for i in range(6)]
    table = pa.table({
        "sample_id": ids,
        "status": ["landed", "landed", "quarantined", "landed", "landed", "landed"],
        "parent_id": pa.array([None] * 6, pa.string()),
        "text": [f"note {i}" for i in range(6)],
    })  # fmt: skip
    ds = lance.write_dataset(table, str(tmp_path / "samples.lance"))
    addresses = {r["sample_id"]: r["_rowaddr"] for r in ds.to_table(columns=["sample_id"], with_row_address=True).to_pylist()}
    found_by_rows = {sid: addresses[sid] for sid in ("s0", "s1", "s3", "s4")}  # what the rankings over samples kept
    fused = [(sid, 1.0 / (i + 1), ["text"]) for i, sid in enumerate(["s0", "deleted", "s2", "s1", "s3", "s4"])]  # "deleted", s2: segments only

    hits = _finish(ds, fused, "note", addresses=found_by_rows, k=3)

    assert [h["sample_id"] for h in hits] == ["s0", "s1", "s3"]
    assert [h["text"] for h in hits] == ["note 0", "note 1", "note 3"]
    assert [h["sample_id"] for h in _finish(ds, fused, "note", addresses=found_by_rows, k=10)] == ["s0", "s1", "s3", "s4"]
