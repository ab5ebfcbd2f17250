"""Sensors: new complete landing drops become batch partitions and pipeline runs.

A drop is a folder under the landing root; it is complete when its ready marker exists
(default `_READY`, written by whoever copies the drop, last). Half-copied folders wait.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from assets.factory import batch_partitions
from resources.lake import LakeResource, check_batch_name
from resources.params import load_params

MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")


def batch_name(folder: str) -> str:
    """A folder name as a batch name: unsafe characters become '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder).strip("-.") or "batch"
    return check_batch_name(name[:100])


def landing_settings() -> tuple[str, str]:
    """(root, ready marker): `TESSERA_LANDING_ROOT` wins over params.yaml `landing.root`."""
    landing = load_params().get("landing", {})
    return os.environ.get("TESSERA_LANDING_ROOT") or landing.get("root", ""), landing.get("ready_marker", "_READY")


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
    if not Path(root).is_dir():
        return SkipReason(f"landing root {root} is not a directory")
    known = set(context.instance.get_dynamic_partitions("batch"))
    new: list[str] = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and (p / marker).is_file()):
        name = batch_name(folder.name)
        if name in known or name in new:
            continue
        manifest = next((str(folder / m) for m in MANIFEST_NAMES if (folder / m).is_file()), None)
        lake.register_batch(name, str(folder.resolve()), manifest)
        new.append(name)
    if not new:
        return SkipReason(f"no new complete drop under {root}")
    context.log.info(f"new batches: {', '.join(new)}")
    return SensorResult(
        run_requests=[RunRequest(partition_key=name, run_key=f"batch:{name}") for name in new],
        dynamic_partitions_requests=[batch_partitions.build_add_request(new)],
    )
