"""The sound against the pictures: video.decode measures how far a video's sound runs from what
happens on screen (flashes heard as clicks), video.av_sync sets a confident large offset aside."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from tessera.core.avsync import best_lag, offset
from tessera.core.ops.aligned.video_av_sync import VideoAvSync
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Quarantined, Reason, Sample
from tests.adversarial.corpus import mux_audio

# (start, seconds lit): irregular starts and lengths, so that only the starts line up at one lag
# (a flash ending is a picture change too, with no sound of its own)
FLASHES = [(0.8, 0.3), (2.1, 0.6), (3.3, 0.4), (4.6, 0.9), (6.0, 0.3), (7.4, 0.5), (8.5, 1.0), (9.9, 0.3), (11.2, 0.7)]


def flashes_and_clicks(sound_late_s: float, seconds: float = 13.0, fps: int = 10, rate: int = 16_000) -> bytes:
    """A dark 64×48 video lit white at each of FLASHES, its track a 0.15 s noise burst at each
    flash's start + `sound_late_s`."""
    buf = io.BytesIO()
    rng = np.random.default_rng(5)
    with av.open(buf, "w", format="mp4") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=rate, layout="mono")
        for i in range(int(seconds * fps)):
            lit = any(t <= i / fps < t + d for t, d in FLASHES)
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 230 if lit else 20, np.uint8), format="rgb24")
            frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = 0.002 * rng.standard_normal(int(seconds * rate))
        for t, _ in FLASHES:
            k = int((t + sound_late_s) * rate)
            x[k : k + 2400] += 0.5 * rng.standard_normal(len(x[k : k + 2400]))
        mux_audio(c, a, x, rate)
    return buf.getvalue()


def _decoded(data: bytes) -> Sample:
    s = Sample(sample_id="v", batch="b", source="clap.mp4", modalities=["video"], media={"video": data})
    (out,) = VideoDecode().apply([s], OpContext(batch="b"))
    assert isinstance(out, Sample), out
    return out


@pytest.mark.parametrize("late", [0.0, 0.8, -0.6])
def test_the_offset_between_what_is_seen_and_heard_is_measured(late: float) -> None:
    m = _decoded(flashes_and_clicks(late)).metrics
    assert m["video_av_offset_s"] == pytest.approx(late, abs=0.12)  # the grid is 0.2 s (analysis_fps 5), refined between steps
    assert m["video_av_offset_score"] > 0.6


def test_a_confident_offset_over_the_limit_is_misaligned_a_small_one_lands() -> None:
    late, in_step = _decoded(flashes_and_clicks(0.8)), _decoded(flashes_and_clicks(0.0))
    (out,) = VideoAvSync(max_offset_s=0.5).apply([late], None)
    assert isinstance(out, Quarantined) and out.reason is Reason.MISALIGNED and "sound runs 0.8" in out.detail and "late" in out.detail
    assert VideoAvSync(max_offset_s=0.5).apply([in_step], None) == [in_step]


def test_nothing_in_common_is_not_judged() -> None:
    """Unrelated series score low; a picture that never changes gives no estimate at all."""
    rng = np.random.default_rng(1)
    lag, score, _ = best_lag(rng.random(200), rng.random(200), 10)
    assert score < 0.3
    assert offset(np.zeros(100, np.float32), rng.random(100).astype(np.float32), 5.0, 2.0) is None
    weak = Sample(sample_id="w", batch="b", source="w.mp4", modalities=["video"], metrics={"video_av_offset_s": 1.5, "video_av_offset_score": 0.2})
    assert VideoAvSync().apply([weak], None) == [weak]


def test_each_clip_of_a_long_video_carries_its_own_offset() -> None:
    """Windowed, the offset is measured per clip (sound and pictures of that stretch), so a clip
    that drifts is judged on its own."""
    s = Sample(sample_id="v", batch="b", source="long.mp4", modalities=["video"], media={"video": flashes_and_clicks(0.8)})
    parent, *clips = VideoDecode(window_over_s=5.0, window_s=6.5).apply([s], OpContext(batch="b"))
    assert parent.metrics["windows"] == 2 and "video_av_offset_s" not in parent.metrics
    for clip in clips:
        assert clip.metrics["video_av_offset_s"] == pytest.approx(0.8, abs=0.12) and clip.metrics["video_av_offset_score"] > 0.5
    assert all(isinstance(out, Quarantined) for out in VideoAvSync().apply(clips, None))
