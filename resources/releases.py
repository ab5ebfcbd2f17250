"""Releases: a named state of the whole lake that stays readable.

A release NAME is
- a Lance tag NAME on every table of the lake (`samples`, each stage table, `blobs`,
  `decisions`, `near_index`, `batches`, …) at the version read when the release is cut, so
  it survives maintenance (cleanup keeps tagged versions) and any reader can check it out;
- a manifest: the version of every table, content digests, counts by status, reason,
  modality and batch, the main metrics' distributions per stage (p10 / median / p90, and the
  median and robust spread the drift gate compares the next batches with), the models of
  every vector column, the code versions per stage, and what the caller adds (GX results,
  the `dvc.lock` hash). It is one row of the `releases` table (and the caller writes it to
  `releases/NAME.json` for git).

Releases are immutable: a name is cut once. Digests are order-independent sums of per-row
hashes, streamed batch by batch, so memory stays bounded whatever the table's size.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tessera.core.baseline import MAIN_METRICS, summary
from tessera.resources.store import LANDED, STAGE_TABLES, TABLE_STAGES, LakeStore, _quote

RELEASES = "releases"
SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("note", pa.string()),
        pa.field("manifest", pa.string()),  # JSON
    ]
)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# what a sample *is*, for the digest of `samples`: its id, words, media and vectors (not when or by which run it was written)
CONTENT = ("sample_id", "text", "transcript", "segments", "keyframes", *(f"media_{m}" for m in ("text", "image", "audio", "video", "subtitles")))
MOD = 1 << 256


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"release name {name!r} must be 1-100 of letters, digits, '.', '_', '-' and start with a letter or digit")
    return name


def cut(lake: LakeStore, name: str, *, note: str = "", extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Tag every table at its current version as `name` and record the manifest. Refused when the
    name is taken, or the lake has no `samples` yet."""
    check_name(name)
    if any(r["name"] == name for r in _rows(lake)):
        raise ValueError(f"release {name!r} exists; releases are immutable, cut another name (`tessera releases` lists them)")
    tables = sorted(t for t in lake.table_names() if t != RELEASES)
    if "samples" not in tables:
        raise ValueError("the lake has no `samples` table yet: materialize a batch through `embedded` before cutting a release")
    versions: dict[str, int] = {}
    for t in tables:
        ds = lake.dataset(t)
        assert ds is not None
        tags = ds.tags.list()
        if name in tags:  # a cut that stopped between its tags and its manifest: its tags are reused
            versions[t] = int(tags[name]["version"])
            continue
        versions[t] = int(ds.version)
        ds.tags.create(name, versions[t])
    manifest = {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": note,
        "versions": versions,
        "digests": {t: table_digest(lake, t, versions[t]) for t in tables},
        "counts": {TABLE_STAGES.get(t, t): counts(lake, t, versions[t]) for t in tables if t in TABLE_STAGES},
        "distributions": {TABLE_STAGES[t]: distributions(lake, t, versions[t]) for t in tables if t in TABLE_STAGES and t != "raw"},
        "models": models(lake, versions["samples"]),
        "code_versions": code_versions(lake, versions["samples"]),
        **dict(extra or {}),
    }
    lake.ensure(RELEASES, SCHEMA)
    row = pa.Table.from_pylist([{"name": name, "created_at": datetime.now(UTC), "note": note, "manifest": json.dumps(manifest, sort_keys=True)}], schema=SCHEMA)
    lake.commit_appends(RELEASES, lake.write_rows(RELEASES, row))
    return manifest


def _rows(lake: LakeStore) -> list[dict[str, Any]]:
    ds = lake.dataset(RELEASES)
    return ds.to_table().to_pylist() if ds is not None else []


def listed(lake: LakeStore) -> list[dict[str, Any]]:
    """Every release, oldest first: name, when, note, and its manifest."""
    return [{**r, "manifest": json.loads(r["manifest"])} for r in sorted(_rows(lake), key=lambda r: r["created_at"])]


def manifest(lake: LakeStore, name: str) -> dict[str, Any]:
    for r in _rows(lake):
        if r["name"] == name:
            return json.loads(r["manifest"])
    known = ", ".join(r["name"] for r in _rows(lake)) or "none yet"
    raise KeyError(f"no release named {name!r} (releases: {known}); cut one with `tessera release NAME`")


