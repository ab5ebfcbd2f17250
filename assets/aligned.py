"""aligned: pair modalities, map cues to the media timeline, transcribe untranscribed speech, score
whether each caption agrees with its media."""

from tessera.assets.factory import run_from_upstream, stage_asset

aligned = stage_asset(
    name="aligned",
    upstream="unified",
    run=run_from_upstream("unified"),
    models_used=("transcriber", "text", "image", "audio"),
    description="Pairing checks, cue ↔ media time alignment, Whisper transcripts where speech has no text, "
    "caption agreement scores (CLIP, CLAP, text model).",
)
