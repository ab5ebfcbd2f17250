"""Sensors: new complete landing drops become batch partitions and pipeline runs; a data
steward's new decisions re-run the batches they touch.

A drop is a folder under the landing root (a local directory or `s3://bucket/prefix`); it is
complete when its ready marker exists (default `_READY`, written by whoever copies the drop,
last). Half-copied folders wait.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any

from dagster import AssetKey, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from tessera.assets.factory import batch_partitions
from tessera.resources import decisions
from tessera.resources.lake import STAGE_TABLES, LakeResource, LakeStore, check_batch_name
from tessera.resources.landing import ready_drops
from tessera.resources.params import load_params

STAGES = tuple(STAGE_TABLES)


def batch_name(folder: str) -> str:
    """A folder name as a batch name: unsafe characters become '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder).strip("-.") or "batch"
    return check_batch_name(name[:100])


def landing_settings() -> tuple[str, str]:
    """(root, ready marker): `TESSERA_LANDING_ROOT` wins over params.yaml `landing.root`."""
    landing = load_params().get("landing", {})
    return os.environ.get("TESSERA_LANDING_ROOT") or landing.get("root", ""), landing.get("ready_marker", "_READY")


def register_new_drops(lake: LakeStore, known: set[str], root: str, marker: str) -> list[str]:
    """Each complete drop under `root` whose batch is not `known` yet, registered in the lake as a
    batch (its manifest with it); their names. The landing sensor and the stream host share it."""
    new: list[str] = []
    for drop in ready_drops(root, marker):
        name = batch_name(drop.folder)
        if name in known or name in new:
            continue
        lake.register_batch(name, drop.uri, drop.manifest)
        new.append(name)
    return new


@sensor(
    job_name="pipeline",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.STOPPED,
    description="Registers each new complete drop under the landing root as a batch and runs the pipeline on it.",
)
def landing_drops(context: SensorEvaluationContext, lake: LakeResource) -> SensorResult | SkipReason:
    root, marker = landing_settings()
    if not root:
        return SkipReason("no landing root: set TESSERA_LANDING_ROOT or landing.root in params.yaml")
    try:
        new = register_new_drops(lake, set(context.instance.get_dynamic_partitions("batch")), root, marker)
    except FileNotFoundError as exc:
        return SkipReason(str(exc))
    if not new:
        return SkipReason(f"no new complete drop under {root}")
    context.log.info(f"new batches: {', '.join(new)}")
    return SensorResult(
        run_requests=[RunRequest(partition_key=name, run_key=f"batch:{name}") for name in new],
        dynamic_partitions_requests=[batch_partitions.build_add_request(new)],
    )


def rerun_requests(new: list[dict[str, Any]]) -> list[RunRequest]:
    """One run per batch with new decisions, from the earliest stage decided through `embedded`;
    the run key names the last decision, so a decision never starts two runs."""
    earliest: dict[str, int] = {}
    last: dict[str, str] = {}
    for d in new:
        earliest[d["batch"]] = min(earliest.get(d["batch"], len(STAGES)), STAGES.index(d["stage"]))
        last[d["batch"]] = d["decision_id"]
    return [
        RunRequest(
            partition_key=batch,
            asset_selection=[AssetKey(s) for s in STAGES[earliest[batch] :]],
            run_key=f"decisions:{batch}:{last[batch][:16]}",
            tags={"tessera/trigger": "steward", "tessera/from_stage": STAGES[earliest[batch]]},
        )
        for batch in sorted(earliest)
    ]


@sensor(
    job_name="pipeline",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-runs each batch a data steward decided on, from the stage decided through embedded "
    "(approved samples land, rejected ones leave, relabelled ones flow on with their new text).",
)
def steward_decisions(context: SensorEvaluationContext, lake: LakeResource) -> SensorResult | SkipReason:
    after = datetime.fromisoformat(context.cursor) if context.cursor else None
    new = decisions.since(lake, after)
    if not new:
        return SkipReason("no new steward decisions")
    requests = rerun_requests(new)
    context.log.info(f"{len(new)} new decisions: re-running {', '.join(r.partition_key or '' for r in requests)}")
    return SensorResult(run_requests=requests, cursor=max(d["decided_at"] for d in new).isoformat())
