"""The one factory that builds every stage asset.

A stage reads its inputs (upstream table, or the landing drop for raw), runs the operator
chain named in params.yaml, commits landed + quarantined rows to the lake, and reports the
blocking `accounted_for` check (I1) and metadata in / landed / quarantined by reason / rate.
"""


import hashlib
import inspect
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)

from core.accounting import Account, account, keys_by_id
from core.ops.base import REGISTRY, OpContext, build_ops
from core.pool import pool_scope
from core.records import Quarantined, Sample
from core.runner import run_ops
from expectations.bridge import CHECK as QUALITY
from expectations.bridge import quality_check
from resources.lake import STAGE_TABLES, LakeResource
from resources.models import ModelsResource
from resources.params import ParamsResource, load_params, stage_params_hash

batch_partitions = DynamicPartitionsDefinition(name="batch")
CHECK = "accounted_for"


@dataclass(slots=True)
class Inputs:
    """What a stage starts from: samples to process, the keys that must be accounted for,
    and inputs already quarantined while reading (raw's unreadable files)."""

    samples: list[Sample]
    keys: list[str]
    quarantined: list[Quarantined] = field(default_factory=list)
    version: int = 0


Reader = Callable[[AssetExecutionContext, LakeResource, dict], Inputs]


def upstream_reader(upstream: str, hydrate: tuple[str, ...] = ()) -> Reader:
    """Inputs = the batch's landed rows of the upstream stage, with raw bytes of `hydrate` loaded."""

    def read(context: AssetExecutionContext, lake: LakeResource, params: dict) -> Inputs:
        samples, version = lake.read_stage(STAGE_TABLES[upstream], context.partition_key)
        if hydrate:
            samples = lake.hydrate(samples, hydrate)
        return Inputs(samples=samples, keys=[s.sample_id for s in samples], version=version)

    return read


def stage_code_version(stage: str) -> str:
    """Changes when the stage's operators' code or its params.yaml section change (Dagster shows staleness)."""
    params = load_params()
    h = hashlib.sha256(stage_params_hash(params, stage).encode())
    for spec in params.get(stage, {}).get("ops", []):
        name = spec if isinstance(spec, str) else next(iter(spec))
        if name in REGISTRY:
            h.update(inspect.getsource(inspect.getmodule(REGISTRY[name])).encode())
    return h.hexdigest()[:12]


def stage_asset(
    *,
    name: str,
    read: Reader,
    description: str,
    upstream: str | None = None,
    key: Callable[[Sample], list[str]] = keys_by_id,
    models_used: tuple[str, ...] = (),
    pool: str | None = None,
    keep_media: bool = True,
    after_commit: Callable[[LakeResource, AssetExecutionContext], dict] | None = None,
) -> AssetsDefinition:
    import core.ops  # noqa: F401  (registers operators, so code versions see their sources)

    code_version = stage_code_version(name)

    @asset(
        name=name,
        deps=[upstream] if upstream else [],
        partitions_def=batch_partitions,
        description=description,
        code_version=code_version,
        group_name="pipeline",
        kinds={"python", "lancedb"},
        pool=pool,
        tags={"tessera/stage": name, **({"tessera/gpu": "true"} if pool == "gpu" else {})},
        retry_policy=RetryPolicy(max_retries=1),
        check_specs=[
            AssetCheckSpec(CHECK, asset=name, blocking=True, description="Every input is landed or quarantined, never both (I1)."),
            AssetCheckSpec(QUALITY, asset=name, blocking=True, description=f"Great Expectations suite for {name}: ERROR blocks, WARN reports drift."),
        ],
    )
    def _stage(context: AssetExecutionContext, lake: LakeResource, params: ParamsResource, models: ModelsResource) -> MaterializeResult:
        batch = context.partition_key
        started = time.perf_counter()
        all_params = params.all()
        section = all_params.get(name, {})
        inputs = read(context, lake, all_params)
        ctx = OpContext(
            batch=batch,
            seed=int(all_params.get("seed", 0)),
            workers=int(all_params.get("execution", {}).get("decode_workers", 2)),
            models=models.load(models_used) if models_used else None,
            seen_elsewhere=lambda ids: lake.landed_elsewhere(STAGE_TABLES[name], ids, batch),
        )
        with pool_scope():  # decode workers end with the stage, before the step process exits
            result = run_ops(build_ops(section.get("ops", [])), inputs.samples, ctx)
        # lineage: every row records the code version of each stage that shaped it; a stage whose
        # media are the raw bytes (already packed in blobs) stores none
        result.landed = [
            s.evolve(code_versions={**s.code_versions, name: code_version}, **({} if keep_media else {"media": {}})) for s in result.landed
        ]
        quarantined = [*inputs.quarantined, *result.quarantined]
        dims = {c: len(v) for s in result.landed for c, v in s.vectors.items()}
        version = lake.commit_stage(
            stage=name, batch=batch, landed=result.landed, quarantined=quarantined, run_id=context.run_id,
            code_version=code_version, input_version=inputs.version, vector_dims=dims,
        )  # fmt: skip
        extra = after_commit(lake, context) if after_commit else {}
        acct = account(inputs.keys, result.landed, quarantined, key)
        elapsed = time.perf_counter() - started
        return MaterializeResult(
            metadata=_metadata(acct, quarantined, result.landed, elapsed, version, extra),
            data_version=DataVersion(_content_hash(code_version, result.landed, quarantined)),
            check_results=[_check(acct), quality_check(name, all_params, batch, result.landed, quarantined)],
        )

    return _stage


