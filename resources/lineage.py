"""Where a sample came from, and why a file never reached `samples`: read from the ledger each
stage row carries (`lineage`, core/lineage.py), across every stage table and batch, at the latest
versions or at a release's (`versions`: table → version)."""

from __future__ import annotations

import json
from typing import Any

from tessera.core.discover import split_source
from tessera.core.records import MODALITY_ORDER
from tessera.resources import decisions
from tessera.resources.store import STAGE_TABLES, LakeStore, _quote, in_list

COLUMNS = ["sample_id", "batch", "status", "reason", "detail", "op", "source", "parent_id", "aug_op", "run_id", "code_version", "input_version",
           "created_at", "lineage", "modalities"]  # fmt: skip


def _rows(lake: LakeStore, where: str, versions: dict[str, int] | None) -> list[dict[str, Any]]:
    """Rows of every stage table matching `where`, each with its stage and the table's version read."""
    out: list[dict[str, Any]] = []
    for stage, table in STAGE_TABLES.items():
        if versions is not None and table not in versions:
            continue
        ds = lake.dataset(table, versions.get(table) if versions else None)
        if ds is None:
            continue
        cols = [c for c in COLUMNS if c in ds.schema.names]
        out += [{"stage": stage, "version": int(ds.version), **r} for r in ds.to_table(columns=cols, filter=where).to_pylist()]
    return out


def story(lake: LakeStore, sample_id: str, versions: dict[str, int] | None = None, depth: int = 3) -> dict[str, Any]:
    """The sample's rows from raw to `samples`, stage by stage and batch by batch, each with the
    edges its operators left; for a variant or a window, its parent's story first; the steward's
    decisions about it."""
    if len(sample_id) < 64:  # a prefix, as the commands print ids
        ids = sorted({r["sample_id"] for r in _rows(lake, f"starts_with(sample_id, {_quote(sample_id)})", versions)})
        if len(ids) > 1:
            raise KeyError(f"sample id prefix {sample_id!r} matches {len(ids)} samples ({', '.join(i[:16] for i in ids[:4])} …); give more of it")
        sample_id = ids[0] if ids else sample_id
    rows = _rows(lake, f"sample_id = {_quote(sample_id)}", versions)
    if not rows:
        raise KeyError(f"sample {sample_id!r} is in no stage table; `tessera why-missing PATH` finds what a file became")
    order = list(STAGE_TABLES)
    rows.sort(key=lambda r: (order.index(r["stage"]), r["batch"]))
    parent_id = next((r["parent_id"] for r in rows if r.get("parent_id")), None)
    parent = story(lake, parent_id, versions, depth - 1) if parent_id and depth > 0 else None
    steps = [
        {k: r.get(k) for k in ("stage", "batch", "status", "reason", "detail", "op", "run_id", "code_version", "input_version", "version", "aug_op")}
        | {"source": split_source(r["source"] or ""), "created_at": str(r.get("created_at") or "")[:19], "edges": r.get("lineage") or []}
        for r in rows
    ]
    made = decisions.read(lake, f"sample_id = {_quote(sample_id)}")
    return {
        "sample_id": sample_id,
        "parent": parent,
        "stages": steps,
        "decisions": [{k: str(d[k]) if k == "decided_at" else d.get(k) for k in ("decision_id", "stage", "batch", "action", "who", "note", "text", "decided_at")}
                      for d in sorted(made, key=lambda d: d["decided_at"])],
        "in_samples": any(r["stage"] == "embedded" and r["status"] == "landed" for r in rows),
    }  # fmt: skip


