from core.ops.unified import (  # noqa: F401
    audio_canonical,
    audio_trim,
    audio_vad,
    image_canonical,
    image_near_dup,
    image_nsfw,
    stats_outliers,
    text_canonical,
    text_clean,
    text_language,
    text_near_dup,
    video_canonical,
)
