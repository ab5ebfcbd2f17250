from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample


@register_op("video.av_sync")
@dataclass(frozen=True, slots=True)
class VideoAvSync(RowOp):
    """Judge how far a video's sound runs from its pictures, as video.decode measured it
    (`video_av_offset_s`, from the picture's changes against the sound's onsets; core/avsync.py):
    a confident offset (correlation at least `min_score`) beyond `max_offset_s` is MISALIGNED.
    A low score (no shared events: a talking head, music over scenery) is left unjudged."""

    max_offset_s: float = 0.5
    min_score: float = 0.5
    modality = "video"

    def applies_to(self, s: Sample) -> bool:
        return "video_av_offset_s" in s.metrics

    def __call__(self, s: Sample) -> Result:
        lag, score = s.metrics["video_av_offset_s"], s.metrics.get("video_av_offset_score", 0.0)
        if score >= self.min_score and abs(lag) > self.max_offset_s:
            late = "late" if lag > 0 else "early"
            return s.quarantine(Reason.MISALIGNED, f"the sound runs {abs(lag):.2f} s {late} against the pictures (correlation {score:.2f}; limit {self.max_offset_s} s)")
        return s
