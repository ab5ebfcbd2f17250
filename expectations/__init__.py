"""Stage-level quality gates: one Great Expectations suite per stage, run as a Dagster check."""
