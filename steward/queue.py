"""The review queue over the lake: every quarantined input of every stage, with the decision in
force about it (if any), filtered and paged server-side; one sample's story; decisions made on
queue entries. The web app and `tessera review` both use this module, so they mean the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tessera.core.decisions import Action, Verdict, in_force
from tessera.resources import decisions
from tessera.resources.store import QUARANTINED, STAGE_TABLES, LakeStore, _quote, in_list

STATUSES = ("open", "decided", "all")
FULL_ID = re.compile(r"^[0-9a-f]{64}$")
ENTRY_COLUMNS = ["sample_id", "batch", "op", "reason", "detail", "source", "modalities", "text", "created_at"]
UNDECIDABLE = {"raw": "raw sets content aside by its bytes (empty, corrupt, duplicate); there is no operator verdict to override"}


@dataclass(frozen=True, slots=True)
class Filter:
    batch: str | None = None
    stage: str | None = None
    reason: str | None = None
    status: str = "open"

    def __post_init__(self) -> None:
        if self.stage is not None and self.stage not in STAGE_TABLES:
            raise ValueError(f"unknown stage {self.stage!r}; one of {', '.join(STAGE_TABLES)}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; one of {', '.join(STATUSES)}")


def entries(lake: LakeStore, f: Filter) -> list[dict[str, Any]]:
    """Queue entries matching `f`, in stage order then oldest first; each with its decision in force."""
    return page(lake, f, limit=None)[0]


def page(lake: LakeStore, f: Filter, limit: int | None = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(entries `offset` … `offset + limit` of the queue `f` selects (all when `limit` is None), how many match in all).

    Cost grows with the rows that match only through their sort keys (sample id, time, row
    address, read as Arrow): the entries themselves and their decisions are read for the page alone."""
    matched = _matches(lake, f)
    total = sum(keys.num_rows for _, _, keys in matched)
    stop = total if limit is None else offset + limit
    out: list[dict[str, Any]] = []
    seen = 0
    for stage, ds, keys in matched:
        lo, hi = max(offset - seen, 0), min(stop - seen, keys.num_rows)
        seen += keys.num_rows
        if lo >= hi:
            continue
        rows = ds._take_rows(keys["_rowaddr"].slice(lo, hi - lo).to_pylist(), columns=ENTRY_COLUMNS).to_pylist()  # pylance 14: take by row address
        out += [{"stage": stage, **r} for r in rows]
    verdicts = _in_force(lake, f, sorted({e["sample_id"] for e in out}))
    for e in out:
        v = verdicts.get((e["sample_id"], e["stage"]))
        e["decision"] = None if v is None else {"action": v.action.value, "who": v.who, "note": v.note, "id": v.decision_id}
    return out, total


def _matches(lake: LakeStore, f: Filter) -> list[tuple[str, Any, pa.Table]]:
    """Per stage (in stage order): its dataset (one version, read once) and the sort keys of its
    matching entries (`sample_id`, `created_at`, `_rowaddr`), oldest first, the status filter applied."""
    conds = [QUARANTINED, *(f"batch = {_quote(v)}" for v in [f.batch] if v), *(f"reason = {_quote(v)}" for v in [f.reason] if v)]
    decided = _decided(lake, f) if f.status != "all" else {}
    out = []
    for stage, table in STAGE_TABLES.items():
        ds = lake.dataset(table) if f.stage in (None, stage) else None
        if ds is None:
            continue
        keys = ds.to_table(columns=["sample_id", "created_at"], filter=" AND ".join(conds), with_row_address=True)
        if f.status != "all":
            held = pc.is_in(keys["sample_id"], value_set=decided.get(stage, pa.array([], pa.string())))
            keys = keys.filter(pc.invert(held) if f.status == "open" else held)
        out.append((stage, ds, keys.take(pc.sort_indices(keys, [("created_at", "ascending"), ("sample_id", "ascending")]))))
    return out


def _decisions_where(f: Filter, extra: str | None = None) -> str | None:
    conds = [c for c in (f"batch = {_quote(f.batch)}" if f.batch else None, extra) if c]
    return " AND ".join(conds) or None


def _decided(lake: LakeStore, f: Filter) -> dict[str, pa.Array]:
    """stage → the sample ids with a decision in force there (any decision is in force: the latest wins)."""
    ds = lake.dataset(decisions.TABLE)
    if ds is None:
        return {}
    t = ds.to_table(columns=["sample_id", "stage"], filter=_decisions_where(f))
    return {stage: pc.unique(t.filter(pc.equal(t["stage"], stage))["sample_id"]) for stage in pc.unique(t["stage"]).to_pylist()}


def _in_force(lake: LakeStore, f: Filter, ids: list[str], chunk: int = 512) -> dict[tuple[str, str], Verdict]:
    out: dict[tuple[str, str], Verdict] = {}
    for i in range(0, len(ids), chunk):
        out.update(in_force(decisions.read(lake, _decisions_where(f, in_list("sample_id", ids[i : i + chunk])))))
    return out


