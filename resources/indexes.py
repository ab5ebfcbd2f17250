"""Indexes on the lake's tables, grown per batch instead of rebuilt.

`samples` carries
- an ANN index per vector column (`vec_*`), created once the column holds
  `indexes.ann_min_rows` non-null vectors; below that, vector search is a flat scan, which
  is exact and, at that size, as fast (bench/indexes.py measured the threshold);
- a full-text index on `search_text`;
- scalar indexes (BTREE on `sample_id`, BITMAP on `batch` and `status`), so that the lake's
  per-batch lookups read the batch's rows, not the table.

Invariants:
- After each batch commit, `update_indexes` adds the fragments no index segment covers yet
  to each existing index as one new *delta segment* (Lance `optimize_indices` with
  `num_indices_to_merge=0`): the cost is that of the batch, and existing segments (their
  uuids) are left as they are. Nothing here compacts, merges or retrains: that is
  maintenance (resources/maintenance.py).
- Rows in fragments that no segment covers are still searched (flat, beside the index), so
  a skipped or failed update slows search down but never hides rows.
- Every step re-reads the latest version and is idempotent (create only what is absent,
  grow only what is uncovered), so a step that lost a race to a concurrent commit is redone.

Pure of Dagster: callers pass a lancedb `Table` (or, for scalar indexes, a Lance dataset).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from lance.dataset import LanceDataset

from tessera.resources.conflicts import retry_on_conflict

VECTOR_PREFIX = "vec_"
ANN_KINDS = ("IVF_HNSW_SQ", "IVF_PQ")


def ann_config(kind: str) -> type:
    """The lancedb.index class of an ANN kind (LanceDB is imported when an index is made, not
    when the Definitions load: that import is a second of every run's start-up)."""
    from lancedb.index import HnswSq, IvfPq

    return {"IVF_HNSW_SQ": HnswSq, "IVF_PQ": IvfPq}[kind]

SCALAR_KINDS = ("BTREE", "BITMAP")
DEFAULT_SCALAR = {"sample_id": "BTREE", "batch": "BITMAP", "status": "BITMAP"}


# -- parameters ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IndexParams:
    """The `indexes:` section of params.yaml (defaults mirror it)."""

    ann_min_rows: int = 5000
    ann_kind: str = "IVF_HNSW_SQ"
    ann_options: Mapping[str, Any] = field(default_factory=lambda: {"distance_type": "cosine"})
    fts_column: str = "search_text"
    scalar: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCALAR))
    commit_retries: int = 5
    retry_backoff_s: float = 0.2

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> IndexParams:
        """From the whole params mapping (what `load_params()` returns); absent keys take defaults."""
        section = dict(params.get("indexes") or {})
        default = cls()
        known = {"ann_min_rows", "ann", "fts", "scalar", "commit_retries", "retry_backoff_s"}
        if unknown := sorted(set(section) - known):
            raise ValueError(f"params.yaml indexes.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}")
        ann = dict(section.get("ann") or {"distance_type": "cosine"})
        kind = str(ann.pop("kind", "IVF_HNSW_SQ")).upper()
        if kind not in ANN_KINDS:
            raise ValueError(f"params.yaml indexes.ann.kind: {kind!r} is not one of {', '.join(ANN_KINDS)}")
        try:
            ann_config(kind)(**ann)  # fail here, on the params, not halfway through a run
        except TypeError as exc:
            raise ValueError(f"params.yaml indexes.ann: {exc}; see lancedb.index.{ann_config(kind).__name__}") from None
        scalar = {str(c): str(k).upper() for c, k in (section.get("scalar", DEFAULT_SCALAR) or {}).items()}
        if bad := [f"{c}: {k}" for c, k in scalar.items() if k not in SCALAR_KINDS]:
            raise ValueError(f"params.yaml indexes.scalar: {bad[0]} is not one of {', '.join(SCALAR_KINDS)}")
        return cls(
            ann_min_rows=int(section.get("ann_min_rows", default.ann_min_rows)),
            ann_kind=kind,
            ann_options=ann,
            fts_column=str((section.get("fts") or {}).get("column", default.fts_column)),
            scalar=scalar,
            commit_retries=int(section.get("commit_retries", default.commit_retries)),
            retry_backoff_s=float(section.get("retry_backoff_s", default.retry_backoff_s)),
        )


