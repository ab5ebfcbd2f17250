"""The stage runner: one way to read, process and commit a batch, whichever engine runs it.

    plan (ids + row addresses of the batch's inputs, from a pinned version)
      → chunks bounded by rows and bytes (params `execution.chunk_rows`, `chunk_bytes`)
      → each chunk, in a worker: read its rows at the pinned version, load their bytes,
        run the operator chain, write new media to `blobs` and its rows to the stage table
        as *uncommitted* fragments; return fragment metadata and the books
      → the step: commit blobs (append), then the stage (one transaction for the batch).

Bytes never travel between processes: workers read and write the lake themselves; the
step sees ids, counts and fragment metadata. Memory is one chunk per worker, whatever the
batch's size (I7). A worker that dies (a decoder crash) costs its chunk a re-run, row by
row in isolated children, so only the culprit is quarantined (DECODER_CRASH).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tessera.core.accounting import Books
from tessera.core.capture import Capture, capture_of
from tessera.core.discover import Group, LandingError, resolve
from tessera.core.embedding import vector_tally
from tessera.core.isolate import run_isolated
from tessera.core.ops.base import OpContext, build_ops, prepare_all, prepare_columns
from tessera.core.records import MODALITY_ORDER, Reason
from tessera.core.runner import run_ops
from tessera.core.schema import arrow_to_samples, samples_to_arrow
from tessera.expectations.manifest import manifest_rows
from tessera.resources.engine_tasks import TaskCrashed
from tessera.resources.landing import open_landing
from tessera.resources.store import Lake, LakeStore, iter_chunks

log = logging.getLogger(__name__)
BOOK_COLUMNS = ("sample_id", "parent_id", "status", "source", "reason", "detail", "op", "modalities", "text", "aug_op")


@dataclass(frozen=True, slots=True)
class StageSpec:
    """Everything a chunk worker needs; picklable, small (no media, no rows)."""

    stage: str
    table: str
    upstream: str
    lake_uri: str
    batch: str
    ops: tuple[Any, ...]
    seed: int
    code_version: str
    run_id: str
    input_version: int
    hydrate: tuple[str, ...] = MODALITY_ORDER
    stream_bytes: int = 0  # audio/video larger than this reach their decoders as streams (0: never)
    prepared: dict[str, Any] = field(default_factory=dict)
    vector_dims: dict[str, int] = field(default_factory=dict)
    models: dict[str, Any] | None = None  # ModelsResource fields, for stages that encode or transcribe
    models_used: tuple[str, ...] = ()
    earlier_version: int = 0  # `samples` version whose vectors a re-run may reuse
    verdicts: dict[str, Any] = field(default_factory=dict)  # sample id → a steward's decision in force at this stage


@dataclass(frozen=True, slots=True)
class ChunkTask:
    spec: StageSpec
    index: int
    addresses: tuple[int, ...]
    earlier: tuple[int, ...] = ()  # addresses in `samples` of this chunk's earlier rows (embedded)


@dataclass(slots=True)
class ChunkOutcome:
    index: int
    fragments: list[Any] = field(default_factory=list)
    blob_fragments: list[Any] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # BOOK_COLUMNS of every row written
    manifest: list[dict[str, Any]] = field(default_factory=list)  # what the GX suite validates
    vectors: dict[str, int] = field(default_factory=dict)  # `<modality>:encoded|reused|unavailable` → rows (embedded)


def run_chunk(task: ChunkTask) -> ChunkOutcome:
    """Read, process and write one chunk (in whatever process the engine chose)."""
    spec = task.spec
    lake = Lake(spec.lake_uri)
    samples = lake.hydrate(arrow_to_samples(lake.take(spec.upstream, spec.input_version, list(task.addresses))), spec.hydrate, spec.stream_bytes)
    if task.earlier:
        samples = _with_earlier_vectors(lake, spec, samples, list(task.earlier))
    models = None
    if spec.models_used:
        from tessera.resources.models import ModelsResource

        models = ModelsResource(**(spec.models or {})).load(spec.models_used)
    ctx = OpContext(batch=spec.batch, seed=spec.seed, workers=1, models=models, prepared=spec.prepared)
    before = {s.sample_id: s.encoders for s in samples}
    result = run_ops(build_ops(spec.ops), samples, ctx, spec.verdicts)
    landed = [s.evolve(code_versions={**s.code_versions, spec.stage: spec.code_version}) for s in result.landed]
    out = write_chunk(lake, spec, task.index, landed, result.quarantined)
    out.vectors = vector_tally(before, landed)  # empty before embedded: no row carries a vector yet
    return out


def write_chunk(lake: LakeStore, spec: StageSpec, index: int, landed: list[Any], quarantined: list[Any]) -> ChunkOutcome:
    kept_refs = [r for s in [*landed, *(q.sample for q in quarantined)] for r in _unloaded_refs(s, spec.hydrate)]
    sizes = {sha: size for sha, (_, size) in lake.blob_addresses(kept_refs).items()} if kept_refs else {}
    rows, payload = samples_to_arrow(
        landed, run_id=spec.run_id, code_version=spec.code_version, input_version=spec.input_version,
        vector_dims=spec.vector_dims, quarantined=quarantined, stage=spec.stage, hydrated=spec.hydrate, sizes=sizes,
    )  # fmt: skip
    return ChunkOutcome(
        index=index,
        blob_fragments=lake.write_blobs(payload, spec.batch),
        fragments=lake.write_rows(spec.table, rows),
        rows=rows.select(list(BOOK_COLUMNS)).to_pylist(),
        manifest=manifest_rows(rows),
    )


def _unloaded_refs(s: Any, hydrated: tuple[str, ...]) -> list[str]:
    refs = [r for m, r in s.media_ref.items() if m not in hydrated and m not in s.media]
    return refs + ([] if "keyframes" in hydrated or s.keyframes else list(s.keyframe_refs))


def _with_earlier_vectors(lake: LakeStore, spec: StageSpec, samples: list[Any], addresses: list[int]) -> list[Any]:
    earlier = {s.sample_id: s for s in arrow_to_samples(lake.take("samples", spec.earlier_version, addresses))}
    return [s.evolve(vectors=earlier[s.sample_id].vectors, encoders=earlier[s.sample_id].encoders) if s.sample_id in earlier else s for s in samples]


# -- planning --------------------------------------------------------------------------------
def plan_chunks(lake: LakeStore, spec: StageSpec, max_rows: int, max_bytes: int, spread: int = 1) -> tuple[list[str], dict[str, Any], Iterator[ChunkTask]]:
    """(input ids, prepared state, lazy tasks) for a stage reading `spec.upstream` at `spec.input_version`.
    Chunks follow sample-id order, so a batch is cut the same way on every run (with as many
    workers; `spread`: see `iter_chunks`)."""
    ops = build_ops(spec.ops)
    cols = sorted({"sample_id", "media_bytes", *prepare_columns(ops)})
    rows, _ = lake.stage_inputs(spec.upstream, spec.batch, cols, version=spec.input_version)
    rows = rows.sort_by("sample_id")
    prepared = prepare_all(ops, rows)
    ids = rows["sample_id"].to_pylist()
    addresses = rows["_rowaddr"].to_pylist()
    sizes = [int(b or 0) for b in rows["media_bytes"].to_pylist()] if "media_bytes" in rows.column_names else [0] * len(ids)
    earlier: dict[str, int] = {}
    if spec.earlier_version:
        prev, _ = lake.batch_rows("samples", spec.batch, ["sample_id"], version=spec.earlier_version)
        earlier = dict(zip(prev["sample_id"].to_pylist(), prev["_rowaddr"].to_pylist(), strict=True))
    full = StageSpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "prepared": prepared})

    def tasks() -> Iterator[ChunkTask]:
        pairs = list(zip(ids, addresses, strict=True))
        for i, chunk in enumerate(iter_chunks(pairs, sizes, max_rows, max_bytes, spread)):
            yield ChunkTask(full, i, tuple(a for _, a in chunk), tuple(earlier[s] for s, _ in chunk if s in earlier))

    return ids, prepared, tasks()


# -- running ---------------------------------------------------------------------------------
@dataclass(slots=True)
class StageRun:
    """What the step collects from its chunks."""

    books: Books
    fragments: list[Any] = field(default_factory=list)
    blob_fragments: list[Any] = field(default_factory=list)
    manifest: list[dict[str, Any]] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    chunks: int = 0
    vectors: dict[str, int] = field(default_factory=dict)

    def add(self, out: ChunkOutcome) -> None:
        self.vectors = summed(self.vectors, out.vectors)
        self.fragments += out.fragments
        self.blob_fragments += out.blob_fragments
        self.books.add(out.rows)
        self.manifest += out.manifest
        self.chunks += 1
        if len(self.preview) < 16:
            self.preview += out.rows[: 16 - len(self.preview)]


def collect(outcomes: Iterable[tuple[int, ChunkOutcome]], books: Books) -> StageRun:
    """Gather outcomes; fragments are kept in chunk order so the table's row order is stable."""
    done = sorted(outcomes, key=lambda pair: pair[0])
    run = StageRun(books=books)
    for _, out in done:
        run.add(out)
    return run


