from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.avsync import best_lag
from tessera.core.decode.audio import read_audio
from tessera.core.decode.loudness import frame_levels
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample, Segment

TRANSCRIBED = "whisper:"  # cues a transcriber made from the audio itself are on its timeline by construction


def activity(samples: np.ndarray, rate: int, frame_s: float) -> np.ndarray:
    """Per frame, 1.0 where the audio is active: frame energy 12 dB over the track's own floor
    (its 10th percentile) and above -55 dBFS, so that a quiet room tone is not 'speech'. A track
    shorter than a frame is one frame; an empty one has none."""
    if len(samples) == 0:
        return np.zeros(0)
    db = frame_levels(samples, rate, min(frame_s, len(samples) / rate))
    floor = float(np.percentile(db, 10))
    return (db > max(floor + 12.0, -55.0)).astype(np.float64)


def cue_track(cues: list[Segment], frames: int, frame_s: float) -> np.ndarray:
    """Per frame, 1.0 where some cue is showing."""
    track = np.zeros(frames)
    for g in cues:
        a, b = int(np.floor(max(0.0, g.start) / frame_s)), int(np.ceil(max(0.0, g.end) / frame_s))
        track[min(a, frames) : min(b, frames)] = 1.0
    return track


@register_op("segments.offset")
@dataclass(frozen=True, slots=True)
class SegmentsOffset(RowOp):
    """Estimate how far a sample's cues (subtitles, embedded cues) sit from its audio: the shift
    that best lines the cue track up with the audio's activity (cross-correlation at `frame_s`
    steps, within ±`search_s` and never past half the track, so the two always share most of it).
    Kept on the row as `cue_offset_s` (positive: cues late) and `cue_offset_score` (the
    correlation there). A confident offset beyond `max_offset_s` is MISALIGNED, naming it; with
    `shift`, a smaller one is corrected (cues re-timed).

    Too little to measure is a stated result, not a guess: audio under `min_audio_s`, sound
    that never starts or stops, or cues that cover all or none of the track leave no offset on
    the row and a `segments.offset:not measured, …` flag saying which."""

    frame_s: float = 0.1
    search_s: float = 10.0
    max_offset_s: float = 1.0
    min_score: float = 0.3
    min_audio_s: float = 1.0
    shift: bool = False

    def applies_to(self, s: Sample) -> bool:
        return "audio" in s.media and any(not g.source.startswith(TRANSCRIBED) for g in s.segments)

    def __call__(self, s: Sample) -> Result:
        audio = read_audio(s.media["audio"])
        timed = [g for g in s.segments if not g.source.startswith(TRANSCRIBED)]
        speech = activity(audio.samples, audio.rate, self.frame_s)
        cues = cue_track(timed, len(speech), self.frame_s)
        unmeasured = self._unmeasurable(len(audio.samples) / audio.rate if audio.rate else 0.0, speech, cues)
        if unmeasured:
            return s.evolve(flags=[*s.flags, f"segments.offset:not measured, {unmeasured}"])
        lag, score, at_zero = best_lag(speech, cues, int(self.search_s / self.frame_s), min_overlap=(len(speech) + 1) // 2)
        offset = round(round(lag) * self.frame_s, 3) if score >= self.min_score and score > at_zero else 0.0
        s = s.with_metrics(cue_offset_s=offset, cue_offset_score=round(max(score, at_zero), 4))
        if abs(offset) > self.max_offset_s:
            late = "late" if offset > 0 else "early"
            return s.quarantine(Reason.MISALIGNED, f"cues run {abs(offset):.1f} s {late} against the audio (correlation {score:.2f}; limit {self.max_offset_s} s)")
        if self.shift and offset:
            moved = [Segment(g.start - offset, g.end - offset, g.text, g.source) if g in timed else g for g in s.segments]
            return s.evolve(segments=moved)
        return s

    def _unmeasurable(self, seconds: float, speech: np.ndarray, cues: np.ndarray) -> str:
        """Why the track and its cues hold too little to line up ('' when they do not)."""
        if seconds < self.min_audio_s or len(speech) < 3:
            return f"{seconds:.2f} s of audio (needs {self.min_audio_s} s)"
        if speech.min() == speech.max():
            return "the audio is " + ("active throughout" if speech[0] else "quiet throughout")
        if cues.min() == cues.max():
            return "cues cover the whole track" if cues[0] else "no cue falls within the audio"
        return ""
