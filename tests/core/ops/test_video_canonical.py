"""video.canonical: keyframes at a fixed rate, the audio track as 16 kHz FLAC, embedded subtitle cues."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
import soundfile
from PIL import Image

from tessera.core.decode.video import frame_array
from tessera.core.ops.base import OpContext
from tessera.core.ops.unified.video_canonical import VideoCanonical
from tessera.core.records import Quarantined, Reason, Sample


def _canon(rows: list[Sample], **params: object):
    return VideoCanonical(**params).apply(rows, OpContext(batch="b1", workers=2))


def test_keyframes_audio_and_cues(make_sample, mp4_with_subs) -> None:
    (out,) = _canon([make_sample(video=mp4_with_subs)], keyframe_fps=2.0, max_side=32)
    assert isinstance(out, Sample)
    # 2 s at 2 keyframes per second
    assert len(out.keyframes) == 4 and out.metrics["keyframes"] == 4.0
    assert out.keyframe_times == [0.0, 0.5, 1.0, 1.5]
    for jpeg in out.keyframes:
        im = Image.open(io.BytesIO(jpeg))
        assert im.format == "JPEG" and max(im.size) <= 32
    # the audio track, canonical
    assert out.modalities == ["audio", "video"]
    assert out.formats["audio"] == "flac:16k-mono"
    info = soundfile.info(io.BytesIO(out.media["audio"]))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 16000, 1)
    assert info.frames / 16000 == pytest.approx(2.0, abs=0.1)
    # the mov_text cues, timed
    assert [(g.start, g.end, g.text) for g in out.segments] == [(0.2, 0.9, "Hello there"), (1.1, 1.8, "Second cue")]
    assert all(g.source.startswith("subtitle:mov_text") for g in out.segments)
    assert out.metrics["embedded_cues"] == 2.0


def test_first_keyframe_shows_the_first_frame(make_sample, mp4_with_subs) -> None:
    (out,) = _canon([make_sample(video=mp4_with_subs)], keyframe_fps=1.0, max_side=64)
    assert len(out.keyframes) == 2
    source = Image.fromarray(skimage.data.astronaut()).resize((128, 48), Image.Resampling.LANCZOS)
    first = np.asarray(source)[:, :64].astype(np.float64)
    assert np.abs(frame_array(out.keyframes[0]).astype(np.float64) - first).mean() < 20


def test_video_without_audio_gains_no_audio(make_sample, mk_mp4) -> None:
    (out,) = _canon([make_sample(video=mk_mp4(1.0, audio=False))])
    assert out.modalities == ["video"] and "audio" not in out.media
    assert out.segments == [] and out.metrics["embedded_cues"] == 0.0


def test_sidecar_audio_is_kept_over_the_embedded_track(make_sample, mp4_with_subs, tone_wav) -> None:
    (out,) = _canon([make_sample(video=mp4_with_subs, audio=tone_wav)])
    assert out.media["audio"] == tone_wav


def test_bad_videos_are_quarantined_and_others_untouched(make_sample, audio_only_mp4, random_bytes, astronaut_png) -> None:
    rows = [make_sample(video=audio_only_mp4), make_sample(video=random_bytes), make_sample(image=astronaut_png)]
    out = _canon(rows)
    assert isinstance(out[0], Quarantined) and out[0].reason is Reason.NO_STREAM
    assert isinstance(out[1], Quarantined) and out[1].reason is Reason.CORRUPT
    assert out[2] == rows[2]