def version_at(lake: LakeStore, name: str, table: str) -> int:
    """The version of `table` that release `name` holds (its tag)."""
    versions = manifest(lake, name)["versions"]
    if table not in versions:
        raise KeyError(f"release {name!r} has no table {table!r} (it was cut before the table existed)")
    return int(versions[table])


def latest(lake: LakeStore) -> dict[str, Any] | None:
    """The newest release's manifest, or None. Every stage step asks (the drift baseline): only the
    newest manifest is read and parsed, not every release's."""
    ds = lake.dataset(RELEASES)
    if ds is None or ds.count_rows() == 0:
        return None
    index = ds.to_table(columns=["name", "created_at"]).to_pylist()
    newest = max(index, key=lambda r: r["created_at"])["name"]
    (row,) = ds.to_table(columns=["manifest"], filter=f"name = {_quote(newest)}").to_pylist()
    return json.loads(row["manifest"])


# -- what a manifest holds --------------------------------------------------------------------
def _batches(lake: LakeStore, table: str, version: int, columns: list[str], where: str | None = None) -> Iterator[pa.RecordBatch]:
    ds = lake.dataset(table, version)
    if ds is None:
        return iter(())
    return ds.to_batches(columns=[c for c in columns if c in ds.schema.names], filter=where, batch_size=4096)


RUN_BOUND = ("run_id", "created_at", "input_version")  # what a re-run of the same content changes


def table_digest(lake: LakeStore, table: str, version: int, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """{rows, digest}: an order-independent sum of per-row sha256 over the row's content (for
    `samples`: id, words, media references and vectors; for `blobs`: sha256 and size; for the
    other tables: every column but `leave_out`)."""
    ds = lake.dataset(table, version)
    if ds is None:
        return {"rows": 0, "digest": ""}
    names = ds.schema.names
    if table == "samples":
        columns = [c for c in names if c in CONTENT or c.startswith("vec_")]
        where: str | None = LANDED
    elif table == "blobs":
        columns, where = ["sha256", "size"], None
    else:
        columns, where = [c for c in names if c not in leave_out], None
    total, rows = 0, 0
    for rb in _batches(lake, table, version, sorted(columns), where):
        for row in rb.to_pylist():
            total = (total + int.from_bytes(hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).digest(), "big")) % MOD
            rows += 1
    return {"rows": rows, "digest": f"{total:064x}"}


def counts(lake: LakeStore, table: str, version: int) -> dict[str, Any]:
    """Rows by status, by quarantine reason, by modality (landed) and by batch."""
    by: dict[str, Counter[str]] = {k: Counter() for k in ("status", "reason", "modality", "batch")}
    for rb in _batches(lake, table, version, ["status", "reason", "modalities", "batch"], "status != 'token'"):
        for r in rb.to_pylist():
            by["status"][r["status"]] += 1
            by["batch"][r["batch"]] += 1
            if r["reason"]:
                by["reason"][r["reason"]] += 1
            if r["status"] == "landed":
                by["modality"]["+".join(r["modalities"] or []) or "none"] += 1
    return {k: dict(sorted(v.items())) for k, v in by.items()}


def distributions(lake: LakeStore, table: str, version: int) -> dict[str, dict[str, float]]:
    """Per main metric of the landed rows: n, p10, median, p90, and `spread` (1.4826 × MAD, what
    the drift gate compares a new batch's median with)."""
    values: dict[str, list[float]] = defaultdict(list)
    for rb in _batches(lake, table, version, ["metrics"], LANDED):
        for m in rb.column(0).to_pylist():
            for k in MAIN_METRICS:
                if m and m.get(k) is not None:
                    values[k].append(float(m[k]))
    return {k: summary(v) for k, v in sorted(values.items())}


def models(lake: LakeStore, version: int) -> dict[str, list[str]]:
    """Per vector column, the model@revision its vectors come from (from `encoders`)."""
    found: dict[str, set[str]] = defaultdict(set)
    ds = lake.dataset("samples", version)
    columns = [c for c in (ds.schema.names if ds is not None else []) if c.startswith("vec_")]
    for rb in _batches(lake, "samples", version, ["encoders"], LANDED):
        for enc in rb.column(0).to_pylist():
            for modality, tag in json.loads(enc or "{}").items():
                if ":" in modality or tag.startswith("encoder_unavailable"):
                    continue
                column = next((c for c in columns if c.startswith(f"vec_{modality}__")), f"vec_{modality}")
                found[column].add(tag)
    return {c: sorted(v) for c, v in sorted(found.items())}