def summed(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """Two chunks' counts added, key by key (in key order)."""
    return {k: a.get(k, 0) + b.get(k, 0) for k in sorted({*a, *b})}


class ChunkWorker:
    """`run_chunk` as an engine model task: an encoder or transcriber stage keeps one worker (an
    actor on Ray, with its GPUs) whose models load once (the models resource caches per process)."""

    def __call__(self, task: ChunkTask) -> ChunkOutcome:
        return run_chunk(task)


def run_chunks(engine: Any, tasks: Iterable[ChunkTask], *, model: bool, num_gpus: float = 0.0) -> StageRun:
    """Every chunk through the engine, collected in chunk order. A chunk whose worker died (each
    time it ran) is re-run row by row in isolated children (`rerun_isolated`)."""
    pending: dict[int, ChunkTask] = {}  # drawn, not yet answered: bounded by the engine's in-flight limit

    def drawn() -> Iterator[ChunkTask]:
        for t in tasks:
            pending[t.index] = t
            yield t

    source = drawn()
    outcomes = engine.map(ChunkWorker, source, kind="model", num_gpus=num_gpus) if model else engine.map(run_chunk, source, kind="cpu")
    done: list[tuple[int, ChunkOutcome]] = []
    for i, out in outcomes:
        task = pending.pop(i)
        done.append((i, rerun_isolated(task) if isinstance(out, TaskCrashed) else out))
    return collect(done, Books())


def rerun_isolated(task: ChunkTask, timeout_s: float = 600.0) -> ChunkOutcome:
    """A chunk whose worker died: each row again in its own child; the row that kills its
    child is quarantined DECODER_CRASH, the others land as usual."""
    singles = [ChunkTask(task.spec, task.index, (a,), task.earlier) for a in task.addresses]
    outcomes = run_isolated(run_chunk, [((t,), {}) for t in singles], workers=1, timeout_s=timeout_s)
    merged = ChunkOutcome(index=task.index)
    lake = Lake(task.spec.lake_uri)
    for single, o in zip(singles, outcomes, strict=True):
        if o.failure is not None:
            (s,) = arrow_to_samples(lake.take(task.spec.upstream, task.spec.input_version, list(single.addresses)))
            log.warning("chunk %d: row %s crashed its worker: %s", task.index, s.sample_id[:12], o.failure.detail)
            out = write_chunk(lake, task.spec, task.index, [], [s.quarantine(Reason.DECODER_CRASH, o.failure.detail, "runner")])
        else:
            out = o.value
        merged.fragments += out.fragments
        merged.blob_fragments += out.blob_fragments
        merged.rows += out.rows
        merged.manifest += out.manifest
        merged.vectors = summed(merged.vectors, out.vectors)
    return merged


# -- raw: reading the drop -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LandingTask:
    """A chunk of the drop: its groups and where their files are (no bytes)."""

    lake_uri: str
    root: str  # the drop: a local directory or s3://bucket/prefix (resources/landing.py open_landing)
    batch: str
    index: int
    groups: tuple[Group, ...]
    paths: dict[str, str]
    run_id: str
    code_version: str


@dataclass(slots=True)
class LandingOutcome:
    index: int
    rows: pa.Table
    blob_fragments: list[Any] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # inputs found only while reading (bad manifest paths)


def read_groups(task: LandingTask) -> LandingOutcome:
    """Read, sniff and hash one chunk of the drop; pack its bytes as uncommitted blob fragments."""
    landing = open_landing(task.root, paths=task.paths)
    samples, quarantined, inputs = [], [], []
    for group in task.groups:
        found = resolve(landing, task.batch, group)
        samples += [s.evolve(code_versions={"raw": task.code_version}) for s in found.samples]
        quarantined += found.quarantined
        inputs += found.inputs
    rows, payload = samples_to_arrow(
        samples, run_id=task.run_id, code_version=task.code_version, input_version=0, quarantined=quarantined, stage="raw",
        hydrated=MODALITY_ORDER,
    )  # fmt: skip
    lake = Lake(task.lake_uri)
    return LandingOutcome(task.index, rows, lake.write_blobs(payload, task.batch), inputs)


@dataclass(frozen=True, slots=True)
class CaptureTask:
    """Files alone in their group, whose clocks time pairing reads (names → claimed modality)."""

    root: str
    paths: dict[str, str]
    modalities: dict[str, str]
    naive_utc_offset_h: float


def read_captures(task: CaptureTask) -> dict[str, tuple[str, Capture]]:
    """name → (modality, capture) for the files whose headers state when they were recorded."""
    landing = open_landing(task.root, paths=task.paths)
    out: dict[str, tuple[str, Capture]] = {}
    for name, modality in task.modalities.items():
        try:
            with landing.open(name) as stream:
                capture = capture_of(stream, modality, task.naive_utc_offset_h)
        except LandingError:  # reading it for real quarantines it, with its reason
            continue
        if capture is not None:
            out[name] = (modality, capture)
    return out
