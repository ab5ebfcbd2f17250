"""subtitles.decode: SRT / WebVTT sidecars become timed, tag-free segments."""

from __future__ import annotations

from tessera.core.ops.cleaned.subtitles_decode import SubtitlesDecode
from tessera.core.records import Quarantined, Reason, Sample, Segment


def _decode(s: Sample):
    (out,) = SubtitlesDecode().apply([s], None)
    return out


def test_srt_cues_have_times_and_text_without_markup(make_sample, tone_wav, srt_bytes) -> None:
    out = _decode(make_sample(audio=tone_wav, subtitles=srt_bytes))
    assert isinstance(out, Sample)
    assert out.segments == [
        Segment(0.5, 1.2, "Hello there", "subtitle:file:srt"),
        Segment(1.5, 1.9, "Second line\nwraps here", "subtitle:file:srt"),
    ]
    assert out.metrics["subtitle_cues"] == 2.0
    assert "subtitles" not in out.media and out.media["audio"] == tone_wav


def test_webvtt_with_and_without_hours_and_ass_tags(make_sample, vtt_bytes) -> None:
    out = _decode(make_sample(subtitles=vtt_bytes))
    assert [(g.start, g.end, g.text) for g in out.segments] == [(0.25, 1.0, "First cue"), (3602.0, 3603.5, "Late cue")]
    assert all(g.source == "subtitle:file:vtt" for g in out.segments)


def test_crlf_and_bom_files_parse_the_same(make_sample, srt_bytes) -> None:
    windows = b"\xef\xbb\xbf" + srt_bytes.replace(b"\n", b"\r\n")
    assert [g.text for g in _decode(make_sample(subtitles=windows)).segments] == ["Hello there", "Second line\nwraps here"]


def test_file_without_any_cue_is_corrupt(make_sample) -> None:
    out = _decode(make_sample(subtitles=b"this is a plain note, not subtitles\n"))
    assert isinstance(out, Quarantined) and out.reason is Reason.CORRUPT


def test_latin1_subtitles_are_bad_encoding(make_sample) -> None:
    raw = "1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n".encode("latin-1")
    out = _decode(make_sample(subtitles=raw))
    assert isinstance(out, Quarantined) and out.reason is Reason.BAD_ENCODING


def test_empty_subtitle_file_is_empty(make_sample) -> None:
    out = _decode(make_sample(subtitles=b""))
    assert isinstance(out, Quarantined) and out.reason is Reason.EMPTY


def test_decoding_an_already_decoded_row_is_a_no_op(make_sample, srt_bytes) -> None:
    once = _decode(make_sample(subtitles=srt_bytes))
    assert _decode(once) == once
