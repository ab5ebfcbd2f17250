"""audio.vad: the share of the canonical track where someone speaks; tones and noise read 0, and
speech.transcribe leaves unvoiced tracks alone."""

from __future__ import annotations

import numpy as np

from tessera.core.decode.audio import encode_audio
from tessera.core.ops.aligned.speech_transcribe import SpeechTranscribe
from tessera.core.ops.unified.audio_vad import AudioVad
from tessera.core.records import Sample
from tessera.core.synth import tone


def _canonical(make_sample, samples: np.ndarray) -> Sample:
    return make_sample(audio=b"x").evolve(media={"audio": encode_audio(samples)}, formats={"audio": "flac:16k-mono"}).with_metrics(silence_ratio=0.0)


def test_tones_and_noise_are_not_voices(make_sample) -> None:
    rng = np.random.default_rng(2)
    for samples in (tone(4.0, 440.0, 16_000), rng.normal(0, 0.1, 16_000 * 4).astype(np.float32)):
        (out,) = AudioVad().apply([_canonical(make_sample, samples)], None)
        assert out.metrics["voiced_ratio"] < 0.02
        assert not SpeechTranscribe().wants(out)  # Whisper is not run on what has no voice


def test_rows_without_audio_pass_through(make_sample) -> None:
    s = make_sample(text=b"a caption").evolve(text="a caption")
    assert AudioVad().apply([s], None) == [s]
