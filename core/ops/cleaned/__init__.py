from core.ops.cleaned import (  # noqa: F401
    audio_decode,
    dedup_exact,
    image_decode,
    image_min_side,
    image_near_dup,
    subtitles_decode,
    text_decode,
    video_decode,
)
