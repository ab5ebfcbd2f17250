from __future__ import annotations

from dataclasses import dataclass

from core.decode import DecodeFailure
from core.decode.audio import CANONICAL_RATE, audio_metrics, decode_audio, encode_wav, resample_mono
from core.ops.base import RowOp, register_op
from core.records import Reason, Result, Sample


@register_op("audio.decode")
@dataclass(frozen=True, slots=True)
class AudioDecode(RowOp):
    """Fully decode the audio (PyAV) between `min_seconds` and `max_seconds`; record duration,
    silence, clipping, loudness (at the source rate); and, from the same decode, the canonical
    16 kHz mono WAV `audio.canonical` would make, so the stream is decoded once."""

    max_seconds: float = 600.0
    min_seconds: float = 0.1
    modality = "audio"

    def __call__(self, s: Sample) -> Result:
        try:
            clip = decode_audio(s.media["audio"], max_seconds=self.max_seconds)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        if clip.duration < self.min_seconds:
            return s.quarantine(Reason.EMPTY, f"audio lasts {clip.duration:.4f} s (< {self.min_seconds:g} s): nothing to hear or align")
        wav = encode_wav(resample_mono(clip.samples, clip.rate), CANONICAL_RATE)
        return s.evolve(media={**s.media, "audio": wav}, formats={**s.formats, "audio": "wav:16k-mono"}).with_metrics(
            **audio_metrics(clip), audio_rate=float(CANONICAL_RATE)
        )
