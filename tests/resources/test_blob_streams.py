"""Large audio and video reach their decoders as streams over the lake, never as bytes in memory,
and decode exactly as the same bytes would; a stage row written from a stream keeps its reference."""

from __future__ import annotations

import pickle

import pytest

from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.audio_decode import AudioDecode
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Sample, sha256_hex
from tessera.core.schema import samples_to_arrow
from tessera.core.synth import encoded_audio, tone, video_bytes
from tessera.resources.store import BlobStream, Lake


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, list[Sample]]:
    """A lake holding a 3 s video with sound and subtitles, a 2 s FLAC and a tiny caption image."""
    lake = Lake(str(tmp_path_factory.mktemp("streams") / "lake"))
    media = {"video": video_bytes(seconds=3.0, cues=[(0.5, 1.5, "a cue")]), "audio": encoded_audio(tone(2.0), 22_050), "image": b"tiny"}
    payload = {sha256_hex(b): b for b in media.values()}
    lake.commit_appends("blobs", lake.write_blobs(payload, "b1"))
    samples = [
        Sample(sample_id=f"id-{m}", batch="b1", source=f'["{m}"]', modalities=[m], media_ref={m: sha256_hex(b)}, formats={m: "raw"})
        for m, b in media.items()
    ]
    return lake, samples


def test_large_audio_and_video_are_handed_over_as_streams(stored: tuple[Lake, list[Sample]]) -> None:
    lake, samples = stored
    streamed = {s.modalities[0]: s.media[s.modalities[0]] for s in lake.hydrate(samples, ("video", "audio", "image"), stream_over=1)}
    assert isinstance(streamed["video"], BlobStream) and isinstance(streamed["audio"], BlobStream)
    assert streamed["image"] == b"tiny"  # images are always loaded: Pillow needs all of them anyway
    loaded = {s.modalities[0]: s.media[s.modalities[0]] for s in lake.hydrate(samples, ("video", "audio", "image"))}
    assert all(isinstance(v, bytes) for v in loaded.values())
    assert pickle.loads(pickle.dumps(streamed["video"])).open().read() == loaded["video"]  # a child can open it itself


def test_a_streamed_video_and_audio_decode_as_their_bytes_do(stored: tuple[Lake, list[Sample]]) -> None:
    lake, samples = stored
    ctx = OpContext(batch="b1", workers=1)
    for hydrated in (lake.hydrate(samples, ("video", "audio"), stream_over=1), lake.hydrate(samples, ("video", "audio"))):
        video, audio = (next(s for s in hydrated if m in s.modalities) for m in ("video", "audio"))
        (v,) = VideoDecode().apply([video], ctx)  # in an isolated decoder child
        (a,) = AudioDecode().apply([audio], ctx)
        if isinstance(video.media["video"], BlobStream):
            streamed = (v, a)
        else:
            from_bytes = (v, a)
    for got, want in zip(streamed, from_bytes, strict=True):
        assert isinstance(got, Sample) and got.metrics == want.metrics and got.keyframes == want.keyframes
        assert got.media.get("audio") == want.media.get("audio") and got.segments == want.segments


def test_a_row_written_from_a_stream_keeps_its_reference_and_size(stored: tuple[Lake, list[Sample]]) -> None:
    lake, samples = stored
    (video,) = [s for s in lake.hydrate(samples, ("video",), stream_over=1) if "video" in s.modalities]
    rows, payload = samples_to_arrow([video], run_id="r", code_version="c", input_version=1, stage="cleaned", hydrated=("video",))
    ref = video.media_ref["video"]
    assert rows["media_video"].to_pylist() == [ref] and ref not in payload  # stored already: nothing rewritten
    assert rows["media_bytes"].to_pylist() == [video.media["video"].size]
