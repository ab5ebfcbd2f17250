"""cleaned: full decode under limits, quality metrics."""

from tessera.assets.factory import run_from_upstream, stage_asset

cleaned = stage_asset(
    name="cleaned",
    upstream="raw",
    run=run_from_upstream("raw"),
    description="Full decode under limits (video in child processes), quality metrics.",
)
