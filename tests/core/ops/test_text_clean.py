"""text.clean: what a person reads is kept (RTL text, emoji sequences), controls, invisible
characters and markup go (counted), and length limits apply to what is left."""

from __future__ import annotations

from tessera.core.ops.unified.text_clean import TextClean
from tessera.core.records import Quarantined, Reason, Sample


def _clean(make_sample, text: str, **params: object):
    (out,) = TextClean(**params).apply([make_sample(text=b"x").evolve(text=text)], None)
    return out


def test_controls_and_invisible_characters_go_and_are_counted(make_sample) -> None:
    out = _clean(make_sample, "a\x00 cat\u200b on a\x1b mat\u202e")
    assert isinstance(out, Sample) and out.text == "a cat on a mat"
    assert out.metrics["text_controls_removed"] == 4.0 and out.metrics["text_chars"] == 14.0


def test_right_to_left_text_and_emoji_sequences_are_kept_whole(make_sample) -> None:
    for text in ("שלום עולם\u200f", "قطة على حصيرة", "family: 👨\u200d👩\u200d👧", "می\u200cخواهم"):
        out = _clean(make_sample, text)
        assert out.text == text and out.metrics["text_controls_removed"] == 0.0


def test_markup_is_reduced_to_its_text(make_sample) -> None:
    out = _clean(make_sample, "<p><b>bold</b> &amp; <i>brave</i></p><script>alert(1)</script>")
    assert out.text == "bold & brave" and out.metrics["text_markup_removed"] > 0
    plain = _clean(make_sample, "x < y and y > z")  # comparisons are not markup
    assert plain.text == "x < y and y > z" and plain.metrics["text_markup_removed"] == 0.0


def test_length_limits_apply_to_what_is_left(make_sample) -> None:
    empty = _clean(make_sample, "<br/>\u200b")
    assert isinstance(empty, Quarantined) and empty.reason is Reason.LOW_QUALITY and "0 characters" in empty.detail
    long = _clean(make_sample, "word " * 5000, max_chars=1000)
    assert isinstance(long, Quarantined) and long.reason is Reason.TOO_LARGE and "24999 characters" in long.detail
