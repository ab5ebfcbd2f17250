"""The one factory that builds every stage asset.

A stage plans its batch's chunks, has the engine run the operator chain on each (workers
write uncommitted fragments), commits the batch once, and reports the blocking
`accounted_for` check (I1), the GX `quality` check, and metadata in / landed / quarantined
by reason / rate. How a stage reads its inputs is its `run` (raw reads a landing drop).
"""

import hashlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

from tessera.assets.runner import StageSpec, plan_chunks, run_chunks
from tessera.core.accounting import Account, Books
from tessera.core.decisions import GATE_OP
from tessera.core.ops.base import REGISTRY
from tessera.core.records import MODALITY_ORDER, Reason
from tessera.core.schema import stage_schema
from tessera.expectations.bridge import CHECK as QUALITY
from tessera.expectations.bridge import check_result, docs_url, gated_rows, run_suite
from tessera.expectations.distributions import MAIN_METRICS, QUANTILES, distributions, markdown
from tessera.resources import decisions
from tessera.resources.engine import EngineResource
from tessera.resources.home import tessera_home
from tessera.resources.lake import STAGE_TABLES, LakeResource
from tessera.resources.models import ModelsResource
from tessera.resources.params import load_params, stage_params_hash
from tessera.resources.params_resource import ParamsResource

batch_partitions = DynamicPartitionsDefinition(name="batch")
CHECK = "accounted_for"
# The media each stage's chunk workers load (keyframes: a video's stored pictures); the rest of a
# row's media stay references, carried through untouched.
HYDRATE: dict[str, tuple[str, ...]] = {
    "cleaned": MODALITY_ORDER,
    "unified": MODALITY_ORDER,
    "aligned": ("audio", "image"),  # transcription; caption agreement (pair.agreement)
    "augmented": ("image", "audio"),
    "embedded": ("image", "audio", "keyframes"),
}


@dataclass(slots=True)
class StageContext:
    """What a stage's `run` gets: the step's context and resources, and its settings."""

    context: AssetExecutionContext
    lake: LakeResource
    engine: EngineResource
    models: ModelsResource
    params: dict[str, Any]
    stage: str
    code_version: str
    hydrate: tuple[str, ...]
    models_used: tuple[str, ...]

    @property
    def batch(self) -> str:
        return self.context.partition_key

    def execution(self, key: str, default: int) -> int:
        return int(self.params.get("execution", {}).get(key, default))

    @property
    def spread(self) -> int:
        """How many chunks a small batch is cut into at least: two per worker, so that workers
        finishing early take the rest."""
        return 2 * self.engine.resolved_workers()


@dataclass(slots=True)
class StageOutcome:
    inputs: list[str]
    books: Books
    manifest: list[dict[str, Any]]
    preview: list[dict[str, Any]]
    version: int
    chunks: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


Run = Callable[[StageContext], StageOutcome]
AfterCommit = Callable[[StageContext, StageOutcome], dict[str, Any]]


def run_from_upstream(upstream: str, vector_dims: Callable[[StageContext], dict[str, int]] | None = None, reuse_vectors: bool = False) -> Run:
    """A stage that reads the batch's landed rows of `upstream`, chunk by chunk."""

    def run(sc: StageContext) -> StageOutcome:
        lake, table = sc.lake, STAGE_TABLES[sc.stage]
        source = lake.dataset(STAGE_TABLES[upstream])
        dims = vector_dims(sc) if vector_dims else {}
        lake.ensure(table, stage_schema(dims))
        earlier = lake.dataset("samples") if reuse_vectors else None
        spec = StageSpec(
            stage=sc.stage, table=table, upstream=STAGE_TABLES[upstream], lake_uri=lake.resolved_uri(), batch=sc.batch,
            ops=tuple(sc.params.get(sc.stage, {}).get("ops", [])), seed=int(sc.params.get("seed", 0)), code_version=sc.code_version,
            run_id=sc.context.run_id, input_version=int(source.version) if source is not None else 0, hydrate=sc.hydrate,
            stream_bytes=sc.execution("stream_bytes", 0),
            vector_dims=dims, models=sc.models.model_dump() if sc.models_used else None, models_used=sc.models_used,
            earlier_version=int(earlier.version) if earlier is not None else 0,
            verdicts=decisions.verdicts(lake, sc.batch, sc.stage),
        )  # fmt: skip
        ids, _, tasks = plan_chunks(lake, spec, sc.execution("chunk_rows", 256), sc.execution("chunk_bytes", 64 << 20), sc.spread)
        # a stage with models runs them in model workers (locally: this process, so they load once;
        # on Ray: actors with `execution.encoder_gpus` GPUs each where the cluster has GPUs)
        run = run_chunks(sc.engine, tasks, model=bool(sc.models_used), num_gpus=float(sc.params.get("execution", {}).get("encoder_gpus", 1)))
        lake.commit_appends("blobs", run.blob_fragments)
        version = lake.commit_batch(table, sc.batch, run.fragments)
        vectors = {"vectors": MetadataValue.json(run.vectors)} if vector_dims else {}  # encoded vs reused, per modality
        return StageOutcome(ids, run.books, run.manifest, run.preview, version, run.chunks, vectors)

    return run


