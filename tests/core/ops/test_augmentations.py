"""The joint augmentations: each variant is seeded (a re-run gives the same bytes), logged (op,
params, parent) and keeps what its caption and cues say true."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy.signal import stft

from tessera.core.decode.audio import CANONICAL_RATE, encode_audio, read_audio
from tessera.core.ops.augmented.audio_gain import AudioGain
from tessera.core.ops.augmented.audio_spec_augment import AudioSpecAugment
from tessera.core.ops.augmented.audio_time_stretch import AudioTimeStretch
from tessera.core.ops.augmented.image_color_jitter import ImageColorJitter
from tessera.core.ops.augmented.image_crop import ImageCrop
from tessera.core.ops.augmented.text_perturb import TextPerturb
from tessera.core.ops.augmented.video_temporal_crop import VideoTemporalCrop
from tessera.core.ops.base import OpContext
from tessera.core.records import Sample, Segment
from tessera.core.synth import tone

CTX = OpContext(batch="b1", seed=7)


def _image(make_sample, astronaut_png, text: str | None = None) -> Sample:
    s = make_sample(image=astronaut_png)
    return s.evolve(formats={"image": "png:rgb"}, text=text)


def _audio(make_sample, samples: np.ndarray, cues: list[Segment] = ()) -> Sample:
    return make_sample(audio=b"x").evolve(media={"audio": encode_audio(samples)}, formats={"audio": "flac:16k-mono"}, segments=list(cues))


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def test_crops_keep_most_of_the_picture_and_are_the_same_on_a_rerun(make_sample, astronaut_png) -> None:
    s = _image(make_sample, astronaut_png, "an astronaut")
    parent, *variants = ImageCrop(variants=3).apply([s], CTX)
    assert parent == s and len(variants) == 3 and len({v.sample_id for v in variants}) == 3
    w, h = Image.open(io.BytesIO(astronaut_png)).size
    for v in variants:
        x0, y0, x1, y1 = v.aug_params["box"]
        assert (x1 - x0) * (y1 - y0) >= 0.7 * w * h * 0.85 and v.parent_id == s.sample_id and v.text == "an astronaut"
    again = ImageCrop(variants=3).apply([s], CTX)[1:]
    assert [v.media["image"] for v in again] == [v.media["image"] for v in variants]


def test_colour_jitter_never_contradicts_a_named_colour(make_sample, astronaut_png) -> None:
    named = ImageColorJitter(variants=4).apply([_image(make_sample, astronaut_png, "a red flag and a white suit")], CTX)[1:]
    plain = ImageColorJitter(variants=4).apply([_image(make_sample, astronaut_png, "an astronaut")], CTX)[1:]
    assert all(abs(v.aug_params["saturation"] - 1) <= 0.05 and v.aug_params["caption_names_colour"] for v in named)
    assert any(abs(v.aug_params["saturation"] - 1) > 0.05 for v in plain)
    original = _pixels(astronaut_png)
    for v in named:  # no hue shift: the dominant channel of strongly coloured pixels stays the same
        jittered = _pixels(v.media["image"])
        strong = (original.max(axis=2) - original.min(axis=2)) > 80
        assert (original[strong].argmax(axis=1) == jittered[strong].argmax(axis=1)).mean() > 0.97


def test_gain_never_clips(make_sample) -> None:
    loud = tone(2.0, 440.0, CANONICAL_RATE, 0.8)
    for v in AudioGain(variants=5, min_db=3.0, max_db=12.0).apply([_audio(make_sample, loud)], CTX)[1:]:
        peak = np.abs(read_audio(v.media["audio"]).samples).max()
        assert peak <= 10 ** (-1 / 20) + 1e-3 and v.aug_params["gain_db"] <= 20 * np.log10(10 ** (-1 / 20) / 0.8) + 1e-3


def test_time_stretch_scales_the_cues_with_the_audio(make_sample) -> None:
    s = _audio(make_sample, tone(4.0, 300.0, CANONICAL_RATE), [Segment(1.0, 2.0, "word", "subtitle:file:srt")])
    (v,) = AudioTimeStretch(variants=1).apply([s], CTX)[1:]
    rate = v.aug_params["rate"]
    assert read_audio(v.media["audio"]).duration == pytest.approx(4.0 / rate, abs=0.01)
    assert v.segments == [Segment(round(1.0 / rate, 3), round(2.0 / rate, 3), "word", "subtitle:file:srt")]


def test_spec_augment_silences_the_bands_and_times_it_names(make_sample) -> None:
    rng = np.random.default_rng(5)
    noise = (rng.normal(0, 0.1, CANONICAL_RATE * 3)).astype(np.float32)
    (v,) = AudioSpecAugment(variants=1, time_masks=1, freq_masks=1).apply([_audio(make_sample, noise)], CTX)[1:]
    (lo, hi), (start, end) = v.aug_params["freq_masks_hz"][0], v.aug_params["time_masks_s"][0]
    freqs, times, before = stft(noise, fs=CANONICAL_RATE, nperseg=400, noverlap=240)
    _, _, after = stft(read_audio(v.media["audio"]).samples, fs=CANONICAL_RATE, nperseg=400, noverlap=240)
    band = (freqs > lo + 50) & (freqs < hi - 50)
    if band.any():
        assert np.abs(after[band]).mean() < 0.2 * np.abs(before[band]).mean()
    inside = (times > start + 0.05) & (times < end - 0.05)
    if inside.any():
        assert np.abs(after[:, inside]).mean() < 0.2 * np.abs(before[:, inside]).mean()


def test_text_perturbation_keeps_negations_numbers_and_sides(make_sample) -> None:
    caption = "Two dogs are not running to the left of the 3 red cars."
    s = make_sample(text=caption.encode()).evolve(text=caption)
    variants = TextPerturb(variants=8, word_dropout=0.3, min_similarity=0.0).apply([s], CTX)[1:]
    for v in variants:
        words = v.text.lower().replace(".", "").split()
        assert {"two", "not", "left", "3"} <= set(words)
    strict = TextPerturb(variants=8, word_dropout=0.5, min_similarity=0.95).apply([s], CTX)
    assert strict[0].flags and strict[0].flags[0].startswith("text.perturb:") and len(strict) < 9


def test_a_temporal_crop_rebases_keyframes_cues_and_track(make_sample) -> None:
    s = make_sample(video=b"x").evolve(
        modalities=["audio", "video", "subtitles"], media={"audio": encode_audio(tone(10.0, 200.0, CANONICAL_RATE))},
        keyframes=[bytes([i]) for i in range(10)], keyframe_times=[float(i) for i in range(10)],
        segments=[Segment(2.0, 3.0, "early", "subtitle:file:srt"), Segment(7.5, 9.0, "late", "subtitle:file:srt")],
    ).with_metrics(video_duration_s=10.0)  # fmt: skip
    for v in VideoTemporalCrop(variants=3).apply([s], CTX)[1:]:
        start, end = v.aug_params["start_s"], v.aug_params["end_s"]
        assert end - start >= 6.0 - 1e-6
        assert v.keyframe_times == [round(t - start, 3) for t in range(10) if start <= t < end]
        assert all(0 <= g.start <= g.end <= end - start + 1e-6 for g in v.segments)
        assert read_audio(v.media["audio"]).duration == pytest.approx(end - start, abs=0.01)
