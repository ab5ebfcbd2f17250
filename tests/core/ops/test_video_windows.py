"""video.decode on long videos: clips instead of TOO_LONG, each with its keyframes, its stretch
of the track and its cues re-timed; the parent keeps the whole video's metrics."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.decode.audio import read_audio
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Quarantined, Reason, Sample
from tessera.core.synth import video_bytes
from tessera.core.windows import window_id
from tests.core.conftest import build_sample


def test_a_long_video_lands_as_clips(make_sample) -> None:
    data = video_bytes(seconds=50.0, fps=2, size=(64, 48), cues=[(18.0, 23.0, "across a cut"), (45.0, 46.0, "near the end")])
    s = make_sample(video=data)
    parent, *clips = VideoDecode(window_over_s=30.0, window_s=20.0).apply([s], OpContext(batch="b1", workers=1))
    assert isinstance(parent, Sample) and parent.metrics["windows"] == 3.0 and not parent.keyframes
    assert parent.metrics["video_duration_s"] == pytest.approx(50.0, abs=0.6)
    assert [c.sample_id for c in clips] == [window_id(s.sample_id, "video", i) for i in range(3)]
    assert [(c.metrics["window_start_s"], c.metrics["window_end_s"]) for c in clips][:2] == [(0.0, 20.0), (20.0, 40.0)]
    assert all(c.parent_id == s.sample_id and c.aug_op == "video.window" for c in clips)
    assert clips[0].keyframe_times[:3] == [0.0, 1.0, 2.0] and clips[1].keyframe_times[0] == 0.0
    assert all(0.0 <= t < 20.0 for c in clips for t in c.keyframe_times)
    assert [(g.start, g.end, g.text) for g in clips[0].segments] == [(18.0, 20.0, "across a cut")]
    assert [(g.start, g.end, g.text) for g in clips[1].segments] == [(0.0, 3.0, "across a cut")]
    assert [(g.start, g.end) for g in clips[2].segments] == [(5.0, 6.0)]
    durations = [read_audio(c.media["audio"]).duration for c in clips]
    assert durations[:2] == [pytest.approx(20.0, abs=0.01)] * 2 and sum(durations) == pytest.approx(50.0, abs=0.2)
    assert all(c.modalities == ["audio", "video", "subtitles"] or c.modalities == ["audio", "video"] for c in clips)


def test_past_the_hard_cap_a_video_is_still_too_long(make_sample) -> None:
    data = video_bytes(seconds=12.0, fps=2, size=(64, 48))
    (out,) = VideoDecode(window_over_s=5.0, window_s=4.0, max_seconds=10.0).apply([make_sample(video=data)], OpContext(batch="b1", workers=1))
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LONG


def _recording(seconds: float, rate: int = 16_000) -> np.ndarray:
    """A tone whose loudness rises with time: any stretch of it says where it came from."""
    from tessera.core.synth import tone

    return (tone(seconds, rate=rate) * np.linspace(0.05, 1.0, int(seconds * rate), dtype=np.float32)).astype(np.float32)


def _cut_twice(
    video: bytes, heard: np.ndarray, over_s: float = 3.0, cut_s: float = 2.0, sync_s: float = 3.0, audio_over_s: float | None = None, **metrics: float
) -> tuple[Sample, list[Sample], list[Sample]]:
    """audio.decode, then video.decode, cutting past `over_s` (the recording: `audio_over_s`) into
    `cut_s` pieces: (parent, clips, windows)."""
    from tessera.core.decode.audio import encode_audio
    from tessera.core.ops.cleaned.audio_decode import AudioDecode

    s = build_sample(video=video, audio=encode_audio(heard), formats={"video": "mp4"}).with_metrics(**metrics)
    ctx = OpContext(batch="b1", workers=1)
    out = VideoDecode(window_over_s=over_s, window_s=cut_s, pair_sync_s=sync_s).apply(AudioDecode(window_over_s=audio_over_s or over_s, window_s=cut_s).apply([s], ctx), ctx)
    assert all(isinstance(r, Sample) for r in out)
    parent, *children = out
    assert parent.sample_id == s.sample_id and len({c.sample_id for c in children} | {parent.sample_id}) == len(out)
    return parent, [c for c in children if c.aug_op == "video.window"], [c for c in children if c.aug_op == "audio.window"]


def test_a_long_video_with_a_long_separate_recording_carries_the_recording_in_its_clips() -> None:
    """A talk filmed for 6 s with its own 6.5 s recording beside it (paired by stem), both past
    window_over_s: each clip carries its stretch of the recording, not the camera's sound; the
    recording's last half second, past the pictures, stays a window of its own."""
    heard = _recording(6.5)
    parent, clips, windows = _cut_twice(video_bytes(seconds=6.0, fps=4, size=(64, 48)), heard)
    assert [c.sample_id for c in clips] == [window_id(parent.sample_id, "video", i) for i in range(3)]
    assert [(w.metrics["window_start_s"], w.metrics["window_end_s"]) for w in windows] == [(6.0, 6.5)]
    assert parent.metrics["windows"] == 4.0 and not parent.media
    for c in clips:
        a, b = (int(round(c.metrics[k] * 16_000)) for k in ("window_start_s", "window_end_s"))
        assert np.allclose(read_audio(c.media["audio"]).samples, heard[a:b], atol=1e-3)  # the recording, where the clip is
        assert "paired_audio_start_s" not in c.metrics and c.metrics["paired_audio_share"] == 1.0  # paired by stem: the two start together


