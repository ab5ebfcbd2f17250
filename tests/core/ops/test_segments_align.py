"""segments.align: cues sorted and clipped to the media; cues wholly outside dropped; none left → MISALIGNED."""

from __future__ import annotations

from tessera.core.ops.aligned.segments_align import SegmentsAlign
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Quarantined, Reason, Sample, Segment
from tessera.core.runner import run_ops


def _cue(start: float, end: float, text: str) -> Segment:
    return Segment(start, end, text, "subtitle:file:srt")


def _align(s: Sample, **params: object):
    (out,) = SegmentsAlign(**params).apply([s], None)
    return out


def test_cues_sorted_clipped_and_outsiders_dropped(make_sample, tone_wav) -> None:
    s = (
        make_sample(audio=tone_wav)
        .with_metrics(duration_s=2.0)
        .evolve(
            segments=[
                _cue(1.5, 3.0, "runs past the end"),
                _cue(0.5, 1.0, "inside"),
                _cue(5.0, 6.0, "after the end"),
                _cue(-1.0, -0.5, "before the start"),
                _cue(1.2, 1.0, "ends before it starts"),
            ]
        )
    )
    out = _align(s)
    assert isinstance(out, Sample)
    assert out.segments == [_cue(0.5, 1.0, "inside"), _cue(1.5, 2.0, "runs past the end")]
    assert out.metrics["cues"] == 2.0 and out.metrics["cues_dropped"] == 3.0


def test_video_duration_wins_over_audio_duration(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav).with_metrics(duration_s=10.0, video_duration_s=2.0).evolve(segments=[_cue(1.0, 8.0, "long")])
    assert _align(s).segments == [_cue(1.0, 2.0, "long")]


def test_every_cue_outside_is_misaligned(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav).with_metrics(duration_s=2.0).evolve(segments=[_cue(10.0, 11.0, "a"), _cue(12.0, 13.0, "b")])
    out = _align(s)
    assert isinstance(out, Quarantined) and out.reason is Reason.MISALIGNED
    assert "2 cues" in out.detail and "2.00 s" in out.detail


def test_rows_without_cues_or_duration_pass_through(make_sample, tone_wav, astronaut_png) -> None:
    no_cues = make_sample(audio=tone_wav).with_metrics(duration_s=2.0)
    no_duration = make_sample(image=astronaut_png).evolve(segments=[_cue(0.0, 1.0, "x")])
    assert SegmentsAlign().apply([no_cues, no_duration], None) == [no_cues, no_duration]


def test_keyframes_with_cue_counts_frames_shown_during_a_cue(make_sample, mp4_with_subs) -> None:
    ops = [VideoDecode(keyframe_fps=2.0, max_side=32), SegmentsAlign()]
    result = run_ops(ops, [make_sample(video=mp4_with_subs)], OpContext(batch="b1"))
    (out,) = result.landed
    assert out.keyframe_times == [0.0, 0.5, 1.0, 1.5]
    assert [g.text for g in out.segments] == ["Hello there", "Second cue"]
    assert out.metrics["cues"] == 2.0 and out.metrics["cues_dropped"] == 0.0
    assert out.metrics["keyframes_with_cue"] == 2.0  # 0.5 s and 1.5 s fall inside a cue


def test_cue_starting_just_after_the_end_is_clipped_into_the_media(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav).with_metrics(duration_s=2.0).evolve(segments=[_cue(0.0, 1.0, "a"), _cue(2.3, 2.8, "b")])
    out = _align(s)
    for g in out.segments:
        assert 0.0 <= g.start <= g.end <= 2.0
