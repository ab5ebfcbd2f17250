"""unified: canonical formats (RGB PNG, 16 kHz mono WAV, keyframes + track + cues, NFC text)."""

from assets.factory import stage_asset, upstream_reader

unified = stage_asset(
    name="unified",
    upstream="cleaned",
    read=upstream_reader("cleaned", hydrate=("image", "audio", "video")),
    description="Canonical formats: RGB images at bounded size, 16 kHz mono audio, video keyframes + audio + subtitle cues, NFC text.",
)
