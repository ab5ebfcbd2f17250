"""Lake maintenance, for every table: index merge or rebuild, compaction, old-version cleanup.

Run nightly (orchestration/maintenance.py) or as `tessera maintain`. Each table goes through
1. indexes: an index whose segments cover too little of the table is rebuilt (a vector
   index retrained on the current rows); one with many delta segments, or any index when
   compaction is due, has its segments merged into one; otherwise uncovered fragments join
   it as a delta. Merging comes first because Lance compacts together only fragments that
   the same index segments cover (seen with pylance 14: fragments under different delta
   segments are left as they are);
2. for the tables named in `maintenance.create_indexes_on` (`samples`), indexes that have
   become due are created (resources/indexes.py `update_indexes`);
3. compaction (`compact_files`), when enough small or deletion-heavy fragments piled up;
   it remaps the indexes to the new fragments in the same commit;
4. cleanup of versions older than `keep_versions_days`; tagged versions (releases) and the
   latest version are never removed.

Safe while stage commits run (Lance's conflict rules, format spec `transaction.md`):
- Compaction commits a Rewrite. A concurrent Append (new fragments) never conflicts with
  it. A concurrent Update/Delete (a stage commit replacing a batch's rows) that touches a
  fragment the compaction rewrote is a *retryable* conflict for whichever commits second:
  maintenance redoes the step here; lancedb's merge_insert retries on its side. A Merge
  (add_columns: a new encoder's vector column) is retryable against any Rewrite.
- Index creation, merge, rebuild and delta commit CreateIndex: compatible with Append,
  Update and Delete (an index may point at deleted rows; they are filtered after search;
  updated rows count as unindexed until the next delta) and with another CreateIndex;
  retryable against a Rewrite of fragments the index covers (no stable row ids here).
- Cleanup is no transaction: it deletes manifests and files that only versions older than
  the cutoff reference. Files of a commit still in flight are in no manifest yet and are
  kept (`delete_unverified=False`: Lance keeps such files for 7 days). A reader pinned to a
  version older than `keep_versions_days` loses it; that is what the setting means.
Every step re-reads the latest version, so redoing it after a conflict is correct.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lance.dataset import LanceDataset

from tessera.resources.conflicts import retry_on_conflict
from tessera.resources.indexes import IndexState, index_states, latest, update_indexes


@dataclass(frozen=True, slots=True)
class MaintenanceParams:
    """The `maintenance:` section of params.yaml (defaults mirror it)."""

    keep_versions_days: float = 7.0
    compact_min_fragments: int = 4
    target_rows_per_fragment: int = 1_048_576
    materialize_deletions_threshold: float = 0.1
    max_index_segments: int = 4
    rebuild_unindexed_share: float = 0.25
    create_indexes_on: tuple[str, ...] = field(default=("samples",))
    commit_retries: int = 5
    retry_backoff_s: float = 0.5

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> MaintenanceParams:
        section = dict(params.get("maintenance") or {})
        default = cls()
        if unknown := sorted(set(section) - set(cls.__dataclass_fields__)):
            raise ValueError(f"params.yaml maintenance.{unknown[0]}: unknown key; known: {', '.join(cls.__dataclass_fields__)}")
        values = {name: section.get(name, getattr(default, name)) for name in cls.__dataclass_fields__}
        tables = values["create_indexes_on"] or ()
        out = cls(**{**values, "create_indexes_on": (tables,) if isinstance(tables, str) else tuple(tables)})
        if out.keep_versions_days < 0:
            raise ValueError(f"params.yaml maintenance.keep_versions_days: {out.keep_versions_days} must be ≥ 0")
        if out.compact_min_fragments < 2 or out.max_index_segments < 1:
            raise ValueError("params.yaml maintenance: compact_min_fragments must be ≥ 2 and max_index_segments ≥ 1")
        return out


def maintain(db: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Maintain every table of the lake (`db`: a lancedb connection). One table's failure is
    recorded under its name and the others are still maintained; `errors` lists them."""
    cfg = MaintenanceParams.from_params(params)
    started = time.perf_counter()
    tables: dict[str, Any] = {}
    for name in table_names(db):
        try:
            tables[name] = maintain_table(db.open_table(name), params, cfg)
        except Exception as exc:  # any failure of one table is reported; the next table still gets its turn
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            tables[name] = {"error": f"{type(exc).__name__}: {detail}"}
    errors = [f"{name}: {t['error']}" for name, t in tables.items() if "error" in t]
    return {"tables": tables, "errors": errors, "seconds": round(time.perf_counter() - started, 3)}


def table_names(db: Any) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = db.list_tables(page_token=token)
        names += list(page.tables)
        token = page.page_token
        if not token:
            return sorted(names)


