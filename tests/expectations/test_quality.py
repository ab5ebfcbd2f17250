"""The GX bridge: real Great Expectations suites on stage manifests."""

from __future__ import annotations

import numpy as np
from dagster import AssetCheckSeverity

from tessera.core.records import Reason, Sample
from tessera.core.schema import samples_to_arrow
from tessera.expectations.bridge import check_result, manifest, quality_check, run_suite, validate
from tessera.expectations.manifest import manifest_rows
from tessera.expectations.suites import stage_rules
from tessera.resources.params import load_params

PARAMS = load_params()


def _entries(landed, quarantined):
    rows, _ = samples_to_arrow(landed, quarantined=quarantined, stage='t', run_id='r', code_version='c', input_version=0, vector_dims={c: len(v) for s in landed for c, v in s.vectors.items()})
    return manifest_rows(rows)


def _sample(i: int, **metrics: float) -> Sample:
    return Sample(sample_id=f"id{i}", batch="b", source=f'["f{i}"]', modalities=["image"], metrics=dict(metrics))


def test_clean_stage_passes():
    landed = [_sample(i, width=300, height=200, brightness=0.5) for i in range(4)]
    result = quality_check("unified", PARAMS, "b", _entries(landed, []))
    assert result.passed and result.metadata["expectations"].value >= 5


def test_image_over_the_canonical_size_is_an_error_naming_the_row():
    landed = [_sample(1, width=300, height=200), _sample(2, width=4000, height=200)]
    result = quality_check("unified", PARAMS, "b", _entries(landed, []))
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert result.metadata["failing_ids"].value == ["id2"]


def test_a_row_set_aside_before_canonical_keeps_its_source_size_without_failing_the_stage():
    # image.near_dup quarantines a near-duplicate before image.canonical resizes it: its metrics
    # still say 4000 px, and judging it would block every stage downstream of the batch
    landed = [_sample(1, width=300, height=200)]
    near_dup = _sample(2, width=4000, height=3000).quarantine(Reason.DUPLICATE, "near-duplicate of id1")
    result = quality_check("unified", PARAMS, "b", _entries(landed, [near_dup]))
    assert result.passed, result.metadata["results"].value


def test_quarantine_rate_over_the_ceiling_is_a_warning_only():
    landed = [_sample(1, width=300, height=200)]
    quarantined = [_sample(i).quarantine(Reason.CORRUPT, "bad") for i in range(2, 6)]
    result = quality_check("cleaned", PARAMS, "b", _entries(landed, quarantined))
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert set(result.metadata["failing_ids"].value) == {"id2", "id3", "id4", "id5"}


def test_a_raw_duplicate_sharing_its_id_with_the_landed_row_is_not_a_uniqueness_failure():
    landed = [_sample(1)]
    dup = _sample(1).quarantine(Reason.DUPLICATE, "same content")
    outcomes = validate(manifest(_entries(landed, [dup])), stage_rules("raw", PARAMS, "b", []), "raw_b")
    unique = next(o for o in outcomes if o["expectation"] == "expect_column_values_to_be_unique")
    assert unique["success"]


def test_vectors_off_the_unit_sphere_fail_the_embedded_gate():
    good = _sample(1).evolve(vectors={"vec_text__m": (np.ones(4) / 2).tolist()})
    bad = _sample(2).evolve(vectors={"vec_text__m": np.ones(4).tolist()})
    result = quality_check("embedded", PARAMS, "b", _entries([good, bad], []))
    assert result.severity == AssetCheckSeverity.ERROR and result.metadata["failing_ids"].value == ["id2"]


def test_a_median_far_from_the_previous_batch_is_drift_a_warning_only():
    previous = {"brightness": [0.45, 0.5, 0.52, 0.48, 0.55, 0.5, 0.47]}
    bright = [_sample(i, width=300, height=200, brightness=0.95) for i in range(6)]
    outcomes = run_suite("cleaned", PARAMS, "b", _entries(bright, []), previous)
    drift = [o for o in outcomes if o["expectation"] == "expect_column_median_to_be_between"]
    assert [(o["column"], o["success"], o["severity"]) for o in drift] == [("brightness", False, "warn")]
    assert check_result(outcomes).severity == AssetCheckSeverity.WARN
    steady = [_sample(i, width=300, height=200, brightness=0.5) for i in range(6)]
    assert all(o["success"] for o in run_suite("cleaned", PARAMS, "b", _entries(steady, []), previous) if o["column"] == "brightness")


def test_a_kept_project_made_by_gx_defaults_is_brought_up_to_date_and_every_result_gets_its_page(tmp_path):
    import great_expectations as gx
    import yaml

    from tessera.expectations.docs_views import _InMemoryBytecode

    gx.get_context(mode="file", project_root_dir=str(tmp_path))  # as an earlier version left it
    rows = _entries([_sample(1, width=300, height=200), _sample(2, width=4000, height=200)], [])
    validate(manifest(rows), stage_rules("unified", PARAMS, "b1", []), "unified", tmp_path, "b1")
    compiled = len(_InMemoryBytecode.compiled)
    validate(manifest(rows), stage_rules("unified", PARAMS, "b2", []), "unified", tmp_path, "b2")
    assert compiled and len(_InMemoryBytecode.compiled) == compiled  # the second page compiled no template again
    config = yaml.safe_load((tmp_path / "gx" / "great_expectations.yml").read_text())
    assert config["config_variables_file_path"] is None  # no YAML file re-read on every setting
    site = config["data_docs_sites"]["local_site"]
    assert site["site_section_builders"]["validations"]["view"]["class_name"] == "CachedPageView"
    pages = {run: list((tmp_path / "gx/uncommitted/data_docs/local_site/validations/unified" / run).rglob("*.html")) for run in ("b1", "b2")}
    assert all(len(p) == 1 and "width" in p[0].read_text() for p in pages.values())


def test_every_metric_is_judged_on_landed_rows_only():
    # a track set aside before audio.canonical keeps its source rate; a dark picture set aside
    # does not move the batch's median brightness that drift is measured on
    landed = [_sample(i, width=300, height=200, brightness=0.5, audio_rate=16000.0) for i in range(6)]
    aside = [_sample(i, width=300, height=200, brightness=0.01, audio_rate=44100.0).quarantine(Reason.LOW_QUALITY, "outlier") for i in range(6, 16)]
    previous = {"brightness": [0.45, 0.5, 0.52, 0.48, 0.55, 0.5, 0.47]}
    outcomes = run_suite("unified", PARAMS, "b", _entries(landed, aside), previous)
    assert {o["column"] for o in outcomes} >= {"audio_rate", "brightness", "landed_id"}
    assert [o["column"] for o in outcomes if not o["success"]] == ["status"]  # only the quarantine-rate warning
