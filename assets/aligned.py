"""aligned: pair modalities, map cues to the media timeline, transcribe untranscribed speech."""

from assets.factory import stage_asset, upstream_reader

aligned = stage_asset(
    name="aligned",
    upstream="unified",
    read=upstream_reader("unified"),
    models_used=("transcriber",),
    description="Pairing checks, cue ↔ media time alignment, Whisper transcripts where speech has no text.",
)
