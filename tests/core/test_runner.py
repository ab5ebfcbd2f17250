"""core.runner: an operator that raises costs only the rows that trigger it (OP_ERROR), and the books balance."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.base import OpContext, RowOp
from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.ops.cleaned.image_min_side import ImageMinSide
from tessera.core.ops.unified.image_canonical import ImageCanonical
from tessera.core.records import Quarantined, Reason, Result, Sample
from tessera.core.runner import run_ops


@dataclass(frozen=True)
class FailsOnText(RowOp):
    """An operator with a bug: it divides by zero on captions that contain 'boom'."""

    op_name = "test.fails_on_text"

    def __call__(self, s: Sample) -> Result:
        if s.media.get("text", b"").startswith(b"boom"):
            return s.with_metrics(ratio=1 / 0)
        return s.with_metrics(ratio=1.0)


@dataclass(frozen=True)
class QuarantinesAll(RowOp):
    op_name = "test.quarantines_all"

    def __call__(self, s: Sample) -> Result:
        return s.quarantine(Reason.LOW_QUALITY, "not good enough")


def test_raising_op_quarantines_only_the_offending_row(make_sample, ctx) -> None:
    rows = [make_sample(text=b"fine"), make_sample(text=b"boom!"), make_sample(text=b"also fine")]
    result = run_ops([FailsOnText(), ImageCanonical()], rows, ctx)
    assert [s.sample_id for s in result.landed] == [rows[0].sample_id, rows[2].sample_id]
    assert all(s.metrics["ratio"] == 1.0 for s in result.landed)
    (q,) = result.quarantined
    assert q.sample_id == rows[1].sample_id and q.reason is Reason.OP_ERROR
    assert q.op == "test.fails_on_text"
    assert q.detail.startswith("ZeroDivisionError: division by zero at test_runner.py:")
    assert result.reasons() == {"OP_ERROR": 1}


def test_later_ops_see_only_what_earlier_ops_landed(make_sample, ctx, astronaut_png, truncated_png, mk_image) -> None:
    tiny = mk_image("camera", (20, 10))
    rows = [make_sample(image=astronaut_png), make_sample(image=truncated_png), make_sample(image=tiny)]
    result = run_ops([ImageDecode(), ImageMinSide(px=32), ImageCanonical(max_side=48)], rows, ctx)
    assert [s.sample_id for s in result.landed] == [rows[0].sample_id]
    assert result.landed[0].metrics["width"] == 48.0
    assert {q.sample_id: (q.reason, q.op) for q in result.quarantined} == {
        rows[1].sample_id: (Reason.TRUNCATED, "image.decode"),
        rows[2].sample_id: (Reason.LOW_QUALITY, "image.min_side"),
    }
    assert len(result.landed) + len(result.quarantined) == len(rows)


def test_op_name_is_filled_only_when_the_op_left_it_empty(make_sample, ctx) -> None:
    s = make_sample(text=b"x")
    (q,) = run_ops([QuarantinesAll()], [s], ctx).quarantined
    assert q.op == "test.quarantines_all"
    pre = Quarantined(s, Reason.EMPTY, "already named", "raw.sniff")

    @dataclass(frozen=True)
    class PassesQuarantine:
        op_name = "test.passes"

        def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
            return [pre]

    (q2,) = run_ops([PassesQuarantine()], [s], ctx).quarantined
    assert q2.op == "raw.sniff"


def test_no_ops_lands_everything(make_sample, ctx) -> None:
    rows = [make_sample(text=b"a"), make_sample(text=b"b")]
    result = run_ops([], rows, ctx)
    assert result.landed == rows and result.quarantined == [] and result.reasons() == {}
