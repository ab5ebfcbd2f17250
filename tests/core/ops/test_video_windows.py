"""video.decode on long videos: clips instead of TOO_LONG, each with its keyframes, its stretch
of the track and its cues re-timed; the parent keeps the whole video's metrics."""

from __future__ import annotations

import pytest

from core.decode.audio import read_audio
from core.ops.base import OpContext
from core.ops.cleaned.video_decode import VideoDecode
from core.records import Quarantined, Reason, Sample
from core.synth import video_bytes
from core.windows import window_id


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


def test_a_long_video_with_a_long_separate_audio_file_keeps_every_child_apart(make_sample) -> None:
    """A talk filmed for 6 s with its own 6.5 s recording beside it (paired by stem or by clock),
    both past window_over_s: audio.decode cuts the recording, then video.decode cuts the video,
    under the same parent. Every child keeps its own id and the parent counts them all."""
    from core.ops.cleaned.audio_decode import AudioDecode
    from core.synth import encoded_audio, tone

    s = make_sample(video=video_bytes(seconds=6.0, fps=4, size=(64, 48)), audio=encoded_audio(tone(6.5, rate=16_000), 16_000))
    ctx = OpContext(batch="b1", workers=1)
    out = VideoDecode(window_over_s=3.0, window_s=2.0).apply(AudioDecode(window_over_s=3.0, window_s=2.0).apply([s], ctx), ctx)
    assert all(isinstance(r, Sample) for r in out)
    parent, *children = out
    ids = [c.sample_id for c in children]
    assert len(set(ids)) == len(ids) == 4 + 3 and parent.sample_id not in ids
    assert parent.metrics["windows"] == 7.0
    assert sorted(c.aug_op for c in children) == ["audio.window"] * 4 + ["video.window"] * 3


def test_a_short_video_whose_separate_audio_file_was_cut_goes_on_as_one_clip(make_sample) -> None:
    """The parent of the recording's windows ends at cleaned: the pictures would stop there
    with it, so they become one clip of the whole video."""
    from core.ops.cleaned.audio_decode import AudioDecode
    from core.synth import encoded_audio, tone

    s = make_sample(video=video_bytes(seconds=2.0, fps=4, size=(64, 48)), audio=encoded_audio(tone(6.5, rate=16_000), 16_000))
    ctx = OpContext(batch="b1", workers=1)
    parent, *children = VideoDecode(window_over_s=3.0, window_s=2.0).apply(AudioDecode(window_over_s=3.0, window_s=2.0).apply([s], ctx), ctx)
    (clip,) = [c for c in children if c.aug_op == "video.window"]
    assert parent.metrics["windows"] == 5.0 and "video" not in parent.media
    assert clip.sample_id == window_id(s.sample_id, "video", 0) and len(clip.keyframes) == 2
    assert clip.metrics["window_end_s"] == pytest.approx(2.0, abs=0.3) and read_audio(clip.media["audio"]).duration == pytest.approx(2.0, abs=0.1)
