"""The `maintenance` job and its nightly schedule: compaction, index merge/rebuild and
old-version cleanup over every lake table (resources/maintenance.py).

Safe beside pipeline runs: every step is a Lance transaction, retried on a retryable
conflict. The schedule is off until started in the UI (or `dagster schedule start`).
"""

# no `from __future__ import annotations`: Dagster reads the op's annotations at definition time
from dagster import (
    DefaultScheduleStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from tessera.resources.lake import LakeResource
from tessera.resources.maintenance import maintain
from tessera.resources.params_resource import ParamsResource


@op(description="Compaction, index merge or rebuild where due, and cleanup of untagged versions older than maintenance.keep_versions_days.")
def maintain_lake(context: OpExecutionContext, lake: LakeResource, params: ParamsResource) -> dict:
    report = maintain(lake.db(), params.all())
    for name, table in report["tables"].items():
        context.log.info(f"{name}: {summary_line(table)}")
    context.add_output_metadata(
        {
            "tables": len(report["tables"]),
            "seconds": MetadataValue.float(report["seconds"]),
            "report": MetadataValue.json(report),
        }
    )
    if report["errors"]:
        raise Failure(description="maintenance failed for " + "; ".join(report["errors"]), metadata={"report": MetadataValue.json(report)})
    return report


def summary_line(table: dict) -> str:
    """One table's maintenance in a line (shared with `tessera maintain`)."""
    if "error" in table:
        return f"FAILED {table['error']}"
    comp = table["compaction"]
    compacted = f"compacted {comp['fragments_removed']}→{comp['fragments_added']}" if "fragments_removed" in comp else "no compaction"
    return (
        f"{table['rows']} rows, fragments {table['fragments'][0]}→{table['fragments'][1]} ({compacted}), "
        f"versions {table['versions'][0]}→{table['versions'][1]}, indexes {len(table['indexes'])} maintained, "
        f"{table['cleanup']['bytes_removed'] / 1e6:.1f} MB freed, {table['seconds']:.1f} s"
    )


@job(description="Lake maintenance: compaction, index merge/rebuild, old-version cleanup (keeps tagged releases).")
def maintenance() -> None:
    maintain_lake()


nightly_maintenance = ScheduleDefinition(
    name="nightly_maintenance",
    job=maintenance,
    cron_schedule="0 3 * * *",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Runs the maintenance job at 03:00 every night (off until started).",
)