def test_a_clip_the_recording_never_reaches_keeps_the_videos_own_sound() -> None:
    heard = _recording(2.5)
    parent, clips, windows = _cut_twice(video_bytes(seconds=6.0, fps=4, size=(64, 48)), heard, audio_over_s=60.0)
    assert not windows and not parent.media and len(clips) == 3
    assert [c.metrics.get("paired_audio_share") for c in clips] == [1.0, 0.25, None]
    second = read_audio(clips[1].media["audio"]).samples
    assert np.allclose(second[:8000], heard[32000:], atol=1e-3) and not second[8000:].any()  # then silence: the recorder had stopped
    own = read_audio(clips[2].media["audio"])
    assert own.duration == pytest.approx(2.0, abs=0.1) and own.samples.any()  # the camera's own track


def test_a_short_video_whose_separate_recording_was_cut_goes_on_as_one_clip_with_its_stretch() -> None:
    """The parent of the recording's windows ends at cleaned: the pictures would stop there with
    it, so they become one clip of the whole video, carrying the recording's first 2 s; the
    windows after it stay rows of their own."""
    heard = _recording(6.5)
    parent, (clip,), windows = _cut_twice(video_bytes(seconds=2.0, fps=4, size=(64, 48)), heard)
    assert clip.sample_id == window_id(parent.sample_id, "video", 0) and len(clip.keyframes) == 2
    assert [w.metrics["window_start_s"] for w in windows] == [2.0, 4.0, 6.0] and parent.metrics["windows"] == 4.0
    assert "video" not in parent.media and clip.metrics["window_end_s"] == pytest.approx(2.0, abs=0.3)
    assert np.allclose(read_audio(clip.media["audio"]).samples, heard[: int(clip.metrics["window_end_s"] * 16_000)], atol=1e-3)


@pytest.mark.parametrize("recording_cut", [True, False], ids=["recording-windowed", "recording-whole"])
def test_a_long_take_with_a_recorder_paired_by_clock_is_synced_clip_by_clip(recording_cut: bool) -> None:
    """A camera and a recorder that began 1.37 s after it (its clock said 1 s): the recording —
    cut into windows itself, or short enough to be whole — is cut along the clips, each stretch
    synced to that clip's own sound; before the recorder began, the first clip is silent."""
    from tests.core.test_pairing import scene_video

    rate, true_start = 16_000, 1.37
    video, scene = scene_video(seconds=15.0, rate=rate, seed=3)
    rng = np.random.default_rng(4)
    heard = (0.4 * scene[int(true_start * rate) :] + rng.normal(0, 0.003, len(scene) - int(true_start * rate))).astype(np.float32)
    parent, clips, windows = _cut_twice(video, heard, 6.0, 5.0, 1.0, audio_over_s=None if recording_cut else 60.0, paired_audio_start_s=1.0)
    assert not windows and not parent.media  # the recording lies within the pictures: all of it went into the clips
    assert len(clips) == 3 and parent.metrics["windows"] == 3.0
    for c in clips:
        assert c.metrics["paired_audio_start_s"] == pytest.approx(true_start - c.metrics["window_start_s"], abs=0.02), c.metrics
        assert c.metrics["paired_audio_sync_score"] >= 0.3  # pair_min_sync: the onsets, not the clocks, placed it
    assert [c.metrics["paired_audio_share"] for c in clips] == pytest.approx([(5.0 - true_start) / 5.0, 1.0, 1.0], abs=0.005)
    first = read_audio(clips[0].media["audio"]).samples
    assert np.abs(first[: int(1.3 * rate)]).max() == 0.0 and np.abs(first[int(1.4 * rate) :]).max() > 0.01




def test_stitch_reads_a_span_of_a_recording_kept_in_windows_decoding_only_what_overlaps() -> None:
    from tessera.core.windows import stitch

    rate = 10
    whole = np.arange(1, 61, dtype=np.float32)  # 6 s at 10 Hz, kept as three 2 s windows
    pieces = [(float(a), float(a + 2), whole[a * rate : (a + 2) * rate]) for a in (0, 2, 4)]
    read: list[float] = []
    span, covered = stitch(pieces, 1.5, 30, rate, lambda w: read.append(float(w[0])) or w)
    assert np.array_equal(span, whole[15:45]) and covered == (0, 30) and read == [1.0, 21.0, 41.0]
    read.clear()
    early, covered = stitch(pieces, -1.0, 20, rate, lambda w: read.append(float(w[0])) or w)  # before the recording began: silence
    assert np.array_equal(early, np.concatenate([np.zeros(10, np.float32), whole[:10]])) and covered == (10, 20) and read == [1.0]
    assert stitch(pieces, 7.0, 10, rate, lambda w: w)[1] == (0, 0)  # after it ended: nothing covered
