from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, canonical_track
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Quarantined, Result, Sample
from tessera.core.vad import speech_probabilities


@register_op("audio.vad")
@dataclass(frozen=True, slots=True)
class AudioVad(RowOp):
    """The share of the canonical track where someone is speaking (`voiced_ratio`: Silero VAD,
    32 ms frames over `threshold`; core/vad.py): music, tones and room noise read near 0,
    read speech 0.7-0.85. speech.transcribe leaves tracks under its `min_voiced_ratio` alone."""

    threshold: float = 0.5
    modality = "audio"

    def applies_to(self, s: Sample) -> bool:
        return "audio" in s.media and s.formats.get("audio") == CANONICAL_AUDIO  # after audio.decode / audio.canonical

    def __call__(self, s: Sample) -> Result:
        clip = canonical_track(s)
        if isinstance(clip, Quarantined):
            return clip
        if clip.rate != CANONICAL_RATE or not len(clip.samples):
            return s
        voiced = float(np.mean(speech_probabilities(clip.samples) > self.threshold))
        return s.with_metrics(voiced_ratio=round(voiced, 4))
