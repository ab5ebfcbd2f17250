"""Arrow schemas of the lake tables and the Sample ↔ Arrow conversion.

Invariants: one schema for every stage table (columns a stage does not fill are null),
plus one `vec_<modality>__<model>` column per encoder in `samples`. A stage table holds
the stage's landed rows (`status = landed`, `row_id` = sample id) and its quarantined
inputs (`status = quarantined`, `row_id` = quarantine id, with reason/detail/op, without
media), written in one commit (I2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

import pyarrow as pa

from core.embedding import text_for
from core.records import MODALITY_ORDER, Quarantined, Sample, Segment, sha256_hex

# Every metric an operator may write; a new metric is added here (and shows up in GX and the UI).
METRICS: tuple[str, ...] = (
    "width", "height", "blur_var", "brightness", "clipped_share", "dhash_hi", "dhash_lo",
    "duration_s", "sample_rate", "channels", "silence_ratio", "clipping_ratio", "loudness_dbfs", "audio_rate",
    "text_chars", "text_bytes", "subtitle_cues",
    "video_width", "video_height", "video_frames", "video_fps", "video_duration_s", "video_audio_streams",
    "video_subtitle_streams", "keyframes", "embedded_cues",
    "cues", "cues_dropped", "keyframes_with_cue", "transcript_segments",
)  # fmt: skip

SEGMENT = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("text", pa.string()), ("source", pa.string())])
METRICS_TYPE = pa.struct([(m, pa.float64()) for m in METRICS])
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
    pa.field("image", pa.large_binary()),
    pa.field("audio", pa.large_binary()),
    pa.field("formats", pa.string()),
    pa.field("keyframes", pa.list_(pa.large_binary())),
    pa.field("keyframe_times", pa.list_(pa.float64())),
    pa.field("segments", pa.list_(SEGMENT)),
    pa.field("metrics", METRICS_TYPE),
    pa.field("parent_id", pa.string()),
    pa.field("aug_op", pa.string()),
    pa.field("aug_params", pa.string()),
    pa.field("encoders", pa.string()),
    pa.field("run_id", pa.string()),
    pa.field("code_version", pa.string()),
    pa.field("code_versions", pa.string()),
    pa.field("input_version", pa.int64()),
    pa.field("created_at", pa.timestamp("us", tz="UTC")),
]
SAMPLE_SCHEMA = pa.schema(SAMPLE_FIELDS)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("qid", pa.string(), nullable=False),
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("batch", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("op", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("source", pa.string()),
        pa.field("parent_id", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("code_version", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
    ]
)

BLOB_SCHEMA = pa.schema(
    [
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("data", pa.large_binary()),
        pa.field("size", pa.int64()),
        pa.field("first_batch", pa.string()),
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


def quarantine_id(stage: str, q: Quarantined) -> str:
    """Key of a quarantine row: one per stage, batch, sample and source (a raw DUPLICATE
    shares its sample id with the row that landed, never its source)."""
    return sha256_hex(f"{stage}\0{q.sample.batch}\0{q.sample_id}\0{q.sample.source}".encode())


def samples_to_arrow(
    samples: Iterable[Sample],
    *,
    run_id: str,
    code_version: str,
    input_version: int,
    vector_dims: dict[str, int] | None = None,
    quarantined: Iterable[Quarantined] = (),
    stage: str = "",
) -> pa.Table:
    """Rows for a stage table: landed samples, then quarantined inputs (without media or
    vectors); `vector_dims` adds one fixed-size vector column per entry."""
    now = datetime.now(UTC)
    dims = dict(vector_dims or {})
    entries: list[tuple[Sample, Quarantined | None]] = [(s, None) for s in samples]
    entries += [(q.sample.evolve(media={}, keyframes=[], vectors={}), q) for q in quarantined]
    rows = []
    for s, q in entries:
        unknown = set(s.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"metrics {sorted(unknown)} of sample {s.sample_id[:12]} are not declared in core/schema.py METRICS")
        row = {
            "row_id": s.sample_id if q is None else quarantine_id(stage, q),
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
            "search_text": text_for(s),
            "image": s.media.get("image"),
            "audio": s.media.get("audio"),
            "formats": json.dumps(s.formats, sort_keys=True),
            "keyframes": s.keyframes or None,
            "keyframe_times": s.keyframe_times or None,
            "segments": [{"start": g.start, "end": g.end, "text": g.text, "source": g.source} for g in s.segments] or None,
            "metrics": {m: s.metrics.get(m) for m in METRICS},
            "parent_id": s.parent_id,
            "aug_op": s.aug_op,
            "aug_params": json.dumps(s.aug_params, sort_keys=True) if s.aug_params is not None else None,
            "encoders": json.dumps(s.encoders, sort_keys=True),
            "run_id": run_id,
            "code_version": code_version,
            "code_versions": json.dumps(s.code_versions, sort_keys=True),
            "input_version": input_version,
            "created_at": now,
        }
        for column in dims:
            row[column] = s.vectors.get(column)
        rows.append(row)
    schema = pa.schema([*SAMPLE_FIELDS, *(vector_field(c, d) for c, d in sorted(dims.items()))])
    return pa.Table.from_pylist(rows, schema=schema)


def arrow_to_samples(table: pa.Table) -> list[Sample]:
    """Inverse of `samples_to_arrow` (media columns that are null stay absent)."""
    vec_columns = [c for c in table.column_names if c.startswith("vec_")]
    out: list[Sample] = []
    for r in table.to_pylist():
        media = {k: r[k] for k in ("image", "audio") if r.get(k) is not None}
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
                media=media,
                formats=json.loads(r["formats"]) if r.get("formats") else {},
                segments=[Segment(g["start"], g["end"], g["text"], g["source"]) for g in r.get("segments") or []],
                keyframes=list(r.get("keyframes") or []),
                keyframe_times=list(r.get("keyframe_times") or []),
                metrics=metrics,
                parent_id=r.get("parent_id"),
                aug_op=r.get("aug_op"),
                aug_params=json.loads(r["aug_params"]) if r.get("aug_params") else None,
                encoders=json.loads(r["encoders"]) if r.get("encoders") else {},
                vectors={c: r[c] for c in vec_columns if r.get(c) is not None},
                code_versions=json.loads(r["code_versions"]) if r.get("code_versions") else {},
            )
        )
    return out


def quarantine_to_arrow(items: Iterable[Quarantined], *, stage: str, run_id: str, code_version: str) -> pa.Table:
    now = datetime.now(UTC)
    rows = [
        {
            "qid": quarantine_id(stage, q),
            "sample_id": q.sample_id,
            "batch": q.sample.batch,
            "stage": stage,
            "op": q.op,
            "reason": q.reason.value,
            "detail": q.detail,
            "source": q.sample.source,
            "parent_id": q.sample.parent_id,
            "run_id": run_id,
            "code_version": code_version,
            "created_at": now,
        }
        for q in items
    ]
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)
