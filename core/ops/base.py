"""The operator contract and the registry every stage draws its operators from.

An operator is a frozen dataclass registered under `modality.what`. It maps a list
of samples (one chunk of a batch) to one result per input (a `Sample` or a `Quarantined`),
plus optional variant samples whose `parent_id` names an input. Operators never raise on
bad data.

An operator whose verdict depends on the whole batch (near-duplicate clusters, batch
statistics) declares `prepare_columns` and a `prepare(rows)` that sees those columns of
every input of the batch before any chunk runs; its result reaches `apply` as
`ctx.prepared[op_name]`. So verdicts never depend on how a batch is cut into chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from tessera.core.isolate import run_grouped
from tessera.core.records import Result, Sample


@dataclass(frozen=True, slots=True)
class OpContext:
    """What an operator may know besides its parameters; built by the asset from resources.

    `models` is the encoder/transcriber set, or None where a stage needs none; `prepared`
    holds each batch-aware operator's `prepare` result; `workers` bounds the child
    processes an operator may run at once (isolated decoders).
    """

    batch: str
    seed: int = 0
    workers: int = 1
    models: Any = None
    prepared: Mapping[str, Any] = field(default_factory=dict)


class Op(Protocol):
    op_name: ClassVar[str]

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]: ...


def prepare_columns(ops: Iterable[Op]) -> list[str]:
    """The columns the batch-aware operators of a chain read before its chunks run."""
    return sorted({c for op in ops for c in getattr(op, "prepare_columns", ())})


def prepare_all(ops: Iterable[Op], rows: Any) -> dict[str, Any]:
    """`op_name → op.prepare(rows)` for every batch-aware operator (rows: the batch's inputs, projected)."""
    return {op.op_name: op.prepare(rows) for op in ops if hasattr(op, "prepare")}


class RowOp:
    """Per-row operator: implement `__call__`; rows without `modality` pass through untouched.
    Chunks already run in parallel (the stage runner's engine), so rows run in order here."""

    op_name: ClassVar[str] = ""
    modality: ClassVar[str | None] = None

    def __call__(self, s: Sample) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError

    def applies_to(self, s: Sample) -> bool:
        return self.modality is None or self.modality in s.modalities

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        return [self(s) if self.applies_to(s) else s for s in samples]


def map_isolated(
    samples: list[Sample],
    wanted: Callable[[Sample], bool],
    fn: Callable[..., Any],
    args_of: Callable[[Sample], tuple[Any, ...]],
    on_value: Callable[[Sample, Any], Result],
    *,
    workers: int,
    timeout_s: float,
) -> list[Result]:
    """`fn(*args_of(s))` for each wanted sample, isolated from this process (core.isolate: one
    child for the group, one child each if that child dies): a failure or crash quarantines
    that sample only, a value becomes `on_value(s, value)`."""
    chosen = [s for s in samples if wanted(s)]
    outcomes = run_grouped(fn, [args_of(s) for s in chosen], workers=workers, timeout_s=timeout_s)
    verdict: dict[str, Result] = {}
    for s, o in zip(chosen, outcomes, strict=True):
        verdict[s.sample_id] = s.quarantine(o.failure.reason, o.failure.detail) if o.failure is not None else on_value(s, o.value)
    return [verdict.get(s.sample_id, s) for s in samples]


REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_op(name: str) -> Callable[[T], T]:
    """Class decorator: make an operator available to `params.yaml` under `name`."""

    def wrap(cls: T) -> T:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"operator name {name!r} is registered twice ({REGISTRY[name].__qualname__}, {cls.__qualname__})")
        cls.op_name = name  # type: ignore[attr-defined]
        REGISTRY[name] = cls
        return cls

    return wrap


def build_ops(specs: Iterable[str | Mapping[str, Any]]) -> list[Op]:
    """Instantiate operators from `params.yaml` entries: `name` or `{name: {param: value}}`."""
    import tessera.core.ops  # noqa: F401  (registers every operator module)

    ops: list[Op] = []
    for spec in specs:
        if isinstance(spec, str):
            name, params = spec, {}
        elif isinstance(spec, Mapping) and len(spec) == 1:
            name, params = next(iter(spec.items()))
            params = dict(params or {})
        else:
            raise ValueError(f"operator spec {spec!r} must be a name or a one-key mapping name → params")
        if name not in REGISTRY:
            raise ValueError(f"unknown operator {name!r} in params.yaml; known: {', '.join(sorted(REGISTRY))}")
        try:
            ops.append(REGISTRY[name](**params))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad parameters for operator {name!r} in params.yaml: {exc}") from exc
    return ops
