from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Reason, Result, Sample

METHODS, SIDES, ACTIONS = ("mad", "iqr"), ("low", "high", "both"), ("flag", "quarantine")
# A blurred or dark picture, a quiet or silent recording: flagged, not dropped, unless params say so.
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "blur_var": {"method": "mad", "k": 3.5, "side": "low", "action": "flag"},
    "brightness": {"method": "iqr", "k": 3.0, "side": "both", "action": "flag"},
    "loudness_dbfs": {"method": "mad", "k": 3.5, "side": "low", "action": "flag"},
    "silence_ratio": {"method": "iqr", "k": 3.0, "side": "high", "action": "flag"},
}


@dataclass(frozen=True, slots=True)
class Fence:
    """Where a metric's values stop being ordinary in this batch."""

    method: str
    center: float  # median
    scale: float  # MAD × 1.4826 (≈ σ for normal data), or the IQR
    low: float
    high: float
    n: int

    def describe(self, value: float, k: float) -> str:
        side = "below the lower" if value < self.low else "above the upper"
        bound = self.low if value < self.low else self.high
        how = f"median {self.center:.4g} ∓ {k:g}×MAD {self.scale:.4g}" if self.method == "mad" else f"quartiles ∓ {k:g}×IQR {self.scale:.4g}"
        return f"{value:.4g} is {side} fence {bound:.4g} ({how}, over {self.n} samples of the batch)"


@register_op("stats.outliers")
@dataclass(frozen=True, slots=True)
class StatsOutliers:
    """Per metric, within the batch: a robust z-score (median and MAD) or Tukey's IQR fences. A
    sample outside them on its rule's side is flagged on its row (`flags`) or quarantined
    LOW_QUALITY, as the rule's `action` says; the value and the fence are written with it.
    `rules`: metric → {method: mad|iqr, k, side: low|high|both, action: flag|quarantine}.

    Batch-aware: the fences come from `prepare` over the whole batch, so chunking never changes a
    verdict. A metric with fewer than `min_rows` values, or no spread, gets no fence."""

    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(DEFAULT_RULES))
    min_rows: int = 8
    prepare_columns: ClassVar[tuple[str, ...]] = ("metrics",)

    def __post_init__(self) -> None:
        for metric in self.rules:
            self.rule(metric)  # a bad rule fails when the stage is built, not per row

    def rule(self, metric: str) -> tuple[str, float, str, str]:
        """(method, k, side, action) of `metric`'s rule, defaults filled and checked."""
        r = self.rules[metric]
        method, k, side, action = r.get("method", "mad"), float(r.get("k", 3.5)), r.get("side", "both"), r.get("action", "flag")
        if method not in METHODS or side not in SIDES or action not in ACTIONS or k <= 0:
            raise ValueError(f"stats.outliers rule for {metric}: {dict(r)}; method is one of {METHODS}, side of {SIDES}, action of {ACTIONS}, k > 0")
        return method, k, side, action

    def prepare(self, rows: Any) -> dict[str, Fence]:
        return self.fences(r or {} for r in rows.column("metrics").to_pylist())

    def fences(self, metrics: Iterable[Mapping[str, Any]]) -> dict[str, Fence]:
        values: dict[str, list[float]] = {m: [] for m in self.rules}
        for row in metrics:
            for m in self.rules:
                v = row.get(m)
                if v is not None and np.isfinite(v):
                    values[m].append(float(v))
        out: dict[str, Fence] = {}
        for m, vs in values.items():
            if len(vs) < self.min_rows:
                continue
            x = np.asarray(vs)
            method, k, _, _ = self.rule(m)
            if method == "mad":
                center = float(np.median(x))
                scale = float(np.median(np.abs(x - center))) * 1.4826
                low, high = center - k * scale, center + k * scale
            else:
                q1, center, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))
                scale = q3 - q1
                low, high = q1 - k * scale, q3 + k * scale
            if scale > 0:
                out[m] = Fence(method, center, scale, low, high, len(vs))
        return out

    def apply(self, samples: list[Sample], ctx: OpContext | None) -> list[Result]:
        prepared = ctx.prepared.get(self.op_name) if ctx is not None else None
        fences = prepared if prepared is not None else self.fences(s.metrics for s in samples)
        return [self._judge(s, fences) for s in samples]

    def _judge(self, s: Sample, fences: Mapping[str, Fence]) -> Result:
        flags, worst = [], None
        for m, fence in fences.items():
            v, (_, k, side, action) = s.metrics.get(m), self.rule(m)
            if v is None or not ((v < fence.low and side != "high") or (v > fence.high and side != "low")):
                continue
            detail = f"{m} {fence.describe(v, k)}"
            if action == "quarantine":
                worst = worst or detail
            else:
                flags.append(f"{self.op_name}:{detail}")
        if worst is not None:
            return s.quarantine(Reason.LOW_QUALITY, worst)
        return s.evolve(flags=[*s.flags, *flags]) if flags else s
