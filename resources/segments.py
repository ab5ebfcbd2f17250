"""The `segments` table: one row per cue or transcript segment of a landed original in `samples`,
with its times and a vector of its words by the samples' text model, so a spoken phrase finds the
moment it was said (search's `segments` ranking).

Invariants:
- Written by `embedded` after its commit, for that batch only: the batch's rows are replaced in
  one commit (a re-run gives the same rows: I3), and the cost is the batch's, not the table's.
- A row says where its words are: `start`/`end` in seconds on the sample's own timeline, `idx`
  the segment's place in the sample's `segments`, `source` the cue track or `whisper:<model>`.
- Read at the same release as `samples` (`tessera release` tags every table); a hit whose sample
  is no longer landed in `samples` (a steward set it aside later) is dropped by search.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tessera.core.encoders import vector_column
from tessera.resources.store import LANDED, LakeStore, _quote, in_list

TABLE = "segments"
READ_ROWS = 512  # samples read (and segments encoded) at a time: memory bounded by this, not the batch


def schema(column: str, dim: int) -> pa.Schema:
    return pa.schema([
        ("sample_id", pa.string()), ("batch", pa.string()), ("status", pa.string()), ("parent_id", pa.string()),
        ("modalities", pa.list_(pa.string())), ("idx", pa.int32()), ("start", pa.float64()), ("end", pa.float64()),
        ("text", pa.string()), ("source", pa.string()), (column, pa.list_(pa.float32(), dim)),
    ])  # fmt: skip


def index_segments(lake: LakeStore, batch: str, encoder: Any, samples_version: int) -> dict[str, Any]:
    """(Re)write the batch's segment rows from `samples` at `samples_version`, each segment's text
    encoded by `encoder` (the text model). Returns rows written, the column and the table version."""
    column = vector_column("text", encoder.model_id)
    table = lake.ensure(TABLE, schema(column, int(encoder.dim)))  # this version: the batch's rows as they were
    samples = lake.dataset("samples", samples_version)
    assert samples is not None
    where = f"batch = {_quote(batch)} AND {LANDED} AND parent_id IS NULL AND array_length(segments) > 0"
    fragments, written, encoded = [], 0, 0
    for rb in samples.to_batches(columns=["sample_id", "modalities", "segments"], filter=where, batch_size=READ_ROWS):
        rows = [
            {"sample_id": r["sample_id"], "batch": batch, "status": "landed", "parent_id": None, "modalities": r["modalities"],
             "idx": i, "start": g["start"], "end": g["end"], "text": g["text"], "source": g.get("source")}
            for r in rb.to_pylist() for i, g in enumerate(r["segments"] or []) if (g.get("text") or "").strip()
        ]  # fmt: skip
        if not rows:
            continue
        had = _earlier(table, batch, column, sorted({r["sample_id"] for r in rows}))
        for r in rows:
            r[column] = had.get((r["sample_id"], r["idx"], r["text"]))
        todo = [r for r in rows if r[column] is None]
        for r, v in zip(todo, encoder.encode([r["text"] for r in todo]) if todo else [], strict=True):
            r[column] = v.tolist()
        fragments += lake.write_rows(TABLE, pa.Table.from_pylist(rows, schema=table.schema))
        written, encoded = written + len(rows), encoded + len(todo)
    version = lake.commit_batch(TABLE, batch, fragments)
    return {"rows": written, "encoded": encoded, "reused": written - encoded, "column": column, "version": version}


def _earlier(table: Any, batch: str, column: str, ids: list[str]) -> dict[tuple[str, int, str], list[float]]:
    """The vectors this batch's segments already have in `table` (same sample, place and words): a
    re-run encodes only what changed."""
    where = f"batch = {_quote(batch)} AND {in_list('sample_id', ids)} AND `{column}` IS NOT NULL"
    rows = table.to_table(columns=["sample_id", "idx", "text", column], filter=where).to_pylist()
    return {(r["sample_id"], r["idx"], r["text"]): r[column] for r in rows}
