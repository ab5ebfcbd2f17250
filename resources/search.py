"""Search over `samples`: hybrid (text vector + full text), or nearest to a given sample.

Every hit carries `sample_id` and `score` (higher is better)."""

from __future__ import annotations

from typing import Any

from core.encoders import vector_column
from resources.lake import LakeResource, _quote
from resources.models import ModelsResource

HIT_COLUMNS = ["sample_id", "batch", "modalities", "text", "transcript", "source", "parent_id", "aug_op"]


def search(
    lake: LakeResource, models: ModelsResource, query: str, *, k: int = 10, modality: str | None = None, like: str | None = None
) -> list[dict[str, Any]]:
    table = lake.open("samples")
    if table is None or table.count_rows() == 0:
        raise ValueError("the samples table is empty; run `tessera demo` or `tessera materialize --batch NAME` first")
    encoder = models.text_encoder()
    column = vector_column("text", encoder.model_id)
    if column not in table.schema.names:
        raise ValueError(f"samples has no {column} column; re-run the embedded stage with this text model")
    where = f"array_has(modalities, {_quote(modality)})" if modality else None
    if like:
        rows = table.search().where(f"sample_id = {_quote(like)}").select([column]).limit(1).to_list()
        if not rows or rows[0][column] is None:
            raise ValueError(f"sample {like} is not in samples or has no text vector")
        q = table.search(rows[0][column], vector_column_name=column).where(f"sample_id != {_quote(like)}" + (f" AND {where}" if where else ""), prefilter=True)
        found = q.select(HIT_COLUMNS).limit(k).to_list()
        return [_hit(r, 1.0 - float(r["_distance"])) for r in found]
    if not query.strip():
        raise ValueError("give a query text, or --like SAMPLE_ID")
    vec = encoder.encode([query])[0]
    try:
        q = table.search(query_type="hybrid", vector_column_name=column).vector(vec).text(query)
        if where:
            q = q.where(where, prefilter=True)
        found = q.select(HIT_COLUMNS).limit(k).to_list()
        return [_hit(r, float(r["_relevance_score"])) for r in found]
    except ValueError:  # no full-text index yet (embedded not run since): vector only
        q = table.search(vec, vector_column_name=column)
        if where:
            q = q.where(where, prefilter=True)
        return [_hit(r, 1.0 - float(r["_distance"])) for r in q.select(HIT_COLUMNS).limit(k).to_list()]


def _hit(row: dict[str, Any], score: float) -> dict[str, Any]:
    return {"sample_id": row["sample_id"], "score": round(score, 6), **{c: row.get(c) for c in HIT_COLUMNS if c != "sample_id"}}
