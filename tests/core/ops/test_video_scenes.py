"""video.decode reads scenes and motion in its one pass: hard cuts found at their times with a
keyframe each, a still video has no motion, a variable frame rate is noticed, and the stream
inventory is on the row."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest

from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Sample


def _video(colours_at: list[tuple[float, tuple[int, int, int]]], seconds: float, fps: int = 10, times: list[float] | None = None) -> bytes:
    """An MP4 whose frames are solid colours (each from its start time on); `times` overrides the
    frame timestamps (a variable frame rate)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stamps = times if times is not None else [i / fps for i in range(int(seconds * fps))]
        for t in stamps:
            colour = [c for start, c in colours_at if start <= t + 1e-9][-1]
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), colour, np.uint8), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _decode(make_sample, data: bytes) -> Sample:
    (out,) = VideoDecode(keyframe_fps=0.5).apply([make_sample(video=data)], OpContext(batch="b1", workers=1))
    assert isinstance(out, Sample), out
    return out


def test_hard_cuts_are_found_at_their_times_with_a_keyframe_each(make_sample) -> None:
    data = _video([(0.0, (20, 20, 200)), (1.5, (230, 230, 30)), (3.2, (10, 160, 10))], seconds=4.0)
    out = _decode(make_sample, data)
    assert out.metrics["video_scene_cuts"] == 2.0
    cut_times = [t for t in out.keyframe_times if t not in (0.0, 2.0)]  # the fixed-rate ones are at 0 and 2 s
    assert [pytest.approx(t, abs=0.21) for t in cut_times] == [1.5, 3.2]
    assert out.metrics["video_motion"] > 0.0


def test_a_still_video_has_no_motion_and_no_cuts(make_sample) -> None:
    out = _decode(make_sample, _video([(0.0, (90, 90, 90))], seconds=3.0))
    assert out.metrics["video_motion"] == pytest.approx(0.0, abs=0.005) and out.metrics["video_scene_cuts"] == 0.0
    assert out.metrics["video_vfr"] == 0.0


def test_a_variable_frame_rate_is_noticed_and_keyframes_follow_time(make_sample) -> None:
    times = [0.0, 0.05, 0.1, 0.5, 0.55, 1.2, 1.25, 2.1, 2.15, 2.2, 3.0, 3.05]
    out = _decode(make_sample, _video([(0.0, (90, 90, 90))], seconds=3.1, times=times))
    assert out.metrics["video_vfr"] == 1.0
    assert out.keyframe_times == [0.0, 2.1]  # every 2 s by timestamp: the first frame at or after 2.0 s


def test_the_stream_inventory_is_on_the_row(make_sample, mp4_with_subs) -> None:
    m = _decode(make_sample, mp4_with_subs).metrics
    assert (m["video_audio_streams"], m["video_subtitle_streams"], m["video_data_streams"], m["video_attachments"], m["video_cover_streams"]) == (1.0, 1.0, 0.0, 0.0, 0.0)
