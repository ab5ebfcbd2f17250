"""embed.audio: without an audio encoder, rows say `encoder_unavailable` and carry no vector."""

from __future__ import annotations

import numpy as np

from tessera.core.encoders import Models
from tessera.core.ops.base import OpContext
from tessera.core.ops.embedded.embed_audio import EmbedAudio
from tessera.core.ops.unified.audio_canonical import AudioCanonical


def test_no_encoder_configured(make_sample, tone_wav, astronaut_png) -> None:
    (audio,) = AudioCanonical().apply([make_sample(audio=tone_wav)], None)
    image = make_sample(image=astronaut_png)
    out = EmbedAudio().apply([audio, image], OpContext(batch="b1"))
    assert out[0].vectors == {} and out[0].encoders == {"audio": "encoder_unavailable: no encoder configured"}
    assert out[1] == image  # nothing to embed: no note


def test_reason_from_models_is_kept(make_sample, tone_wav) -> None:
    (audio,) = AudioCanonical().apply([make_sample(audio=tone_wav)], None)
    models = Models(unavailable={"audio": "CLAP could not be loaded: no weights at /models/clap"})
    (out,) = EmbedAudio().apply([audio], OpContext(batch="b1", models=models))
    assert out.vectors == {}
    assert out.encoders["audio"] == "encoder_unavailable: CLAP could not be loaded: no weights at /models/clap"


def test_a_videos_own_track_is_what_gets_embedded(make_sample, mp4_with_subs) -> None:
    video = make_sample(video=mp4_with_subs)
    (out,) = EmbedAudio().apply([video], OpContext(batch="b1"))
    assert out == video  # no canonical track yet: nothing to embed
    with_track = video.evolve(media={**video.media, "audio": b"RIFF"})
    (out,) = EmbedAudio().apply([with_track], OpContext(batch="b1"))
    assert out.encoders["audio"].startswith("encoder_unavailable")


def test_a_real_clap_gives_deterministic_unit_vectors_per_sound(make_sample, tiny_clap_dir, mk_wav, mk_tone) -> None:
    from tessera.core.encoders import vector_column
    from tessera.core.encoders.hf import ClapAudioEncoder

    encoder = ClapAudioEncoder(str(tiny_clap_dir), model_id="tiny-clap")
    models = Models(encoders={"audio": encoder})
    rows = AudioCanonical().apply([make_sample(audio=mk_wav(mk_tone(1.0, 16000, freq=f), 16000)) for f in (220.0, 1760.0)], None)
    first = EmbedAudio().apply(rows, OpContext(batch="b1", models=models))
    again = EmbedAudio().apply(rows, OpContext(batch="b1", models=models))
    column = vector_column("audio", "tiny-clap")
    vecs = np.array([r.vectors[column] for r in first])
    assert vecs.shape == (2, 16) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])  # different sounds, different vectors
    assert np.allclose(vecs, [r.vectors[column] for r in again])
    assert first[0].encoders["audio"].startswith("tiny-clap@")
