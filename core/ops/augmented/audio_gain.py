from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.augment import audio_only, audio_variant, each_decoded, seeds
from tessera.core.decode.audio import CANONICAL_RATE, decode_audio
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


@register_op("audio.gain")
@dataclass(frozen=True, slots=True)
class AudioGain:
    """`variants` copies of each audio track louder or quieter by a seeded gain within
    [`min_db`, `max_db`], limited so the peak stays under `peak_dbfs` (never clips)."""

    variants: int = 1
    min_db: float = -6.0
    max_db: float = 6.0
    peak_dbfs: float = -1.0
    max_seconds: float = 600.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        decode = lambda s: decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)  # noqa: E731
        for s, clip in each_decoded(samples, audio_only, decode, self.op_name, self.variants):
            headroom = self.peak_dbfs - 20 * np.log10(float(np.max(np.abs(clip.samples))) or 1e-9)
            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                gain = round(min(float(np.random.default_rng(seed).uniform(self.min_db, self.max_db)), headroom), 3)
                out.append(audio_variant(s, self.op_name, {"gain_db": gain, "seed": seed}, (clip.samples * 10 ** (gain / 20)).astype(np.float32), clip))
        return out
