"""Run a stage's suite on its landed + quarantined rows and return a Dagster check result.

The suite sees a manifest, not pixels: one row per sample with its status, primary
modality, flattened metrics, vector norms — gathered chunk by chunk as the stage writes.
Failing sample ids travel into the check metadata.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from expectations.suites import Rule, stage_rules

CHECK = "quality"


def manifest(entries: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(entries)
    return df if not df.empty else pd.DataFrame({"sample_id": pd.Series(dtype=str)})


def validate(df: pd.DataFrame, rules: list[Rule], name: str) -> list[dict[str, Any]]:
    """One entry per rule that applies to `df`: expectation, column, severity, success, failing ids."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    applicable = [r for r in rules if r.kwargs.get("column") in df.columns and df[r.kwargs["column"]].notna().any()]
    if not applicable or df.empty:
        return []
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch_def = context.data_sources.add_pandas(name).add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("all")
    suite = gx.ExpectationSuite(name=name)
    for rule in applicable:
        suite.add_expectation(getattr(gxe, rule.expectation)(**rule.kwargs, meta={"severity": rule.severity}))
    result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["sample_id"]}
    )
    out = []
    for r in result.results:
        ids = [u.get("sample_id") for u in (r.result.get("unexpected_index_list") or []) if isinstance(u, dict)]
        out.append(
            {
                "expectation": r.expectation_config.type,
                "column": r.expectation_config.kwargs.get("column"),
                "severity": r.expectation_config.meta.get("severity", "error"),
                "success": bool(r.success),
                "unexpected_percent": round(float(r.result.get("unexpected_percent") or 0.0), 3),
                "failing_ids": sorted({str(i) for i in ids if i is not None})[:50],
            }
        )
    return out


def quality_check(stage: str, params: dict[str, Any], batch: str, entries: list[dict[str, Any]]) -> AssetCheckResult:
    """The stage's suite over the manifest of every row the batch wrote."""
    vector_columns = sorted({k.removeprefix("norm__") for e in entries for k in e if k.startswith("norm__")})
    outcomes = validate(manifest(entries), stage_rules(stage, params, batch, vector_columns), f"{stage}_{batch}")
    errors = [o for o in outcomes if not o["success"] and o["severity"] == "error"]
    warns = [o for o in outcomes if not o["success"] and o["severity"] != "error"]
    return AssetCheckResult(
        check_name=CHECK,
        passed=not errors and not warns,
        severity=AssetCheckSeverity.ERROR if errors else AssetCheckSeverity.WARN,
        metadata={
            "expectations": len(outcomes),
            "failed_error": len(errors),
            "failed_warn": len(warns),
            "results": MetadataValue.json(outcomes),
            "failing_ids": MetadataValue.json(sorted({i for o in errors + warns for i in o["failing_ids"]})[:100]),
        },
        description=None if not (errors or warns) else "; ".join(f"{o['expectation']}({o['column']}) [{o['severity']}]" for o in errors + warns)[:500],
    )
