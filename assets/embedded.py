"""embedded: per-modality vectors (GPU pool), then vector and full-text indexes on `samples`."""

from typing import Any

from dagster import MetadataValue

from tessera.assets.factory import StageCheck, StageContext, StageOutcome, run_from_upstream, stage_asset
from tessera.core.encoders import ENCODED, vector_column
from tessera.resources.indexes import ensure_scalar_indexes, update_indexes
from tessera.resources.segments import TABLE as SEGMENTS
from tessera.resources.segments import index_segments


def vector_dims(sc: StageContext) -> dict[str, int]:
    """One vector column per available encoder (model@revision decides the column)."""
    models = sc.models.load(ENCODED)
    return {vector_column(m, enc.model_id): enc.dim for m, enc in models.encoders.items()}


def build_indexes(sc: StageContext, outcome: StageOutcome) -> dict[str, Any]:
    """The batch's new rows join `samples`' indexes as a delta segment each (cost of the batch,
    not the table); an ANN index appears once a vector column reaches indexes.ann_min_rows. Then
    the batch's cue and transcript segments are written to `segments` with their vectors."""
    table, blobs = sc.lake.open("samples"), sc.lake.dataset("blobs")
    out = {"indexes": MetadataValue.json(update_indexes(table, sc.params))} if table is not None else {}
    if blobs is not None:  # readers find media by sha256 (hydrate, the loader): an index lookup, not a scan of every blob's key
        out["blob_index"] = MetadataValue.json(ensure_scalar_indexes(blobs, {"sha256": "BTREE"}))
    text = sc.models.load(ENCODED).encoder("text")
    if text is None:
        out["segments"] = MetadataValue.json({"skipped": "no text model: cue and transcript segments are not searchable by meaning"})
        return out
    report = index_segments(sc.lake, sc.batch, text, outcome.version)  # each cue and transcript segment, with its times
    report["indexes"] = update_indexes(sc.lake.open(SEGMENTS), sc.params)
    out["segments"] = MetadataValue.json(report)
    return out


def retrieval(sc: StageContext) -> tuple[bool, dict[str, Any]]:
    """recall@k of the golden queries with this run's models, against the last release's figure."""
    from tessera.resources.releases import latest
    from tessera.resources.retrieval import gate, recall

    now, last = recall(sc.models.load(ENCODED)), latest(sc.lake)
    why = gate(now, last, float((sc.params.get("release") or {}).get("retrieval_margin", 0.05)))
    baseline = (last or {}).get("retrieval") or {}
    return why is None, {**now, "last_release": (last or {}).get("name"), "last_recall@1": baseline.get("recall@1"), **({"why": why} if why else {})}


embedded = stage_asset(
    name="embedded",
    upstream="augmented",
    run=run_from_upstream("augmented", vector_dims=vector_dims, reuse_vectors=True),
    models_used=ENCODED,
    pool="gpu",
    after_commit=build_indexes,
    checks=(StageCheck("retrieval", "recall@1/@3 of the golden set's queries with these models; below the last release's minus "
                       "release.retrieval_margin, `tessera release` refuses the next release", retrieval),),
    description="Per-modality encoders (text MiniLM; image CLIP and audio CLAP when their weights are reachable), "
    "re-encoding only changed content; then vector and full-text indexes.",
)