def resolve(lake: LakeStore, prefix: str) -> str:
    """The full sample id a (unique, ≥ 8 character) prefix names."""
    if len(prefix) < 8:
        raise ValueError(f"sample id {prefix!r} is too short; give at least 8 characters")
    found: set[str] = set()
    for table in STAGE_TABLES.values():
        ds = lake.dataset(table)
        if ds is not None:
            found |= set(ds.to_table(columns=["sample_id"], filter=f"starts_with(sample_id, {_quote(prefix)})")["sample_id"].to_pylist())
    if len(found) != 1:
        raise ValueError(f"sample id {prefix!r} names {'no sample' if not found else f'{len(found)} samples'}; give more of it")
    return found.pop()


def story(lake: LakeStore, sample_id: str) -> dict[str, Any]:
    """Everything the lake knows of one sample: its row at each stage of each batch with the ledger its
    operators left (`lineage`: the edges `tessera lineage` prints), and every decision about it."""
    stages = []
    columns = ["batch", "status", "reason", "detail", "op", "source", "modalities", "text", "transcript", "metrics", "flags", "segments", "parent_id", "created_at",
               "lineage"]  # fmt: skip
    for stage, table in STAGE_TABLES.items():
        ds = lake.dataset(table)
        if ds is None:
            continue
        cols = [c for c in columns if c in ds.schema.names]
        for r in ds.to_table(columns=cols, filter=f"sample_id = {_quote(sample_id)}").to_pylist():
            r["metrics"] = {k: v for k, v in (r.get("metrics") or {}).items() if v is not None}
            stages.append({"stage": stage, **r})
    history = sorted(decisions.read(lake, f"sample_id = {_quote(sample_id)}"), key=lambda r: r["decided_at"])
    return {"sample_id": sample_id, "stages": stages, "decisions": history}


def target(lake: LakeStore, sample_id: str, action: Action, batch: str | None = None, stage: str | None = None) -> dict[str, Any]:
    """Where a decision about `sample_id` applies: the (batch, stage, op, reason) of its latest
    quarantine; a relabel of a sample that is not quarantined applies at `aligned` (its new text
    then flows through aligned and embedded again)."""
    return targets(lake, [(sample_id, batch, stage)], action)[0]


def targets(lake: LakeStore, wanted: list[tuple[str, str | None, str | None]], action: Action, chunk: int = 512) -> list[dict[str, Any]]:
    """`target` of each (sample_id, batch, stage), the stage tables read once for them all."""
    ids = sorted({sid for sid, _, _ in wanted})
    found: dict[str, list[dict[str, Any]]] = {}
    for stage, table in STAGE_TABLES.items():
        ds = lake.dataset(table)
        for i in range(0, len(ids), chunk) if ds is not None else ():
            for r in ds.to_table(columns=["sample_id", "batch", "status", "op", "reason"], filter=in_list("sample_id", ids[i : i + chunk])).to_pylist():
                found.setdefault(r["sample_id"], []).append({"stage": stage, **r})
    for rows in found.values():  # stage order, as `story` lists them
        rows.sort(key=lambda r: list(STAGE_TABLES).index(r["stage"]))
    return [_target(sid, found.get(sid, []), action, batch, stage) for sid, batch, stage in wanted]


def _target(sample_id: str, stages: list[dict[str, Any]], action: Action, batch: str | None, stage: str | None) -> dict[str, Any]:
    rows = [r for r in stages if (batch is None or r["batch"] == batch) and (stage is None or r["stage"] == stage)]
    if not rows:
        raise ValueError(f"sample {sample_id[:12]} is in no stage table{f' of batch {batch}' if batch else ''}{f' at {stage}' if stage else ''}")
    held = [r for r in rows if r["status"] == "quarantined"]
    if held:
        r = held[-1]
        if r["stage"] in UNDECIDABLE and action is Action.APPROVE:
            raise ValueError(f"sample {sample_id[:12]} was set aside at raw ({r['reason']}): {UNDECIDABLE['raw']}")
        return {"sample_id": sample_id, "batch": r["batch"], "stage": r["stage"], "op": r["op"], "reason": r["reason"]}
    if action is Action.APPROVE:
        raise ValueError(f"sample {sample_id[:12]} is not quarantined{f' at {stage}' if stage else ''}: nothing to approve")
    batches = sorted({r["batch"] for r in rows})
    if len(batches) > 1:
        raise ValueError(f"sample {sample_id[:12]} is in batches {', '.join(batches)}; say which with --batch")
    at = stage or ("aligned" if action is Action.RELABEL else rows[-1]["stage"])
    return {"sample_id": sample_id, "batch": batches[0], "stage": at, "op": "", "reason": ""}


def counts(lake: LakeStore, f: Filter) -> dict[str, int]:
    """stage → how many queue entries `f` matches there (stages with none left out)."""
    return {stage: keys.num_rows for stage, _, keys in _matches(lake, f) if keys.num_rows}


def decide(lake: LakeStore, targets: list[dict[str, Any]], action: Action, *, who: str, client: str, note: str = "", text: str | None = None) -> list[dict[str, Any]]:
    """Append one decision per target (as `target` or a queue entry gives them), in one commit."""
    return decisions.record(lake, [{**t, "action": action.value, "note": note, "text": text} for t in targets], who=who, client=client)