def stage_code_version(stage: str) -> str:
    """Changes when the stage's operators' code or its params.yaml section change (Dagster shows staleness)."""
    params = load_params()
    h = hashlib.sha256(stage_params_hash(params, stage).encode())
    for spec in params.get(stage, {}).get("ops", []):
        name = spec if isinstance(spec, str) else next(iter(spec))
        if name in REGISTRY:
            h.update(inspect.getsource(inspect.getmodule(REGISTRY[name])).encode())
    return h.hexdigest()[:12]


def gpu_pod_config(params: dict[str, Any]) -> dict[str, Any]:
    """The `dagster-k8s/config` op tag of a GPU step (params.yaml `kubernetes.gpu_step`): under the
    k8s_job_executor its pod requests the GPUs and tolerates the GPU nodes' taint."""
    step = (params.get("kubernetes") or {}).get("gpu_step") or {}
    resources = {k: {str(r): str(v) for r, v in (step.get(k) or {}).items()} for k in ("requests", "limits")}
    return {"container_config": {"resources": resources}, "pod_spec_config": {"tolerations": list(step.get("tolerations") or [])}}


@dataclass(frozen=True, slots=True)
class StageCheck:
    """A stage's own non-blocking check (beside `accounted_for` and `quality`): `evaluate` sees the
    stage's context after its commit and returns (passed, metadata); a failure is a WARN."""

    name: str
    description: str
    evaluate: Callable[[StageContext], tuple[bool, dict[str, Any]]]


def stage_asset(
    *,
    name: str,
    run: Run,
    description: str,
    upstream: str | None = None,
    models_used: tuple[str, ...] = (),
    pool: str | None = None,
    after_commit: AfterCommit | None = None,
    checks: tuple[StageCheck, ...] = (),
) -> AssetsDefinition:
    import tessera.core.ops  # noqa: F401  (registers operators, so code versions see their sources)

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
        op_tags={"dagster-k8s/config": gpu_pod_config(load_params())} if pool == "gpu" else None,
        retry_policy=RetryPolicy(max_retries=1),
        check_specs=[
            AssetCheckSpec(CHECK, asset=name, blocking=True, description="Every input is landed or quarantined, never both (I1)."),
            AssetCheckSpec(QUALITY, asset=name, blocking=True, description=f"Great Expectations suite for {name}: ERROR blocks, WARN reports drift."),
            *(AssetCheckSpec(c.name, asset=name, blocking=False, description=c.description) for c in checks),
        ],
    )
    def _stage(
        context: AssetExecutionContext, lake: LakeResource, engine: EngineResource, params: ParamsResource, models: ModelsResource
    ) -> MaterializeResult:
        started = time.perf_counter()
        all_params = params.all()
        sc = StageContext(context, lake, engine, models, all_params, name, code_version, HYDRATE.get(name, MODALITY_ORDER), models_used)
        outcome = run(sc)
        verdicts = decisions.verdicts(lake, sc.batch, name)
        approved = lambda sid, op: sid in verdicts and verdicts[sid].overrides(op)  # noqa: E731
        # rows a steward approved against a gate are not judged by it again
        judged = [e for e in outcome.manifest if not (e["sample_id"] in verdicts and verdicts[e["sample_id"]].op.startswith(GATE_OP))]
        docs = tessera_home() / "gx"
        suite = run_suite(name, all_params, sc.batch, judged, _baseline(sc), docs)
        gated = _gate(sc, outcome, suite, approved)
        extra = after_commit(sc, outcome) if after_commit else {}
        acct = outcome.books.account(outcome.inputs)
        elapsed = time.perf_counter() - started
        return MaterializeResult(
            metadata={**_metadata(acct, outcome, elapsed), **outcome.metadata, **extra},
            data_version=DataVersion(_content_hash(code_version, outcome)),
            check_results=[_check(acct), check_result(suite, gated, docs_url(docs)), *(_own(name, c, sc) for c in checks)],
        )

    return _stage