# -- what Lance reports -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IndexState:
    """One index as the latest version has it: its segments and the rows they do not cover."""

    name: str
    column: str
    kind: str  # as Lance names it: IVF_HNSW_SQ, IVF_PQ, Inverted, BTree, Bitmap
    uuids: tuple[str, ...]  # one per segment, oldest first
    rows_indexed: int
    rows_unindexed: int
    unindexed_fragments: tuple[int, ...]

    @property
    def segments(self) -> int:
        return len(self.uuids)

    @property
    def is_vector(self) -> bool:
        return self.kind.upper().startswith("IVF")

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "segments": self.segments, "indexed": self.rows_indexed, "unindexed": self.rows_unindexed}


def latest(table_or_dataset: Any) -> LanceDataset:
    """The Lance dataset at its latest version. A lancedb Table stays on the version it was
    opened at (other writers move on, cleanup may remove that version): it is moved too."""
    if isinstance(table_or_dataset, LanceDataset):
        table_or_dataset.checkout_latest()
        return table_or_dataset
    table_or_dataset.checkout_latest()
    ds = table_or_dataset.to_lance()
    ds.checkout_latest()
    return ds


def index_states(ds: LanceDataset) -> dict[str, IndexState]:
    """Index name → state. Unindexed rows are counted from the fragments no segment covers
    (for a vector index that includes rows whose vector is null)."""
    fragments = ds.get_fragments()
    out: dict[str, IndexState] = {}
    for desc in ds.describe_indices():
        segments = sorted(desc.segments, key=lambda s: s.dataset_version_at_last_update)
        covered = {int(f) for s in segments for f in s.fragment_ids}
        uncovered = [f for f in fragments if f.fragment_id not in covered]
        out[desc.name] = IndexState(
            name=desc.name,
            column=desc.field_names[0],
            kind=str(desc.index_type),
            uuids=tuple(str(s.uuid) for s in segments),
            rows_indexed=int(desc.num_rows_indexed),
            rows_unindexed=sum(f.count_rows() for f in uncovered),
            unindexed_fragments=tuple(f.fragment_id for f in uncovered),
        )
    return out


def vector_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if f.name.startswith(VECTOR_PREFIX) and pa.types.is_fixed_size_list(f.type)]


def _indexed_columns(ds: LanceDataset) -> set[str]:
    return {s.column for s in index_states(ds).values()}


