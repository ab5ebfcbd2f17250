from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.aligned.segments_offset import TRANSCRIBED
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Moment, Result, Sample


@register_op("timeline.build")
@dataclass(frozen=True, slots=True)
class TimelineBuild(RowOp):
    """One timeline per sample, on the pictures' clock: for each keyframe (or a time-paired
    photograph, at `paired_image_start_s`), the `window_s` of audio heard with it and the cues
    showing then. The sound is read `video_av_offset_s` later when video.decode measured its
    own track confidently (score at least `min_av_score`); a recording placed by capture time
    (audio.place) is already on the pictures' clock. Subtitles show on the pictures' clock,
    transcribed cues on the sound's. Cues are taken as they stand (segments.offset with `shift`
    re-times them first). Rebuilt at `augmented`, so a variant's timeline follows its own times."""

    window_s: float = 1.0
    min_av_score: float = 0.5

    def applies_to(self, s: Sample) -> bool:
        return bool(s.keyframe_times) or ("paired_image_start_s" in s.metrics and "audio" in s.modalities)

    def __call__(self, s: Sample) -> Result:
        m = s.metrics
        own_track = "paired_audio_start_s" not in m and m.get("video_av_offset_score", 0.0) >= self.min_av_score
        lag = m.get("video_av_offset_s", 0.0) if own_track else 0.0
        heard = m.get("duration_s") if "audio" in s.modalities else None
        points = list(enumerate(s.keyframe_times)) if s.keyframe_times else [(-1, m["paired_image_start_s"])]
        timeline = []
        for keyframe, t in points:
            window = None
            if heard is not None:
                a, b = max(0.0, t + lag - self.window_s / 2), min(heard, t + lag + self.window_s / 2)
                window = (round(a, 3), round(b, 3)) if b > a else None
            cues = tuple(i for i, g in enumerate(s.segments) if g.start <= (t + lag if g.source.startswith(TRANSCRIBED) else t) < g.end)
            timeline.append(Moment(round(t, 3), keyframe, *(window or (None, None)), cues))
        return s.evolve(timeline=timeline)
