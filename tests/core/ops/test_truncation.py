"""Files cut short: what decodes is kept from `min_recovered_share` of the declared length (with
`recovered_share` on the row), less is TRUNCATED naming where the file ends; never a silent landing."""

import io

import pytest

from tessera.core.decode.structure import cut_short
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.audio_decode import AudioDecode
from tessera.core.ops.cleaned.video_decode import VideoDecode
from tessera.core.records import Quarantined, Reason, Sample
from tests.adversarial.corpus import flac_bytes, mp4_bytes, mp4_layout, tone, wav_bytes, wav_declaring_seconds, zero_timescale


def _audio(data: bytes, **kw: float) -> Sample | Quarantined:
    (out,) = AudioDecode(**kw).apply([Sample(sample_id="a", batch="b", source="x.wav", modalities=["audio"], media={"audio": data})])
    return out


def _video(data: bytes, **kw: float) -> Sample | Quarantined:
    s = Sample(sample_id="v", batch="b", source="x.mp4", modalities=["video"], media={"video": data})
    (out,) = VideoDecode(**kw).apply([s], OpContext(batch="b"))
    return out


def _cut(data: bytes, share: float) -> bytes:
    return data[: int(len(data) * share)]


def test_a_wav_cut_at_90_percent_keeps_what_it_holds_and_says_so() -> None:
    out = _audio(_cut(wav_bytes(tone(1.0, 16_000), 16_000), 0.9))
    assert isinstance(out, Sample)
    assert out.metrics["duration_s"] == pytest.approx(0.9, abs=0.01)
    assert out.metrics["recovered_share"] == pytest.approx(0.9, abs=0.01)


def test_a_whole_file_carries_no_recovered_share() -> None:
    assert "recovered_share" not in _audio(wav_bytes(tone(1.0, 16_000), 16_000)).metrics
    assert "recovered_share" not in _audio(flac_bytes(tone(1.0, 16_000), 16_000)).metrics


@pytest.mark.parametrize("share", [0.1, 0.45])
def test_a_wav_cut_below_the_recovery_share_is_truncated_where_it_ends(share: float) -> None:
    out = _audio(_cut(wav_bytes(tone(1.0, 16_000), 16_000), share))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED
    assert "'data' chunk" in out.detail


def test_a_header_promising_ten_hours_over_one_second_is_truncated_not_allocated() -> None:
    out = _audio(wav_declaring_seconds(36_000, tone(1.0, 16_000), 16_000))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED


def test_recovery_can_be_refused() -> None:
    out = _audio(_cut(wav_bytes(tone(1.0, 16_000), 16_000), 0.9), min_recovered_share=1.0)
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED


def test_a_flac_cut_short_is_judged_against_its_streaminfo_length() -> None:
    flac = flac_bytes(tone(2.0, 16_000), 16_000)
    kept = _audio(_cut(flac, 0.9))
    assert isinstance(kept, Sample) and 0.5 <= kept.metrics["recovered_share"] < 1.0
    for share in (0.1, 0.4):
        out = _audio(_cut(flac, share))
        assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED


def test_an_mp4_cut_before_its_index_is_truncated_not_corrupt() -> None:
    out = _video(_cut(mp4_bytes(1.0), 0.9))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED
    assert "'moov' box" in out.detail


def test_a_faststart_mp4_keeps_the_frames_before_the_cut() -> None:
    whole = mp4_layout("faststart", frames=10, gop=10)
    kept = _video(_cut(whole, 0.9))
    assert isinstance(kept, Sample) and kept.metrics["video_recovered_share"] == pytest.approx(0.8)
    out = _video(_cut(whole, 0.5))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED


def test_a_cut_fragmented_mp4_is_truncated_its_whole_length_unknown() -> None:
    out = _video(_cut(mp4_layout("frag_keyframe+empty_moov"), 0.5))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED and "unknown" in out.detail


def test_an_index_that_lists_frames_that_never_decode_is_corrupt() -> None:
    out = _video(zero_timescale(mp4_bytes(1.0, audio=False, size=(48, 48))))
    assert isinstance(out, Quarantined) and out.reason is Reason.CORRUPT


def test_structure_reads_only_headers_and_accepts_streaming_sizes() -> None:
    wav = bytearray(wav_bytes(tone(0.5, 16_000), 16_000))
    assert cut_short(io.BytesIO(bytes(wav))) is None
    data_at = wav.index(b"data")
    wav[data_at + 4 : data_at + 8] = b"\xff\xff\xff\xff"  # a recorder that never wrote the size
    assert cut_short(io.BytesIO(bytes(wav))) is None
    assert cut_short(io.BytesIO(b"not a container at all")) is None


def test_a_cut_in_metadata_after_the_media_loses_nothing() -> None:
    """A WAV whose trailing LIST chunk is cut, and a fragmented MP4 whose closing index (mfra) is
    cut, still hold every sample: they land whole."""
    wav = wav_bytes(tone(1.0, 16_000), 16_000)
    info = b"INFO" + b"INAM" + (200).to_bytes(4, "little") + bytes(200)
    listed = wav + b"LIST" + len(info).to_bytes(4, "little") + info
    listed = listed[:4] + (len(listed) - 8).to_bytes(4, "little") + listed[8:]
    out = _audio(listed[:-100])
    assert isinstance(out, Sample) and "recovered_share" not in out.metrics and out.metrics["duration_s"] == pytest.approx(1.0)
    fragmented = mp4_layout("frag_keyframe+empty_moov")
    assert b"mfra" in fragmented[-300:]  # its last box: the random-access index, 238 bytes
    kept = _video(fragmented[:-20])
    assert isinstance(kept, Sample) and kept.metrics["video_frames"] == 20
