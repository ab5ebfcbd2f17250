"""A data steward's decisions and what they do to a stage's rows.

A decision is about one sample at one stage: `approve` lands a sample the stage's operator
quarantined (that operator's verdict is overridden, and the override is written on the row),
`reject` keeps it out (REJECTED, naming the decision) here and, by its content, in every later
ingest, and `relabel` replaces its caption before the stage's operators run, so the new text
flows on through the stages after it. Decisions are appended, never rewritten: the latest
decision about (sample, stage) is the one in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tessera.core.records import Quarantined, Reason, Sample

GATE_OP = "gate."  # a quality gate's verdicts name it gate.<Expectation>(<column>) (expectations/)


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RELABEL = "relabel"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision in force about one sample at one stage."""

    decision_id: str
    action: Action
    who: str
    note: str = ""
    op: str = ""  # approve: the operator whose quarantine is overridden ("" = whichever quarantines it)
    text: str | None = None  # relabel: the new caption

    @property
    def short(self) -> str:
        return self.decision_id[:12]

    def overrides(self, op: str) -> bool:
        return self.action is Action.APPROVE and self.op in ("", op)


def in_force(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Verdict]:
    """(sample_id, stage) → the latest decision, from decision rows in any order."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in rows:
        key = (r["sample_id"], r["stage"])
        if key not in latest or (r["decided_at"], r["decision_id"]) > (latest[key]["decided_at"], latest[key]["decision_id"]):
            latest[key] = r
    return {k: verdict(r) for k, r in latest.items()}


def verdict(r: Mapping[str, Any]) -> Verdict:
    return Verdict(r["decision_id"], Action(r["action"]), r.get("who") or "", r.get("note") or "", r.get("op") or "", r.get("text"))


def rejection(s: Sample, v: Verdict) -> Quarantined:
    note = f": {v.note}" if v.note else ""
    return s.quarantine(Reason.REJECTED, f"rejected by {v.who or 'a steward'}{note} (decision {v.short})", op="steward.decision")


def before_ops(samples: list[Sample], verdicts: Mapping[str, Verdict]) -> tuple[list[Sample], list[Quarantined]]:
    """Rejections set aside, relabels applied (and noted on the row); everything else as it was."""
    kept: list[Sample] = []
    rejected: list[Quarantined] = []
    for s in samples:
        v = verdicts.get(s.sample_id)
        if v is not None and v.action is Action.REJECT:
            rejected.append(rejection(s, v))
        elif v is not None and v.action is Action.RELABEL and v.text is not None:
            kept.append(s.evolve(text=v.text, flags=[*s.flags, f"steward.relabel:{v.short}"]))
        elif v is not None and v.action is Action.APPROVE and v.op.startswith(GATE_OP):  # the gate will not judge it: say so on the row
            kept.append(s.evolve(flags=[*s.flags, f"steward.approve:{v.op}:GATE:{v.short}"]))
        else:
            kept.append(s)
    return kept, rejected


def approved(q: Quarantined, op: str, verdicts: Mapping[str, Verdict]) -> Sample | None:
    """The sample back, its override noted on the row, when a steward approved what `op` quarantined."""
    v = verdicts.get(q.sample_id)
    if v is None or not v.overrides(op):
        return None
    return q.sample.evolve(flags=[*q.sample.flags, f"steward.approve:{op}:{q.reason.value}:{v.short}"])
