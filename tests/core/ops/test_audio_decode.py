"""audio.decode: full decode under a duration cap; duration, silence, clipping and loudness on the row."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tessera.core.ops.cleaned.audio_decode import AudioDecode
from tessera.core.records import Quarantined, Reason, Sample


def _decode(s: Sample, **params: object):
    (out,) = AudioDecode(**params).apply([s], None)
    return out


def test_tone_metrics(make_sample, tone_wav) -> None:
    out = _decode(make_sample(audio=tone_wav))
    assert isinstance(out, Sample)
    m = out.metrics
    assert m["duration_s"] == pytest.approx(1.0, abs=0.01)
    assert m["sample_rate"] == 22050.0 and m["channels"] == 2.0
    assert m["silence_ratio"] < 0.05
    assert m["clipping_ratio"] == 0.0


def test_loudness_of_a_mono_tone(make_sample, mk_wav, mk_tone) -> None:
    m = _decode(make_sample(audio=mk_wav(mk_tone(1.0, 16000, amp=0.3), 16000))).metrics
    assert m["loudness_dbfs"] == pytest.approx(20 * math.log10(0.3 / math.sqrt(2)), abs=0.2)
    assert m["channels"] == 1.0


def test_loud_but_clean_stereo_does_not_report_clipping(make_sample, mk_wav, mk_tone) -> None:
    x = mk_tone(1.0, 16000, amp=0.9)
    m = _decode(make_sample(audio=mk_wav(np.stack([x, x], axis=1), 16000))).metrics
    assert m["clipping_ratio"] == 0.0


def test_silence_metrics(make_sample, silence_wav) -> None:
    m = _decode(make_sample(audio=silence_wav)).metrics
    assert m["silence_ratio"] > 0.95
    assert m["loudness_dbfs"] < -100
    assert m["duration_s"] == pytest.approx(1.0, abs=0.01)


def test_half_silent_clip_is_about_half_silent(make_sample, mk_wav, mk_tone) -> None:
    x = np.concatenate([mk_tone(1.0, 16000), np.zeros(16000)])
    assert _decode(make_sample(audio=mk_wav(x, 16000))).metrics["silence_ratio"] == pytest.approx(0.5, abs=0.05)


def test_clipped_audio_reports_clipping(make_sample, mk_wav, mk_tone) -> None:
    loud = np.clip(mk_tone(1.0, 16000, amp=2.0), -1, 1)
    assert _decode(make_sample(audio=mk_wav(loud, 16000))).metrics["clipping_ratio"] > 0.3


def test_flac_decodes(make_sample, tone_flac) -> None:
    m = _decode(make_sample(audio=tone_flac)).metrics
    assert m["sample_rate"] == 16000.0 and m["duration_s"] == pytest.approx(1.0, abs=0.01)


def test_random_bytes_are_corrupt(make_sample, random_bytes) -> None:
    out = _decode(make_sample(audio=random_bytes))
    assert isinstance(out, Quarantined) and out.reason is Reason.CORRUPT


def test_flac_cut_mid_stream_is_truncated(make_sample, tone_flac) -> None:
    out = _decode(make_sample(audio=tone_flac[: int(len(tone_flac) * 0.7)]))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED


def test_longer_than_the_cap_is_too_long(make_sample, tone_wav) -> None:
    out = _decode(make_sample(audio=tone_wav), max_seconds=0.5)
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LONG


def test_container_without_audio_is_no_stream(make_sample, mk_mp4) -> None:
    out = _decode(make_sample(audio=mk_mp4(0.5, audio=False)))
    assert isinstance(out, Quarantined) and out.reason is Reason.NO_STREAM


def test_rows_without_audio_pass_through(make_sample, astronaut_png) -> None:
    s = make_sample(image=astronaut_png)
    assert _decode(s) == s


def test_a_header_with_a_handful_of_samples_is_empty(make_sample, mk_wav, mk_tone) -> None:
    out = _decode(make_sample(audio=mk_wav(mk_tone(0.001, 16000), 16000)))
    assert out.reason is Reason.EMPTY and "nothing to hear" in out.detail


def test_one_decode_makes_the_canonical_track_that_unified_keeps(make_sample, mk_wav, mk_tone) -> None:
    from tessera.core.decode.audio import read_audio
    from tessera.core.ops.unified.audio_canonical import AudioCanonical

    out = _decode(make_sample(audio=mk_wav(mk_tone(1.0, 44_100, 440.0), 44_100)))
    clip = read_audio(out.media["audio"])
    assert out.formats["audio"] == "flac:16k-mono" and clip.rate == 16_000 and abs(clip.duration - 1.0) < 0.01
    spectrum = np.abs(np.fft.rfft(clip.samples))
    assert abs(np.argmax(spectrum) * 16_000 / len(clip.samples) - 440) < 3  # the same tone, resampled
    assert out.metrics["sample_rate"] == 44_100  # metrics describe the source
    (again,) = AudioCanonical().apply([out], None)
    assert again is out  # already canonical: not decoded again


def test_integrated_loudness_follows_bs1770(make_sample, mk_wav, mk_tone) -> None:
    """A full-scale 997 Hz sine reads -3.01 LUFS by the standard (-2.97 on the 16 kHz canonical
    track, whose K-weighting is derived at that rate); 20 dB quieter reads 20 LU less."""
    full = _decode(make_sample(audio=mk_wav(mk_tone(5.0, 16000, freq=997.0, amp=1.0), 16000))).metrics
    quiet = _decode(make_sample(audio=mk_wav(mk_tone(5.0, 16000, freq=997.0, amp=0.1), 16000))).metrics
    assert full["loudness_lufs"] == pytest.approx(-3.01, abs=0.06)
    assert full["loudness_lufs"] - quiet["loudness_lufs"] == pytest.approx(20.0, abs=0.05)
    assert _decode(make_sample(audio=mk_wav(np.zeros(16000 * 2, np.float32), 16000))).metrics["loudness_lufs"] == -120.0


def test_snr_is_the_loud_parts_over_the_floor_between_them(make_sample, mk_wav) -> None:
    rng = np.random.default_rng(3)
    rate = 16000
    track = rng.normal(0, 0.001, rate * 6)  # a floor at about -60 dBFS
    for start in (1, 3, 5):  # bursts at about -20 dBFS
        track[start * rate : start * rate + rate // 2] += rng.normal(0, 0.1, rate // 2)
    m = _decode(make_sample(audio=mk_wav(track.astype(np.float32), rate))).metrics
    assert m["snr_db"] == pytest.approx(40.0, abs=3.0)
    steady = _decode(make_sample(audio=mk_wav(rng.normal(0, 0.1, rate * 3).astype(np.float32), rate))).metrics
    assert "snr_db" not in steady  # no quieter stretch: no floor to measure
    gated = np.zeros(rate * 4, np.float32)  # a tone between stretches of digital silence
    gated[rate : 2 * rate] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    assert 85.0 < _decode(make_sample(audio=mk_wav(gated, rate))).metrics["snr_db"] < 95.0  # against 16-bit noise, not -240 dB
