"""Runs a stage's operator chain over a batch and keeps the books (invariant I1)."""

from __future__ import annotations

import logging
import re
import traceback
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera.core.decisions import Verdict, approved, before_ops
from tessera.core.lineage import Edge, edges
from tessera.core.ops.base import Op, OpContext, Result
from tessera.core.records import Quarantined, Reason, Sample

log = logging.getLogger(__name__)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass(slots=True)
class StageResult:
    """Landed samples (inputs that survived plus variants) and quarantined inputs."""

    landed: list[Sample] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        return dict(Counter(q.reason.value for q in self.quarantined))


def run_ops(ops: list[Op], samples: list[Sample], ctx: OpContext, verdicts: Mapping[str, Verdict] | None = None) -> StageResult:
    """Apply `ops` in order; each op sees only what the previous ones landed.

    `verdicts` (sample id → a steward's decision at this stage) are applied first: rejected
    samples are set aside, relabelled ones carry their new caption; a sample a steward approved
    stays in when the operator it was approved against quarantines it again.

    An operator that raises is a bug; its batch is retried row by row so that only
    the offending rows are quarantined as OP_ERROR and the run goes on.
    """
    result = StageResult()
    verdicts = verdicts or {}
    ledger: dict[str, list[Edge]] = {}
    current, result.quarantined = before_ops(list(samples), verdicts)
    _record(ledger, "steward.decision", samples, [*current, *result.quarantined])
    for op in ops:
        given, current, set_aside = current, [], []
        for out in _apply_guarded(op, given, ctx):
            if isinstance(out, Quarantined):
                named = out if out.op else Quarantined(out.sample, out.reason, out.detail, op.op_name)
                back = approved(named, named.op, verdicts) if verdicts else None
                if back is not None:
                    current.append(back)
                else:
                    set_aside.append(named)
            else:
                current.append(out)
        _record(ledger, op.op_name, given, [*current, *set_aside])
        result.quarantined += set_aside
    result.landed = [s.evolve(lineage=ledger.get(s.sample_id, [])) for s in current]
    result.quarantined = [Quarantined(q.sample.evolve(lineage=ledger.get(q.sample_id, [])), q.reason, q.detail, q.op) for q in result.quarantined]
    return result


def _record(ledger: dict[str, list[Edge]], op: str, given: list[Sample], outputs: list[Result]) -> None:
    """Add the edges one operator made (core/lineage.py) to the stage's ledger."""
    for sid, found in edges(op, {s.sample_id: s for s in given}, outputs).items():
        ledger.setdefault(sid, []).extend(found)


def _apply_guarded(op: Op, samples: list[Sample], ctx: OpContext) -> list[Result]:
    try:
        return op.apply(samples, ctx)
    except Exception:  # an operator bug: isolate the rows that trigger it
        log.exception("operator %s raised on a batch of %d; retrying row by row", op.op_name, len(samples))
    outputs: list[Result] = []
    for s in samples:
        try:
            outputs.extend(op.apply([s], ctx))
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1]
            message = _ADDRESS.sub(" at 0x…", str(exc))  # reproducible text: no memory addresses
            detail = f"{type(exc).__name__}: {message} at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
            outputs.append(Quarantined(s, Reason.OP_ERROR, detail[:500], op.op_name))
    return outputs
