"""embedded: per-modality vectors (GPU pool), then vector and full-text indexes on `samples`."""

from typing import Any

from assets.factory import StageContext, StageOutcome, run_from_upstream, stage_asset
from core.encoders import vector_column

ENCODED = ("text", "image", "audio")


def vector_dims(sc: StageContext) -> dict[str, int]:
    """One vector column per available encoder (model@revision decides the column)."""
    models = sc.models.load(ENCODED)
    return {vector_column(m, enc.model_id): enc.dim for m, enc in models.encoders.items()}


def build_indexes(sc: StageContext, outcome: StageOutcome) -> dict[str, Any]:
    """Full-text index on `search_text` and an HNSW-SQ cosine index per vector column of `samples`."""
    from lancedb.index import FTS, HnswSq

    table = sc.lake.open("samples")
    if table is None or table.count_rows("status = 'landed'") == 0:
        return {"indexes": []}
    built = []
    table.create_index("search_text", config=FTS(), replace=True)
    built.append("search_text:fts")
    for name in table.schema.names:
        if name.startswith("vec_") and table.count_rows(f"{name} IS NOT NULL") > 0:
            table.create_index(name, config=HnswSq(distance_type="cosine"), replace=True)
            built.append(f"{name}:hnsw_sq")
    return {"indexes": built}


embedded = stage_asset(
    name="embedded",
    upstream="augmented",
    run=run_from_upstream("augmented", vector_dims=vector_dims, reuse_vectors=True),
    hydrate=("image", "audio", "keyframes"),
    models_used=ENCODED,
    pool="gpu",
    after_commit=build_indexes,
    description="Per-modality encoders (text MiniLM; image CLIP and audio CLAP when their weights are reachable), "
    "re-encoding only changed content; then vector and full-text indexes.",
)
