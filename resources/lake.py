"""The lake: one LanceDB database holding every stage table, `quarantine`, `blobs`, `batches`.

Invariants: writes are idempotent (merge on the key, and the batch's old rows that the
new write does not carry are deleted in the same commit); one writer per table at a time
(a file lock), because concurrent merge_insert can duplicate rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
from dagster import ConfigurableResource
from pydantic import PrivateAttr

from core.records import Quarantined, Sample
from core.schema import (
    BATCH_SCHEMA,
    BLOB_SCHEMA,
    QUARANTINE_SCHEMA,
    SAMPLE_SCHEMA,
    arrow_to_samples,
    quarantine_to_arrow,
    samples_to_arrow,
)
from resources.home import lake_uri, s3_storage_options, tessera_home

BATCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
STAGE_TABLES = {"raw": "raw", "cleaned": "cleaned", "unified": "unified", "aligned": "aligned", "augmented": "augmented", "embedded": "samples"}


# Stage tables also hold their quarantined inputs; readers of what a stage produced use this.
LANDED = "status = 'landed'"


def check_batch_name(batch: str) -> str:
    if not BATCH_NAME.match(batch):
        raise ValueError(f"batch name {batch!r} must be 1-100 of letters, digits, '.', '_', '-' and start with a letter or digit")
    return batch


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LakeResource(ConfigurableResource):
    """LanceDB lake. `uri` empty → `TESSERA_LAKE_URI` or `$TESSERA_HOME/lake`."""

    uri: str = ""
    lock_dir: str = ""

    _db: Any = PrivateAttr(default=None)

    # -- connection -------------------------------------------------------------------------
    def resolved_uri(self) -> str:
        return self.uri or lake_uri()

    def db(self) -> lancedb.DBConnection:
        if self._db is None:
            uri = self.resolved_uri()
            opts = s3_storage_options() if uri.startswith("s3://") else None
            if not uri.startswith("s3://"):
                Path(uri).mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(uri, storage_options=opts)
        return self._db

    def table_names(self) -> list[str]:
        return list(self.db().list_tables().tables)

    def open(self, name: str) -> Any | None:
        return self.db().open_table(name) if name in self.table_names() else None

    def _table(self, name: str, schema: pa.Schema) -> Any:
        """Open `name`, or create it with `schema`; an older table gains the columns it lacks
        (schema evolution: new columns are null on old rows)."""
        table = self.open(name)
        if table is None:
            return self.db().create_table(name, schema=schema)
        missing = [f for f in schema if f.name not in table.schema.names]
        if missing:
            table.add_columns(missing)
        return table

    @contextlib.contextmanager
    def _writer(self, name: str) -> Iterator[None]:
        """One writer per table across processes on this host."""
        root = Path(self.lock_dir) if self.lock_dir else tessera_home() / "locks"
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- batches ----------------------------------------------------------------------------
    def register_batch(self, batch: str, uri: str, manifest: str | None) -> None:
        row = pa.Table.from_pylist(
            [{"batch": check_batch_name(batch), "uri": uri, "manifest": manifest, "registered_at": datetime.now(UTC)}], schema=BATCH_SCHEMA
        )
        with self._writer("batches"):
            self._table("batches", BATCH_SCHEMA).merge_insert("batch").when_matched_update_all().when_not_matched_insert_all().execute(row)

    def batch_info(self, batch: str) -> dict[str, Any]:
        table = self.open("batches")
        rows = table.search().where(f"batch = {_quote(batch)}").to_list() if table is not None else []
        if not rows:
            raise KeyError(f"batch {batch!r} is not registered; run `tessera ingest PATH --batch {batch}` first")
        return rows[0]

    def batches(self) -> list[dict[str, Any]]:
        table = self.open("batches")
        return sorted(table.to_arrow().to_pylist(), key=lambda r: r["registered_at"]) if table is not None else []

    # -- blobs (raw bytes, content-addressed) -----------------------------------------------
    def put_blobs(self, samples: list[Sample], batch: str) -> int:
        """Pack each sample's raw bytes under their sha256; existing blobs are left as they are."""
        blobs: dict[str, bytes] = {}
        for s in samples:
            for modality, sha in s.raw_sha256.items():
                if modality in s.media:
                    blobs.setdefault(sha, s.media[modality])
        if not blobs:
            return 0
        rows = pa.Table.from_pylist(
            [{"sha256": k, "data": v, "size": len(v), "first_batch": batch} for k, v in sorted(blobs.items())], schema=BLOB_SCHEMA
        )
        with self._writer("blobs"):
            self._table("blobs", BLOB_SCHEMA).merge_insert("sha256").when_not_matched_insert_all().execute(rows)
        return len(blobs)

    def get_blobs(self, shas: list[str], chunk: int = 500) -> dict[str, bytes]:
        table = self.open("blobs")
        if table is None or not shas:
            return {}
        out: dict[str, bytes] = {}
        unique = sorted(set(shas))
        ds = table.to_lance()
        for i in range(0, len(unique), chunk):
            ids = ", ".join(_quote(s) for s in unique[i : i + chunk])
            for r in ds.to_table(columns=["sha256", "data"], filter=f"sha256 IN ({ids})").to_pylist():
                out[r["sha256"]] = r["data"]
        return out

    def hydrate(self, samples: list[Sample], modalities: tuple[str, ...]) -> list[Sample]:
        """Load the raw bytes of `modalities` from blobs into `media` (missing blob → left absent)."""
        wanted = [s.raw_sha256[m] for s in samples for m in modalities if m in s.raw_sha256]
        blobs = self.get_blobs(wanted)
        return [
            s.evolve(media={**s.media, **{m: blobs[s.raw_sha256[m]] for m in modalities if s.raw_sha256.get(m) in blobs}})
            for s in samples
        ]

    # -- stage tables -----------------------------------------------------------------------
    def read_stage(self, table_name: str, batch: str) -> tuple[list[Sample], int]:
        """The batch's landed rows of a stage table and the table version they were read at."""
        table = self.open(table_name)
        if table is None:
            return [], 0
        version = int(table.version)
        data = table.to_lance().to_table(filter=f"batch = {_quote(batch)} AND {LANDED}")
        return arrow_to_samples(data), version

    def vectors_of(self, table_name: str, batch: str) -> dict[str, tuple[dict[str, list[float]], dict[str, str]]]:
        """id → (vectors, encoder notes) of the batch's rows: what an earlier embedding run left."""
        table = self.open(table_name)
        if table is None:
            return {}
        columns = ["sample_id", "encoders", *(c for c in table.schema.names if c.startswith("vec_"))]
        out = {}
        for r in table.to_lance().to_table(columns=columns, filter=f"batch = {_quote(batch)} AND {LANDED}").to_pylist():
            vectors = {c: r[c] for c in columns[2:] if r[c] is not None}
            out[r["sample_id"]] = (vectors, json.loads(r["encoders"]) if r["encoders"] else {})
        return out

    def landed_elsewhere(self, table_name: str, ids: list[str], batch: str) -> dict[str, str]:
        """For exact dedup: which of `ids` landed in `table_name` under another batch."""
        table = self.open(table_name)
        if table is None or not ids:
            return {}
        id_list = ", ".join(_quote(i) for i in sorted(set(ids)))
        rows = table.to_lance().to_table(columns=["sample_id", "batch"], filter=f"sample_id IN ({id_list}) AND batch != {_quote(batch)} AND {LANDED}")
        return {r["sample_id"]: r["batch"] for r in rows.to_pylist()}

    def commit_stage(
        self,
        *,
        stage: str,
        batch: str,
        landed: list[Sample],
        quarantined: list[Quarantined],
        run_id: str,
        code_version: str,
        input_version: int,
        vector_dims: dict[str, int] | None = None,
    ) -> int:
        """Replace the batch's rows of the stage table — landed and quarantined, in one commit
        (I2) — then its rows in the `quarantine` index; returns the stage table's new version.

        A kill between the two commits leaves the index one run behind the stage table (the
        source of truth); any re-run of the stage brings it level (I3)."""
        rows = samples_to_arrow(
            landed, run_id=run_id, code_version=code_version, input_version=input_version, vector_dims=vector_dims,
            quarantined=quarantined, stage=stage,
        )  # fmt: skip
        name = STAGE_TABLES[stage]
        with self._writer(name):
            table = self._table(name, rows.schema)
            (
                table.merge_insert("row_id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(f"batch = {_quote(batch)}")
                # rows without a vector are null there (fixed-size lists already enforce the dim)
                .execute(_pad(rows, table.schema), on_bad_vectors="null")
            )
            version = int(table.version)
        q_rows = quarantine_to_arrow(quarantined, stage=stage, run_id=run_id, code_version=code_version)
        with self._writer("quarantine"):
            (
                self._table("quarantine", QUARANTINE_SCHEMA)
                .merge_insert("qid")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(f"batch = {_quote(batch)} AND stage = {_quote(stage)}")
                .execute(q_rows)
            )
        return version

    # -- indexes and search -----------------------------------------------------------------
    def build_indexes(self) -> dict[str, Any]:
        """Full-text index on `search_text` and an HNSW-SQ cosine index per vector column of `samples`."""
        from lancedb.index import FTS, HnswSq

        table = self.open("samples")
        if table is None or table.count_rows() == 0:
            return {"indexes": []}
        built = []
        with self._writer("samples"):
            table.create_index("search_text", config=FTS(), replace=True)
            built.append("search_text:fts")
            for name in table.schema.names:
                if name.startswith("vec_") and table.count_rows(f"{name} IS NOT NULL") > 0:
                    table.create_index(name, config=HnswSq(distance_type="cosine"), replace=True)
                    built.append(f"{name}:hnsw_sq")
        return {"indexes": built}

    def quarantine_rows(self, batch: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
        table = self.open("quarantine")
        if table is None:
            return []
        conds = [f"batch = {_quote(batch)}"] if batch else []
        conds += [f"stage = {_quote(stage)}"] if stage else []
        return table.to_lance().to_table(filter=" AND ".join(conds) or None).to_pylist()


def _pad(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows in the table's column order; columns the rows lack (another model's vectors) are null."""
    cols = [rows[f.name] if f.name in rows.schema.names else pa.nulls(rows.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


__all__ = ["LakeResource", "STAGE_TABLES", "SAMPLE_SCHEMA", "check_batch_name"]
