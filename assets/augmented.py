"""augmented: seeded, logged, semantics-preserving variants (each a row with parent_id, op, params)."""

from assets.factory import stage_asset, upstream_reader

augmented = stage_asset(
    name="augmented",
    upstream="aligned",
    read=upstream_reader("aligned"),
    description="Seeded variants: horizontal flip with left/right swapped in the caption, audio noise at a set SNR.",
)
