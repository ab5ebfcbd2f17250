from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.augment import audio_only, audio_variant, each_decoded, seeds
from tessera.core.decode.audio import CANONICAL_RATE, decode_audio
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample, Segment


@register_op("audio.time_stretch")
@dataclass(frozen=True, slots=True)
class AudioTimeStretch:
    """`variants` copies of each audio track played `rate` times as fast (seeded within
    [`min_rate`, `max_rate`]) by resampling — like a tape sped up: pitch moves with speed
    (+1.7 semitones at 1.1×), which speech and sound-event models tolerate within this range.
    Every cue's times are divided by the rate, so cues stay on their words."""

    variants: int = 1
    min_rate: float = 0.9
    max_rate: float = 1.1
    max_seconds: float = 600.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        decode = lambda s: decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)  # noqa: E731
        for s, clip in each_decoded(samples, audio_only, decode, self.op_name, self.variants):
            from scipy.signal import resample_poly  # lazily, once there is a track to stretch: a costly import

            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                rate = round(float(np.random.default_rng(seed).uniform(self.min_rate, self.max_rate)), 2)
                stretched = np.clip(resample_poly(clip.samples, 100, round(100 * rate)), -1.0, 1.0).astype(np.float32)  # n → n / rate samples
                cues = [Segment(round(g.start / rate, 3), round(g.end / rate, 3), g.text, g.source) for g in s.segments]
                out.append(audio_variant(s, self.op_name, {"rate": rate, "seed": seed}, stretched, clip, segments=cues))
        return out
