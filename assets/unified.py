"""unified: near-duplicate clusters, canonical formats (RGB PNG, 16 kHz mono FLAC, keyframes + track + cues, NFC text)."""

from assets.factory import run_from_upstream, stage_asset

unified = stage_asset(
    name="unified",
    upstream="cleaned",
    run=run_from_upstream("cleaned"),
    description="Near-duplicate images (batch-wide dHash clusters); canonical formats: RGB images at bounded size, "
    "16 kHz mono audio, video keyframes + audio + subtitle cues, NFC text.",
)
