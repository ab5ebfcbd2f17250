"""One sample as the review app shows it: its story (`steward.queue.story`), the media and cues of
its latest row, each quarantine beside the limits of the operator that set it aside, its nearest
neighbours by vector, and the duplicate cluster it belongs to, with what "keep this one" records."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tessera.core.decisions import Action
from tessera.core.records import MODALITY_ORDER
from tessera.resources import decisions
from tessera.resources.store import LANDED, QUARANTINED, STAGE_TABLES, LakeStore, _quote
from tessera.steward.queue import story, target

MEDIA_COLUMNS = ["batch", "status", *(f"media_{m}" for m in MODALITY_ORDER), "keyframes", "keyframe_times", "formats", "segments"]
NEAR_DUP = re.compile(r"^near-duplicate of ([0-9a-f]{8,64})\b")
HELD_BY = re.compile(r" held by batch '([^']+)'")  # a copy of what another batch holds (resources/near_index.py)
# vector columns tried for neighbours, in this order of modality (`vec_<modality>__<model>`)
VECTOR_ORDER = ("image", "video", "audio", "text")


def view(lake: LakeStore, sample_id: str, params: Mapping[str, Any], neighbours_k: int = 6) -> dict[str, Any]:
    """Everything the sample page shows about `sample_id` (a full id)."""
    told = story(lake, sample_id)
    if not told["stages"]:
        raise KeyError(f"sample {sample_id[:12]} is in no stage table")
    rows = _media_rows(lake, sample_id)
    latest = rows[-1] if rows else {}
    media = {m: latest.get(f"media_{m}") for m in MODALITY_ORDER if m != "text" and latest.get(f"media_{m}")}
    keyframes = list(zip(latest.get("keyframes") or [], latest.get("keyframe_times") or [], strict=False))
    cues = next((r["segments"] for r in reversed(rows) if r.get("segments")), None) or []
    held = [r for r in told["stages"] if r["status"] == "quarantined"]
    for r in held:
        r["limits"] = op_params(params, r["stage"], r["op"])
    return {
        **told,
        "latest": told["stages"][-1],
        "media": media,
        "keyframes": keyframes,
        "cues": sorted(cues, key=lambda c: (c["start"], c["end"])),
        "held": held,
        "batches": sorted({r["batch"] for r in told["stages"]}),
        "neighbours": neighbours(lake, sample_id, neighbours_k),
        "cluster": cluster(lake, sample_id, told["stages"]),
    }


def _media_rows(lake: LakeStore, sample_id: str) -> list[dict[str, Any]]:
    """The sample's media references at every stage, in stage order."""
    out = []
    for stage, table in STAGE_TABLES.items():
        ds = lake.dataset(table)
        if ds is not None:
            out += [{"stage": stage, **r} for r in ds.to_table(columns=MEDIA_COLUMNS, filter=f"sample_id = {_quote(sample_id)}").to_pylist()]
    return out


def op_params(params: Mapping[str, Any], stage: str, op: str | None) -> dict[str, Any]:
    """The parameters (limits) params.yaml gives operator `op` in `stage`, or {}."""
    for spec in (params.get(stage) or {}).get("ops") or []:
        if spec == op:
            return {}
        if isinstance(spec, Mapping) and op in spec:
            return dict(spec[op] or {})
    return {}


def neighbours(lake: LakeStore, sample_id: str, k: int = 6) -> list[dict[str, Any]]:
    """The `k` landed samples nearest to this one (cosine, one vector column: the first of
    VECTOR_ORDER this sample has a vector in), each with `score` = 1 − cosine distance and the
    column compared; [] when the sample has no vector in `samples`."""
    table = lake.open("samples")
    if table is None:
        return []
    columns = [c for c in table.schema.names if c.startswith("vec_")]
    columns.sort(key=lambda c: VECTOR_ORDER.index(c[4:].split("__")[0]) if c[4:].split("__")[0] in VECTOR_ORDER else len(VECTOR_ORDER))
    if not columns:
        return []
    ds = lake.dataset("samples")
    mine = ds.to_table(columns=columns, filter=f"sample_id = {_quote(sample_id)} AND {LANDED}").to_pylist()
    for column in columns:
        vec = next((r[column] for r in mine if r.get(column) is not None), None)
        if vec is None:
            continue
        where = f"sample_id != {_quote(sample_id)} AND {LANDED} AND parent_id IS NULL AND {column} IS NOT NULL"
        q = table.search(vec, vector_column_name=column).distance_type("cosine").where(where, prefilter=True)
        found = q.select(["sample_id", "batch", "modalities", "text", "source"]).limit(k).to_list()
        return [{**{c: r[c] for c in ("sample_id", "batch", "modalities", "text", "source")}, "score": 1.0 - float(r["_distance"]), "column": column} for r in found]
    return []