def maintain_table(table: Any, params: Mapping[str, Any], cfg: MaintenanceParams) -> dict[str, Any]:
    started = time.perf_counter()
    retries = 0

    def step(what: str, fn: Any) -> Any:
        nonlocal retries
        result, used = retry_on_conflict(fn, what=f"{table.name}: {what}", attempts=cfg.commit_retries, backoff_s=cfg.retry_backoff_s)
        retries += used
        return result

    before = latest(table)
    shape_before = _shape(before)
    due, why = compaction_due(before, cfg)
    indexes: dict[str, str] = {}
    for state in index_states(before).values():
        action, reason = index_action(state, cfg, compaction_due=due)
        if action:
            step(f"{action} index {state.name}", lambda s=state, a=action: _apply(latest(table), s.name, a))
            indexes[state.name] = f"{action}: {reason}"
    created: dict[str, Any] = {}
    if table.name in cfg.create_indexes_on:
        update = update_indexes(table, params)
        created, retries = {**update["created"], **update["skipped"]}, retries + update["retries"]
    compaction: dict[str, Any] = {"skipped": why}
    if due:
        metrics = step("compaction", lambda: _compact(latest(table), cfg))
        compaction = {"fragments_removed": metrics.fragments_removed, "fragments_added": metrics.fragments_added, "why": why}
    stats = latest(table).cleanup_old_versions(older_than=timedelta(days=cfg.keep_versions_days), error_if_tagged_old_versions=False)
    after = latest(table)
    return {
        "rows": after.count_rows(),
        "fragments": [shape_before["fragments"], len(after.get_fragments())],
        "versions": [shape_before["versions"], len(after.versions())],
        "tags": sorted(after.tags.list()),
        "indexes": indexes,
        "indexes_created_or_waiting": created,
        "compaction": compaction,
        "cleanup": {"versions_removed": int(stats.old_versions), "bytes_removed": int(stats.bytes_removed)},
        "version": int(after.version),
        "retries": retries,
        "seconds": round(time.perf_counter() - started, 3),
    }


# -- decisions ----------------------------------------------------------------------------------
def compaction_due(ds: LanceDataset, cfg: MaintenanceParams) -> tuple[bool, str]:
    """Due when `compact_min_fragments` fragments are small, or any has many deleted rows."""
    small = heavy = 0
    for frag in ds.get_fragments():
        physical = frag.metadata.physical_rows or 0
        live = frag.count_rows()
        small += live < cfg.target_rows_per_fragment
        heavy += physical > 0 and (physical - live) / physical > cfg.materialize_deletions_threshold
    if heavy:
        return True, f"{heavy} fragment(s) over {cfg.materialize_deletions_threshold:.0%} deleted rows"
    if small >= cfg.compact_min_fragments:
        return True, f"{small} fragments under {cfg.target_rows_per_fragment} rows"
    return False, f"{small} small fragment(s) < maintenance.compact_min_fragments {cfg.compact_min_fragments}"


def index_action(state: IndexState, cfg: MaintenanceParams, *, compaction_due: bool) -> tuple[str | None, str]:
    """What an index needs: rebuild | merge | delta | None, and why."""
    total = state.rows_indexed + state.rows_unindexed
    share = state.rows_unindexed / total if total else 0.0
    segments = state.segments + (1 if state.rows_unindexed else 0)  # the delta it would get
    if state.is_vector and share > cfg.rebuild_unindexed_share:
        return "rebuild", f"{share:.0%} of rows unindexed > {cfg.rebuild_unindexed_share:.0%}: retrain on all rows"
    if segments > cfg.max_index_segments:
        return "merge", f"{segments} segments > maintenance.max_index_segments {cfg.max_index_segments}"
    if compaction_due and segments > 1:
        return "merge", f"{segments} segments; compaction is due and needs one"
    if state.rows_unindexed:
        return "delta", f"{state.rows_unindexed} rows unindexed"
    return None, "current"


# -- steps --------------------------------------------------------------------------------------
def _apply(ds: LanceDataset, name: str, action: str) -> None:
    """One commit. `merge` folds every segment and the uncovered fragments into one segment;
    `rebuild` also retrains a vector index (centroids, quantiser) on today's rows."""
    state = index_states(ds).get(name)
    if state is None:
        return  # dropped meanwhile
    if action == "rebuild":
        ds.optimize.optimize_indices(index_names=[name], retrain=True)
    elif action == "merge":
        ds.optimize.optimize_indices(index_names=[name], num_indices_to_merge=state.segments)
    elif state.unindexed_fragments:
        ds.optimize.optimize_indices(index_names=[name], num_indices_to_merge=0)


def _compact(ds: LanceDataset, cfg: MaintenanceParams) -> Any:
    return ds.optimize.compact_files(
        target_rows_per_fragment=cfg.target_rows_per_fragment,
        materialize_deletions_threshold=cfg.materialize_deletions_threshold,
    )


def _shape(ds: LanceDataset) -> dict[str, int]:
    return {"fragments": len(ds.get_fragments()), "versions": len(ds.versions())}
