from tessera.core.ops.augmented import (  # noqa: F401
    audio_gain,
    audio_noise,
    audio_spec_augment,
    audio_time_stretch,
    image_color_jitter,
    image_crop,
    image_hflip,
    text_perturb,
    video_temporal_crop,
)
