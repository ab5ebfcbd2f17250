"""segments.offset: the shift between cues and the audio's activity is measured on the row; a
confident shift beyond the limit is MISALIGNED; with `shift`, a small one is corrected."""

from __future__ import annotations

import numpy as np
import pytest

from core.decode.audio import encode_audio
from core.ops.aligned.segments_offset import SegmentsOffset
from core.records import Quarantined, Reason, Sample, Segment

RATE = 16_000
# "utterances": (start, end) seconds of noise bursts over a quiet room tone
UTTERANCES = [(1.0, 2.5), (4.0, 4.8), (6.0, 8.5), (10.0, 11.0), (13.5, 15.0), (17.0, 17.6)]


def _speechlike() -> bytes:
    rng = np.random.default_rng(7)
    track = rng.normal(0, 0.002, 20 * RATE)
    for a, b in UTTERANCES:
        n = int((b - a) * RATE)
        track[int(a * RATE) : int(a * RATE) + n] += rng.normal(0, 0.2, n) * np.hanning(n)
    return encode_audio(track.astype(np.float32))


def _sample(make_sample, shift_s: float, source: str = "subtitle:file:srt") -> Sample:
    cues = [Segment(a + shift_s, b + shift_s, f"line {i}", source) for i, (a, b) in enumerate(UTTERANCES)]
    s = make_sample(audio=b"x")
    return s.evolve(media={"audio": _speechlike()}, segments=cues)


@pytest.mark.parametrize("shift_s", [0.0, 0.4, -0.6])
def test_cues_in_step_with_the_audio_land_with_their_offset_measured(make_sample, shift_s: float) -> None:
    (out,) = SegmentsOffset(max_offset_s=1.0).apply([_sample(make_sample, shift_s)], None)
    assert isinstance(out, Sample)
    assert out.metrics["cue_offset_s"] == pytest.approx(shift_s, abs=0.15)
    assert out.metrics["cue_offset_score"] > 0.5
    assert out.segments[0].start == 1.0 + shift_s  # measured, not moved


def test_cues_running_late_beyond_the_limit_are_misaligned(make_sample) -> None:
    (out,) = SegmentsOffset(max_offset_s=1.0).apply([_sample(make_sample, 2.5)], None)
    assert isinstance(out, Quarantined) and out.reason is Reason.MISALIGNED
    assert "2.5 s late" in out.detail
    assert out.sample.metrics["cue_offset_s"] == pytest.approx(2.5, abs=0.15)


def test_with_shift_a_small_offset_is_corrected(make_sample) -> None:
    (out,) = SegmentsOffset(max_offset_s=1.0, shift=True).apply([_sample(make_sample, 0.7)], None)
    assert isinstance(out, Sample)
    assert [round(g.start, 1) for g in out.segments] == [a for a, _ in UTTERANCES]


def test_transcripts_are_on_the_audio_timeline_already(make_sample) -> None:
    s = _sample(make_sample, 3.0, source="whisper:tiny.en")
    (out,) = SegmentsOffset().apply([s], None)
    assert out is s
