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
from dagster._core.definitions.data_version import DATA_VERSION_TAG

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
from tessera.resources.freshness import forced, inputs_digest, rows_digest
from tessera.resources.home import tessera_home
from tessera.resources.lake import STAGE_TABLES, LakeResource
from tessera.resources.models import ModelsResource
from tessera.resources.params import load_params, stage_params_hash
from tessera.resources.params_resource import ParamsResource

batch_partitions = DynamicPartitionsDefinition(name="batch")
CHECK = "accounted_for"
HANDED = ("handoffs", "near_handoffs")  # metadata naming batches a run passed content to (the CLI re-runs them)
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
Inputs = Callable[[StageContext], str]  # a digest of what the stage reads of its batch (resources/freshness.py)
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


def upstream_rows(upstream: str) -> Inputs:
    """A stage that reads `upstream`'s rows of the batch depends on exactly those rows."""
    return lambda sc: rows_digest(sc.lake, STAGE_TABLES[upstream], sc.batch)


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
    inputs: Inputs | None = None,
    models_used: tuple[str, ...] = (),
    pool: str | None = None,
    after_commit: AfterCommit | None = None,
    checks: tuple[StageCheck, ...] = (),
) -> AssetsDefinition:
    import tessera.core.ops  # noqa: F401  (registers operators, so code versions see their sources)

    code_version = stage_code_version(name)
    if inputs is None:
        if upstream is None:
            raise ValueError(f"stage {name}: say what it reads (inputs=) when it has no upstream stage")
        inputs = upstream_rows(upstream)
    reads = inputs

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
        key = inputs_digest(lake, all_params, code_version, reads(sc))
        if not forced(context.run.tags) and (done := _unchanged(sc, key, started)) is not None:
            return done
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
        results = [_check(acct), check_result(suite, gated, docs_url(docs)), *(_own(name, c, sc) for c in checks)]
        done = {
            "inputs_digest": key,
            "rows_digest": rows_digest(lake, STAGE_TABLES[name], sc.batch),
            "checks": MetadataValue.json({r.check_name: [r.passed, r.severity.value] for r in results}),
        }  # what a later run compares with to skip the work (_unchanged)
        elapsed = time.perf_counter() - started
        return MaterializeResult(
            metadata={**_metadata(acct, outcome, elapsed), **outcome.metadata, **extra, **done},
            data_version=DataVersion(_content_hash(code_version, outcome)),
            check_results=results,
        )

    return _stage


def _unchanged(sc: StageContext, key: str, started: float) -> MaterializeResult | None:
    """The last materialization for the batch again, without the work, when nothing it depends on
    has changed since (resources/freshness.py): its data version (Dagster shows the asset fresh,
    not stale), its figures, and its checks' verdicts. None: do the work."""
    from dagster import AssetKey

    record = sc.context.instance.get_latest_data_version_record(AssetKey(sc.stage), is_source=False, partition_key=sc.batch)
    mat = record.event_log_entry.asset_materialization if record is not None else None
    if mat is None:
        return None
    md, version = mat.metadata, (mat.tags or {}).get(DATA_VERSION_TAG)
    if version is None or "checks" not in md or getattr(md.get("inputs_digest"), "value", None) != key:
        return None
    checks: dict[str, list[Any]] = md["checks"].value  # type: ignore[assignment]
    if not all(passed for passed, severity in checks.values() if severity == AssetCheckSeverity.ERROR.value):
        return None
    if getattr(md.get("rows_digest"), "value", None) != rows_digest(sc.lake, STAGE_TABLES[sc.stage], sc.batch):
        return None  # its rows changed since (deleted, handed over, set aside): do it again
    since = record.event_log_entry.run_id
    sc.context.log.info(f"batch {sc.batch}: {sc.stage} skipped: its inputs, code, params and decisions are those of run {since[:8]} "
                        f"and its rows are as that run left them (`tessera materialize --force` does it again)")  # fmt: skip
    note = {"unchanged_since_run": since}
    kept = {k: v for k, v in md.items() if k not in HANDED}  # what that run handed to other batches is done
    return MaterializeResult(
        metadata={**kept, "skipped": MetadataValue.text(f"unchanged since run {since}"), "seconds": MetadataValue.float(round(time.perf_counter() - started, 3))},
        data_version=DataVersion(version),
        check_results=[AssetCheckResult(check_name=c, passed=bool(p), severity=AssetCheckSeverity(sev), metadata=note) for c, (p, sev) in checks.items()],
    )


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
