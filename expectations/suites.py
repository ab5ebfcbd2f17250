"""One suite per stage, as data: which expectation, on which column, and how bad a failure is.

`error` failures block downstream stages; `warn` failures report drift and let the run go on.
Limits come from params.yaml so that a gate and the operator it guards never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tessera.core.baseline import Summary, as_summary
from tessera.core.decisions import GATE_OP
from tessera.core.records import MODALITY_ORDER

SEVERITIES = ("error", "review", "warn")
# columns whose failures are about the batch, not a row; the only ones a row that did not land
# keeps in the frame a suite validates (expectations/bridge.py `manifest`): metrics are judged on landed rows
STRUCTURAL = ("sample_id", "landed_id", "batch", "status", "modality")


@dataclass(frozen=True, slots=True)
class Rule:
    """`error` failures block downstream stages and their rows are quarantined GATE; `review`
    rows are quarantined GATE (the steward's queue) and nothing is blocked; `warn` only reports."""

    expectation: str  # a class name in great_expectations.expectations
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = "error"

    @property
    def row_level(self) -> bool:
        """Its failing rows are rows to set aside (a metric out of range), not a broken batch."""
        return self.expectation.startswith("ExpectColumnValues") and self.kwargs.get("column") not in STRUCTURAL

    @property
    def op(self) -> str:
        """How a quarantined row names the gate it failed."""
        return f"{GATE_OP}{self.expectation}({self.kwargs.get('column')})"


def _op_param(params: dict[str, Any], stage: str, op: str, key: str, default: Any) -> Any:
    for spec in params.get(stage, {}).get("ops", []):
        if isinstance(spec, dict) and op in spec:
            return (spec[op] or {}).get(key, default)
    return default


def stage_rules(stage: str, params: dict[str, Any], batch: str, vector_columns: list[str]) -> list[Rule]:
    gates = params.get("gates", {})
    rules = [
        Rule("ExpectColumnValuesToNotBeNull", {"column": "sample_id"}),
        Rule("ExpectColumnValuesToBeUnique", {"column": "landed_id"}),  # a raw DUPLICATE shares its id with the row that landed
        Rule("ExpectColumnValuesToBeInSet", {"column": "batch", "value_set": [batch]}),
        Rule("ExpectColumnValuesToBeInSet", {"column": "modality", "value_set": list(MODALITY_ORDER)}),
        # quarantine-rate ceiling: the share of rows still 'landed' must stay above 1 - ceiling
        Rule(
            "ExpectColumnValuesToBeInSet",
            {"column": "status", "value_set": ["landed"], "mostly": round(1.0 - float(gates.get("max_quarantine_rate", 0.5)), 4)},
            "warn",
        ),
    ]
    between = lambda col, lo, hi, sev="error": Rule("ExpectColumnValuesToBeBetween", {"column": col, "min_value": lo, "max_value": hi}, sev)  # noqa: E731
    if stage == "cleaned":
        rules += [
            between("width", 1, None),
            between("height", 1, None),
            between("silence_ratio", 0.0, 1.0),
            between("clipping_ratio", 0.0, float(gates.get("max_clipping_ratio", 0.05)), "warn"),
            between("duration_s", 0.0, float(_op_param(params, "cleaned", "audio.decode", "max_seconds", 600))),
            between("text_chars", 1, None),
            between("brightness", 0.02, 0.98, "warn"),
        ]
    elif stage == "unified":
        side = int(_op_param(params, "unified", "image.canonical", "max_side", 512))
        rules += [
            between("width", 1, side),
            between("height", 1, side),
            Rule("ExpectColumnValuesToBeInSet", {"column": "audio_rate", "value_set": [16000.0]}),
            between("keyframes", 1, None),
        ]
    elif stage == "aligned":
        rules += [between("cues", 1, None), between("cues_dropped", 0, None, "warn")]
    elif stage == "augmented":
        rules += [Rule("ExpectColumnValuesToBeInSet", {"column": "variant_has_parent", "value_set": [True]})]
    elif stage == "embedded":
        rules += [between(f"norm__{c}", 0.99, 1.01) for c in vector_columns]
        rules += [Rule("ExpectColumnValuesToBeInSet", {"column": "text_embedded", "value_set": [True]}, "warn")]
    return [_with_severity(r, stage, gates.get("severity") or {}) for r in rules]


def _with_severity(rule: Rule, stage: str, overrides: dict[str, str]) -> Rule:
    """params.yaml `gates.severity`: `<stage>.<column>: error | review | warn` overrides a rule's default."""
    chosen = overrides.get(f"{stage}.{rule.kwargs.get('column')}", rule.severity)
    if chosen not in SEVERITIES:
        raise ValueError(f"gates.severity {stage}.{rule.kwargs.get('column')}: {chosen!r} is not one of {', '.join(SEVERITIES)}")
    return Rule(rule.expectation, rule.kwargs, chosen)


def drift_rules(previous: Mapping[str, Sequence[float] | Summary], mads: float, min_rows: int = 5) -> list[Rule]:
    """WARN when a metric's median moves more than `mads` robust deviations (1.4826 × MAD) from
    the baseline's — the last release's summary, or the previous batch's values; metrics the
    baseline had too few of, or no spread in, are not judged."""
    rules = []
    for metric, given in sorted(previous.items()):
        if not len(given):
            continue
        base = as_summary(given)
        if base["n"] < min_rows:
            continue
        median, spread = base["median"], base["spread"]
        if spread > 0:
            bounds = {"min_value": round(median - mads * spread, 6), "max_value": round(median + mads * spread, 6)}
            rules.append(Rule("ExpectColumnMedianToBeBetween", {"column": metric, **bounds}, "warn"))
    return rules