def _own(asset: str, check: StageCheck, sc: StageContext) -> AssetCheckResult:
    passed, metadata = check.evaluate(sc)
    return AssetCheckResult(asset_key=asset, check_name=check.name, passed=passed, severity=AssetCheckSeverity.WARN,
                            metadata={k: MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in metadata.items()})  # fmt: skip


def _baseline(sc: StageContext, look_back: int = 5) -> dict[str, Any]:
    """What drift is measured against: the last release's summary of this stage's main metrics
    (resources/releases.py), or — before the first release — the landed values of the latest
    earlier-registered batch this stage has rows of (cost ∝ that batch)."""
    from tessera.resources.releases import latest

    released = latest(sc.lake)
    if released is not None and released.get("distributions", {}).get(sc.stage):
        return dict(released["distributions"][sc.stage])
    order = [b["batch"] for b in sc.lake.batches()]
    earlier = order[: order.index(sc.batch)] if sc.batch in order else []
    for prev in reversed(earlier[-look_back:]):
        rows, _ = sc.lake.batch_rows(STAGE_TABLES[sc.stage], prev, ["metrics"])
        if rows.num_rows:
            metrics = [m or {} for m in rows["metrics"].to_pylist()]
            return {k: [float(m[k]) for m in metrics if m.get(k) is not None] for k in MAIN_METRICS}
    return {}


def _gate(sc: StageContext, outcome: StageOutcome, suite: list[dict[str, Any]], approved: Callable[[str, str], bool]) -> dict[str, tuple[str, str]]:
    """Inputs whose landed rows failed a row-level `error` or `review` expectation become GATE
    quarantine rows (a second commit, after the stage's own: until then the step has not
    finished, so no later stage has read the batch). A steward's approval against a gate holds."""
    inputs = set(outcome.inputs)
    failing = gated_rows(suite, outcome.manifest, approved)
    gated = {sid: v for sid, v in failing.items() if sid in inputs}
    if gated:
        outcome.version = sc.lake.set_aside(STAGE_TABLES[sc.stage], sc.stage, sc.batch, gated)
        outcome.books.set_aside(gated, Reason.GATE.value)
        for e in outcome.manifest:
            if e["sample_id"] in gated:
                e["status"] = "quarantined"
        sc.context.log.warning(f"batch {sc.batch}: {len(gated)} rows failed the {sc.stage} gate and are quarantined GATE")
    return gated


def _metadata(acct: Account, outcome: StageOutcome, elapsed: float) -> dict[str, Any]:
    dists = distributions(outcome.manifest)
    return {
        "in": acct.inputs,
        "landed": acct.landed,
        "variants": acct.variants,
        "quarantined": acct.quarantined,
        "quarantined_by_reason": MetadataValue.json(dict(sorted(outcome.books.reasons.items()))),
        "samples_per_s": MetadataValue.float(round(acct.inputs / elapsed, 2) if elapsed > 0 else 0.0),
        "seconds": MetadataValue.float(round(elapsed, 3)),
        "chunks": outcome.chunks,
        "lake_version": outcome.version,
        "preview": MetadataValue.md(_preview(outcome.preview)),
        "distributions": MetadataValue.md(markdown(dists)),
        "flagged": sum(1 for e in outcome.manifest if e.get("flagged")),  # landed, with an outlier flag on the row
        # one number per metric and quantile: the UI plots each across the batch's runs
        **{f"{m}_{q}": MetadataValue.float(round(d[q], 4)) for m, d in dists.items() for q in QUANTILES},
    }


def _preview(rows: list[dict[str, Any]], n: int = 8) -> str:
    lines = ["| sample_id | status | modalities | source | note |", "|---|---|---|---|---|"]
    landed = [r for r in rows if r["status"] == "landed"][:n]
    quarantined = [r for r in rows if r["status"] == "quarantined"][:n]
    for r in [*landed, *quarantined]:
        status = "landed" if r["status"] == "landed" else r["reason"]
        note = r.get("aug_op") or r.get("detail") or (r.get("text") or "")
        lines.append(f"| `{r['sample_id'][:12]}` | {status} | {'+'.join(r.get('modalities') or [])} | {_cell(r.get('source') or '')} | {_cell(note)} |")
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


def _content_hash(code_version: str, outcome: StageOutcome) -> str:
    """Ids are content hashes, so ids + verdicts + the code that made them identify the output."""
    h = hashlib.sha256(code_version.encode())
    landed = sorted(sid for sid, _ in outcome.books.outputs)
    for sid in landed:
        h.update(sid.encode())
    h.update(json.dumps(sorted(outcome.books.reasons.items())).encode())
    return h.hexdigest()[:16]
