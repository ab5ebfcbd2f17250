"""timeline.build: keyframes, the audio heard with them and the cues showing, on one clock."""

from __future__ import annotations

from tessera.core.ops.aligned.timeline_build import TimelineBuild
from tessera.core.records import Moment, Sample, Segment


def _video(**metrics: float) -> Sample:
    return Sample(
        sample_id="v", batch="b", source="[]", modalities=["audio", "video", "subtitles"], keyframe_times=[0.0, 1.0, 2.0],
        segments=[Segment(0.5, 1.5, "hello", "subtitles"), Segment(2.1, 2.9, "heard", "whisper:tiny.en")],
        metrics={"duration_s": 2.8, "video_duration_s": 3.0, **metrics},
    )  # fmt: skip


def test_each_keyframe_gets_its_audio_window_and_cues() -> None:
    (out,) = TimelineBuild(window_s=1.0).apply([_video()], None)
    assert out.timeline == [
        Moment(0.0, 0, 0.0, 0.5, ()),
        Moment(1.0, 1, 0.5, 1.5, (0,)),
        Moment(2.0, 2, 1.5, 2.5, ()),  # the transcribed cue starts at 2.1 s of sound
    ]


def test_a_confident_av_offset_moves_the_sound_and_its_transcript() -> None:
    (late,) = TimelineBuild(window_s=1.0, min_av_score=0.5).apply([_video(video_av_offset_s=0.2, video_av_offset_score=0.8)], None)
    assert [(m.audio_start, m.audio_end, m.cues) for m in late.timeline] == [(0.0, 0.7, ()), (0.7, 1.7, (0,)), (1.7, 2.7, (1,))]
    (unsure,) = TimelineBuild(min_av_score=0.5).apply([_video(video_av_offset_s=0.2, video_av_offset_score=0.3)], None)
    assert unsure.timeline[1].audio_start == 0.5
    (placed,) = TimelineBuild().apply([_video(video_av_offset_s=0.2, video_av_offset_score=0.8, paired_audio_start_s=1.0)], None)
    assert placed.timeline[1].audio_start == 0.5  # a recorder's track was placed on the pictures' clock by audio.place


def test_a_photograph_taken_during_a_recording_is_one_moment() -> None:
    s = Sample(sample_id="a", batch="b", source="[]", modalities=["image", "audio"], metrics={"duration_s": 5.0, "paired_image_start_s": 4.8},
               segments=[Segment(4.0, 5.0, "cheese", "whisper:tiny.en")])  # fmt: skip
    (out,) = TimelineBuild().apply([s], None)
    assert out.timeline == [Moment(4.8, -1, 4.3, 5.0, (0,))]


def test_samples_with_nothing_timed_have_no_timeline() -> None:
    s = Sample(sample_id="t", batch="b", source="[]", modalities=["text"], text="x")
    assert TimelineBuild().apply([s], None) == [s]