def _metadata(acct: Account, quarantined: list[Quarantined], landed: list[Sample], elapsed: float, version: int, extra: dict) -> dict:
    reasons = Counter(q.reason.value for q in quarantined)
    return {
        "in": acct.inputs,
        "landed": acct.landed,
        "variants": acct.variants,
        "quarantined": acct.quarantined,
        "quarantined_by_reason": MetadataValue.json(dict(sorted(reasons.items()))),
        "samples_per_s": MetadataValue.float(round(acct.inputs / elapsed, 2) if elapsed > 0 else 0.0),
        "seconds": MetadataValue.float(round(elapsed, 3)),
        "lake_version": version,
        "preview": MetadataValue.md(_preview(landed, quarantined)),
        **extra,
    }


def _preview(landed: list[Sample], quarantined: list[Quarantined], n: int = 8) -> str:
    lines = ["| sample_id | status | modalities | source | note |", "|---|---|---|---|---|"]
    for s in landed[:n]:
        note = s.aug_op or ", ".join(f"{k}={v:g}" for k, v in list(s.metrics.items())[:3])
        lines.append(f"| `{s.sample_id[:12]}` | landed | {'+'.join(s.modalities)} | {_cell(s.source)} | {_cell(note)} |")
    for q in quarantined[:n]:
        lines.append(f"| `{q.sample_id[:12]}` | {q.reason.value} | {'+'.join(q.sample.modalities)} | {_cell(q.sample.source)} | {_cell(q.detail)} |")
    return "\n".join(lines)


def _cell(text: str, width: int = 60) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _check(acct: Account) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=CHECK,
        passed=acct.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "inputs": acct.inputs,
            "landed": acct.landed,
            "quarantined": acct.quarantined,
            "missing": MetadataValue.json(acct.missing[:50]),
            "overlap": MetadataValue.json(acct.overlap[:50]),
            "unknown": MetadataValue.json(acct.unknown[:50]),
        },
        description=None if acct.passed else f"{len(acct.missing)} missing, {len(acct.overlap)} both landed and quarantined, {len(acct.unknown)} unknown",
    )


def _content_hash(code_version: str, landed: list[Sample], quarantined: list[Quarantined]) -> str:
    """Ids are content hashes, so ids + verdicts + the code that made them identify the output."""
    h = hashlib.sha256(code_version.encode())
    for sid in sorted(s.sample_id for s in landed):
        h.update(sid.encode())
    h.update(json.dumps(sorted((q.sample_id, q.reason.value) for q in quarantined)).encode())
    return h.hexdigest()[:16]
