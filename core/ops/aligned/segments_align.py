from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample, Segment


def media_duration(s: Sample) -> float | None:
    for key in ("video_duration_s", "duration_s"):
        if key in s.metrics:
            return s.metrics[key]
    return None


@register_op("segments.align")
@dataclass(frozen=True, slots=True)
class SegmentsAlign(RowOp):
    """Map cues onto the media timeline: sort, clip each to [0, duration], drop cues wholly outside.
    A sample whose every cue lies outside its media is MISALIGNED (for review, not dropped).
    `keyframes_with_cue` counts the keyframes that show a cue."""

    tolerance_s: float = 0.5

    def applies_to(self, s: Sample) -> bool:
        return bool(s.segments) and media_duration(s) is not None

    def __call__(self, s: Sample) -> Result:
        duration = media_duration(s) or 0.0
        kept: list[Segment] = []
        for g in sorted(s.segments, key=lambda g: (g.start, g.end, g.source)):
            if g.end < g.start or g.start > duration + self.tolerance_s or g.end < 0:
                continue
            start = min(max(0.0, g.start), duration)
            kept.append(Segment(start, max(start, min(duration, g.end)), g.text, g.source))
        dropped = len(s.segments) - len(kept)
        if not kept:
            return s.quarantine(Reason.MISALIGNED, f"all {len(s.segments)} cues fall outside the {duration:.2f} s of media")
        frame_cues = [next((i for i, g in enumerate(kept) if g.start <= t < g.end), -1) for t in s.keyframe_times]
        return s.evolve(segments=kept).with_metrics(
            cues=float(len(kept)), cues_dropped=float(dropped), keyframes_with_cue=float(sum(c >= 0 for c in frame_cues))
        )
