"""The one `Definitions`: six stage assets, their blocking checks, resources, executor, job.

Loaded by `dagster dev -w workspace.yaml`, `dagster definitions validate`, and the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import AssetSelection, AssetSpec, Definitions, define_asset_job, multiprocess_executor

from tessera.assets.factory import batch_partitions
from tessera.assets.stages import STAGE_ASSETS
from tessera.orchestration.books import STAGES
from tessera.orchestration.maintenance import maintenance, nightly_maintenance
from tessera.orchestration.sensors import landing_drops, steward_decisions
from tessera.resources.engine import EngineResource
from tessera.resources.lake import LakeResource
from tessera.resources.models import ModelsResource
from tessera.resources.params import load_params, params_path
from tessera.resources.params_resource import ParamsResource

# A release (`tessera release NAME`): tags on every table, reported as this asset's materialization
# with its manifest, so the lineage graph shows the stage versions it was cut from.
RELEASE = AssetSpec(
    "release", deps=list(STAGES), group_name="releases", kinds={"lancedb", "dvc"},
    description="A named, reproducible state of the lake: a Lance tag on every table and a manifest (`tessera release NAME`).",
)  # fmt: skip


def executor(max_concurrent: int) -> Any:
    """`TESSERA_EXECUTOR=k8s`: each step in its own pod (dagster-k8s, in the production image), GPU
    steps with the GPU requests of their `dagster-k8s/config` tag; otherwise processes on this
    machine. `max_concurrent` is explicit: the default would be the host's CPU count, not the container's."""
    if os.environ.get("TESSERA_EXECUTOR", "multiprocess") == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured({"max_concurrent": max_concurrent})
    return multiprocess_executor.configured({"max_concurrent": max_concurrent})


def build_definitions(path: Path | None = None, resources: dict[str, Any] | None = None, loggers: dict[str, Any] | None = None) -> Definitions:
    path = path or params_path()
    params = load_params(path)
    max_concurrent = int(os.environ.get("TESSERA_MAX_CONCURRENT") or params.get("execution", {}).get("max_concurrent", 2))
    pipeline = define_asset_job(
        "pipeline",
        selection=AssetSelection.assets(*STAGES),
        partitions_def=batch_partitions,
        description="raw → cleaned → unified → aligned → augmented → embedded for one landing batch.",
    )
    return Definitions(
        assets=[*STAGE_ASSETS, RELEASE],
        jobs=[pipeline, maintenance],
        schedules=[nightly_maintenance],
        sensors=[landing_drops, steward_decisions],
        resources={
            "lake": LakeResource(),
            "engine": EngineResource(),
            "params": ParamsResource(path=str(path)),
            "models": ModelsResource.from_params(params),
            **(resources or {}),
        },
        executor=executor(max_concurrent),
        loggers=loggers,
    )


defs = build_definitions()
