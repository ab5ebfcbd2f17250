from tessera.core.ops.aligned import (  # noqa: F401
    pair_agreement,
    pair_check,
    segments_align,
    segments_offset,
    speech_transcribe,
    timeline_build,
    video_av_sync,
)
