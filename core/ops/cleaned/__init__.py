from tessera.core.ops.cleaned import (  # noqa: F401
    audio_decode,
    image_decode,
    image_min_side,
    image_shape,
    subtitles_decode,
    text_decode,
    video_decode,
)
