from core.ops.unified import audio_canonical, image_canonical, image_near_dup, stats_outliers, text_canonical, video_canonical  # noqa: F401
