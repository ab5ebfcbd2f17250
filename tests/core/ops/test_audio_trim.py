"""audio.trim: leading and trailing silence goes, cues move with the sound, nothing audible is cut."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, encode_audio, read_audio
from tessera.core.ops.unified.audio_trim import AudioTrim
from tessera.core.records import Sample, Segment

RATE = CANONICAL_RATE


def _track(lead_s: float, tone_s: float, tail_s: float) -> np.ndarray:
    t = np.arange(int(tone_s * RATE)) / RATE
    return np.concatenate([np.zeros(int(lead_s * RATE)), 0.3 * np.sin(2 * np.pi * 440 * t), np.zeros(int(tail_s * RATE))]).astype(np.float32)


def _sample(x: np.ndarray, segments: list[Segment] | None = None, **extra: object) -> Sample:
    return Sample(
        sample_id="a", batch="b", source="a.wav", modalities=["audio"], media={"audio": encode_audio(x)},
        formats={"audio": CANONICAL_AUDIO}, segments=segments or [], **extra,
    )  # fmt: skip


def test_silence_at_both_ends_goes_and_the_cues_move_with_the_sound() -> None:
    s = _sample(_track(2.0, 1.0, 3.0), [Segment(2.1, 2.9, "hello", "subtitles")])
    (out,) = AudioTrim(pad_s=0.1).apply([s], None)
    assert out.metrics["trim_lead_s"] == pytest.approx(1.9, abs=0.011) and out.metrics["trim_tail_s"] == pytest.approx(2.9, abs=0.011)
    clip = read_audio(out.media["audio"])
    assert clip.duration == pytest.approx(1.2, abs=0.02) == out.metrics["duration_s"]
    (cue,) = out.segments
    assert (cue.start, cue.end, cue.text) == (pytest.approx(0.2, abs=0.011), pytest.approx(1.0, abs=0.011), "hello")
    assert np.abs(clip.samples).max() == pytest.approx(0.3, abs=0.01)  # the tone is all there


def test_a_cue_in_the_silence_is_never_cut_away() -> None:
    s = _sample(_track(2.0, 1.0, 2.0), [Segment(0.5, 1.0, "[door opens]", "subtitles"), Segment(2.0, 3.0, "hi", "subtitles")])
    (out,) = AudioTrim().apply([s], None)
    assert out.metrics["trim_lead_s"] == pytest.approx(0.5) and [g.text for g in out.segments] == ["[door opens]", "hi"]
    assert out.segments[0].start == 0.0


def test_nothing_to_trim_silent_tracks_videos_and_windows_are_left_whole() -> None:
    tight = _sample(_track(0.0, 1.0, 0.01))
    (out,) = AudioTrim().apply([tight], None)
    assert out.media == tight.media and out.metrics["trim_lead_s"] == 0.0
    silent = _sample(np.zeros(RATE, np.float32))
    assert AudioTrim().apply([silent], None) == [silent]
    padded = _track(1.0, 1.0, 1.0)
    video = _sample(padded).evolve(modalities=["audio", "video"])
    window = _sample(padded).with_metrics(window_start_s=30.0, window_end_s=33.0)
    assert AudioTrim().apply([video, window], None) == [video, window]
