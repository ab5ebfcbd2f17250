"""stats.outliers: robust per-metric fences over the batch; outliers flagged on the row or
quarantined LOW_QUALITY with the value and the fence; chunking never changes a verdict."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tessera.core.ops.base import OpContext
from tessera.core.ops.unified.stats_outliers import StatsOutliers
from tessera.core.records import Quarantined, Reason, Sample
from tessera.core.schema import arrow_to_samples, samples_to_arrow

BLUR_LOW = {"blur_var": {"method": "mad", "k": 3.5, "side": "low", "action": "flag"}}


def _batch(values: list[float], metric: str = "blur_var") -> list[Sample]:
    return [Sample(sample_id=f"id{i:02d}", batch="b", source="[]", modalities=["image"], metrics={metric: v}) for i, v in enumerate(values)]


def _ordinary(n: int = 20) -> list[float]:
    return list(np.random.default_rng(0).normal(0.010, 0.001, n))


def test_a_blurred_picture_is_flagged_with_its_value_and_the_fence() -> None:
    rows = _batch([*_ordinary(), 1e-6])
    out = StatsOutliers(rules=BLUR_LOW).apply(rows, None)
    assert out[:-1] == rows[:-1]  # ordinary ones untouched
    (flag,) = out[-1].flags
    assert flag.startswith("stats.outliers:blur_var 1e-06 is below the lower fence") and "×MAD" in flag and "over 21 samples" in flag


def test_the_quarantine_action_makes_it_low_quality_and_the_side_is_respected() -> None:
    rows = _batch([*_ordinary(), 1e-6, 1.0])
    rules = {"blur_var": {"method": "iqr", "k": 3.0, "side": "low", "action": "quarantine"}}
    out = StatsOutliers(rules=rules).apply(rows, None)
    assert isinstance(out[-2], Quarantined) and out[-2].reason is Reason.LOW_QUALITY and "×IQR" in out[-2].detail
    assert out[-1] == rows[-1]  # far above, but the rule only guards the low side


def test_the_verdict_does_not_depend_on_how_the_batch_is_cut() -> None:
    rows = _batch([*_ordinary(), 1e-6])
    op = StatsOutliers(rules=BLUR_LOW)
    fences = op.prepare(pa.table({"metrics": [s.metrics for s in rows]}))
    ctx = OpContext(batch="b", prepared={op.op_name: fences})
    in_chunks = [r for chunk in (rows[:7], rows[7:14], rows[14:]) for r in op.apply(chunk, ctx)]
    assert in_chunks == op.apply(rows, None)


def test_too_few_values_or_no_spread_give_no_fence() -> None:
    op = StatsOutliers(rules=BLUR_LOW, min_rows=8)
    assert op.apply(_batch([0.01] * 5 + [1e-6]), None) == _batch([0.01] * 5 + [1e-6])
    assert op.fences(s.metrics for s in _batch([0.01] * 30)) == {}


def test_flags_are_kept_on_the_row() -> None:
    (flagged,) = StatsOutliers(rules=BLUR_LOW).apply(_batch([*_ordinary(), 1e-6]), None)[-1:]
    rows, _ = samples_to_arrow([flagged], run_id="r", code_version="c", input_version=1, stage="unified")
    assert arrow_to_samples(rows)[0].flags == flagged.flags


def test_a_bad_rule_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="stats.outliers rule for blur_var"):
        StatsOutliers(rules={"blur_var": {"method": "zscore"}})
