"""augmented: seeded, logged, semantics-preserving variants (each a row with parent_id, op, params)."""

from tessera.assets.factory import run_from_upstream, stage_asset

augmented = stage_asset(
    name="augmented",
    upstream="aligned",
    run=run_from_upstream("aligned"),
    description="Seeded variants: horizontal flip with left/right swapped in the caption, audio noise at a set SNR.",
)
