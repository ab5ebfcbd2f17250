from __future__ import annotations

from dataclasses import dataclass

from core.decode import DecodeFailure
from core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, audio_metrics, decode_audio, encode_audio
from core.ops.base import RowOp, register_op
from core.records import Reason, Result, Sample


@register_op("audio.decode")
@dataclass(frozen=True, slots=True)
class AudioDecode(RowOp):
    """Fully decode the audio (PyAV) between `min_seconds` and `max_seconds`, straight to the
    canonical 16 kHz mono track (what `audio.canonical` would make, as FLAC), so the stream is
    decoded once; record duration, clipping (on the source samples), silence and loudness (on
    the canonical track), and the source's rate and channels."""

    max_seconds: float = 600.0
    min_seconds: float = 0.1
    modality = "audio"

    def __call__(self, s: Sample) -> Result:
        try:
            clip = decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        if clip.duration < self.min_seconds:
            return s.quarantine(Reason.EMPTY, f"audio lasts {clip.duration:.4f} s (< {self.min_seconds:g} s): nothing to hear or align")
        flac = encode_audio(clip.samples, CANONICAL_RATE)
        return s.evolve(media={**s.media, "audio": flac}, formats={**s.formats, "audio": CANONICAL_AUDIO}).with_metrics(
            **audio_metrics(clip), audio_rate=float(CANONICAL_RATE)
        )
