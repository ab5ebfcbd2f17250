"""Who holds content that arrives in several batches. The ledger is the `raw` table itself.

Rule (I6): content (a sample id) lands in exactly one batch — its *holder* — and every other
batch that carries it quarantines it as DUPLICATE naming the holder (op `raw.holder`).
- The first batch whose raw commit lands the content holds it; later batches never take it
  over, whatever order they run or re-run in.
- Inside one batch, the copy with the smallest source name is the one that lands.
- When the holder stops carrying it (a re-run whose drop lost the file, or the batch is
  deleted), the hold passes, in the same commit, to the earliest-registered batch that
  carries it (registration time, then name); that batch's row turns landed and every other
  claimant's row names the new holder. The receiving batch is then stale from `cleaned` on:
  its handoff is reported so it is re-run (the CLI follows it; the `handoffs` sensor in the UI).

Concurrency: every raw commit also replaces the one `token` row, so two raw commits can never
both succeed from the same read version: Lance rejects the second with a retryable conflict,
and it decides again from the new version. Lance arbitrates — locally and on S3 — not a host lock.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
from lance.fragment import FragmentMetadata

from tessera.core.decisions import Verdict, rejection
from tessera.core.discover import split_source
from tessera.core.lineage import set_aside_edge
from tessera.core.records import Reason, Sample
from tessera.core.schema import landed_id, quarantine_key, stage_schema
from tessera.resources.decisions import rejected
from tessera.resources.store import LANDED, TOKEN_ID, LakeStore, _quote, in_list, token_row

HOLDER_OP = "raw.holder"
DEDUP_OP = "raw.dedup"
LATEST = (datetime.max.replace(tzinfo=UTC), "")  # unregistered batches come last


class Spool:
    """Raw rows of one run, on local disk (Arrow IPC) until the commit decides their verdicts:
    memory holds one chunk at a time however large the drop."""

    def __init__(self, root: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="tessera-raw-", dir=root)
        self.path = Path(self._dir.name) / "rows.arrow"
        self._sink: Any = None
        self.rows = 0

    def add(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        if self._sink is None:
            self._sink = ipc.new_file(str(self.path), stage_schema())
        self._sink.write_table(rows.select(stage_schema().names).cast(stage_schema()))
        self.rows += rows.num_rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        if not self.path.exists():
            return
        reader = ipc.open_file(pa.memory_map(str(self.path)))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
        self._dir.cleanup()


@dataclass(slots=True)
class RawCommit:
    version: int
    rows: list[dict[str, Any]] = field(default_factory=list)  # the batch's final rows, without media columns
    handoffs: dict[str, list[str]] = field(default_factory=dict)  # batch that now holds → sample ids it received


def commit_raw(lake: LakeStore, batch: str, spool: Spool) -> RawCommit:
    """Commit the batch's raw rows with their holder verdicts decided at the version committed over."""
    ds = lake.ensure("raw", stage_schema(), seed=token_row())
    if ds.count_rows(f"row_id = {_quote(TOKEN_ID)}") == 0:  # a table from before the ledger gains its token
        lake.commit_appends("raw", lake.write_rows("raw", token_row()))
    # within the batch: the copy with the smallest source lands (needs ids only, not rows)
    winner: dict[str, str] = {}
    for rb in spool.batches():
        for sid, status, source in zip(*(rb.column(c).to_pylist() for c in ("sample_id", "status", "source")), strict=True):
            if status == "landed" and (sid not in winner or source < winner[sid]):
                winner[sid] = source
    result = RawCommit(version=0)

    refused = rejected(lake, sorted(winner))  # content a steward rejected stays out of every batch

    def decide(ds: Any) -> tuple[str, list[FragmentMetadata]]:
        held = _landed_elsewhere(ds, batch, sorted(winner))
        final, fragments = [], []
        for rb in spool.batches():
            rows = [_verdict(r, batch, winner, held, refused) for r in pa.Table.from_batches([rb]).to_pylist()]
            final += [{k: v for k, v in r.items() if not k.startswith("vec_")} for r in rows]
            fragments += lake.write_rows("raw", pa.Table.from_pylist(rows, schema=stage_schema()))
        landing = {r["sample_id"] for r in final if r["status"] == "landed"}
        mine = set(ds.to_table(columns=["sample_id"], filter=f"batch = {_quote(batch)} AND {LANDED}")["sample_id"].to_pylist())
        flips, replaced, handoffs = _handoffs(lake, ds, batch, sorted(mine - landing - held.keys() - refused.keys()))
        fragments += lake.write_rows("raw", pa.Table.from_pylist(flips, schema=stage_schema())) if flips else []
        fragments += lake.write_rows("raw", token_row())
        result.rows, result.handoffs = final, handoffs
        return in_list("row_id", [TOKEN_ID, *replaced]), fragments

    result.version = lake.commit_batch("raw", batch, [], extra=decide)
    return result


