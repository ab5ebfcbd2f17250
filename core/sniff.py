"""Type sniffing by magic bytes; file names only break ties for formats without magic."""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".caption"})
SUBTITLE_SUFFIXES = frozenset({".srt", ".vtt"})
MEDIA_SUFFIXES: dict[str, str] = {
    **dict.fromkeys([".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"], "image"),
    **dict.fromkeys([".wav", ".rf64", ".w64", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aif", ".aiff", ".aifc", ".caf"], "audio"),
    **dict.fromkeys([".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"], "video"),
}


# an ISO-BMFF 'hdlr' box: size, 'hdlr', version+flags, pre_defined, then the handler type
_VIDEO_HANDLER = re.compile(rb"hdlr.{8}vide", re.DOTALL)
_AUDIO_HANDLER = re.compile(rb"hdlr.{8}soun", re.DOTALL)


_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_WAVE = b"wave\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"


@dataclass(frozen=True, slots=True)
class Sniffed:
    modality: str | None  # image / audio / video / text / subtitles, or None when unknown
    format: str  # e.g. png, wav, mp4; "unknown" when nothing matched


def sniff(data: bytes, name: str = "") -> Sniffed:
    """Classify `data` by its leading bytes; `name` is consulted only for text formats."""
    head = data[:64]
    suffix = _suffix(name)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") and (suffix in TEXT_SUFFIXES or suffix in SUBTITLE_SUFFIXES):
        # a UTF-16/32 byte-order mark under a text name; FF FE would otherwise pass for an MPEG audio frame sync
        return Sniffed("subtitles", suffix.lstrip(".")) if suffix in SUBTITLE_SUFFIXES else Sniffed("text", "txt")
    fmt = _magic(head)
    if fmt == ("video", "mp4") and not _VIDEO_HANDLER.search(data) and _AUDIO_HANDLER.search(data):
        return Sniffed("audio", "m4a")  # ISO-BMFF with sound tracks only, whatever its brand
    if fmt is not None:
        return Sniffed(*fmt)
    if suffix in SUBTITLE_SUFFIXES or head.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
        return Sniffed("subtitles", suffix.lstrip(".") or "vtt")
    if suffix in TEXT_SUFFIXES:
        return Sniffed("text", "txt")
    return Sniffed(None, "unknown")


def claimed_modality(name: str) -> str | None:
    """The modality a file name's suffix claims (used to explain mismatches)."""
    return MEDIA_SUFFIXES.get(_suffix(name))


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _magic(head: bytes) -> tuple[str, str] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "webp"
    if head.startswith(b"BM") and len(head) >= 26 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return "image", "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", "tiff"
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":  # RF64/BW64: WAV over 4 GiB (EBU Tech 3306/ITU BS.2088)
        return "audio", "wav" if head[:4] == b"RIFF" else head[:4].decode().lower()
    if head.startswith(_W64_RIFF) and head[24:40] == _W64_WAVE:  # Sony Wave64: GUID chunk ids
        return "audio", "w64"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio", head[8:12].decode().lower()
    if head.startswith(b"caff\x00\x01"):  # Core Audio Format, version 1
        return "audio", "caf"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    if head.startswith(b"OggS"):
        return "audio", "ogg"
    id3 = head.startswith(b"ID3") and len(head) >= 10 and head[3] in (2, 3, 4) and head[5] & 0x0F == 0 and all(b < 0x80 for b in head[6:10])
    if id3 or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return "audio", "mp3"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return ("audio", "m4a") if brand in (b"M4A ", b"M4B ") else ("video", "mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm" if b"webm" in head else "mkv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video", "avi"
    return None
