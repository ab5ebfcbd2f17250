"""Run a stage's suite on its landed + quarantined rows and return a Dagster check result.

The suite sees a manifest, not pixels: one row per sample with its status, primary
modality, flattened metrics, vector norms — gathered chunk by chunk as the stage writes.
Failing sample ids travel into the check metadata.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from tessera.expectations.suites import STRUCTURAL, Rule, drift_rules, stage_rules

CHECK = "quality"
DOCS_SOURCE = "tessera"  # the GX data source (pandas) whose assets are the stages' manifests


def manifest(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame a suite validates. A row that did not land keeps only its structural columns:
    of it, a suite judges that it was accounted for, never the metrics it had when it was set
    aside (a near-duplicate quarantined before image.canonical still says 4000 px). `landed_id`
    is the sample id of landed rows only (a raw DUPLICATE shares its id with the row that landed).
    Blanking here, rather than a row condition on every rule, spares GX a query per expectation."""
    df = pd.DataFrame(entries)
    if df.empty:
        return pd.DataFrame({"sample_id": pd.Series(dtype=str)})
    landed = df["status"] == "landed"
    judged = [c for c in df.columns if c not in STRUCTURAL]
    df[judged] = df[judged].mask(~landed)
    df["landed_id"] = df["sample_id"].where(landed)
    return df


RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["sample_id"]}


def validate(df: pd.DataFrame, rules: list[Rule], name: str, docs: Path | None = None, run_name: str = "") -> list[dict[str, Any]]:
    """One entry per rule that applies to `df`: expectation, column, severity, success, failing ids.
    With `docs` (a GX project folder), the suite and its result are kept there and the result's
    Data Docs page is built (see `docs_url`); without, nothing is written."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    applicable = [r for r in rules if r.kwargs.get("column") in df.columns and df[r.kwargs["column"]].notna().any()]
    if not applicable or df.empty:
        return []

    def suite() -> Any:  # made once a context is active (GX requires one)
        # whole, in one constructor: add_expectation on a suite whose name the project already
        # keeps rewrites the stored suite once per expectation
        expectations = [getattr(gxe, r.expectation)(**r.kwargs, meta={"severity": r.severity, "rule": i}) for i, r in enumerate(applicable)]
        return gx.ExpectationSuite(name=name, expectations=expectations)

    if docs is None:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = {"globally": False}
        batch_def = context.data_sources.add_pandas(name).add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("all")
        result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(suite(), result_format=RESULT_FORMAT)
    else:
        result = _validate_kept(df, suite, name, docs, run_name)
    out = []
    for r in result.results:
        rule = applicable[int(r.expectation_config.meta["rule"])]
        ids = [u.get("sample_id") for u in (r.result.get("unexpected_index_list") or []) if isinstance(u, dict)]
        failing = sorted({str(i) for i in ids if i is not None})
        out.append(
            {
                "expectation": r.expectation_config.type,
                "column": r.expectation_config.kwargs.get("column"),
                "severity": r.expectation_config.meta.get("severity", "error"),
                "success": bool(r.success),
                "unexpected_percent": round(float(r.result.get("unexpected_percent") or 0.0), 3),
                "failing_ids": failing[:50],
                "rule": rule,
                "failing": failing,
            }
        )
    return out


def _validate_kept(df: pd.DataFrame, suite: Callable[[], Any], name: str, docs: Path, run_name: str) -> Any:
    """Validate in a file-backed GX project (one suite, asset and validation definition per stage,
    so its config does not grow with batches) and build this result's Data Docs page only (cost ∝
    the result, not the history). Steps of one machine share the project: a file lock orders them."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier, ValidationResultIdentifier

    docs.mkdir(parents=True, exist_ok=True)
    with open(docs / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        context, batch_def = _project(docs, name)
        kept = context.validation_definitions.add_or_update(gx.ValidationDefinition(data=batch_def, suite=context.suites.add_or_update(suite()), name=name))
        result = kept.run(batch_parameters={"dataframe": df}, result_format=RESULT_FORMAT, run_id=RunIdentifier(run_name=run_name or name))
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name), result.meta["run_id"], f"{DOCS_SOURCE}-{name}")
        context.build_data_docs(resource_identifiers=[key])
    return result


_PROJECTS: dict[tuple[str, str], tuple[Any, Any]] = {}  # (project folder, stage) → (context, batch definition)


def _project(docs: Path, name: str) -> tuple[Any, Any]:
    """The GX project's context and the stage's batch definition, opened once per process (a
    warm host validates run after run without re-reading the project). Each validation still
    writes its suite and validation definition: those change from batch to batch."""
    import great_expectations as gx

    key = (str(docs), name)
    if key not in _PROJECTS:
        context = gx.get_context(mode="file", project_root_dir=str(docs))
        context.variables.progress_bars = {"globally": False}
        keep_project_fast(context)
        source = context.data_sources.add_or_update_pandas(DOCS_SOURCE)
        asset = next((a for a in source.assets if a.name == name), None) or source.add_dataframe_asset(name=name)
        batch_def = next((b for b in asset.batch_definitions if b.name == "all"), None) or asset.add_batch_definition_whole_dataframe("all")
        _PROJECTS[key] = (context, batch_def)
    return _PROJECTS[key]


