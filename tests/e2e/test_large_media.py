"""A drop whose audio and video are over `execution.stream_bytes` runs through Dagster with every
large file read from the lake as a stream, and lands exactly what decoding its bytes gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import AssetCheckKey, AssetKey

from tessera.core.decode.audio import CANONICAL_RATE, decode_audio, encode_audio
from tessera.core.decode.video import VideoLimits, decode_video
from tessera.core.records import sha256_hex
from tessera.core.synth import encoded_audio, tone, video_bytes
from tessera.orchestration.cli import ingest, materialize
from tessera.orchestration.instance import get_instance
from tessera.resources.lake import LakeResource
from tessera.resources.params import DEFAULT_PARAMS

pytestmark = pytest.mark.slow


def test_large_media_stream_through_the_stages_and_land_as_their_bytes_decode(tessera_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = yaml.safe_load(DEFAULT_PARAMS.read_text())
    params["execution"]["stream_bytes"] = 1  # every audio and video file counts as large
    (tessera_home / "params.yaml").parent.mkdir(parents=True, exist_ok=True)
    (tessera_home / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("TESSERA_PARAMS", str(tessera_home / "params.yaml"))
    drop = tessera_home / "drop"
    drop.mkdir()
    video, audio = video_bytes(seconds=3.0, cues=[(0.5, 1.5, "a cue")]), encoded_audio(tone(2.0), 22_050)
    (drop / "scene.mp4").write_bytes(video)
    (drop / "music.flac").write_bytes(audio)
    ingest(str(drop), "big")
    assert materialize("big", ["raw", "cleaned", "unified"], quiet=True)["success"]

    lake = LakeResource()
    rows = {r["raw_sha256_video"] or r["raw_sha256_audio"]: r for r in lake.dataset("unified").to_table(filter="status = 'landed'").to_pylist()}
    assert set(rows) == {sha256_hex(video), sha256_hex(audio)}
    _, parts = decode_video(video, VideoLimits(600, 1 << 40, 1 << 40), keyframe_fps=1.0, max_side=384)
    scene = rows[sha256_hex(video)]
    assert lake.media_of(scene, "keyframes") == parts.keyframes and [g["text"] for g in scene["segments"]] == ["a cue"]
    assert lake.media_of(scene, "audio") == parts.audio
    assert lake.media_of(rows[sha256_hex(audio)], "audio") == encode_audio(decode_audio(audio, max_seconds=600, rate=CANONICAL_RATE).samples)


def test_a_long_recording_reaches_samples_as_windows_and_its_parent_ends_at_cleaned(tessera_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = yaml.safe_load(DEFAULT_PARAMS.read_text())
    decode = next(spec for spec in params["cleaned"]["ops"] if isinstance(spec, dict) and "audio.decode" in spec)
    decode["audio.decode"].update(window_over_s=20.0, window_s=10.0)
    video = next(spec for spec in params["cleaned"]["ops"] if isinstance(spec, dict) and "video.decode" in spec)
    video["video.decode"].update(window_over_s=20.0, window_s=15.0)
    (tessera_home / "params.yaml").parent.mkdir(parents=True, exist_ok=True)
    (tessera_home / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("TESSERA_PARAMS", str(tessera_home / "params.yaml"))
    drop = tessera_home / "drop"
    drop.mkdir()
    (drop / "lecture.flac").write_bytes(encoded_audio(tone(35.0, rate=16_000), 16_000))
    (drop / "lecture.srt").write_text("1\n00:00:12,000 --> 00:00:14,000\nhalf way in\n")
    (drop / "walk.mp4").write_bytes(video_bytes(seconds=40.0, fps=2, size=(64, 48), cues=[(16.0, 17.0, "second clip")]))
    ingest(str(drop), "long")
    assert materialize("long", quiet=True)["success"]

    lake = LakeResource()
    (parent,) = lake.dataset("cleaned").to_table(filter="parent_id IS NULL AND raw_sha256_audio IS NOT NULL").to_pylist()
    assert (parent["status"], parent["metrics"]["windows"]) == ("landed", 4.0)  # 10 + 10 + 10 + 5 s
    samples = lake.dataset("samples").to_table(filter="status = 'landed' AND aug_op = 'audio.window'").to_pylist()
    assert sorted(r["metrics"]["window_start_s"] for r in samples) == [0.0, 10.0, 20.0, 30.0]
    assert all(r["parent_id"] == parent["sample_id"] for r in samples)
    second = next(r for r in samples if r["metrics"]["window_start_s"] == 10.0)
    assert [(g["start"], g["end"], g["text"]) for g in second["segments"]] == [(2.0, 4.0, "half way in")]
    assert lake.dataset("samples").count_rows(f"sample_id = '{parent['sample_id']}'") == 0
    clips = lake.dataset("samples").to_table(filter="status = 'landed' AND aug_op = 'video.window'").to_pylist()
    assert sorted(r["metrics"]["window_start_s"] for r in clips) == [0.0, 15.0, 30.0]
    middle = next(r for r in clips if r["metrics"]["window_start_s"] == 15.0)
    assert [(g["start"], g["text"]) for g in middle["segments"]] == [(1.0, "second clip")] and middle["keyframes"]
    for stage in ("cleaned", "unified", "aligned", "augmented", "embedded"):  # every stage accounts for its inputs
        record = get_instance().get_latest_asset_check_evaluation_record(AssetCheckKey(AssetKey(stage), "accounted_for"))
        assert record.event.asset_check_evaluation.passed, stage
