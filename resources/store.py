"""The lake's data plane: one LanceDB database holding `batches`, `blobs`, one table per stage
and `samples`. Plain Python over Lance (no Dagster, and LanceDB only for search and indexes, imported
when used), so engine workers — pool processes, Ray tasks — start fast; `resources.lake.LakeResource`
is the same store as a Dagster resource.

Invariants:
- A stage writes a batch as uncommitted fragments (chunk by chunk, from any process or host)
  and commits once: one Lance `Update` that removes the batch's previous rows and adds the
  new fragments, read at a pinned version (I4: a batch is wholly old or wholly new).
  No host lock: concurrent commits of other batches touch other rows, and Lance rebases
  them; a retryable conflict is retried from a fresh read.
- Bytes are stored once, content-addressed by sha256 in `blobs` (Lance blob encoding, read
  back as streams); rows reference them. A blob written twice by racing writers is harmless:
  readers take one copy, maintenance drops the other.
- The quarantine index is a view over the stage tables (their `status = quarantined` rows),
  so it can never disagree with them (I2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import lance
import pyarrow as pa
from lance.fragment import FragmentMetadata, write_fragments

from tessera.core.lineage import set_aside_edge
from tessera.core.records import STREAMED_MODALITIES
from tessera.core.schema import (
    BATCH_SCHEMA,
    BLOB_SCHEMA,
    NEAR_INDEX_SCHEMA,
    SAMPLE_SCHEMA,
    arrow_to_samples,
    quarantine_key,
    stage_schema,
)
from tessera.resources.conflicts import is_retryable_conflict, retry_on_conflict
from tessera.resources.home import lake_uri, s3_storage_options

BATCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
STAGE_TABLES = {"raw": "raw", "cleaned": "cleaned", "unified": "unified", "aligned": "aligned", "augmented": "augmented", "embedded": "samples"}
TABLE_STAGES = {t: s for s, t in STAGE_TABLES.items()}

# Stage tables also hold their quarantined inputs; readers of what a stage produced use this.
LANDED = "status = 'landed'"


def carried_on(schema: pa.Schema | None) -> str:
    """Filter of the landed rows a next stage reads: a windowed medium (`metrics.windows` set)
    ends at the stage that cut it; a table older than windowing has none to leave out."""
    metrics = schema.field("metrics").type if schema is not None and "metrics" in schema.names else None
    has_windows = metrics is not None and pa.types.is_struct(metrics) and metrics.get_field_index("windows") >= 0
    return f"{LANDED} AND metrics.windows IS NULL" if has_windows else LANDED
QUARANTINED = "status = 'quarantined'"
COMMIT_RETRIES = 10
Extra = Callable[[lance.LanceDataset], tuple[str | None, list[FragmentMetadata]]]


# Every raw commit replaces this one row, so two raw commits can never both succeed from one
# version: Lance arbitrates who decides first which batch holds shared content (resources/ledger.py).
TOKEN_ID = "__commit_token__"
TOKEN_BATCH = "~"  # never a batch name (those start with a letter or digit)


def token_row() -> pa.Table:
    return pa.Table.from_pylist([{"row_id": TOKEN_ID, "sample_id": "", "batch": TOKEN_BATCH, "status": "token"}], schema=stage_schema())


# The band index of near-copies across batches; its decisions replace its own token row likewise.
NEAR_INDEX = "near_index"


def near_token() -> pa.Table:
    return pa.Table.from_pylist([{"row_id": TOKEN_ID, "batch": TOKEN_BATCH}], schema=NEAR_INDEX_SCHEMA)


def check_batch_name(batch: str) -> str:
    if not BATCH_NAME.match(batch):
        raise ValueError(f"batch name {batch!r} must be 1-100 of letters, digits, '.', '_', '-' and start with a letter or digit")
    return batch


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_list(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_quote(v) for v in values)})"


def retrying(what: str, attempt: Callable[[], Any], attempts: int = COMMIT_RETRIES) -> Any:
    """Run `attempt` (which re-reads the latest version) until it commits; a retryable conflict backs off and retries."""
    return retry_on_conflict(attempt, what=what, attempts=attempts, backoff_s=0.05)[0]


_SESSION: lance.Session | None = None


def _session() -> lance.Session:
    """This process's Lance session (index and metadata caches, bounded by Lance's defaults)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = lance.Session()
    return _SESSION


