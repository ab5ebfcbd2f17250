from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode import DecodeFailure
from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, decode_audio, encode_audio
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Result, Sample


@register_op("audio.canonical")
@dataclass(frozen=True, slots=True)
class AudioCanonical(RowOp):
    """16 kHz mono 16-bit FLAC (lossless)."""

    max_seconds: float = 600.0
    modality = "audio"

    def applies_to(self, s: Sample) -> bool:
        return "audio" in s.media and s.formats.get("audio") != CANONICAL_AUDIO

    def __call__(self, s: Sample) -> Result:
        try:
            clip = decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        return s.evolve(
            media={**s.media, "audio": encode_audio(clip.samples, CANONICAL_RATE)},
            formats={**s.formats, "audio": CANONICAL_AUDIO},
        ).with_metrics(audio_rate=float(CANONICAL_RATE), duration_s=clip.duration)