def story_text(s: dict[str, Any], indent: str = "") -> str:
    """The story in words, one line per row and per edge."""
    lines = []
    if s.get("parent"):
        lines += [f"{indent}from {s['parent']['sample_id'][:12]}:", story_text(s["parent"], indent + "  ")]
    for st in s["stages"]:
        head = f"{indent}{st['stage']:<9} batch {st['batch']}: "
        if st["status"] == "landed":
            head += "landed" + (f" from {' + '.join(st['source'])}" if st["stage"] == "raw" else "")
        else:
            head += f"set aside {st['reason']} by {st['op']} ({st['detail']})"
        lines.append(head + f"  [run {str(st['run_id'])[:8]}, code {st['code_version']}, table v{st['version']}]")
        for e in st["edges"]:
            related = f" → {', '.join(r[:12] for r in e['related'][:5])}{' …' if len(e['related']) > 5 else ''}" if e["related"] else ""
            lines.append(f"{indent}  {e['op']}: {e['kind']}{related}{(' — ' + e['detail']) if e['detail'] else ''}")
    for d in s["decisions"]:
        lines.append(f"{indent}steward {d['who']} {d['action']} at {d['stage']} ({d['decided_at'][:19]}){': ' + d['note'] if d['note'] else ''}")
    return "\n".join(lines)


def why_missing(lake: LakeStore, what: str, batch: str | None = None, versions: dict[str, int] | None = None) -> dict[str, Any]:
    """From a source file (its path as it was in the drop, or its sha256) to what it became: per
    sample, whether it is in `samples`, or the stage, operator, reason and words (value and limit)
    that set it aside; the steward's decisions; whether a re-ingest would be refused."""
    is_sha = len(what) == 64 and all(c in "0123456789abcdef" for c in what.lower())
    if is_sha:
        where = " OR ".join(f"raw_sha256_{m} = {_quote(what.lower())}" for m in MODALITY_ORDER)
    else:
        where = f"source LIKE {_quote('%' + json.dumps(what, ensure_ascii=False)[1:-1].replace('%', '') + '%')}"  # sources are JSON lists; exact match below
    where = f"({where})" + (f" AND batch = {_quote(batch)}" if batch else "")
    raw = lake.dataset("raw", versions.get("raw") if versions else None)
    found = raw.to_table(columns=["sample_id", "batch", "source", "status", "reason", "op", "detail"], filter=where).to_pylist() if raw is not None else []
    found = [r for r in found if is_sha or what in split_source(r["source"] or "")]
    if not found:
        return {"what": what, "found": False, "why": f"no registered batch's drop had {what!r}: check the path as it is inside the drop, or `tessera ingest` it"}
    ids = sorted({r["sample_id"] for r in found})
    rows = _rows(lake, in_list("sample_id", ids), versions)
    refused = decisions.rejected(lake, ids)
    out = []
    for sid in ids:
        mine = [r for r in rows if r["sample_id"] == sid]
        landed = [r["batch"] for r in mine if r["stage"] == "embedded" and r["status"] == "landed"]
        aside = sorted((r for r in mine if r["status"] == "quarantined"), key=lambda r: list(STAGE_TABLES).index(r["stage"]))
        own = [r for r in found if r["sample_id"] == sid]
        if landed and own and all(r["status"] != "landed" for r in own):  # the same content landed from another file: this one was its copy
            o = own[0]
            why = f"its content is there: in samples (batch {', '.join(sorted(landed))}); this file itself was set aside at raw in batch {o['batch']}: {o['reason']} by {o['op']} — {o['detail']}"
        elif landed:
            why = f"it is there: in samples (batch {', '.join(sorted(landed))})"
        elif aside:
            a = aside[0]
            why = f"set aside at {a['stage']} in batch {a['batch']}: {a['reason']} by {a['op']} — {a['detail']}"
        else:
            last = max(mine, key=lambda r: list(STAGE_TABLES).index(r["stage"]))
            why = f"reached {last['stage']} in batch {last['batch']} and no later stage has run for it yet (`tessera materialize --batch {last['batch']}`)"
        made = decisions.read(lake, f"sample_id = {_quote(sid)}")
        out.append({
            "sample_id": sid, "sources": sorted({s for r in found if r["sample_id"] == sid for s in split_source(r["source"] or "")}),
            "in_samples": bool(landed), "why": why, "decisions": [f"{d['who']} {d['action']} at {d['stage']}: {d.get('note') or ''}".strip() for d in made],
            "reingest_refused": sid in refused,
        })  # fmt: skip
    return {"what": what, "found": True, "samples": out}
