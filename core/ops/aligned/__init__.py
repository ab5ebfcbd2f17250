from core.ops.aligned import pair_check, segments_align, segments_offset, speech_transcribe  # noqa: F401
