"""Time-overlap pairing, the funnel's last step (core/capture.py, core/pairing.py): files that no
manifest row or stem paired join when their recordings overlap, with the guest's start kept."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tessera.core.capture import Capture, capture_of, parse_time
from tessera.core.decode.audio import CANONICAL_AUDIO, encode_audio, read_audio
from tessera.core.discover import plan, resolve, split_source
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.pairing import TimePairing, funnel, loners, pair_by_time, worth_reading
from tessera.core.records import compute_sample_id
from tessera.core.synth import encoded_audio, tone, video_bytes
from tessera.resources.landing import LocalLanding
from tests.adversarial.corpus import mux_audio, mux_moving
from tests.core.conftest import build_sample

T0 = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC).timestamp()


def photo_taken(at: str, offset: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: at, **({0x9011: offset} if offset else {})}
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_clocks_are_read_from_headers() -> None:
    video = capture_of(io.BytesIO(video_bytes(2.0, with_audio=False, recorded_at="2026-05-01T10:00:00Z")), "video")
    assert video is not None and video.start == T0 and abs(video.duration - 2.0) < 0.2
    wav = encoded_audio(tone(3.0, rate=16_000), 16_000, "wav", recorded_at="2026-05-01T12:00:02")
    recorder = capture_of(io.BytesIO(wav), "audio", naive_utc_offset_h=2.0)  # a recorder on UTC+2 local time
    assert recorder is not None and recorder.start == T0 + 2 and abs(recorder.duration - 3.0) < 0.01
    photo = capture_of(io.BytesIO(photo_taken("2026:05:01 12:00:05", "+02:00")), "image", naive_utc_offset_h=-7.0)
    assert photo == Capture(T0 + 5, 0.0)  # a stated zone wins over the naive default


def test_files_without_a_clock_or_unreadable_have_no_capture() -> None:
    assert capture_of(io.BytesIO(video_bytes(1.0)), "video") is None
    assert capture_of(io.BytesIO(photo_taken("0000:00:00 00:00:00")), "image") is None
    assert capture_of(io.BytesIO(np.random.default_rng(1).bytes(4096)), "audio") is None
    assert parse_time("2026") is None and parse_time("2026-05-01 10:00:00.250") == T0 + 0.25


def test_overlapping_loners_join_their_host_and_the_rest_stay_alone() -> None:
    names = ["cam/take1.mp4", "rec/zoom_0001.wav", "rec/zoom_0002.wav", "phone/img_7.jpg", "phone/img_8.jpg", "a/b.mp4", "a/b.txt", "cam/take2.mp4"]
    groups = plan(names, "b1").groups
    candidates = loners(groups)
    assert "a/b.mp4" not in candidates and "a/b.txt" not in candidates  # paired by stem already: not a loner
    assert worth_reading(candidates)
    captures = {
        "cam/take1.mp4": ("video", Capture(T0, 10.0)),
        "rec/zoom_0001.wav": ("audio", Capture(T0 + 2, 8.0)),  # inside take1: joins it
        "phone/img_7.jpg": ("image", Capture(T0 + 5, 0.0)),  # during take1, but a video takes no photograph, and zoom_0001 is a guest
        "rec/zoom_0002.wav": ("audio", Capture(T0 + 3600, 5.0)),
        "phone/img_8.jpg": ("image", Capture(T0 + 3602.5, 0.0)),  # during zoom_0002: joins it
        "cam/take2.mp4": ("video", Capture(T0 + 3599, 1.2)),  # covers 0.2 s of zoom_0002's 5: under half of the shorter
    }
    paired = pair_by_time(groups, captures, TimePairing(min_overlap=0.5))
    by_key = {g.key: g for g in paired}
    assert by_key["cam/take1"].names == ["cam/take1.mp4", "rec/zoom_0001.wav"] and by_key["cam/take1"].starts == {"rec/zoom_0001.wav": 2.0}
    assert by_key["rec/zoom_0002"].names == ["rec/zoom_0002.wav", "phone/img_8.jpg"] and by_key["rec/zoom_0002"].starts == {"phone/img_8.jpg": 2.5}
    assert by_key["phone/img_7"].names == ["phone/img_7.jpg"] and by_key["cam/take2"].names == ["cam/take2.mp4"]
    assert Counter(n for g in paired for n in g.names) == Counter(names)  # every file in exactly one group
    assert funnel(paired) == {"manifest": 0, "stem": 1, "time": 2, "alone": 2}
    assert pair_by_time(list(reversed(groups)), dict(reversed(captures.items())), TimePairing())[::-1] == paired  # order-free


def test_a_host_takes_the_best_fitting_guest_and_one_of_each_modality() -> None:
    groups = plan(["v.mp4", "early.wav", "late.wav"], "b1").groups
    captures = {"v.mp4": ("video", Capture(T0, 10.0)), "early.wav": ("audio", Capture(T0 - 4, 10.0)), "late.wav": ("audio", Capture(T0 + 1, 10.0))}
    paired = {g.key: g.names for g in pair_by_time(groups, captures, TimePairing())}
    assert paired == {"v": ["v.mp4", "late.wav"], "early": ["early.wav"]}


def test_a_time_paired_drop_lands_one_sample_with_the_guest_start(tmp_path: Path) -> None:
    (tmp_path / "cam").mkdir()
    (tmp_path / "rec").mkdir()
    clip = video_bytes(3.0, with_audio=False, recorded_at="2026-05-01T10:00:00Z")
    wav = encoded_audio(tone(4.0, rate=16_000), 16_000, "wav", recorded_at="2026-05-01T09:59:59")  # started a second early, clock on UTC
    (tmp_path / "cam/take.mp4").write_bytes(clip)
    (tmp_path / "rec/r1.wav").write_bytes(wav)
    landing = LocalLanding(tmp_path)
    groups = plan(landing.list(), "b1").groups
    captures = {}
    for name, modality in loners(groups).items():
        with landing.open(name) as fh:
            captures[name] = (modality, capture_of(fh, modality))
    (group,) = pair_by_time(groups, captures, TimePairing())
    found = resolve(landing, "b1", group)
    (sample,) = found.samples
    assert sorted(split_source(sample.source)) == ["cam/take.mp4", "rec/r1.wav"] and not found.quarantined
    assert sample.modalities == ["audio", "video"] and sample.sample_id == compute_sample_id({"video": clip, "audio": wav})
    assert sample.metrics == {"paired_audio_start_s": -1.0}
    assert sample.flags == ["raw.pair:time(audio from rec/r1.wav starts at -1.00 s)"]


def scene_video(seconds: float = 12.0, rate: int = 16_000, seed: int = 3) -> tuple[bytes, np.ndarray]:
    """An MP4 (10 fps) whose own track is a scene of noise bursts at irregular times, which no
    shift but the true one lines up with; and the scene, for a recorder to hear."""
    rng = np.random.default_rng(seed)
    scene = np.zeros(int(seconds * rate), np.float32)
    for at in np.sort(rng.uniform(0, seconds - 0.5, int(seconds * 5 / 3))):
        k = int(at * rate)
        scene[k : k + int(0.15 * rate)] += rng.normal(0, rng.uniform(0.05, 0.3), int(0.15 * rate)).astype(np.float32)[: len(scene) - k]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=rate, layout="mono")
        mux_moving(c, v, int(seconds * 10))
        mux_audio(c, a, scene, rate)
    return buf.getvalue(), scene


def test_a_recorder_is_synced_to_the_cameras_own_track_past_its_clock() -> None:
    """Clocks tick in whole seconds: the recorder's start is refined against the camera's track."""
    rate, true_start = 16_000, 1.37
    video, scene = scene_video(12.0, rate, seed=3)
    rng = np.random.default_rng(4)
    recorder = 0.4 * scene[int(true_start * rate) :] + rng.normal(0, 0.003, len(scene) - int(true_start * rate)).astype(np.float32)
    s = build_sample(video=video, audio=encode_audio(recorder.astype(np.float32)), formats={"video": "mp4", "audio": CANONICAL_AUDIO})
    s = s.with_metrics(paired_audio_start_s=1.0)  # what the clocks said
    (out,) = VideoDecode(timeout_s=60).apply([s], OpContext(batch="b1"))
    assert out.metrics["paired_audio_start_s"] == pytest.approx(true_start, abs=0.02) and out.metrics["paired_audio_sync_score"] > 0.5
    assert read_audio(out.media["audio"]).duration == pytest.approx(len(recorder) / rate)  # the recorder's track, not the camera's