class LakeStore:
    """The lake at `uri` (empty → `TESSERA_LAKE_URI` or `$TESSERA_HOME/lake`). Subclasses hold
    `uri` and `_db` (the LanceDB connection, opened on first use)."""

    uri: str
    _db: Any

    # -- connection -------------------------------------------------------------------------
    def resolved_uri(self) -> str:
        return self.uri or lake_uri()

    def storage_options(self) -> dict[str, str] | None:
        return s3_storage_options() if self.resolved_uri().startswith("s3://") else None

    def db(self) -> Any:
        """The LanceDB connection (search, vector and full-text indexes)."""
        import lancedb

        if self._db is None:
            uri = self.resolved_uri()
            if not uri.startswith("s3://"):
                Path(uri).mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(uri, storage_options=self.storage_options())
        return self._db

    def table_names(self) -> list[str]:
        return list(self.db().list_tables().tables)

    def open(self, name: str) -> Any | None:
        """The LanceDB table (search, indexes), or None."""
        return self.db().open_table(name) if name in self.table_names() else None

    def dataset_uri(self, name: str) -> str:
        return f"{self.resolved_uri().rstrip('/')}/{name}.lance"

    def dataset(self, name: str, version: int | None = None) -> lance.LanceDataset | None:
        """The Lance dataset behind a table, at `version` (latest when None), or None. Every open in
        a process shares one Lance session: an index loaded once (a second for HNSW at 1M rows)
        stays loaded when the table is opened again at a newer version."""
        try:
            return lance.dataset(self.dataset_uri(name), version=version, storage_options=self.storage_options(), session=_session())
        except (FileNotFoundError, ValueError) as exc:
            if version is not None and "not found" not in str(exc).lower():
                raise
            return None

    def ensure(self, name: str, schema: pa.Schema, seed: pa.Table | None = None) -> lance.LanceDataset:
        """Open `name`, creating it (with `seed` rows, if any) or adding the columns it lacks
        (schema evolution: new columns are null on old rows). Racing creators: one wins, the others open."""
        ds = self.dataset(name)
        if ds is None:
            try:
                ds = lance.write_dataset(
                    seed if seed is not None else schema.empty_table(), self.dataset_uri(name), schema=schema, mode="create",
                    storage_options=self.storage_options(),
                )  # fmt: skip
            except OSError as exc:
                if "exist" not in str(exc).lower() and not is_retryable_conflict(exc):
                    raise
                ds = self.dataset(name)
                assert ds is not None, f"table {name} neither created nor found"
        if missing_fields(ds.schema, schema):
            def add() -> lance.LanceDataset:
                latest = self.dataset(name)
                assert latest is not None
                todo = missing_fields(latest.schema, schema)
                if todo:
                    latest.add_columns(pa.schema(todo))
                return self.dataset(name)

            ds = retrying(f"{name}: add columns", add)
        return ds

    # -- batches ----------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        """Create every table that does not exist yet (empty; `raw` with its commit token).

        Tables are created here, when a batch is registered, and not by stage runs: two Lance
        creates racing for one path can both succeed (the later as an overwrite), which is
        harmless only while the table is still empty."""
        for name, schema, seed in (
            ("batches", BATCH_SCHEMA, None), ("blobs", BLOB_SCHEMA, None), ("raw", stage_schema(), token_row()),
            (NEAR_INDEX, NEAR_INDEX_SCHEMA, near_token()),
            *((t, stage_schema(), None) for t in STAGE_TABLES.values() if t != "raw"),
        ):  # fmt: skip
            if self.dataset(name) is None:
                self.ensure(name, schema, seed=seed)

    def register_batch(self, batch: str, uri: str, manifest: str | None) -> None:
        self.ensure_tables()
        for _ in range(3):  # a racing first registration elsewhere can overwrite the fresh table: check, redo
            row = pa.Table.from_pylist(
                [{"batch": check_batch_name(batch), "uri": uri, "manifest": manifest, "registered_at": datetime.now(UTC)}], schema=BATCH_SCHEMA
            )
            # a re-registration keeps the first registration time (it orders who holds shared content)
            existing = self.batch_order().get(batch)
            if existing is not None:
                at = pa.array([existing[0]], BATCH_SCHEMA.field("registered_at").type)
                row = row.set_column(row.schema.get_field_index("registered_at"), "registered_at", at)
            self.replace_rows("batches", f"batch = {_quote(batch)}", self.write_rows("batches", row))
            if batch in self.batch_order():
                return
        raise RuntimeError(f"batch {batch!r} could not be registered: its row keeps disappearing; register it again")

    def batch_info(self, batch: str) -> dict[str, Any]:
        ds = self.dataset("batches")
        rows = ds.to_table(filter=f"batch = {_quote(batch)}").to_pylist() if ds is not None else []
        if not rows:
            raise KeyError(f"batch {batch!r} is not registered; run `tessera ingest PATH --batch {batch}` first")
        return rows[0]

    def batches(self) -> list[dict[str, Any]]:
        ds = self.dataset("batches")
        return sorted(ds.to_table().to_pylist(), key=lambda r: (r["registered_at"], r["batch"])) if ds is not None else []

    def batch_order(self) -> dict[str, tuple[datetime, str]]:
        """batch → its precedence key (registration time, name): the earlier holds shared content next."""
        return {r["batch"]: (r["registered_at"], r["batch"]) for r in self.batches()}

    def forget_batch(self, batch: str) -> None:
        self.replace_rows("batches", f"batch = {_quote(batch)}", [])

    # -- blobs (bytes, content-addressed) ---------------------------------------------------
    def existing_blobs(self, shas: Iterable[str], chunk: int = 512) -> set[str]:
        ds = self.dataset("blobs")
        unique = sorted(set(shas))
        if ds is None or not unique:
            return set()
        found: set[str] = set()
        for i in range(0, len(unique), chunk):
            found.update(ds.to_table(columns=["sha256"], filter=in_list("sha256", unique[i : i + chunk]))["sha256"].to_pylist())
        return found

    def write_blobs(self, payload: dict[str, bytes], batch: str) -> list[FragmentMetadata]:
        """Uncommitted fragments holding the bytes the store lacks (commit them with `commit_appends`)."""
        self.ensure("blobs", BLOB_SCHEMA)
        new = sorted(set(payload) - self.existing_blobs(payload))
        if not new:
            return []
        rows = pa.Table.from_pylist([{"sha256": k, "data": payload[k], "size": len(payload[k]), "first_batch": batch} for k in new], schema=BLOB_SCHEMA)
        return self.write_rows("blobs", rows)

    def blob_addresses(self, shas: Iterable[str], chunk: int = 512, version: int | None = None) -> dict[str, tuple[int, int]]:
        """sha → (row address, size) of one stored copy each (in `blobs` at `version`, latest when None)."""
        ds = self.dataset("blobs", version)
        unique = sorted(set(shas))
        out: dict[str, tuple[int, int]] = {}
        if ds is None:
            return out
        for i in range(0, len(unique), chunk):
            t = ds.to_table(columns=["sha256", "size"], filter=in_list("sha256", unique[i : i + chunk]), with_row_address=True)
            for sha, addr, size in zip(t["sha256"].to_pylist(), t["_rowaddr"].to_pylist(), t["size"].to_pylist(), strict=True):
                out.setdefault(sha, (addr, size))
        return out

    def open_blobs(self, shas: Iterable[str], where: dict[str, tuple[int, int]] | None = None, version: int | None = None) -> dict[str, IO[bytes]]:
        """sha → a file-like stream over the stored bytes (large media need not fit in memory).
        `where`: their `blob_addresses` (at the same `version`), when the caller has them."""
        where = self.blob_addresses(shas, version=version) if where is None else where
        ds = self.dataset("blobs", version)
        if not where or ds is None:
            return {}
        keys = sorted(where)
        files = ds.take_blobs("data", addresses=[where[k][0] for k in keys])
        return {k: f for k, f in zip(keys, files, strict=True) if f is not None}

    def read_blobs(self, shas: Iterable[str], where: dict[str, tuple[int, int]] | None = None, version: int | None = None) -> dict[str, bytes]:
        out = {}
        for sha, f in self.open_blobs(shas, where, version).items():
            with f:
                out[sha] = f.read()
        return out

    def media_of(self, row: dict[str, Any], modality: str) -> bytes | list[bytes] | None:
        """The bytes a stage-table row references for `modality` ("keyframes": a list), or None."""
        if modality == "keyframes":
            refs = list(row.get("keyframes") or [])
            blobs = self.read_blobs(refs)
            return [blobs[r] for r in refs if r in blobs]
        ref = row.get(f"media_{modality}")
        return self.read_blobs([ref]).get(ref) if ref else None

    def hydrate(self, samples: list[Any], modalities: tuple[str, ...], stream_over: int = 0) -> list[Any]:
        """Load the referenced bytes of `modalities` ("keyframes" too) into the samples (missing →
        left absent). Media of a STREAMED_MODALITIES modality larger than `stream_over` bytes (> 0)
        are handed over as `BlobStream`s, opened by whoever decodes them, never loaded here."""
        want = [ref for s in samples for m in modalities for ref in _refs(s, m)]
        where = self.blob_addresses(want)
        streamed = {
            s.media_ref[m]
            for s in samples
            for m in STREAMED_MODALITIES
            if m in modalities and s.media_ref.get(m) in where and stream_over and where[s.media_ref[m]][1] > stream_over
        }
        blobs: dict[str, Any] = self.read_blobs(set(where) - streamed, {k: v for k, v in where.items() if k not in streamed})
        blobs.update({sha: BlobStream(self.resolved_uri(), sha, where[sha][1]) for sha in streamed})
        out = []
        for s in samples:
            media = {**s.media}
            for m in modalities:
                if m != "keyframes" and s.media_ref.get(m) in blobs:
                    media[m] = blobs[s.media_ref[m]]
            keyframes = [blobs[r] for r in s.keyframe_refs if r in blobs] if "keyframes" in modalities else s.keyframes
            out.append(s.evolve(media=media, keyframes=keyframes))
        return out

    # -- stage tables: reads ----------------------------------------------------------------
    def batch_rows(self, name: str, batch: str, columns: list[str], *, version: int | None = None, where: str = LANDED) -> tuple[pa.Table, int]:
        """`columns` (+ `_rowaddr`) of the batch's rows at `version` (latest when None), and that version."""
        ds = self.dataset(name, version)
        if ds is None:
            return pa.table({c: pa.array([], pa.string()) for c in columns} | {"_rowaddr": pa.array([], pa.uint64())}), 0
        cols = [c for c in columns if c in ds.schema.names]
        t = ds.to_table(columns=cols, filter=f"batch = {_quote(batch)}" + (f" AND {where}" if where else ""), with_row_address=True)
        return t, int(ds.version)

    def stage_inputs(self, name: str, batch: str, columns: list[str], *, version: int | None = None) -> tuple[pa.Table, int]:
        """What the stage after `name` reads of the batch: its landed rows, less the media a
        decoder cut into windows (their windows, rows of their own, carry on instead)."""
        ds = self.dataset(name, version)
        return self.batch_rows(name, batch, columns, version=version, where=carried_on(ds.schema if ds is not None else None))

    def take(self, name: str, version: int, addresses: list[int], columns: list[str] | None = None) -> pa.Table:
        """Rows by address at a pinned version (cost ∝ rows taken, not the table)."""
        ds = self.dataset(name, version)
        if ds is None or not addresses:
            return SAMPLE_SCHEMA.empty_table()
        return ds._take_rows(addresses, columns=columns)  # pylance 14: take by row address

    def read_stage(self, name: str, batch: str) -> tuple[list[Any], int]:
        """The batch's landed rows as samples (references, no bytes) and the version read."""
        ds = self.dataset(name)
        if ds is None:
            return [], 0
        return arrow_to_samples(ds.to_table(filter=f"batch = {_quote(batch)} AND {LANDED}")), int(ds.version)

    # -- stage tables: writes ---------------------------------------------------------------
    def write_rows(self, name: str, rows: pa.Table) -> list[FragmentMetadata]:
        """Uncommitted fragments of `rows` in table `name` (which must exist); columns the rows
        lack are null. Any process may write them; one commit makes them visible."""
        if rows.num_rows == 0:
            return []
        ds = self.dataset(name)
        assert ds is not None, f"table {name} must exist before rows are written to it"
        return write_fragments(_pad(rows, ds.schema), self.dataset_uri(name), schema=ds.schema, storage_options=self.storage_options())

    def commit_appends(self, name: str, fragments: list[FragmentMetadata]) -> int | None:
        """Append fragments (content-addressed tables: appends never conflict with each other)."""
        if not fragments:
            return None

        def attempt() -> int:
            ds = self.dataset(name)
            assert ds is not None
            op = lance.LanceOperation.Append(fragments)
            return int(lance.LanceDataset.commit(self.dataset_uri(name), op, read_version=ds.version, storage_options=self.storage_options()).version)

        version = retrying(f"{name}: append", attempt)
        if name == "blobs":  # existence checks and reads by sha stay ∝ the chunk
            from tessera.resources.indexes import ensure_scalar_indexes

            ensure_scalar_indexes(self.dataset(name), {"sha256": "BTREE"})
        return version

    def replace_rows(self, name: str, where: str, fragments: list[FragmentMetadata], extra: Extra | None = None) -> int:
        """One commit: the rows matching `where` are removed and `fragments` added (I4).
        `extra(ds)` may widen the same transaction — (another predicate whose rows are removed,
        more fragments) — decided from the version being replaced (so re-decided on retry)."""

        def attempt() -> int:
            ds = self.dataset(name)
            assert ds is not None, f"table {name} must exist before a commit"
            new, predicate = list(fragments), where
            if extra is not None:
                more_where, more_new = extra(ds)
                predicate = f"({where}) OR ({more_where})" if more_where else where
                new += more_new
            removed, updated = _deletions(ds, predicate)
            op = lance.LanceOperation.Update(removed_fragment_ids=removed, updated_fragments=updated, new_fragments=new)
            return int(lance.LanceDataset.commit(self.dataset_uri(name), op, read_version=ds.version, storage_options=self.storage_options()).version)

        return retrying(f"{name}: replace {where[:60]}", attempt)

    def commit_batch(self, name: str, batch: str, fragments: list[FragmentMetadata], extra: Extra | None = None) -> int:
        """Replace the batch's rows of a stage table by `fragments`, in one transaction; then the
        scalar indexes on batch, sample_id and status grow by the new fragments (so the next
        batch's lookups cost ∝ that batch, not the table)."""
        from tessera.resources.indexes import ensure_scalar_indexes

        version = self.replace_rows(name, f"batch = {_quote(batch)}", fragments, extra)
        ensure_scalar_indexes(self.dataset(name))
        return version

    def set_aside(
        self, name: str, stage: str, batch: str, verdicts: dict[str, tuple[str, str]], reason: str = "GATE", updates: dict[str, dict[str, Any]] | None = None
    ) -> int:
        """One commit turning the batch's landed rows of `verdicts` (sample id → (op, detail)) into
        quarantined `reason` rows (no vectors; `updates`: other columns to set per sample id);
        cost ∝ those rows."""
        ds = self.dataset(name)
        assert ds is not None
        where = f"batch = {_quote(batch)} AND {LANDED} AND {in_list('sample_id', sorted(verdicts))}"
        rows = ds.to_table(filter=where).to_pylist()
        for r in rows:
            op, detail = verdicts[r["sample_id"]]
            r.update(status="quarantined", reason=reason, op=op, detail=detail, row_id=quarantine_key(stage, batch, r["sample_id"], r["source"] or ""))
            r.update({c: None for c in r if c.startswith("vec_")})
            for column, value in (updates or {}).get(r["sample_id"], {}).items():  # a struct column (metrics) is merged into
                r[column] = {**(r.get(column) or {}), **value} if isinstance(value, dict) else value
            if "lineage" in r:
                r["lineage"] = [*(r["lineage"] or []), set_aside_edge(op, reason, detail, r.get("cluster") if reason == "DUPLICATE" else None)]
        fragments = self.write_rows(name, pa.Table.from_pylist(rows, schema=ds.schema))
        return self.replace_rows(name, where, fragments)

    # -- quarantine: a view over the stage tables --------------------------------------------
    def quarantine_rows(self, batch: str | None = None, stage: str | None = None, versions: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """Every input set aside, per stage: sample_id, batch, stage, op, reason, detail, source, run_id,
        code_version; `versions`: table → version to read (a release's), the latest otherwise."""
        conds = [QUARANTINED, *([f"batch = {_quote(batch)}"] if batch else [])]
        columns = ["row_id", "sample_id", "batch", "op", "reason", "detail", "source", "parent_id", "run_id", "code_version", "created_at"]
        out: list[dict[str, Any]] = []
        for st, table in STAGE_TABLES.items():
            if stage and st != stage:
                continue
            if versions and table not in versions:
                continue
            ds = self.dataset(table, versions.get(table) if versions else None)
            if ds is None:
                continue
            for r in ds.to_table(columns=columns, filter=" AND ".join(conds)).to_pylist():
                out.append({"stage": st, **r})
        return out

    def delete_batch(self, batch: str, on_raw: Callable[[], Any]) -> None:
        """Remove a batch from every stage table (last stage first; raw, whose commit hands its
        shared content to the next holder, through `on_raw`), then from `batches`."""
        for stage in reversed(list(STAGE_TABLES)):
            if stage == "raw":
                on_raw()
            elif self.dataset(STAGE_TABLES[stage]) is not None:
                self.commit_batch(STAGE_TABLES[stage], batch, [])
        self.forget_batch(batch)


def _refs(s: Any, modality: str) -> list[str]:
    if modality == "keyframes":
        return list(s.keyframe_refs)
    return [s.media_ref[modality]] if modality in s.media_ref else []


def _deletions(ds: lance.LanceDataset, where: str) -> tuple[list[int], list[FragmentMetadata]]:
    """Fragments to drop whole and fragments with new deletion vectors, for rows matching `where`.
    The fragments are found from row addresses (a scalar index on `batch` makes this ∝ the batch)."""
    hits = ds.to_table(columns=[], filter=where, with_row_address=True)["_rowaddr"].to_pylist()
    removed, updated = [], []
    for fid in sorted({a >> 32 for a in hits}):
        meta = ds.get_fragment(fid).delete(where)
        if meta is None:
            removed.append(fid)
        else:
            updated.append(meta)
    return removed, updated


def missing_fields(have: pa.Schema, want: pa.Schema) -> list[pa.Field]:
    """The fields of `want` that `have` lacks, as Lance's `add_columns` takes them: a new column
    whole, and for a struct column that exists (`metrics`) a struct of only its new children
    (Lance adds them in place; old rows read them as null). Without the latter, a new metric
    would be cast away on every existing lake."""
    out: list[pa.Field] = []
    for f in want:
        if f.name not in have.names:
            out.append(f)
            continue
        old = have.field(f.name).type
        if pa.types.is_struct(f.type) and pa.types.is_struct(old):
            known = {old.field(i).name for i in range(old.num_fields)}
            new = [f.type.field(i) for i in range(f.type.num_fields) if f.type.field(i).name not in known]
            if new:
                out.append(pa.field(f.name, pa.struct(new)))
    return out


def _pad(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows in the table's column order; columns the rows lack (another model's vectors) are null."""
    cols, fields = [], []
    for f in schema:
        if f.name in rows.schema.names and isinstance(f.type, pa.ExtensionType):
            # a blob column is written as binary marked `lance-encoding:blob`; Lance stores it out of line
            cols.append(rows[f.name])
            fields.append(rows.schema.field(f.name))
        elif f.name in rows.schema.names:
            cols.append(rows[f.name] if rows[f.name].type == f.type else rows[f.name].cast(f.type))
            fields.append(f)
        else:
            cols.append(pa.nulls(rows.num_rows, f.type))
            fields.append(f)
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def iter_chunks(items: list[Any], sizes: list[int], max_rows: int, max_bytes: int, spread: int = 1) -> Iterator[list[Any]]:
    """Consecutive runs of `items` with at most `max_rows` rows and `max_bytes` bytes (a single
    larger item stands alone). `spread`: both budgets shrink so that a batch smaller than them
    still makes about this many chunks (every worker gets a share, not one worker all of it)."""
    if spread > 1 and items:
        max_rows = min(max_rows, -(-len(items) // spread))
        max_bytes = min(max_bytes, max(1, -(-sum(sizes) // spread)))
    chunk: list[Any] = []
    used = 0
    for item, size in zip(items, sizes, strict=True):
        if chunk and (len(chunk) >= max_rows or used + size > max_bytes):
            yield chunk
            chunk, used = [], 0
        chunk.append(item)
        used += size
    if chunk:
        yield chunk


@dataclass(frozen=True, slots=True)
class BlobStream:
    """Stored bytes, opened as a stream by whoever decodes them (a `core.records.Stored`): small
    to pickle, so an isolated decoder child opens the lake itself instead of receiving a copy."""

    lake_uri: str
    sha256: str
    size: int

    def open(self) -> IO[bytes]:
        stream = Lake(self.lake_uri).open_blobs([self.sha256]).get(self.sha256)
        if stream is None:
            raise FileNotFoundError(f"blob {self.sha256[:12]} is not in the lake at {self.lake_uri}: was it cleaned up under a running stage?")
        return stream


class Lake(LakeStore):
    """The lake outside Dagster: what engine workers and scripts open (`Lake(uri)`)."""

    def __init__(self, uri: str = "") -> None:
        self.uri = uri
        self._db = None
