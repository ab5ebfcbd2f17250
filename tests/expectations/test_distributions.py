"""Metric distributions of a stage's landed rows: quantiles and a histogram, quarantined rows left out."""

from __future__ import annotations

import math

import pytest

from tessera.expectations.distributions import distributions, markdown, sparkline


def test_quantiles_and_histogram_over_landed_rows_only() -> None:
    entries = [{"status": "landed", "width": float(w), "loudness_lufs": None} for w in range(1, 101)]
    entries += [{"status": "quarantined", "width": 1e9}, {"status": "landed", "width": math.nan}]
    d = distributions(entries)
    assert set(d) == {"width"}  # no landed row has a loudness
    w = d["width"]
    assert (w["n"], w["min"], w["max"]) == (100, 1.0, 100.0)
    assert w["median"] == pytest.approx(50.5) and w["p10"] == pytest.approx(10.9) and w["p90"] == pytest.approx(90.1)
    assert sum(w["histogram"]["counts"]) == 100 and len(w["histogram"]["edges"]) == 13


def test_markdown_shows_a_row_per_metric_with_its_histogram() -> None:
    text = markdown(distributions([{"status": "landed", "blur_var": v} for v in (0.1, 0.1, 0.1, 0.9)]))
    assert "| blur_var | 4 | 0.1 | 0.1 | 0.1 |" in text and "`█" in text
    assert markdown({}) == "no landed rows with these metrics"
    assert sparkline([0, 1, 2, 4]) == " ▂▄█"
