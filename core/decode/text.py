"""Text decoding with an explicit error policy, and subtitle-file parsing (SRT, WebVTT)."""

from __future__ import annotations

import re
import unicodedata

from core.decode import DecodeFailure
from core.records import Reason, Segment

POLICIES = ("strict", "replace")


def decode_text(data: bytes, *, max_bytes: int, policy: str = "strict") -> str:
    """UTF-8 (a BOM is dropped). `strict` refuses invalid bytes; `replace` substitutes U+FFFD."""
    if policy not in POLICIES:
        raise ValueError(f"text error policy {policy!r} must be one of {POLICIES}")
    if len(data) > max_bytes:
        raise DecodeFailure(Reason.TOO_LARGE, f"{len(data)} bytes > limit {max_bytes}")
    try:
        text = data.decode("utf-8-sig", errors=policy)
    except UnicodeDecodeError as exc:
        raise DecodeFailure(Reason.BAD_ENCODING, f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}") from None
    if "\x00" in text:
        raise DecodeFailure(Reason.BAD_ENCODING, "text contains NUL characters (binary data?)")
    if not text.strip():
        raise DecodeFailure(Reason.EMPTY, "text is empty or whitespace only")
    return text


def canonical_text(text: str) -> str:
    """NFC, unified newlines, trimmed."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE = re.compile(_TIME + r"\s*-->\s*" + _TIME)
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_subtitles(text: str, source: str) -> list[Segment]:
    """Cues of an SRT or WebVTT file, in file order; markup tags are removed."""
    segments: list[Segment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for i, line in enumerate(lines):
            m = _CUE.search(line)
            if m:
                start, end = _seconds(*m.groups()[:4]), _seconds(*m.groups()[4:])
                body = _TAGS.sub("", "\n".join(lines[i + 1 :])).strip()
                if body:
                    segments.append(Segment(start, end, body, source))
                break
    return segments


def ass_dialogue_text(line: str) -> str:
    """Text of an ASS dialogue event (what PyAV yields for mov_text/WebVTT): after the 8th comma."""
    parts = line.split(",", 8)
    body = parts[8] if len(parts) == 9 else line
    return _TAGS.sub("", body).replace("\\N", "\n").replace("\\n", "\n").strip()
