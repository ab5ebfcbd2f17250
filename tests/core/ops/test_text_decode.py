"""text.decode: UTF-8 under an explicit error policy and a size cap."""

from __future__ import annotations

import pytest

from tessera.core.ops.base import build_ops
from tessera.core.ops.cleaned.text_decode import TextDecode
from tessera.core.records import Quarantined, Reason, Sample


def _decode(s: Sample, **params: object):
    (out,) = TextDecode(**params).apply([s], None)
    return out


def test_utf8_caption_becomes_text_and_leaves_media(make_sample, astronaut_png) -> None:
    raw = "Ein Hund läuft — 犬".encode()
    out = _decode(make_sample(text=raw, image=astronaut_png))
    assert isinstance(out, Sample)
    assert out.text == "Ein Hund läuft — 犬"
    assert "text" not in out.media and out.media["image"] == astronaut_png
    assert out.metrics["text_chars"] == 18.0 and out.metrics["text_bytes"] == float(len(raw))
    assert out.raw_sha256["text"]  # provenance survives


def test_latin1_is_bad_encoding_and_says_where(make_sample, latin1_text) -> None:
    out = _decode(make_sample(text=latin1_text))
    assert isinstance(out, Quarantined) and out.reason is Reason.BAD_ENCODING
    assert "0xe9" in out.detail and "offset 3" in out.detail


def test_replace_policy_keeps_the_row_with_replacement_characters(make_sample, latin1_text) -> None:
    out = _decode(make_sample(text=latin1_text), policy="replace")
    assert isinstance(out, Sample) and out.text == "caf\ufffd au lait"


@pytest.mark.parametrize("raw", [b"", b"   \n\t  ", b"\xef\xbb\xbf"])
def test_empty_or_blank_text_is_empty(make_sample, raw: bytes) -> None:
    out = _decode(make_sample(text=raw))
    assert isinstance(out, Quarantined) and out.reason is Reason.EMPTY


def test_nul_bytes_inside_utf8_text_are_bad_encoding(make_sample) -> None:
    out = _decode(make_sample(text=b"a caption\x00\x00\x00 with a hole of NULs"))
    assert isinstance(out, Quarantined) and out.reason is Reason.BAD_ENCODING and "NUL" in out.detail


def test_byte_order_mark_is_dropped(make_sample) -> None:
    out = _decode(make_sample(text=b"\xef\xbb\xbfhello"))
    assert out.text == "hello"


def test_size_cap(make_sample) -> None:
    assert isinstance(_decode(make_sample(text=b"x" * 10), max_bytes=10), Sample)
    over = _decode(make_sample(text=b"x" * 11), max_bytes=10)
    assert isinstance(over, Quarantined) and over.reason is Reason.TOO_LARGE


def test_already_decoded_row_is_left_alone(make_sample) -> None:
    once = _decode(make_sample(text=b"hello"))
    assert _decode(once) == once


def test_unknown_policy_is_refused_when_the_operator_is_built() -> None:
    with pytest.raises(ValueError):
        build_ops([{"text.decode": {"policy": "ignore"}}])


def test_detect_reads_a_legacy_encoding_and_says_which(make_sample) -> None:
    from tessera.core.ops.cleaned.text_decode import TextDecode

    latin = "Le café où l'été déjà s'achève, près de la fenêtre, à côté du théâtre.".encode("cp1252")
    (out,) = TextDecode(policy="detect").apply([make_sample(text=latin)], None)
    assert isinstance(out, Sample) and out.text.startswith("Le café où l'été") and out.formats["text"] in ("cp1252", "iso8859-1", "latin-1")
    (strict,) = TextDecode(policy="strict").apply([make_sample(text=latin)], None)
    assert isinstance(strict, Quarantined) and strict.reason is Reason.BAD_ENCODING


def test_byte_order_marks_decide_the_encoding(make_sample) -> None:
    from tessera.core.ops.cleaned.text_decode import TextDecode

    for data, enc in ((b"\xef\xbb\xbfhello", "utf-8"), ("hello".encode("utf-16"), "utf-16"), ("hello".encode("utf-32"), "utf-32")):
        (out,) = TextDecode().apply([make_sample(text=data)], None)
        assert (out.text, out.formats["text"]) == ("hello", enc)


def test_detect_refuses_what_no_encoding_fits(make_sample) -> None:
    from tessera.core.ops.cleaned.text_decode import TextDecode

    noise = bytes(range(128, 256)) * 8
    (out,) = TextDecode(policy="detect").apply([make_sample(text=noise)], None)
    assert isinstance(out, Quarantined) and out.reason is Reason.BAD_ENCODING


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_byte_order_mark_are_read_by_where_their_nul_bytes_fall(make_sample, enc: str) -> None:
    """What Windows tools and spreadsheets export: the strict policy still reads it (its structure
    says what it is), and says which it was."""
    caption = "Ein Hund fängt eine Frisbee, 2015-07-19\r\n"
    out = _decode(make_sample(text=caption.encode(enc)))
    assert isinstance(out, Sample), out.detail
    assert (out.text, out.formats["text"]) == (caption, enc)


def test_binary_with_nul_bytes_is_still_bad_encoding(make_sample) -> None:
    blob = bytes([7, 0, 1, 0, 200, 0, 3, 0]) * 16  # NULs on one lane, but control characters between them
    out = _decode(make_sample(text=blob))
    assert isinstance(out, Quarantined) and out.reason is Reason.BAD_ENCODING


@pytest.mark.parametrize(("caption", "enc"), [("역사적 예수 연구자들", "iso2022_kr"), ("羅生門の下で雨やみを待っていた", "iso2022_jp")])
def test_iso_2022_text_is_read_by_its_escape_sequences_not_as_seven_bit_utf8(make_sample, caption: str, enc: str) -> None:
    out = _decode(make_sample(text=caption.encode(enc)))
    assert isinstance(out, Sample) and out.text == caption and out.formats["text"] == enc