def release_batch(lake: LakeStore, batch: str) -> RawCommit:
    """Delete the batch from `raw`, handing what it held to the next claimants (same rule)."""
    spool = Spool()
    try:
        return commit_raw(lake, batch, spool)
    finally:
        spool.close()


def _landed_elsewhere(ds: Any, batch: str, ids: list[str], chunk: int = 512) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(ids), chunk):
        where = f"{in_list('sample_id', ids[i : i + chunk])} AND {LANDED} AND batch != {_quote(batch)}"
        for r in ds.to_table(columns=["sample_id", "batch"], filter=where).to_pylist():
            out.setdefault(r["sample_id"], r["batch"])
    return out


def _verdict(row: dict[str, Any], batch: str, winner: dict[str, str], held: dict[str, str], refused: dict[str, Verdict]) -> dict[str, Any]:
    sid = row["sample_id"]
    if row["status"] != "landed":
        return row
    if sid in refused:
        q = rejection(Sample(sid, batch, row["source"], []), refused[sid])
        return _set_aside(row, q.reason, q.detail, q.op)
    if sid in held:
        return _duplicate(row, f"same content is held by batch {held[sid]!r}", HOLDER_OP)
    if row["source"] != winner[sid]:
        return _duplicate(row, f"same content as {split_source(winner[sid])[0]!r} in this batch", DEDUP_OP)
    return row


def _duplicate(row: dict[str, Any], detail: str, op: str) -> dict[str, Any]:
    return _set_aside(row, Reason.DUPLICATE, detail, op)


def _set_aside(row: dict[str, Any], reason: Reason, detail: str, op: str) -> dict[str, Any]:
    same = row["sample_id"] if reason is Reason.DUPLICATE else None  # the same content, held elsewhere
    edge = set_aside_edge(op, reason.value, detail, same)
    out = {**row, "status": "quarantined", "reason": reason.value, "detail": detail, "op": op, "lineage": [*(row.get("lineage") or []), edge]}
    out["row_id"] = quarantine_key("raw", row["batch"], row["sample_id"], row["source"])
    return out


def _handoffs(lake: LakeStore, ds: Any, batch: str, released: list[str]) -> tuple[list[dict[str, Any]], list[str], dict[str, list[str]]]:
    """Because `batch` no longer holds `released`: (rows to write, row ids they replace,
    batch → ids it now holds). The next holder's row turns landed; other claimants' rows name it."""
    if not released:
        return [], [], {}
    order = lake.batch_order()
    columns = stage_schema().names
    claims: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in range(0, len(released), 512):
        where = f"{in_list('sample_id', released[i : i + 512])} AND op = {_quote(HOLDER_OP)} AND batch != {_quote(batch)}"
        for r in ds.to_table(columns=columns, filter=where).to_pylist():
            claims[r["sample_id"]].append(r)
    rows: list[dict[str, Any]] = []
    handoffs: dict[str, list[str]] = defaultdict(list)
    for sid, claimants in sorted(claims.items()):
        claimants.sort(key=lambda r: (order.get(r["batch"], LATEST), r["source"]))
        first, *rest = claimants
        handoffs[first["batch"]].append(sid)
        took = {"op": HOLDER_OP, "kind": "modified", "detail": f"status: holds the content now (batch {batch!r} let it go)", "related": []}
        rows.append({**first, "status": "landed", "reason": None, "detail": None, "op": None, "row_id": landed_id(first["batch"], sid),
                     "lineage": [*(first.get("lineage") or []), took]})  # fmt: skip
        rows += [{**r, "detail": f"same content is held by batch {first['batch']!r}"} for r in rest]
    replaced = [r["row_id"] for cs in claims.values() for r in cs]
    return rows, replaced, dict(handoffs)
