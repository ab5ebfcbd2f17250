"""embed.image: CLIP vectors of the picture (or a video's keyframes, pooled), or a note why none."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.encoders import Models, vector_column
from tessera.core.ops.base import OpContext
from tessera.core.ops.embedded.embed_image import EmbedImage


def test_no_encoder_notes_why_and_adds_no_vector(make_sample, astronaut_png, tone_wav) -> None:
    image, audio = make_sample(image=astronaut_png), make_sample(audio=tone_wav)
    out = EmbedImage().apply(
        [image, audio], OpContext(batch="b1", models=Models(unavailable={"image": "CLIP weights not found"}))
    )
    assert out[0].vectors == {} and out[0].encoders == {"image": "encoder_unavailable: CLIP weights not found"}
    assert out[1] == audio
    (plain,) = EmbedImage().apply([image], OpContext(batch="b1"))
    assert plain.encoders == {"image": "encoder_unavailable: no encoder configured"}


@pytest.fixture(scope="module")
def tiny_clip(tiny_clip_dir):
    """The randomly initialised 16-d CLIP of tests/conftest.py, loaded like a real checkpoint."""
    from tessera.core.encoders.hf import ClipImageEncoder

    return ClipImageEncoder(str(tiny_clip_dir))


def test_tiny_clip_gives_16d_unit_vectors_that_tell_pictures_apart(
    make_sample, tiny_clip, astronaut_png, camera_png, chelsea_png
) -> None:
    ctx = OpContext(batch="b1", models=Models(encoders={"image": tiny_clip}))
    rows = [make_sample(image=b) for b in (astronaut_png, camera_png, chelsea_png)]
    out = EmbedImage().apply(rows, ctx)
    column = vector_column("image", tiny_clip.model_id)
    vecs = np.array([r.vectors[column] for r in out])
    assert tiny_clip.dim == 16 and vecs.shape == (3, 16)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1]) and not np.allclose(vecs[0], vecs[2])
    assert all(r.encoders["image"] == f"{tiny_clip.model_id}@{tiny_clip.revision}" for r in out)
    again = EmbedImage(batch_size=1).apply(rows, ctx)
    assert np.allclose(vecs, [r.vectors[column] for r in again], atol=1e-5)


def test_a_video_is_embedded_by_its_keyframes_pooled(
    make_sample, tiny_clip, mp4_with_subs, astronaut_jpeg, camera_png, chelsea_png
) -> None:
    ctx = OpContext(batch="b1", models=Models(encoders={"image": tiny_clip}))
    frames = [astronaut_jpeg, camera_png, chelsea_png]
    video = make_sample(video=mp4_with_subs).evolve(keyframes=frames)
    stills = [make_sample(image=f) for f in frames]
    v, *s = EmbedImage(batch_size=2).apply([video, *stills], ctx)
    column = vector_column("image", tiny_clip.model_id)
    mean = np.mean([x.vectors[column] for x in s], axis=0)
    assert np.allclose(v.vectors[column], mean / np.linalg.norm(mean), atol=1e-5)  # every scene counts, not only the middle one
    (two,) = EmbedImage(keyframes=2).apply([video], ctx)  # the first and the last
    ends = np.mean([s[0].vectors[column], s[2].vectors[column]], axis=0)
    assert np.allclose(two.vectors[column], ends / np.linalg.norm(ends), atol=1e-5)
    (changed,) = EmbedImage().apply([v.evolve(keyframes=[astronaut_jpeg, camera_png, astronaut_jpeg])], ctx)
    assert changed.encoders["image:input"] != v.encoders["image:input"]  # another keyframe: encoded again
    with pytest.raises(ValueError, match="keyframes"):
        EmbedImage(keyframes=0)


def test_batches_prepared_ahead_give_the_vectors_one_batch_gives_and_the_dtype_is_recorded(
    make_sample, tiny_clip, astronaut_png, camera_png, chelsea_png
) -> None:
    """With batch_size 1 each picture is decoded in the prefetch thread while the one before runs."""
    ctx = OpContext(batch="b1", models=Models(encoders={"image": tiny_clip}))
    rows = [make_sample(image=b) for b in (astronaut_png, camera_png, chelsea_png)]
    column = vector_column("image", tiny_clip.model_id)
    ahead, whole = EmbedImage(batch_size=1).apply(rows, ctx), EmbedImage(batch_size=8).apply(rows, ctx)
    assert np.allclose([r.vectors[column] for r in ahead], [r.vectors[column] for r in whole], atol=1e-5)
    assert all(r.encoders["image:dtype"] == "float32" for r in ahead)
    # a vector made in another dtype is made again in this one; one made in this dtype is kept
    other = ahead[0].evolve(encoders={**ahead[0].encoders, "image:dtype": "bfloat16"}, vectors={column: [0.0] * 16})
    again, kept = EmbedImage().apply([other, ahead[1]], ctx)
    assert again.vectors[column] != [0.0] * 16 and again.encoders["image:dtype"] == "float32"
    assert kept is ahead[1]
