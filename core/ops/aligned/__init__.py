from core.ops.aligned import pair_check, segments_align, speech_transcribe  # noqa: F401
