from core.ops.augmented import audio_noise, image_hflip  # noqa: F401
