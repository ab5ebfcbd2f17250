"""Arrow schemas of the lake tables and the Sample ↔ Arrow conversion.

Invariants: one schema for every stage table (columns a stage does not fill are null),
plus one `vec_<modality>__<model>` column per encoder in `samples`. A stage table holds
the stage's landed rows (`status = landed`) and its quarantined inputs (`status =
quarantined`, with reason/detail/op), written in one commit (I2). A row's key (`row_id`)
includes its batch, so batches never overwrite each other's rows.

Media are stored once: rows carry `media_<modality>` / `keyframes` references (sha256) into
the content-addressed `blobs` table, never the bytes themselves.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import UTC, datetime

import pyarrow as pa

from tessera.core.embedding import search_text_for
from tessera.core.lineage import Edge, as_rows
from tessera.core.records import MODALITY_ORDER, Moment, Quarantined, Sample, Segment, Stored, sha256_hex

# Every metric an operator may write; a new metric is added here (and shows up in GX and the UI),
# always at the end: existing lakes gain it as a new child of their `metrics` struct (LakeStore.ensure).
METRICS: tuple[str, ...] = (
    "width", "height", "blur_var", "brightness", "clipped_share", "dhash_hi", "dhash_lo",
    "duration_s", "sample_rate", "channels", "silence_ratio", "clipping_ratio", "loudness_dbfs", "audio_rate",
    "text_chars", "text_bytes", "subtitle_cues",
    "video_width", "video_height", "video_frames", "video_fps", "video_duration_s", "video_audio_streams",
    "video_subtitle_streams", "keyframes", "embedded_cues",
    "cues", "cues_dropped", "keyframes_with_cue", "transcript_segments",
    "windows", "window_start_s", "window_end_s", "cue_offset_s", "cue_offset_score",
    "loudness_lufs", "snr_db", "phash_hi", "phash_lo", "cluster_size", "cluster_distance",
    "text_controls_removed", "text_markup_removed",
    "video_data_streams", "video_attachments", "video_cover_streams", "video_vfr", "video_scene_cuts", "video_motion",
    "source_frames", "icc_converted", "text_score", "voiced_ratio", "recovered_share", "video_recovered_share",
    "aspect_ratio", "trim_lead_s", "trim_tail_s", "nsfw_score", "video_av_offset_s", "video_av_offset_score",
    "paired_audio_start_s", "paired_image_start_s", "paired_audio_sync_score", "paired_audio_share",
    "align_image_text", "align_audio_text", "align_transcript_text",
)  # fmt: skip

SEGMENT = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("text", pa.string()), ("source", pa.string())])
MOMENT = pa.struct([
    ("t", pa.float64()), ("keyframe", pa.int32()), ("audio_start", pa.float64()), ("audio_end", pa.float64()), ("cues", pa.list_(pa.int32())),
])  # fmt: skip
METRICS_TYPE = pa.struct([(m, pa.float64()) for m in METRICS])
EDGE = pa.struct([("op", pa.string()), ("kind", pa.string()), ("detail", pa.string()), ("related", pa.list_(pa.string()))])
SAMPLE_FIELDS: list[pa.Field] = [
    pa.field("row_id", pa.string()),
    pa.field("sample_id", pa.string(), nullable=False),
    pa.field("batch", pa.string(), nullable=False),
    pa.field("source", pa.string()),
    pa.field("modalities", pa.list_(pa.string())),
    pa.field("status", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("detail", pa.string()),
    pa.field("op", pa.string()),
    *[pa.field(f"raw_sha256_{m}", pa.string()) for m in MODALITY_ORDER],
    pa.field("text", pa.string()),
    pa.field("transcript", pa.string()),
    pa.field("search_text", pa.string()),
    *[pa.field(f"media_{m}", pa.string()) for m in MODALITY_ORDER],
    pa.field("media_bytes", pa.int64()),
    pa.field("formats", pa.string()),
    pa.field("keyframes", pa.list_(pa.string())),
    pa.field("keyframe_times", pa.list_(pa.float64())),
    pa.field("segments", pa.list_(SEGMENT)),
    pa.field("metrics", METRICS_TYPE),
    pa.field("flags", pa.list_(pa.string())),
    pa.field("language", pa.string()),
    pa.field("language_score", pa.float64()),
    pa.field("cluster", pa.string()),  # near-duplicate cluster: the sample id of its representative
    pa.field("parent_id", pa.string()),
    pa.field("aug_op", pa.string()),
    pa.field("aug_params", pa.string()),
    pa.field("encoders", pa.string()),
    pa.field("run_id", pa.string()),
    pa.field("code_version", pa.string()),
    pa.field("code_versions", pa.string()),
    pa.field("input_version", pa.int64()),
    pa.field("created_at", pa.timestamp("us", tz="UTC")),
    pa.field("timeline", pa.list_(MOMENT)),  # after the rest: existing lakes gain it as a new column (LakeStore.ensure)
    pa.field("captions", pa.list_(pa.string())),  # other captions of the picture, gathered from its near-duplicates
    pa.field("lineage", pa.list_(EDGE)),  # the stage's ledger of this row (core/lineage.py), committed with it
]
SAMPLE_SCHEMA = pa.schema(SAMPLE_FIELDS)

# Lance blob encoding: bytes live out of line and read back as file-like streams.
BLOB_SCHEMA = pa.schema(
    [
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("data", pa.large_binary(), metadata={"lance-encoding:blob": "true"}),
        pa.field("size", pa.int64()),
        pa.field("first_batch", pa.string()),
    ]
)

# The band index of near-copies across batches (resources/near_index.py): a holder's row per LSH
# band (`key`), a claim's one row naming the holder; `value` is the hash or signature compared.
NEAR_INDEX_SCHEMA = pa.schema(
    [
        pa.field("row_id", pa.string(), nullable=False),
        pa.field("kind", pa.string()),  # the operator's band layout (index_kind)
        pa.field("key", pa.int64()),  # a holder's band; null on a claim
        pa.field("sample_id", pa.string()),
        pa.field("batch", pa.string(), nullable=False),
        pa.field("op", pa.string()),
        pa.field("value", pa.binary()),
        pa.field("holder_batch", pa.string()),  # a claim: the batch holding its near-copy
        pa.field("holder_id", pa.string()),
        pa.field("distance", pa.float64()),
    ]
)

BATCH_SCHEMA = pa.schema(
    [
        pa.field("batch", pa.string(), nullable=False),
        pa.field("uri", pa.string(), nullable=False),
        pa.field("manifest", pa.string()),
        pa.field("registered_at", pa.timestamp("us", tz="UTC")),
    ]
)


def vector_field(column: str, dim: int) -> pa.Field:
    return pa.field(column, pa.list_(pa.float32(), dim))


def landed_id(batch: str, sample_id: str) -> str:
    """Key of a landed row: one per batch and sample (the same content in two batches is two rows)."""
    return sha256_hex(f"landed\0{batch}\0{sample_id}".encode())


def quarantine_key(stage: str, batch: str, sample_id: str, source: str) -> str:
    """Key of a quarantine row: one per stage, batch, sample and source (a raw DUPLICATE
    shares its sample id with the row that landed, never its source)."""
    return sha256_hex(f"{stage}\0{batch}\0{sample_id}\0{source}".encode())


def quarantine_id(stage: str, q: Quarantined) -> str:
    return quarantine_key(stage, q.sample.batch, q.sample_id, q.sample.source)


def media_refs(s: Sample, hydrated: Collection[str]) -> tuple[dict[str, str], list[str], dict[str, bytes]]:
    """(modality → sha256, keyframe shas, sha256 → bytes to store) for one row.

    Bytes in flight are hashed; stored media handed over as a stream (`Stored`) and a reference
    the stage did not load (`hydrated`) are kept as read. A modality an operator consumed
    (decoded text) was loaded and is gone: no reference."""
    refs = {m: ref for m, ref in s.media_ref.items() if m not in hydrated}
    payload: dict[str, bytes] = {}
    for m, data in s.media.items():
        if isinstance(data, Stored):
            refs[m] = data.sha256
            continue
        refs[m] = sha256_hex(data)
        payload[refs[m]] = data
    if s.keyframes:
        keyframes = [sha256_hex(k) for k in s.keyframes]
        payload.update(zip(keyframes, s.keyframes, strict=True))
    else:
        keyframes = [] if "keyframes" in hydrated else list(s.keyframe_refs)
    return refs, keyframes, payload


def samples_to_arrow(
    samples: Iterable[Sample],
    *,
    run_id: str,
    code_version: str,
    input_version: int,
    vector_dims: dict[str, int] | None = None,
    quarantined: Iterable[Quarantined] = (),
    stage: str = "",
    hydrated: Collection[str] = (),
    sizes: dict[str, int] | None = None,
) -> tuple[pa.Table, dict[str, bytes]]:
    """Rows for a stage table — landed samples, then quarantined inputs (without vectors) —
    and the media bytes they reference (sha256 → bytes) for the content-addressed store.
    `vector_dims` adds one fixed-size vector column per entry; `sizes` gives the byte size of
    references whose bytes are not in flight (so `media_bytes` stays exact)."""
    now = datetime.now(UTC)
    dims = dict(vector_dims or {})
    known = dict(sizes or {})
    entries: list[tuple[Sample, Quarantined | None]] = [(s, None) for s in samples]
    entries += [(q.sample.evolve(vectors={}), q) for q in quarantined]
    rows, payload = [], {}
    for s, q in entries:
        unknown = set(s.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"metrics {sorted(unknown)} of sample {s.sample_id[:12]} are not declared in core/schema.py METRICS")
        refs, keyframes, stored = media_refs(s, hydrated)
        payload.update(stored)
        known.update((k, len(v)) for k, v in stored.items())
        known.update((d.sha256, d.size) for d in s.media.values() if isinstance(d, Stored))
        row = {
            "row_id": landed_id(s.batch, s.sample_id) if q is None else quarantine_id(stage, q),
            "sample_id": s.sample_id,
            "batch": s.batch,
            "source": s.source,
            "modalities": s.modalities,
            "status": "landed" if q is None else "quarantined",
            "reason": None if q is None else q.reason.value,
            "detail": None if q is None else q.detail,
            "op": None if q is None else q.op,
            **{f"raw_sha256_{m}": s.raw_sha256.get(m) for m in MODALITY_ORDER},
            "text": s.text,
            "transcript": s.transcript,
            "search_text": search_text_for(s),
            **{f"media_{m}": refs.get(m) for m in MODALITY_ORDER},
            "media_bytes": sum(known.get(r, 0) for r in [*refs.values(), *keyframes]),
            "formats": json.dumps(s.formats, sort_keys=True),
            "keyframes": keyframes or None,
            "keyframe_times": s.keyframe_times or None,
            "segments": [{"start": g.start, "end": g.end, "text": g.text, "source": g.source} for g in s.segments] or None,
            "metrics": {m: s.metrics.get(m) for m in METRICS},
            "flags": s.flags or None,
            "language": s.language,
            "language_score": s.language_score,
            "cluster": s.cluster,
            "parent_id": s.parent_id,
            "aug_op": s.aug_op,
            "aug_params": json.dumps(s.aug_params, sort_keys=True) if s.aug_params is not None else None,
            "encoders": json.dumps(s.encoders, sort_keys=True),
            "run_id": run_id,
            "code_version": code_version,
            "code_versions": json.dumps(s.code_versions, sort_keys=True),
            "input_version": input_version,
            "created_at": now,
            "timeline": [{"t": m.t, "keyframe": m.keyframe, "audio_start": m.audio_start, "audio_end": m.audio_end, "cues": list(m.cues)} for m in s.timeline] or None,
            "captions": s.captions or None,
            "lineage": as_rows(s.lineage) or None,
        }
        for column in dims:
            row[column] = s.vectors.get(column)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=stage_schema(dims)), payload


def stage_schema(vector_dims: dict[str, int] | None = None) -> pa.Schema:
    return pa.schema([*SAMPLE_FIELDS, *(vector_field(c, d) for c, d in sorted((vector_dims or {}).items()))])


def arrow_to_samples(table: pa.Table) -> list[Sample]:
    """Inverse of `samples_to_arrow`: media come back as references (`media_ref`), not bytes."""
    vec_columns = [c for c in table.column_names if c.startswith("vec_")]
    out: list[Sample] = []
    for r in table.to_pylist():
        metrics = {k: v for k, v in (r.get("metrics") or {}).items() if v is not None}
        out.append(
            Sample(
                sample_id=r["sample_id"],
                batch=r["batch"],
                source=r["source"] or "",
                modalities=list(r["modalities"] or []),
                raw_sha256={m: r[f"raw_sha256_{m}"] for m in MODALITY_ORDER if r.get(f"raw_sha256_{m}")},
                text=r.get("text"),
                transcript=r.get("transcript"),
                media_ref={m: r[f"media_{m}"] for m in MODALITY_ORDER if r.get(f"media_{m}")},
                formats=json.loads(r["formats"]) if r.get("formats") else {},
                segments=[Segment(g["start"], g["end"], g["text"], g["source"]) for g in r.get("segments") or []],
                keyframe_refs=list(r.get("keyframes") or []),
                keyframe_times=list(r.get("keyframe_times") or []),
                timeline=[Moment(m["t"], m["keyframe"], m["audio_start"], m["audio_end"], tuple(m["cues"] or ())) for m in r.get("timeline") or []],
                metrics=metrics,
                flags=list(r.get("flags") or []),
                language=r.get("language"),
                language_score=r.get("language_score"),
                cluster=r.get("cluster"),
                captions=list(r.get("captions") or []),
                lineage=[Edge(e["op"], e["kind"], e["detail"] or "", tuple(e["related"] or ())) for e in r.get("lineage") or []],
                parent_id=r.get("parent_id"),
                aug_op=r.get("aug_op"),
                aug_params=json.loads(r["aug_params"]) if r.get("aug_params") else None,
                encoders=json.loads(r["encoders"]) if r.get("encoders") else {},
                vectors={c: r[c] for c in vec_columns if r.get(c) is not None},
                code_versions=json.loads(r["code_versions"]) if r.get("code_versions") else {},
            )
        )
    return out

# A data steward's decisions (core/decisions.py): appended, never rewritten.
DECISION_SCHEMA = pa.schema(
    [
        pa.field("decision_id", pa.string(), nullable=False),
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("batch", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("op", pa.string()),  # the operator whose quarantine the decision is about
        pa.field("reason", pa.string()),
        pa.field("action", pa.string(), nullable=False),  # approve | reject | relabel
        pa.field("note", pa.string()),
        pa.field("text", pa.string()),  # relabel: the new caption
        pa.field("who", pa.string(), nullable=False),
        pa.field("client", pa.string()),  # where the decision came from: cli, or the web client's address
        pa.field("decided_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
