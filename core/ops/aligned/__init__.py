from tessera.core.ops.aligned import pair_check, segments_align, segments_offset, speech_transcribe, timeline_build, video_av_sync  # noqa: F401
