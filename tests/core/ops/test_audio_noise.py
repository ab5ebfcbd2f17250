"""audio.noise: a variant with white noise at the requested SNR, reproducible from the run seed."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.decode.audio import read_audio
from tessera.core.ops.augmented.audio_noise import AudioNoise
from tessera.core.ops.base import OpContext
from tessera.core.ops.unified.audio_canonical import AudioCanonical
from tessera.core.records import Sample


@pytest.fixture
def canonical_tone(make_sample, mk_wav, mk_tone) -> Sample:
    (s,) = AudioCanonical().apply([make_sample(audio=mk_wav(mk_tone(1.0, 16000), 16000), text=b"a tone")], None)
    return s.evolve(text="a tone", media={"audio": s.media["audio"]})


def _snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    clean, noisy = clean.astype(np.float64), noisy.astype(np.float64)
    return float(10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2)))


@pytest.mark.parametrize("snr_db", [5.0, 20.0])
def test_measured_snr_is_the_requested_one(canonical_tone: Sample, ctx, snr_db: float) -> None:
    out = AudioNoise(snr_db=snr_db).apply([canonical_tone], ctx)
    assert len(out) == 2 and out[0] == canonical_tone
    variant = out[1]
    clean, noisy = read_audio(canonical_tone.media["audio"]).samples, read_audio(variant.media["audio"]).samples
    assert len(noisy) == len(clean)
    assert _snr_db(clean, noisy) == pytest.approx(snr_db, abs=1.0)


def test_variant_lineage(canonical_tone: Sample, ctx) -> None:
    v = AudioNoise(snr_db=10.0).apply([canonical_tone], ctx)[1]
    assert v.parent_id == canonical_tone.sample_id and v.sample_id != canonical_tone.sample_id
    assert v.aug_op == "audio.noise"
    assert v.aug_params["snr_db"] == 10.0 and isinstance(v.aug_params["seed"], int)
    assert v.text == "a tone" and v.formats["audio"] == "flac:16k-mono"


def test_same_seed_same_bytes_other_seed_other_bytes(canonical_tone: Sample) -> None:
    a = AudioNoise().apply([canonical_tone], OpContext(batch="b1", seed=1))[1]
    b = AudioNoise().apply([canonical_tone], OpContext(batch="b9", seed=1))[1]
    c = AudioNoise().apply([canonical_tone], OpContext(batch="b1", seed=2))[1]
    assert a.media["audio"] == b.media["audio"] and a.sample_id == b.sample_id
    assert c.media["audio"] != a.media["audio"] and c.sample_id != a.sample_id


def test_variant_does_not_depend_on_batch_order(canonical_tone: Sample, make_sample, ctx, mk_wav, mk_tone) -> None:
    (other,) = AudioCanonical().apply([make_sample(audio=mk_wav(mk_tone(1.0, 16000, freq=660), 16000))], None)
    forward = AudioNoise().apply([canonical_tone, other], ctx)
    backward = AudioNoise().apply([other, canonical_tone], ctx)
    assert {v.sample_id: v.media["audio"] for v in forward[2:]} == {v.sample_id: v.media["audio"] for v in backward[2:]}


def test_videos_variants_and_rows_without_audio_are_skipped(
    canonical_tone: Sample, ctx, make_sample, astronaut_png, mp4_with_subs
) -> None:
    variant = AudioNoise().apply([canonical_tone], ctx)[1]
    video = make_sample(video=mp4_with_subs).evolve(media={"video": mp4_with_subs, "audio": canonical_tone.media["audio"]})
    image = make_sample(image=astronaut_png)
    assert AudioNoise().apply([variant, video, image], ctx) == [variant, video, image]
