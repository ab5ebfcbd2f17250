from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.augment import make_variant, variant_seed
from core.decode.audio import encode_wav, read_wav
from core.ops.base import OpContext, register_op
from core.records import Result, Sample


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise scaled so that signal power / noise power = `snr_db` dB."""
    power = float(np.mean(x.astype(np.float64) ** 2)) or 1e-10
    noise = rng.standard_normal(x.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(x + noise, -1.0, 1.0).astype(np.float32)


@register_op("audio.noise")
@dataclass(frozen=True, slots=True)
class AudioNoise:
    """Add a variant of each audio-only or captioned audio sample with white noise at `snr_db`."""

    snr_db: float = 20.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        for s in samples:
            if "audio" not in s.media or "video" in s.modalities or s.parent_id is not None:
                continue
            clip = read_wav(s.media["audio"])
            seed = variant_seed(ctx.seed, s.sample_id, self.op_name)
            noisy = add_noise(clip.samples, self.snr_db, np.random.default_rng(seed))
            params = {"snr_db": self.snr_db, "seed": seed}
            out.append(make_variant(s, self.op_name, params, media={**s.media, "audio": encode_wav(noisy, clip.rate)}))
        return out
