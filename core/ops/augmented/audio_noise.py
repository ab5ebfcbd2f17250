from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tessera.core.augment import is_original, make_variant, variant_seed
from tessera.core.decode import DecodeFailure
from tessera.core.decode.audio import CANONICAL_RATE, AudioClip, audio_metrics, decode_audio, encode_audio
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample

log = logging.getLogger(__name__)


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
    max_seconds: float = 600.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        for s in samples:
            if "audio" not in s.media or "video" in s.modalities or not is_original(s):
                continue
            try:
                clip = decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)
            except DecodeFailure as exc:  # the parent still lands; it just gets no variant
                log.warning("audio.noise: no variant for %s: %s", s.sample_id[:12], exc.detail)
                continue
            seed = variant_seed(ctx.seed, s.sample_id, self.op_name)
            noisy = add_noise(clip.samples, self.snr_db, np.random.default_rng(seed))
            params = {"snr_db": self.snr_db, "seed": seed}
            metrics = audio_metrics(AudioClip(noisy, CANONICAL_RATE, clip.source_rate, clip.source_channels))
            variant = make_variant(s, self.op_name, params, media={**s.media, "audio": encode_audio(noisy, CANONICAL_RATE)})
            out.append(variant.with_metrics(**metrics, audio_rate=float(CANONICAL_RATE)))
        return out
