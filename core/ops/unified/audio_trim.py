from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, canonical_track, encode_audio
from tessera.core.decode.loudness import frame_levels
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Quarantined, Result, Sample
from tessera.core.windows import retime

FRAME_S = 0.01


@register_op("audio.trim")
@dataclass(frozen=True, slots=True)
class AudioTrim(RowOp):
    """Cut leading and trailing silence (10 ms frames under `silence_dbfs`) from the canonical
    track, keeping `pad_s` of it at each end and never cutting into a cue; cues are re-timed and
    `trim_lead_s` / `trim_tail_s` say what went. Less than `min_trim_s` in all: left as it is.
    A track that is silent throughout is left whole (its silence_ratio tells). Audio that belongs
    to a video, and windows of a long recording, are never trimmed: they must stay in step with
    their pictures and with each other."""

    silence_dbfs: float = -50.0
    pad_s: float = 0.1
    min_trim_s: float = 0.05
    modality = "audio"

    def applies_to(self, s: Sample) -> bool:
        return "audio" in s.media and s.formats.get("audio") == CANONICAL_AUDIO and "video" not in s.modalities and "window_start_s" not in s.metrics

    def __call__(self, s: Sample) -> Result:
        clip = canonical_track(s)
        if isinstance(clip, Quarantined):
            return clip
        rate, x = clip.rate, clip.samples
        loud = np.flatnonzero(frame_levels(x, rate, FRAME_S) > self.silence_dbfs)
        if loud.size == 0:
            return s
        duration = len(x) / rate
        start = max(0.0, loud[0] * FRAME_S - self.pad_s)
        end = min(duration, (loud[-1] + 1) * FRAME_S + self.pad_s)
        if s.segments:  # a cue's time is never cut away
            start, end = min(start, min(g.start for g in s.segments)), max(end, max(g.end for g in s.segments))
        start, end = max(0.0, start), min(duration, end)
        if start + (duration - end) < self.min_trim_s:
            return s.with_metrics(trim_lead_s=0.0, trim_tail_s=0.0)
        kept = x[int(round(start * rate)) : int(round(end * rate))]
        return s.evolve(media={**s.media, "audio": encode_audio(kept, CANONICAL_RATE)}, segments=retime(s.segments, start, end)).with_metrics(
            duration_s=len(kept) / rate, trim_lead_s=round(start, 3), trim_tail_s=round(duration - end, 3)
        )
