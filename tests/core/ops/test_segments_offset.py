"""segments.offset: the shift between cues and the audio's activity is measured on the row; a
confident shift beyond the limit is MISALIGNED; with `shift`, a small one is corrected."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.decode.audio import encode_audio
from tessera.core.ops.aligned.segments_offset import SegmentsOffset
from tessera.core.records import Quarantined, Reason, Sample, Segment

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


def _short(make_sample, seconds: float, cues: list[tuple[float, float]], quiet: bool = False) -> Sample:
    """`seconds` of speech-like bursts (on and off every 0.3 s) or of room tone, with cues."""
    rng = np.random.default_rng(3)
    n = int(seconds * RATE)
    track = rng.normal(0, 0.002, n)
    if not quiet:
        on = (np.arange(n) // int(0.3 * RATE)) % 2 == 1
        track[on] += rng.normal(0, 0.2, int(on.sum()))
    s = make_sample(audio=b"x")
    return s.evolve(media={"audio": encode_audio(track.astype(np.float32))}, segments=[Segment(a, b, "cue", "subtitle:mov_text:2") for a, b in cues])


@pytest.mark.parametrize(
    "seconds, cues",
    [(1.93, [(0.3, 1.92)]), (2.0, [(0.4, 1.6)]), (1.2, [(0.0, 0.6), (0.9, 5.0)]), (3.0, [(0.3, 0.6), (0.9, 1.2), (2.5, 9.0), (12.0, 13.0)])],
)
def test_a_track_shorter_than_the_search_is_measured_within_itself(make_sample, seconds: float, cues) -> None:
    """Cues reaching (or passing) the end of a track shorter than ±search_s: the search narrows
    to shifts that keep half the track in common, and the row is judged, never an OP_ERROR."""
    (out,) = SegmentsOffset(search_s=10.0).apply([_short(make_sample, seconds, cues)], None)
    row = out.sample if isinstance(out, Quarantined) else out
    assert "cue_offset_s" in row.metrics
    assert abs(row.metrics["cue_offset_s"]) <= seconds / 2 + 0.1


@pytest.mark.parametrize(
    "seconds, cues, quiet, why",
    [
        (0.4, [(0.0, 0.3)], False, "0.40 s of audio (needs 1.0 s)"),
        (2.0, [(0.2, 1.0)], True, "the audio is quiet throughout"),
        (2.0, [(0.0, 2.0)], False, "cues cover the whole track"),
        (2.0, [(2.5, 3.0)], False, "no cue falls within the audio"),
    ],
)
def test_too_little_to_measure_is_a_stated_result(make_sample, seconds: float, cues, quiet: bool, why: str) -> None:
    (out,) = SegmentsOffset().apply([_short(make_sample, seconds, cues, quiet)], None)
    assert isinstance(out, Sample)
    assert "cue_offset_s" not in out.metrics
    assert out.flags == [f"segments.offset:not measured, {why}"]


def test_best_lag_never_shifts_past_the_overlap() -> None:
    from tessera.core.avsync import best_lag

    rng = np.random.default_rng(0)
    a = rng.random(20)
    lag, score, at_zero = best_lag(a, np.roll(a, 3), max_lag=100)
    assert lag == pytest.approx(3, abs=0.5) and score > 0.5
    for n in (0, 1, 2, 3):
        assert best_lag(rng.random(n), rng.random(n + 5), max_lag=100)[0] <= max(0, n - 2)
    lag, _, _ = best_lag(a, a, max_lag=100, min_overlap=15)
    assert lag == 0.0