# -- the per-batch path -------------------------------------------------------------------------
def update_indexes(table: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """After a batch commit: create the indexes that are due and absent, then add every
    uncovered fragment to the existing indexes as one delta segment (one commit).

    `table` is a lancedb Table (`samples`); `params` the whole params mapping. Returns what
    was created / updated / skipped and why, rows indexed vs unindexed per index, seconds."""
    cfg = IndexParams.from_params(params)
    started = time.perf_counter()
    report: dict[str, Any] = {"created": {}, "updated": {}, "skipped": {}}
    retries = 0

    def step(what: str, fn: Any) -> None:
        nonlocal retries
        _, used = retry_on_conflict(fn, what=f"{table.name}: {what}", attempts=cfg.commit_retries, backoff_s=cfg.retry_backoff_s)
        retries += used

    for column, action in _due(table, cfg, report["skipped"]):
        step(f"create index on {column}", lambda action=action: action(report["created"]))
    step("add new fragments to indexes", lambda: _grow(latest(table), None, report["updated"]))
    ds = latest(table)
    report["rows"] = {name: s.summary() for name, s in sorted(index_states(ds).items())}
    report.update(version=int(ds.version), retries=retries, seconds=round(time.perf_counter() - started, 3))
    return report


def ensure_scalar_indexes(dataset: Any, columns: Mapping[str, str] | None = None, *, attempts: int = 5, backoff_s: float = 0.2) -> dict[str, Any]:
    """BTREE / BITMAP indexes on `columns` (name → kind; default: BTREE on `sample_id`, BITMAP
    on `batch` and `status`): created where absent, otherwise grown by a delta segment over
    the fragments they do not cover. Columns the table lacks are skipped.

    `dataset` is a Lance dataset or a lancedb Table."""
    wanted = {c: k.upper() for c, k in (columns if columns is not None else DEFAULT_SCALAR).items()}
    if bad := [f"{c}: {k}" for c, k in wanted.items() if k not in SCALAR_KINDS]:
        raise ValueError(f"scalar index {bad[0]} is not one of {', '.join(SCALAR_KINDS)}")
    started = time.perf_counter()
    report: dict[str, Any] = {"created": {}, "updated": {}, "skipped": {}}
    retries = 0
    for column, kind in wanted.items():
        ds = latest(dataset)
        if column not in ds.schema.names:
            report["skipped"][column] = "no such column"
        elif column not in _indexed_columns(ds):
            _, used = retry_on_conflict(
                lambda column=column, kind=kind: _create_scalar(latest(dataset), column, kind, report["created"]),
                what=f"{ds.uri}: create {kind} index on {column}", attempts=attempts, backoff_s=backoff_s,
            )  # fmt: skip
            retries += used
    ds = latest(dataset)
    names = {s.name for s in index_states(ds).values() if s.column in wanted}
    _, used = retry_on_conflict(
        lambda: _grow(latest(dataset), names, report["updated"]), what=f"{ds.uri}: grow scalar indexes", attempts=attempts, backoff_s=backoff_s
    )
    ds = latest(dataset)
    report["rows"] = {n: s.summary() for n, s in sorted(index_states(ds).items()) if n in names}
    report.update(version=int(ds.version), retries=retries + used, seconds=round(time.perf_counter() - started, 3))
    return report


# -- steps --------------------------------------------------------------------------------------
def _due(table: Any, cfg: IndexParams, skipped: dict[str, str]) -> list[tuple[str, Any]]:
    """The indexes to create now, as (column, action); records why others wait in `skipped`."""
    ds = latest(table)
    names = ds.schema.names
    have = _indexed_columns(ds)
    total = ds.count_rows()
    due: list[tuple[str, Any]] = []
    if cfg.fts_column in names and cfg.fts_column not in have:
        if total == 0:
            skipped[cfg.fts_column] = "empty table"
        else:
            due.append((cfg.fts_column, lambda created: _create_fts(table, cfg.fts_column, created)))
    for column, kind in cfg.scalar.items():
        if column in names and column not in have:
            due.append((column, lambda created, c=column, k=kind: _create_scalar(latest(table), c, k, created)))
    for column in vector_columns(ds.schema):
        if column in have:
            continue
        # count non-null vectors only once the table could reach the threshold: a scan of the
        # column, paid while the table is small and never again once the index exists
        present = ds.count_rows(filter=f"`{column}` IS NOT NULL") if total >= cfg.ann_min_rows else total
        if present < cfg.ann_min_rows:
            skipped[column] = f"{present} vectors < indexes.ann_min_rows {cfg.ann_min_rows}: flat (exact) search"
        else:
            due.append((column, lambda created, c=column: _create_ann(table, c, cfg, created)))
    return due


def _create_fts(table: Any, column: str, created: dict[str, str]) -> None:
    if column in _indexed_columns(latest(table)):
        return  # created by a concurrent writer meanwhile
    table.checkout_latest()
    from lancedb.index import FTS

    table.create_index(column, config=FTS(), replace=True)
    created[f"{column}_idx"] = f"FTS over {table.count_rows()} rows"


def _create_scalar(ds: LanceDataset, column: str, kind: str, created: dict[str, str]) -> None:
    if column in _indexed_columns(ds):
        return
    ds.create_scalar_index(column, kind, replace=True)
    created[f"{column}_idx"] = f"{kind} over {ds.count_rows()} rows"


def _create_ann(table: Any, column: str, cfg: IndexParams, created: dict[str, str]) -> None:
    if column in _indexed_columns(latest(table)):
        return
    table.checkout_latest()
    table.create_index(column, config=ann_config(cfg.ann_kind)(**cfg.ann_options), replace=True)
    created[f"{column}_idx"] = f"{cfg.ann_kind} ({', '.join(f'{k}={v}' for k, v in cfg.ann_options.items())}) over {table.count_rows()} rows"


def _grow(ds: LanceDataset, only: set[str] | None, updated: dict[str, str]) -> None:
    """One delta segment per index over the fragments it does not cover; one commit for all.
    Existing segments are untouched (`num_indices_to_merge=0`)."""
    stale = [s for s in index_states(ds).values() if s.unindexed_fragments and (only is None or s.name in only)]
    if not stale:
        return
    ds.optimize.optimize_indices(index_names=[s.name for s in stale], num_indices_to_merge=0)
    for s in stale:
        updated[s.name] = f"+{s.rows_unindexed} rows (fragments {list(s.unindexed_fragments)}) as delta segment {s.segments + 1}"
