"""The `decisions` table: every steward action is one appended row, never rewritten.

Reads: the verdicts in force for a (batch, stage) as a stage runs, the rejections among some
content ids as raw ingests it, and the decisions made since a time (the loop sensor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import lance
import pyarrow as pa

from tessera.core.decisions import Action, Verdict, in_force
from tessera.core.schema import DECISION_SCHEMA
from tessera.resources.store import STAGE_TABLES, LakeStore, _quote, in_list, retrying

TABLE = "decisions"


def decision_id(row: Mapping[str, Any]) -> str:
    """Unique per decision: what was decided, about what, by whom, when."""
    key = "\0".join(str(row.get(k) or "") for k in ("sample_id", "batch", "stage", "action", "who", "text", "note", "decided_at"))
    return hashlib.sha256(key.encode()).hexdigest()


def record(lake: LakeStore, decisions: Iterable[Mapping[str, Any]], *, who: str, client: str) -> list[dict[str, Any]]:
    """Append one row per decision (sample_id, batch, stage, action, and op/reason/note/text) in one commit."""
    now = datetime.now(UTC)
    rows = []
    for d in decisions:
        action = Action(d["action"])
        if d["stage"] not in STAGE_TABLES:
            raise ValueError(f"decision about {d['sample_id'][:12]}: unknown stage {d['stage']!r}; one of {', '.join(STAGE_TABLES)}")
        if action is Action.RELABEL and not (d.get("text") or "").strip():
            raise ValueError(f"relabel of {d['sample_id'][:12]} needs the new text")
        row = {**{f.name: d.get(f.name) for f in DECISION_SCHEMA}, "action": action.value, "who": who, "client": client, "decided_at": now}
        row["decision_id"] = decision_id(row)
        rows.append(row)
    if rows:
        lake.ensure(TABLE, DECISION_SCHEMA)
        table = pa.Table.from_pylist(rows, schema=DECISION_SCHEMA)
        retrying(f"{TABLE}: append", lambda: lance.write_dataset(table, lake.dataset_uri(TABLE), mode="append", storage_options=lake.storage_options()))
    return rows


def read(lake: LakeStore, where: str | None = None) -> list[dict[str, Any]]:
    ds = lake.dataset(TABLE)
    return [] if ds is None else ds.to_table(filter=where).to_pylist()


def verdicts(lake: LakeStore, batch: str, stage: str) -> dict[str, Verdict]:
    """sample id → the decision in force about it at `stage` in `batch`."""
    rows = read(lake, f"batch = {_quote(batch)} AND stage = {_quote(stage)}")
    return {sid: v for (sid, _), v in in_force(rows).items()}


def rejected(lake: LakeStore, ids: list[str], chunk: int = 512) -> dict[str, Verdict]:
    """Of `ids`, the content a steward rejected (at any stage, in any batch) and still holds rejected."""
    out: dict[str, Verdict] = {}
    for i in range(0, len(ids), chunk):
        for (sid, _), v in in_force(read(lake, in_list("sample_id", ids[i : i + chunk]))).items():
            if v.action is Action.REJECT:
                out[sid] = v
    return out


def since(lake: LakeStore, after: datetime | None) -> list[dict[str, Any]]:
    """Decisions made after `after` (all when None), oldest first."""
    where = None if after is None else f"decided_at > TIMESTAMP '{after.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    return sorted(read(lake, where), key=lambda r: (r["decided_at"], r["decision_id"]))
