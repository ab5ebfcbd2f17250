"""Search over `samples`: hybrid (text vector + full text, fused by reciprocal rank), or the
nearest neighbours of a given sample.

Every hit carries `sample_id` and `score` (higher is better)."""

from __future__ import annotations

from typing import Any

from tessera.core.encoders import vector_column
from tessera.resources.lake import LANDED, LakeResource, _quote
from tessera.resources.models import ModelsResource

HIT_COLUMNS = ["sample_id", "batch", "modalities", "text", "transcript", "source", "parent_id", "aug_op"]


def search(
    lake: LakeResource,
    models: ModelsResource,
    query: str,
    *,
    k: int = 10,
    modality: str | None = None,
    like: str | None = None,
    variants: bool = False,
    release: str | None = None,
) -> list[dict[str, Any]]:
    """Top `k` samples; augmentation variants only when `variants` (they repeat their parents);
    of release `release` (its tagged version of `samples`, indexes included) when given."""
    table = lake.open("samples")
    if table is not None and release:
        from tessera.resources.releases import version_at

        table.checkout(version_at(lake, release, "samples"))
    if table is None or table.count_rows() == 0:
        raise ValueError("the samples table is empty; run `tessera demo` or `tessera materialize --batch NAME` first")
    encoder = models.text_encoder()
    column = vector_column("text", encoder.model_id)
    if column not in table.schema.names:
        raise ValueError(f"samples has no {column} column; re-run the embedded stage with this text model")
    conds = [LANDED, *([f"array_has(modalities, {_quote(modality)})"] if modality else [])]
    conds += [] if variants else ["parent_id IS NULL"]
    where = " AND ".join(conds)
    if like:
        rows = table.search().where(f"sample_id = {_quote(like)} AND {LANDED}").select([column]).limit(1).to_list()
        if not rows or rows[0][column] is None:
            raise ValueError(f"sample {like} is not in samples or has no text vector")
        not_itself = f"sample_id != {_quote(like)}" + (f" AND {where}" if where else "")
        q = table.search(rows[0][column], vector_column_name=column).where(not_itself, prefilter=True)
        found = q.select([*HIT_COLUMNS, "_distance"]).limit(k).to_list()
        return [_hit(r, 1.0 - float(r["_distance"])) for r in found]
    if not query.strip():
        raise ValueError("give a query text, or --like SAMPLE_ID")
    vec = encoder.encode([query])[0]
    by_vector = _filtered(table.search(vec, vector_column_name=column), where).select([*HIT_COLUMNS, "_distance"]).limit(2 * k).to_list()
    try:
        by_text = _filtered(table.search(query, query_type="fts"), where).select([*HIT_COLUMNS, "_score"]).limit(2 * k).to_list()
    except (ValueError, RuntimeError):  # no full-text index yet: vector ranking alone
        by_text = []
    return fuse([by_vector, by_text], k)


def fuse(rankings: list[list[dict[str, Any]]], k: int, c: int = 60) -> list[dict[str, Any]]:
    """Reciprocal-rank fusion: score = Σ 1/(c + rank) over the rankings a sample appears in."""
    scores: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            scores[row["sample_id"]] = scores.get(row["sample_id"], 0.0) + 1.0 / (c + rank)
            rows.setdefault(row["sample_id"], row)
    best = sorted(scores, key=lambda sid: (-scores[sid], sid))[:k]
    return [_hit(rows[sid], scores[sid]) for sid in best]


def _filtered(query: Any, where: str | None) -> Any:
    return query.where(where, prefilter=True) if where else query


def _hit(row: dict[str, Any], score: float) -> dict[str, Any]:
    return {"sample_id": row["sample_id"], "score": round(score, 6), **{c: row.get(c) for c in HIT_COLUMNS if c != "sample_id"}}
