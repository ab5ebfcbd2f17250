"""raw: discover a landing drop, sniff, hash, pack the bytes into the lake's blobs; decide who
holds content shared with other batches (resources/ledger.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from tessera.assets.factory import StageContext, StageOutcome, stage_asset
from tessera.assets.runner import CaptureTask, LandingTask, read_captures, read_groups
from tessera.core.accounting import Books
from tessera.core.capture import Capture
from tessera.core.discover import Group, plan
from tessera.core.pairing import TimePairing, funnel, loners, pair_by_time, worth_reading
from tessera.core.schema import BLOB_SCHEMA, samples_to_arrow, stage_schema
from tessera.expectations.manifest import manifest_rows
from tessera.resources.engine_tasks import TaskCrashed
from tessera.resources.lake import iter_chunks
from tessera.resources.landing import DropLanding, open_landing
from tessera.resources.ledger import Spool, commit_raw


def run_landing(sc: StageContext) -> StageOutcome:
    lake, batch = sc.lake, sc.batch
    info = lake.batch_info(batch)
    landing = open_landing(info["uri"])
    names = landing.list()
    manifest, manifest_name = landing.read_manifest(info["manifest"]) if info.get("manifest") else (None, "")
    found = plan(names, batch, manifest, manifest_name)
    found.groups = pair_in_time(sc, landing, found.groups)
    lake.ensure("blobs", BLOB_SCHEMA)
    sizes = [sum(landing.size(n) for n in g.names) for g in found.groups]
    chunks = iter_chunks(found.groups, sizes, sc.execution("chunk_rows", 256), sc.execution("chunk_bytes", 64 << 20), sc.spread)
    tasks = (
        LandingTask(lake.resolved_uri(), str(landing.root), batch, i, tuple(c), {n: landing.relative(n) for g in c for n in g.names},
                    sc.context.run_id, sc.code_version)
        for i, c in enumerate(chunks)
    )  # fmt: skip
    spool, blob_fragments, inputs, n = Spool(), [], list(found.inputs), 0
    try:
        planned, _ = samples_to_arrow([], run_id=sc.context.run_id, code_version=sc.code_version, input_version=0,
                                      quarantined=found.quarantined, stage="raw")  # fmt: skip
        spool.add(planned)
        for i, out in sc.engine.map(read_groups, tasks, kind="cpu"):
            if isinstance(out, TaskCrashed):  # reading and sniffing decode nothing: a dead worker is a bug
                raise RuntimeError(f"batch {batch}: the worker reading chunk {i} of the drop died ({out.detail}); re-run the stage")
            spool.add(out.rows)
            blob_fragments += out.blob_fragments
            inputs += out.inputs
            n += 1
        lake.commit_appends("blobs", blob_fragments)  # bytes first: a row never points at a missing blob
        result = commit_raw(lake, batch, spool)
    finally:
        spool.close()
    books = Books(by_source=True)
    books.add(result.rows)
    written = pa.Table.from_pylist(result.rows, schema=stage_schema())
    sc.context.log.info(f"batch {batch}: {len(inputs)} inputs, {books.landed} samples landed, {len(blob_fragments)} blob fragments")
    metadata: dict[str, Any] = {"pairing": funnel(found.groups)}
    if result.handoffs:
        metadata["handoffs"] = {b: len(ids) for b, ids in result.handoffs.items()}
    preview = [r for r in result.rows if r["status"] == "landed"][:8] + [r for r in result.rows if r["status"] != "landed"][:8]
    return StageOutcome(inputs, books, manifest_rows(written), preview, result.version, n, metadata)


def pair_in_time(sc: StageContext, landing: DropLanding, groups: list[Group]) -> list[Group]:
    """The funnel's last step (core/pairing.py): loners whose recordings overlap join up. Headers
    are read, in the engine's workers, only where two loners could pair at all."""
    settings = (sc.params.get("raw") or {}).get("pairing", {}).get("time")
    if settings is None:
        return groups
    rule = TimePairing(**settings)
    candidates = loners(groups)
    if not worth_reading(candidates):
        return groups
    names = sorted(candidates)
    tasks = (
        CaptureTask(str(landing.root), {n: landing.relative(n) for n in part}, {n: candidates[n] for n in part}, rule.naive_utc_offset_h)
        for part in (names[i : i + 256] for i in range(0, len(names), 256))
    )
    captures: dict[str, tuple[str, Capture]] = {}
    for _, out in sc.engine.map(read_captures, tasks, kind="cpu"):
        if isinstance(out, TaskCrashed):  # a header no reader survives: those files pair no further
            continue
        captures.update(out)
    paired = pair_by_time(groups, captures, rule)
    sc.context.log.info(f"batch {sc.batch}: {len(captures)} of {len(candidates)} unpaired files state a capture time; {len(groups) - len(paired)} joined a recording")
    return paired


def drop_inputs(sc: StageContext) -> str:
    """What raw reads: the drop's files (names, sizes, modification times), its manifest, and the
    batch's registration (a batch deleted and registered again is new)."""
    info = sc.lake.batch_info(sc.batch)
    landing = open_landing(info["uri"])
    landing.list()
    manifest = hashlib.sha256(landing.read_manifest(info["manifest"])[0]).hexdigest() if info.get("manifest") else ""
    return f"{landing.fingerprint()}\0{manifest}\0{info['registered_at']}"


raw = stage_asset(
    name="raw",
    run=run_landing,
    inputs=drop_inputs,
    description="Discover a landing drop and pair its files (manifest rows, then stems, then overlapping capture times), sniff types by magic bytes, hash, pack bytes; "
    "content shared with other batches is held by one of them (the others: DUPLICATE).",
)
