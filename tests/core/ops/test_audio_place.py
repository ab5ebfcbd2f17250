"""audio.place: a recording that joined a video by capture time is put on the video's clock."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, encode_audio, read_audio
from tessera.core.ops.unified.audio_place import AudioPlace
from tessera.core.records import Quarantined, Reason, Sample

RATE = CANONICAL_RATE


def _paired(start_s: float | None, seconds: float = 2.0, **metrics: float) -> Sample:
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)
    return Sample(
        sample_id="v", batch="b", source="[]", modalities=["audio", "video"], media={"audio": encode_audio(x)},
        formats={"audio": CANONICAL_AUDIO}, metrics={**({} if start_s is None else {"paired_audio_start_s": start_s}), **metrics},
    )  # fmt: skip


def test_a_late_recorder_is_padded_and_an_early_one_loses_its_lead() -> None:
    late, early = AudioPlace().apply([_paired(0.5), _paired(-0.75)], None)
    clip = read_audio(late.media["audio"])
    assert clip.duration == pytest.approx(2.5) == late.metrics["duration_s"]
    assert np.abs(clip.samples[: int(0.5 * RATE)]).max() == 0.0 and np.abs(clip.samples[int(0.5 * RATE) :]).max() > 0.25
    assert read_audio(early.media["audio"]).duration == pytest.approx(1.25)
    assert late.metrics["paired_audio_start_s"] == 0.5  # where it came from stays on the row


def test_a_track_over_before_the_pictures_begin_is_misaligned() -> None:
    (out,) = AudioPlace().apply([_paired(-3.0)], None)
    assert isinstance(out, Quarantined) and out.reason is Reason.MISALIGNED and "before the video begins" in out.detail


def test_own_tracks_and_clips_are_left_as_they_are() -> None:
    own, clip = _paired(None), _paired(0.5, window_start_s=60.0)
    assert AudioPlace().apply([own, clip], None) == [own, clip]