_VIEW = {"module_name": "tessera.expectations.docs_views", "class_name": "CachedPageView"}
FAST_SITE = {
    "class_name": "SiteBuilder",
    "show_how_to_buttons": True,
    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": "uncommitted/data_docs/local_site/"},
    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": {**_VIEW, "class_name": "CachedIndexPageView"}},
    "site_section_builders": {section: {"view": _VIEW} for section in ("expectations", "validations", "profiling")},
}


def keep_project_fast(context: Any) -> None:
    """Set once in the project's config (a project made by an earlier version is brought up to
    date): no config-variables file, which GX re-read and re-parsed on every access to a setting
    (60-odd YAML loads a validation; Tessera keeps no secrets there), and Data Docs views that
    compile their templates once per process (`expectations/docs_views.py`)."""
    variables = context.variables
    if variables.config_variables_file_path is None and variables.data_docs_sites == {"local_site": FAST_SITE}:
        return
    variables.config_variables_file_path = None
    variables.data_docs_sites = {"local_site": FAST_SITE}
    variables.save()


def docs_url(docs: Path) -> str:
    """The Data Docs index of a GX project folder `validate` kept results in."""
    return (docs / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").as_uri()


def gated_rows(outcomes: list[dict[str, Any]], entries: list[dict[str, Any]], approved: Callable[[str, str], bool]) -> dict[str, tuple[str, str]]:
    """sample id → (gate op, one-line detail) for each landed row that failed a row-level
    expectation of severity error or review, unless a steward approved it against that gate."""
    landed = {e["sample_id"]: e for e in entries if e.get("status") == "landed"}
    out: dict[str, tuple[str, str]] = {}
    for o in outcomes:
        rule: Rule = o["rule"]
        if o["success"] or not rule.row_level or rule.severity == "warn":
            continue
        for sid in o["failing"]:
            if sid in landed and sid not in out and not approved(sid, rule.op):
                out[sid] = (rule.op, f"{o['column']} = {landed[sid].get(o['column'])} {_expected(rule)} ({o['expectation']}, {rule.severity})")
    return out


def _expected(rule: Rule) -> str:
    k = rule.kwargs
    if "value_set" in k:
        return f"not in {k['value_set']}"
    lo, hi = k.get("min_value"), k.get("max_value")
    return f"outside [{'-∞' if lo is None else lo}, {'∞' if hi is None else hi}]"


def run_suite(
    stage: str, params: dict[str, Any], batch: str, entries: list[dict[str, Any]], previous: dict[str, list[float]] | None = None, docs: Path | None = None
) -> list[dict[str, Any]]:
    """The stage's suite over the manifest of every row the batch wrote; with `previous` (metric →
    the previous batch's landed values at this stage), drift rules too (params `gates.drift_mads`)."""
    vector_columns = sorted({k.removeprefix("norm__") for e in entries for k in e if k.startswith("norm__")})
    rules = stage_rules(stage, params, batch, vector_columns)
    if previous:
        rules += drift_rules(previous, float(params.get("gates", {}).get("drift_mads", 5.0)))
    return validate(manifest(entries), rules, stage if docs else f"{stage}_{batch}", docs, batch)


def check_result(outcomes: list[dict[str, Any]], gated: dict[str, tuple[str, str]] | None = None, docs: str | None = None) -> AssetCheckResult:
    """ERROR when an `error` expectation failed (downstream is blocked); WARN when only `warn` ones
    did; a failed `review` expectation blocks nothing: its rows went to the steward's queue."""
    gated = gated or {}
    errors = [o for o in outcomes if not o["success"] and o["severity"] == "error"]
    warns = [o for o in outcomes if not o["success"] and o["severity"] == "warn"]
    reviews = [o for o in outcomes if not o["success"] and o["severity"] == "review"]
    shown = [{k: v for k, v in o.items() if k not in ("rule", "failing")} for o in outcomes]
    return AssetCheckResult(
        check_name=CHECK,
        passed=not errors and not warns,
        severity=AssetCheckSeverity.ERROR if errors else AssetCheckSeverity.WARN,
        metadata={
            "expectations": len(outcomes),
            "failed_error": len(errors),
            "failed_warn": len(warns),
            "failed_review": len(reviews),
            "quarantined_gate": len(gated),  # rows set aside as GATE (error and review expectations)
            "results": MetadataValue.json(shown),
            "failing_ids": MetadataValue.json(sorted({i for o in errors + warns + reviews for i in o["failing_ids"]})[:100]),
            **({"data_docs": MetadataValue.url(docs)} if docs else {}),
        },
        description=None if not (errors or warns) else "; ".join(f"{o['expectation']}({o['column']}) [{o['severity']}]" for o in errors + warns)[:500],
    )


def quality_check(stage: str, params: dict[str, Any], batch: str, entries: list[dict[str, Any]]) -> AssetCheckResult:
    return check_result(run_suite(stage, params, batch, entries))
