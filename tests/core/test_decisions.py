"""A steward's decisions in the operator chain: approve overrides the quarantine it was made
against, reject sets the sample aside naming the decision, relabel changes the caption first."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decisions import Action, Verdict, in_force
from tessera.core.ops.base import OpContext, RowOp
from tessera.core.records import Quarantined, Reason, Result, Sample
from tessera.core.runner import run_ops


@dataclass(frozen=True, slots=True)
class ShortCaptions(RowOp):
    op_name = "text.min_chars"

    def __call__(self, s: Sample) -> Result:
        return s.quarantine(Reason.LOW_QUALITY, "caption under 10 chars") if len(s.text or "") < 10 else s


def _s(i: int, text: str) -> Sample:
    return Sample(sample_id=f"id{i}", batch="b", source=f"f{i}", modalities=["text"], text=text)


def _run(samples: list[Sample], verdicts: dict[str, Verdict]):
    return run_ops([ShortCaptions()], samples, OpContext(batch="b"), verdicts)


def test_approve_lands_the_sample_with_the_override_on_its_row() -> None:
    v = Verdict("d" * 64, Action.APPROVE, "ana", "terse but right", op="text.min_chars")
    out = _run([_s(1, "a cat"), _s(2, "a dog")], {"id1": v})
    (kept,) = out.landed
    assert kept.sample_id == "id1" and kept.flags == [f"steward.approve:text.min_chars:LOW_QUALITY:{'d' * 12}"]
    assert [q.sample_id for q in out.quarantined] == ["id2"]


def test_an_approval_against_another_operator_overrides_nothing() -> None:
    out = _run([_s(1, "a cat")], {"id1": Verdict("d" * 64, Action.APPROVE, "ana", op="image.min_side")})
    assert out.landed == [] and out.quarantined[0].reason is Reason.LOW_QUALITY


def test_reject_sets_the_sample_aside_before_any_operator() -> None:
    out = _run([_s(1, "a long enough caption")], {"id1": Verdict("e" * 64, Action.REJECT, "ben", "private photo")})
    (q,) = out.quarantined
    assert isinstance(q, Quarantined) and q.reason is Reason.REJECTED and q.op == "steward.decision"
    assert q.detail == f"rejected by ben: private photo (decision {'e' * 12})"


def test_relabel_changes_the_caption_before_the_operators_see_it() -> None:
    out = _run([_s(1, "a cat")], {"id1": Verdict("f" * 64, Action.RELABEL, "ana", text="a grey cat asleep on a mat")})
    (s,) = out.landed
    assert s.text == "a grey cat asleep on a mat" and s.flags == [f"steward.relabel:{'f' * 12}"]


def test_the_latest_decision_is_in_force() -> None:
    rows = [
        {"decision_id": "a", "sample_id": "id1", "stage": "unified", "action": "reject", "who": "ben", "decided_at": 2},
        {"decision_id": "b", "sample_id": "id1", "stage": "unified", "action": "approve", "who": "ana", "decided_at": 3},
        {"decision_id": "c", "sample_id": "id1", "stage": "aligned", "action": "reject", "who": "ben", "decided_at": 1},
    ]
    got = in_force(reversed(rows))
    assert got[("id1", "unified")].action is Action.APPROVE and got[("id1", "aligned")].action is Action.REJECT