def cluster(lake: LakeStore, sample_id: str, stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The near-duplicate cluster this sample is in (as the duplicate or as the one kept): the
    stage and batch where it was decided, the sample kept, and every member with its image and
    batch — a copy in a later batch names the batch that holds the picture, whose row is shown as
    the one kept; None when it is in none. Content duplicates set aside at raw are the same bytes:
    they form no cluster to choose from (the story shows their sources)."""
    dup = next((r for r in reversed(stages) if r["status"] == "quarantined" and r["reason"] == "DUPLICATE" and NEAR_DUP.match(r["detail"] or "")), None)
    if dup is not None:
        prefix, stage, batch = NEAR_DUP.match(dup["detail"])[1], dup["stage"], dup["batch"]
        held = HELD_BY.search(dup["detail"] or "")
        holder = held[1] if held else batch
    else:
        found = _duplicates_of(lake, sample_id[:12])
        if not found:
            return None
        stage, batch, prefix = found[0]["stage"], found[0]["batch"], sample_id[:12]
        holder = batch
    ds = lake.dataset(STAGE_TABLES[stage])
    if ds is None:
        return None
    columns = ["sample_id", "batch", "status", "reason", "detail", "source", "media_image"]
    kept = ds.to_table(columns=columns, filter=f"batch = {_quote(holder)} AND starts_with(sample_id, {_quote(prefix)}) AND {LANDED}").to_pylist()
    # its copies in this batch and, across batches, in every batch that names the holder
    dups = ds.to_table(columns=columns, filter=f"{QUARANTINED} AND starts_with(detail, {_quote(f'near-duplicate of {prefix}')})").to_pylist()
    dups = [r for r in dups if r["batch"] == holder or f"held by batch {holder!r}" in (r["detail"] or "")]
    members = [{**r, "kept": True} for r in kept[:1]] + [{**r, "kept": False} for r in sorted(dups, key=lambda r: (r["batch"] != batch, r["sample_id"]))]
    return {"stage": stage, "batch": batch, "kept": kept[0]["sample_id"] if kept else None, "members": members}


def _duplicates_of(lake: LakeStore, prefix: str) -> list[dict[str, Any]]:
    out = []
    for stage, table in STAGE_TABLES.items():
        ds = lake.dataset(table)
        if ds is not None:
            where = f"{QUARANTINED} AND reason = 'DUPLICATE' AND starts_with(detail, {_quote(f'near-duplicate of {prefix}')})"
            out += [{"stage": stage, **r} for r in ds.to_table(columns=["batch"], filter=where).to_pylist()]
    return out


def keep_targets(lake: LakeStore, found: Mapping[str, Any], keep: str) -> list[dict[str, Any]]:
    """The decisions "keep this one" makes in a near-duplicate cluster, as `tessera review` would
    make them one by one: `approve` of the chosen sample where the cluster set it aside (it lands,
    the operator's DUPLICATE overridden) and `reject` of every other member in the cluster's
    batch (each where `tessera review reject SAMPLE --batch B` applies it: the duplicates at their
    quarantine, the sample kept until now at the last stage it reached)."""
    members = {m["sample_id"]: m for m in found["members"]}
    if keep not in members:
        raise ValueError(f"sample {keep[:12]} is not in the cluster of {str(found['kept'])[:12]} in batch {found['batch']}")
    out = []
    if not members[keep]["kept"]:
        out.append({**target(lake, keep, Action.APPROVE, members[keep].get("batch", found["batch"]), found["stage"]), "action": Action.APPROVE.value})
    for sid, m in members.items():
        if sid != keep:  # each in its own batch: a copy across batches is decided where it was set aside
            out.append({**target(lake, sid, Action.REJECT, m.get("batch", found["batch"])), "action": Action.REJECT.value})
    return out


def record_keep(lake: LakeStore, found: Mapping[str, Any], keep: str, *, who: str, client: str, note: str = "") -> list[dict[str, Any]]:
    """Record "keep this one" (`keep_targets`) in one commit."""
    note = note or f"kept {keep[:12]} of its near-duplicate cluster"
    return decisions.record(lake, [{**t, "note": note} for t in keep_targets(lake, found, keep)], who=who, client=client)
