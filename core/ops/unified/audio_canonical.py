from __future__ import annotations

from dataclasses import dataclass

from core.decode import DecodeFailure
from core.decode.audio import CANONICAL_RATE, decode_audio, encode_wav
from core.ops.base import RowOp, register_op
from core.records import Result, Sample


@register_op("audio.canonical")
@dataclass(frozen=True, slots=True)
class AudioCanonical(RowOp):
    """16 kHz mono 16-bit PCM WAV."""

    max_seconds: float = 600.0
    modality = "audio"

    def applies_to(self, s: Sample) -> bool:
        return "audio" in s.media and s.formats.get("audio") != "wav:16k-mono"

    def __call__(self, s: Sample) -> Result:
        try:
            clip = decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        return s.evolve(
            media={**s.media, "audio": encode_wav(clip.samples, CANONICAL_RATE)},
            formats={**s.formats, "audio": "wav:16k-mono"},
        ).with_metrics(audio_rate=float(CANONICAL_RATE), duration_s=clip.duration)
