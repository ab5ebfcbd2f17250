"""The review queue over the lake: every quarantined input of every stage, with the decision in
force about it (if any), filtered and paged server-side; one sample's story; decisions made on
queue entries. The web app and `tessera review` both use this module, so they mean the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.decisions import Action, in_force
from resources import decisions
from resources.store import QUARANTINED, STAGE_TABLES, LakeStore, _quote

STATUSES = ("open", "decided", "all")
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
    conds = [QUARANTINED, *(f"batch = {_quote(v)}" for v in [f.batch] if v), *(f"reason = {_quote(v)}" for v in [f.reason] if v)]
    decided = in_force(decisions.read(lake, f"batch = {_quote(f.batch)}" if f.batch else None))
    out: list[dict[str, Any]] = []
    for stage, table in STAGE_TABLES.items():
        ds = lake.dataset(table) if f.stage in (None, stage) else None
        if ds is None:
            continue
        rows = ds.to_table(columns=ENTRY_COLUMNS, filter=" AND ".join(conds)).to_pylist()
        for r in sorted(rows, key=lambda r: (r["created_at"], r["sample_id"])):
            v = decided.get((r["sample_id"], stage))
            if (f.status == "open" and v is not None) or (f.status == "decided" and v is None):
                continue
            out.append({"stage": stage, **r, "decision": None if v is None else {"action": v.action.value, "who": v.who, "note": v.note, "id": v.decision_id}})
    return out


def page(lake: LakeStore, f: Filter, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(one page of entries, how many match in all)."""
    found = entries(lake, f)
    return found[offset : offset + limit], len(found)


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
    """Everything the lake knows of one sample: its row at each stage of each batch, and every decision about it."""
    stages = []
    columns = ["batch", "status", "reason", "detail", "op", "source", "modalities", "text", "transcript", "metrics", "flags", "segments", "parent_id", "created_at"]
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
    rows = [r for r in story(lake, sample_id)["stages"] if (batch is None or r["batch"] == batch) and (stage is None or r["stage"] == stage)]
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


def decide(lake: LakeStore, targets: list[dict[str, Any]], action: Action, *, who: str, client: str, note: str = "", text: str | None = None) -> list[dict[str, Any]]:
    """Append one decision per target (as `target` or a queue entry gives them), in one commit."""
    return decisions.record(lake, [{**t, "action": action.value, "note": note, "text": text} for t in targets], who=who, client=client)
