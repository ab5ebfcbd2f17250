from core.ops.unified import audio_canonical, image_canonical, text_canonical, video_canonical  # noqa: F401
