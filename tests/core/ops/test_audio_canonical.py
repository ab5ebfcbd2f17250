"""audio.canonical: every audio becomes 16 kHz mono 16-bit FLAC with the same content."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from tessera.core.decode.audio import read_audio
from tessera.core.ops.unified.audio_canonical import AudioCanonical
from tessera.core.records import Quarantined, Reason, Sample


def _canon(s: Sample, **params: object):
    (out,) = AudioCanonical(**params).apply([s], None)
    return out


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("fixture", ["tone_wav", "tone_flac"])
def test_output_is_16k_mono_16bit_flac_of_the_same_tone(make_sample, request, fixture: str) -> None:
    out = _canon(make_sample(audio=request.getfixturevalue(fixture)))
    assert isinstance(out, Sample)
    info = soundfile.info(io.BytesIO(out.media["audio"]))
    assert (info.format, info.samplerate, info.channels, info.subtype) == ("FLAC", 16000, 1, "PCM_16")
    assert out.formats["audio"] == "flac:16k-mono"
    assert out.metrics["audio_rate"] == 16000.0
    assert out.metrics["duration_s"] == pytest.approx(1.0, abs=0.01)
    clip = read_audio(out.media["audio"])
    assert _peak_hz(clip.samples, 16000) == pytest.approx(440, abs=2)


def test_same_input_gives_the_same_bytes(make_sample, tone_wav) -> None:
    assert _canon(make_sample(audio=tone_wav)).media["audio"] == _canon(make_sample(audio=tone_wav)).media["audio"]


def test_already_canonical_audio_is_not_re_encoded(make_sample, tone_wav) -> None:
    once = _canon(make_sample(audio=tone_wav))
    assert _canon(once) == once


def test_undecodable_audio_is_quarantined(make_sample, random_bytes) -> None:
    out = _canon(make_sample(audio=random_bytes))
    assert isinstance(out, Quarantined) and out.reason is Reason.CORRUPT


def test_rows_without_audio_pass_through(make_sample, astronaut_png) -> None:
    s = make_sample(image=astronaut_png)
    assert _canon(s) == s


def test_loud_stereo_is_not_clipped_by_the_downmix(make_sample, mk_wav, mk_tone) -> None:
    x = mk_tone(1.0, 16000, amp=0.9)
    out = _canon(make_sample(audio=mk_wav(np.stack([x, x], axis=1), 16000)))
    assert np.abs(read_audio(out.media["audio"]).samples).max() <= 0.95
