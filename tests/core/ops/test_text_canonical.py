"""text.canonical: NFC, unified newlines, trimmed — for the caption and every segment."""

from __future__ import annotations

import unicodedata

from tessera.core.ops.cleaned.text_decode import TextDecode
from tessera.core.ops.unified.text_canonical import TextCanonical
from tessera.core.records import Quarantined, Reason, Sample, Segment


def _canon(s: Sample):
    (out,) = TextCanonical().apply([s], None)
    return out


def test_nfd_caption_becomes_nfc_with_unix_newlines_and_trimmed(make_sample, nfd_text) -> None:
    (decoded,) = TextDecode().apply([make_sample(text=nfd_text)], None)
    assert "e\u0301" in decoded.text
    out = _canon(decoded)
    assert out.text == "Café on the left\nside."
    assert unicodedata.is_normalized("NFC", out.text)
    assert len(out.text) == len("Café on the left\nside.")


def test_segments_are_normalised_and_blank_ones_dropped(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav).evolve(
        segments=[Segment(0.0, 1.0, " Cafe\u0301\r\n", "whisper:tiny.en"), Segment(1.0, 2.0, "  \r\n", "whisper:tiny.en")]
    )
    out = _canon(s)
    assert out.segments == [Segment(0.0, 1.0, "Café", "whisper:tiny.en")]
    assert out.text is None


def test_caption_that_is_only_whitespace_is_empty(make_sample) -> None:
    s = make_sample(text=b"x").evolve(text=" \r\n\t ", media={})
    out = _canon(s)
    assert isinstance(out, Quarantined) and out.reason is Reason.EMPTY


def test_idempotent(make_sample, nfd_text) -> None:
    (decoded,) = TextDecode().apply([make_sample(text=nfd_text)], None)
    once = _canon(decoded)
    assert _canon(once) == once


def test_rows_without_text_are_unchanged(make_sample, astronaut_png) -> None:
    s = make_sample(image=astronaut_png)
    assert _canon(s) == s
