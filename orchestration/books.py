"""A batch's books per stage — in, landed, variants, quarantined by reason, its checks' latest
verdicts, the table's version, the main metrics — as `tessera status`, the runs' summaries and
`tessera serve`'s `GET /api/status` show them. Counts come from the lake (pylance alone, no
LanceDB); check verdicts from the Dagster instance."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.resources.store import LakeStore

STAGES = ("raw", "cleaned", "unified", "aligned", "augmented", "embedded")


def latest_checks(stage: str, batch: str, runs: set[str] | None = None) -> dict[str, str]:
    """The newest result of each check of `stage` in a run of `batch`: passed / failed / none.
    `runs`: the ids of the batch's runs, when the caller already has them."""
    from dagster import AssetCheckKey, AssetKey

    from tessera.orchestration.instance import get_instance

    instance = get_instance()
    runs = batch_runs(batch) if runs is None else runs
    out: dict[str, str] = {}
    for check in ("accounted_for", "quality"):
        out[check] = "none"
        for record in instance.event_log_storage.get_asset_check_execution_history(AssetCheckKey(AssetKey(stage), check), limit=50):
            if record.run_id in runs:
                status = record.status.value  # PLANNED (its step failed before it ran), SUCCEEDED, FAILED, …
                out[check] = {"SUCCEEDED": "passed", "FAILED": "failed"}.get(status, status.lower())
                data = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
                if status == "FAILED" and getattr(getattr(data, "severity", None), "value", "") == "WARN":
                    out[check] = "warned"  # drift reported; downstream stages still ran
                break
    return out


def batch_runs(batch: str) -> set[str]:
    """Ids of every run of `batch` (one query)."""
    from dagster import RunsFilter

    from tessera.orchestration.instance import get_instance

    return set(get_instance().get_run_ids(filters=RunsFilter(tags={"dagster/partition": batch})))


def stage_status(batch: str, release: str | None = None, lake: LakeStore | None = None) -> dict[str, Any]:
    """Per stage: in, landed, variants, quarantined by reason, checks, the table's version and the
    main metrics — of the lake now, or as release `release` holds it (its tagged versions). Reads
    the tables with pylance alone (no LanceDB: a status is a handful of counts)."""
    from tessera.core.discover import split_source
    from tessera.resources.store import LANDED, STAGE_TABLES, Lake, carried_on

    lake = lake or Lake()
    versions, gx = {}, {}
    if release:
        from tessera.resources.releases import manifest

        cut = manifest(lake, release)
        versions, gx = cut["versions"], cut.get("gx", {}).get(batch, {})
    q_rows = lake.quarantine_rows(batch, versions=versions)
    runs = batch_runs(batch) if not release else set()
    rows, prev_carried = [], None
    for stage in STAGES:
        name = STAGE_TABLES[stage]
        ds = None if release and name not in versions else lake.dataset(name, versions.get(name))
        mine = f"batch = '{batch}' AND {LANDED}"
        landed = ds.count_rows(filter=mine) if ds is not None else 0
        originals = ds.count_rows(filter=f"{mine} AND parent_id IS NULL") if ds is not None else 0
        reasons = Counter(r["reason"] for r in q_rows if r["stage"] == stage)
        quarantined = sum(reasons.values())
        metrics = _distributions(ds, mine) if ds is not None and stage != "raw" else {}
        if stage == "raw":
            tbl = ds.to_table(columns=["source"], filter=mine).to_pylist() if ds is not None else []
            landed_inputs = sum(len(split_source(r["source"])) for r in tbl)
            q_inputs = sum(len(split_source(r["source"])) for r in q_rows if r["stage"] == "raw")
            n_in = landed_inputs + q_inputs
        else:
            n_in = prev_carried or 0
        rows.append(
            {
                "stage": stage, "in": n_in, "landed": originals, "variants": landed - originals,
                "quarantined": quarantined, "by_reason": dict(sorted(reasons.items())),
                "checks": gx.get(stage, {}) if release else latest_checks(stage, batch, runs), "lake_version": int(ds.version) if ds is not None else 0,
                "metrics": metrics,
            }
        )  # fmt: skip
        prev_carried = ds.count_rows(filter=f"batch = '{batch}' AND {carried_on(ds.schema)}") if ds is not None else 0
    return {"batch": batch, **({"release": release} if release else {}), "stages": rows}


def _distributions(ds: Any, where: str) -> dict[str, Any]:
    """The main metrics' distributions over the stage's landed rows of the batch, and how many carry an outlier flag."""
    from tessera.expectations.distributions import distributions

    cols = [c for c in ("metrics", "flags") if c in ds.schema.names]
    rows = ds.to_table(columns=cols, filter=where).to_pylist()
    out: dict[str, Any] = {m: {k: v for k, v in d.items() if k != "histogram"} for m, d in distributions((r.get("metrics") or {} for r in rows), landed_only=False).items()}
    return {**out, "flagged": sum(1 for r in rows if r.get("flags"))} if out else {}


def books(lake: LakeStore, batch: str | None = None, release: str | None = None) -> list[dict[str, Any]]:
    """`stage_status` of `batch`, or of every batch (registered, or held by `release`). KeyError
    names a batch that is not registered, or a release that does not exist."""
    if batch:
        if not release:
            lake.batch_info(batch)
        return [stage_status(batch, release, lake)]
    if release:
        from tessera.resources.releases import manifest

        counts = manifest(lake, release)["counts"]
        batches = sorted({b for c in counts.values() for b in c.get("batch", {}) if b != "~"})
    else:
        batches = [b["batch"] for b in lake.batches()]
    return [stage_status(b, release, lake) for b in batches]


def warm() -> None:
    """Import Dagster and open the instance now (a long-lived server's first status is then fast too)."""
    from tessera.orchestration.instance import get_instance

    get_instance()
