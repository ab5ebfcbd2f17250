"""embed.audio: without an audio encoder, rows say `encoder_unavailable` and carry no vector."""

from __future__ import annotations

from core.encoders import Models
from core.ops.base import OpContext
from core.ops.embedded.embed_audio import EmbedAudio
from core.ops.unified.audio_canonical import AudioCanonical


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
