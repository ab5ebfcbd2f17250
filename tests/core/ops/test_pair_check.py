"""pair.check: cues with no audio or video to time them against are UNPAIRED."""

from __future__ import annotations

import pytest

from tessera.core.ops.aligned.pair_check import PairCheck
from tessera.core.ops.cleaned.subtitles_decode import SubtitlesDecode
from tessera.core.records import Quarantined, Reason, Sample


def _check(rows: list[Sample]):
    return PairCheck().apply(rows, None)


def test_subtitles_alone_are_unpaired(make_sample, srt_bytes) -> None:
    (decoded,) = SubtitlesDecode().apply([make_sample(subtitles=srt_bytes)], None)
    (out,) = _check([decoded])
    assert isinstance(out, Quarantined) and out.reason is Reason.UNPAIRED
    assert "2 subtitle cues" in out.detail


def test_subtitles_next_to_an_image_only_are_unpaired(make_sample, srt_bytes, astronaut_png) -> None:
    (decoded,) = SubtitlesDecode().apply([make_sample(subtitles=srt_bytes, image=astronaut_png)], None)
    (out,) = _check([decoded])
    assert isinstance(out, Quarantined) and out.reason is Reason.UNPAIRED


def test_subtitles_with_audio_or_video_are_kept(make_sample, srt_bytes, tone_wav, mp4_with_subs) -> None:
    rows = SubtitlesDecode().apply(
        [make_sample(subtitles=srt_bytes, audio=tone_wav), make_sample(subtitles=srt_bytes, video=mp4_with_subs)], None
    )
    assert _check(rows) == rows


def test_rows_without_cues_are_kept(make_sample, astronaut_png, latin1_text) -> None:
    rows = [make_sample(image=astronaut_png), make_sample(text=latin1_text)]
    assert _check(rows) == rows


def test_a_dataset_requirement_quarantines_what_lacks_a_modality_and_names_it(make_sample, astronaut_png, tone_wav) -> None:
    captioned, bare, audio = make_sample(image=astronaut_png, text=b"an astronaut"), make_sample(image=astronaut_png), make_sample(audio=tone_wav)
    check = PairCheck(require=("image+text", "audio"))
    kept_captioned, lacking, kept_audio = check.apply([captioned, bare, audio], None)
    assert kept_captioned == captioned and kept_audio == audio
    assert isinstance(lacking, Quarantined) and lacking.reason is Reason.UNPAIRED
    assert lacking.detail == "the dataset requires text+image or audio; this sample has image, missing text"
    assert PairCheck(require="any").apply([bare], None) == [bare]


def test_a_requirement_naming_no_modality_is_refused() -> None:
    with pytest.raises(ValueError, match=r"pair.check require: 'image\+smell' is not"):
        PairCheck(require=("image+smell",))
