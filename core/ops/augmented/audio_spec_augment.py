from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.augment import audio_only, audio_variant, each_decoded, seeds
from tessera.core.decode.audio import CANONICAL_RATE, decode_audio
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


def mel_to_hz(m: float) -> float:
    return 700.0 * (10 ** (m / 2595.0) - 1)


def hz_to_mel(f: float) -> float:
    return 2595.0 * np.log10(1 + f / 700.0)


@register_op("audio.spec_augment")
@dataclass(frozen=True, slots=True)
class AudioSpecAugment:
    """SpecAugment (Park et al. 2019) as audio: `freq_masks` bands, each up to `max_freq_mels`
    wide on the mel scale (`n_mels` bands over 0-8 kHz), and `time_masks` stretches of up to
    `max_time_s`, are silenced in the short-time spectrum, which is inverted with the track's own
    phase — so the variant is a waveform every downstream encoder reads. The masked bands (Hz)
    and times (s) are the variant's params."""

    variants: int = 1
    freq_masks: int = 2
    max_freq_mels: int = 8
    time_masks: int = 2
    max_time_s: float = 0.3
    n_mels: int = 80
    max_seconds: float = 600.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        decode = lambda s: decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)  # noqa: E731
        for s, clip in each_decoded(samples, audio_only, decode, self.op_name, self.variants):
            from scipy.signal import istft, stft  # lazily: a costly import most stages never need

            freqs, times, spec = stft(clip.samples, fs=CANONICAL_RATE, nperseg=400, noverlap=240)
            top = hz_to_mel(CANONICAL_RATE / 2)
            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                rng = np.random.default_rng(seed)
                masked = spec.copy()
                bands, spans = [], []
                for _ in range(self.freq_masks):
                    width = int(rng.integers(1, self.max_freq_mels + 1))
                    first = int(rng.integers(0, self.n_mels - width))
                    lo, hi = mel_to_hz(first * top / self.n_mels), mel_to_hz((first + width) * top / self.n_mels)
                    masked[(freqs >= lo) & (freqs < hi), :] = 0
                    bands.append([round(lo, 1), round(hi, 1)])
                for _ in range(self.time_masks):
                    length = float(rng.uniform(0, min(self.max_time_s, clip.duration / 4)))
                    start = float(rng.uniform(0, max(clip.duration - length, 0)))
                    masked[:, (times >= start) & (times < start + length)] = 0
                    spans.append([round(start, 3), round(start + length, 3)])
                _, wave = istft(masked, fs=CANONICAL_RATE, nperseg=400, noverlap=240)
                wave = np.clip(wave[: len(clip.samples)], -1.0, 1.0).astype(np.float32)
                out.append(audio_variant(s, self.op_name, {"freq_masks_hz": bands, "time_masks_s": spans, "seed": seed}, wave, clip))
        return out
