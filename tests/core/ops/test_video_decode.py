"""video.decode: every frame decoded under limits in a child process; stream metrics on the row."""

from __future__ import annotations

import io

import pytest

from tessera.core.decode.video import VideoLimits, decode_video
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Quarantined, Reason, Sample
from tessera.core.synth import video_bytes


def _decode(rows: list[Sample], workers: int = 1, **params: object):
    return VideoDecode(**params).apply(rows, OpContext(batch="b1", workers=workers))


def test_stream_metrics(make_sample, mp4_with_subs) -> None:
    (out,) = _decode([make_sample(video=mp4_with_subs)])
    assert isinstance(out, Sample)
    m = out.metrics
    assert (m["video_width"], m["video_height"]) == (64.0, 48.0)
    assert m["video_frames"] == 20.0 and m["video_fps"] == 10.0
    assert m["video_duration_s"] == pytest.approx(2.0, abs=0.1)
    assert m["video_audio_streams"] == 1.0 and m["video_subtitle_streams"] == 1.0


def test_bad_inputs_get_their_reasons_and_good_ones_land_in_order(
    make_sample, mp4_with_subs, audio_only_mp4, random_bytes, astronaut_png
) -> None:
    rows = [
        make_sample(video=audio_only_mp4),
        make_sample(video=random_bytes),
        make_sample(video=mp4_with_subs),
        make_sample(image=astronaut_png),
        make_sample(video=mp4_with_subs[: len(mp4_with_subs) // 2]),
    ]
    out = _decode(rows, workers=2)
    assert [r.sample_id for r in out] == [r.sample_id for r in rows]
    assert isinstance(out[0], Quarantined) and out[0].reason is Reason.NO_STREAM
    assert isinstance(out[1], Quarantined) and out[1].reason is Reason.CORRUPT
    assert isinstance(out[2], Sample) and out[2].metrics["video_frames"] == 20.0
    assert out[3] == rows[3]  # not a video: untouched
    assert isinstance(out[4], Quarantined) and out[4].reason in (Reason.CORRUPT, Reason.TRUNCATED)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"max_pixels": 64 * 48 - 1}, Reason.TOO_LARGE),
        ({"max_frames": 5}, Reason.TOO_LONG),
        ({"max_seconds": 0.5}, Reason.TOO_LONG),
    ],
)
def test_limits(make_sample, mp4_with_subs, params: dict, reason: Reason) -> None:
    (out,) = _decode([make_sample(video=mp4_with_subs)], **params)
    assert isinstance(out, Quarantined) and out.reason is reason


def test_one_decode_makes_the_canonical_parts_and_unified_keeps_them(make_sample, mp4_with_subs) -> None:
    from tessera.core.ops.unified.video_canonical import VideoCanonical

    (out,) = VideoDecode(keyframe_fps=2.0, max_side=32).apply([make_sample(video=mp4_with_subs)], OpContext(batch="b1"))
    assert out.keyframe_times == [0.0, 0.5, 1.0, 1.5] and out.metrics["video_frames"] > 0
    assert out.segments and out.formats["audio"] == "flac:16k-mono" and "audio" in out.modalities
    (again,) = VideoCanonical(keyframe_fps=2.0, max_side=32).apply([out], OpContext(batch="b1"))
    assert again is out  # already taken apart: not decoded a second time


class _CountedStored:
    """Stored media (as the lake hands a large video to its decoder) that counts the bytes read."""

    def __init__(self, data: bytes) -> None:
        self.data, self.sha256, self.size, self.read_bytes = data, "x" * 64, len(data), 0

    def open(self) -> io.BytesIO:
        outer = self

        class Counting(io.BytesIO):
            def read(self, n: int | None = -1) -> bytes:
                chunk = super().read(n)
                outer.read_bytes += len(chunk)
                return chunk

            def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
                got = super().readinto(b)
                outer.read_bytes += got
                return got

        return Counting(self.data)


@pytest.mark.parametrize("windowed", [False, True])
def test_a_video_file_is_read_once_for_frames_cues_and_sound(windowed: bool) -> None:
    stored = _CountedStored(video_bytes(8.0, cues=[(0.5, 1.5, "hello")]))
    metrics, parts = decode_video(stored, VideoLimits(600, 1 << 30, 1 << 20), keyframe_fps=1.0, max_side=64, window_over_s=4.0 if windowed else 1e9, window_s=3.0)
    assert (len(parts.audio_windows) == 3) if windowed else (parts.audio is not None)
    assert parts.segments and metrics["frames"] == 80
    assert stored.read_bytes < 1.5 * stored.size  # one demux for all three, plus headers (was 2.6×: the track had a pass of its own)