def code_versions(lake: LakeStore, version: int) -> dict[str, list[str]]:
    """Per stage, the code versions that shaped the landed rows of `samples`."""
    found: dict[str, set[str]] = defaultdict(set)
    for rb in _batches(lake, "samples", version, ["code_versions"], LANDED):
        for cv in rb.column(0).to_pylist():
            for stage, v in json.loads(cv or "{}").items():
                found[stage].add(v)
    return {s: sorted(v) for s, v in sorted(found.items())}


# -- what changed between two releases --------------------------------------------------------
def _content(lake: LakeStore, version: int) -> dict[tuple[str, str], str]:
    """(sample id, batch) → hash of its content, for the landed rows of `samples` at `version`."""
    out: dict[tuple[str, str], str] = {}
    ds = lake.dataset("samples", version)
    if ds is None:
        return out
    columns = sorted({"batch", *(c for c in ds.schema.names if c in CONTENT or c.startswith("vec_"))})
    for rb in _batches(lake, "samples", version, columns, LANDED):
        for row in rb.to_pylist():
            out[(row["sample_id"], row.pop("batch"))] = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return out


def diff(lake: LakeStore, a: str, b: str, limit: int = 1000) -> dict[str, Any]:
    """Samples added, removed (with why they left) and changed from release `a` to `b`; counts,
    distributions and models that moved. Lists are cut at `limit` ids (their sizes are exact)."""
    ma, mb = manifest(lake, a), manifest(lake, b)
    before, after = _content(lake, version_at(lake, a, "samples")), _content(lake, version_at(lake, b, "samples"))
    ids_a, ids_b = {sid for sid, _ in before}, {sid for sid, _ in after}
    changed = sorted({sid for key, h in after.items() if key in before and before[key] != h for sid in [key[0]]})
    removed = sorted(ids_a - ids_b)
    return {
        "from": a,
        "to": b,
        "added": {"count": len(ids_b - ids_a), "ids": sorted(ids_b - ids_a)[:limit]},
        "removed": {"count": len(removed), "samples": [{"sample_id": sid, "why": why} for sid, why in _why_gone(lake, mb, removed[:limit]).items()]},
        "changed": {"count": len(changed), "ids": changed[:limit]},
        "counts": _moved(ma.get("counts", {}), mb.get("counts", {})),
        "distributions": _moved(ma.get("distributions", {}), mb.get("distributions", {})),
        "models": {c: {"from": ma.get("models", {}).get(c), "to": mb.get("models", {}).get(c)}
                   for c in sorted(set(ma.get("models", {})) | set(mb.get("models", {}))) if ma.get("models", {}).get(c) != mb.get("models", {}).get(c)},
        "versions": {t: {"from": ma["versions"].get(t), "to": v} for t, v in sorted(mb["versions"].items()) if ma["versions"].get(t) != v},
    }  # fmt: skip


def _why_gone(lake: LakeStore, at: Mapping[str, Any], ids: list[str]) -> dict[str, str]:
    """sample id → why it is not in `samples` at the release: the first stage that set it aside
    (reason, operator, detail) in the release's stage tables, or that no batch carries it."""
    out = {sid: "no batch of the release carries it (its batch was deleted, or its drop lost the file)" for sid in ids}
    found: set[str] = set()
    for stage, table in STAGE_TABLES.items():
        version = at["versions"].get(table)
        if version is None or not ids:
            continue
        for i in range(0, len(ids), 512):
            where = f"status = 'quarantined' AND sample_id IN ({', '.join(_quote(s) for s in ids[i : i + 512])})"
            for rb in _batches(lake, table, int(version), ["sample_id", "batch", "reason", "op", "detail"], where):
                for r in rb.to_pylist():
                    if r["sample_id"] not in found:
                        found.add(r["sample_id"])
                        out[r["sample_id"]] = f"set aside at {stage} in batch {r['batch']}: {r['reason']} by {r['op']} ({r['detail']})"
    return out


def _moved(a: Mapping[str, Any], b: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    """The leaves of two nested dicts that differ: {"a.b.c": {"from": x, "to": y}}."""
    out: dict[str, Any] = {}
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        key = f"{path}.{k}" if path else str(k)
        if isinstance(x, Mapping) or isinstance(y, Mapping):
            out.update(_moved(x if isinstance(x, Mapping) else {}, y if isinstance(y, Mapping) else {}, key))
        elif x != y:
            out[key] = {"from": x, "to": y}
    return out
