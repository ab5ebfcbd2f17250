"""Type sniffing by magic bytes; file names only break ties for formats without magic."""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".caption"})
SUBTITLE_SUFFIXES = frozenset({".srt", ".vtt"})
MEDIA_SUFFIXES: dict[str, str] = {
    **dict.fromkeys([".png", ".jpg", ".jpeg", ".mpo", ".gif", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".avif", ".heic", ".heif"], "image"),
    **dict.fromkeys([".jp2", ".j2k", ".jpx", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".psd", ".dds", ".sgi", ".rgb", ".qoi", ".ico", ".cur", ".icns", ".pcx"], "image"),
    **dict.fromkeys([".wav", ".rf64", ".w64", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".spx", ".m4a", ".m4b", ".aif", ".aiff", ".aifc", ".caf"], "audio"),
    **dict.fromkeys([".aac", ".ac3", ".eac3", ".wma", ".wv", ".ape", ".mpc", ".tak", ".tta", ".dsf", ".dff", ".amr", ".au", ".snd"], "audio"),
    **dict.fromkeys([".mp4", ".mov", ".qt", ".mkv", ".webm", ".avi", ".m4v", ".ogv", ".wmv", ".asf", ".3gp", ".3g2", ".flv", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg"], "video"),
}
# Formats with no magic bytes, known by their name alone (the decoder then proves or refutes it)
SUFFIX_ONLY: dict[str, tuple[str, str]] = {".tga": ("image", "tga")}


# an ISO-BMFF 'hdlr' box: size, 'hdlr', version+flags, pre_defined, then the handler type
_VIDEO_HANDLER = re.compile(rb"hdlr.{8}vide", re.DOTALL)
_AUDIO_HANDLER = re.compile(rb"hdlr.{8}soun", re.DOTALL)


# ISO-BMFF brands of still pictures (HEIF, ISO/IEC 23008-12; AVIF): images, not videos
_STILL_BRANDS = {b"avif": "avif", b"avis": "avif", b"heic": "heic", b"heix": "heic", b"heim": "heic", b"heis": "heic", b"mif1": "heic", b"msf1": "heic"}
# a QuickTime file older than the 'ftyp' box starts with one of these top-level boxes
_QT_FIRST_BOXES = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
# ASF (WMA/WMV): the header object's GUID, and the video stream-type GUID of a stream properties object
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_VIDEO = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")
# Netpbm (P1-P6 with width and height; P7 PAM) and PFM (Pf/PF): a text that merely starts "P5 " does not match
_NETPBM = re.compile(rb"P(?:[1-6fF]\s+(?:#[^\n]*\n\s*)*\d+\s+\d+|7\s)")
# Ogg: the first packet (at byte 28 of the first page) names the codec of the first stream
_OGG_VIDEO = (b"\x80theora", b"\x80daala", b"fishead\x00")

_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_WAVE = b"wave\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"


# Matroska (EBML) element ids and TrackType values (Matroska spec, RFC 9559)
_EBML, _SEGMENT, _TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1654AE6B, 0xAE, 0x83, 0x1F43B675
_MKV_VIDEO, _MKV_AUDIO = 1, 2
# MPEG audio frame header fields that no real stream uses: bitrate index 1111, sample-rate index 11
_MPEG_BAD_BITRATE, _MPEG_RESERVED_RATE = 0xF, 3


@dataclass(frozen=True, slots=True)
class Sniffed:
    modality: str | None  # image / audio / video / text / subtitles, or None when unknown
    format: str  # e.g. png, wav, mp4; "unknown" when nothing matched


def sniff(data: bytes, name: str = "") -> Sniffed:
    """Classify `data` by its leading bytes; `name` is consulted only for text formats."""
    head = data[:64]
    suffix = _suffix(name)
    fmt = _magic(head)
    if fmt in (("video", "mp4"), ("video", "mov")) and not _VIDEO_HANDLER.search(data) and _AUDIO_HANDLER.search(data):
        return Sniffed("audio", "m4a")  # ISO-BMFF with sound tracks only, whatever its brand
    if fmt in (("video", "mkv"), ("video", "webm")):
        tracks = matroska_track_types(data)
        if tracks is not None and _MKV_VIDEO not in tracks and _MKV_AUDIO in tracks:
            return Sniffed("audio", "mka" if fmt[1] == "mkv" else "webm")  # Matroska with sound tracks only (cover pictures are attachments)
    if fmt == ("audio", "ogg") and data[28:36].startswith(_OGG_VIDEO):
        return Sniffed("video", "ogv")
    if fmt == ("audio", "wma") and _ASF_VIDEO in data[:65536]:
        return Sniffed("video", "wmv")
    if fmt is not None:
        return Sniffed(*fmt)
    for offset, stride, name in ((0, 188, "ts"), (4, 192, "m2ts")):  # MPEG transport stream: a 0x47 sync byte every packet
        if len(data) >= offset + 2 * stride + 1 and all(data[offset + k * stride] == 0x47 for k in range(3)):
            return Sniffed("video", name)
    if suffix in SUFFIX_ONLY:
        return Sniffed(*SUFFIX_ONLY[suffix])
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
    return _image_magic(head) or _audio_magic(head) or _video_magic(head)


def _image_magic(head: bytes) -> tuple[str, str] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "webp"
    if head.startswith(b"BM") and len(head) >= 26 and head[14] in (12, 16, 40, 52, 56, 64, 108, 124):  # 16-64: OS/2 2.x headers
        return "image", "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # '+': BigTIFF (64-bit offsets)
        return "image", "tiff"
    if head[4:8] == b"ftyp" and head[8:12] in _STILL_BRANDS:
        return "image", _STILL_BRANDS[head[8:12]]
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):  # JP2 box; bare codestream
        return "image", "jpeg2000"
    if _NETPBM.match(head):
        return "image", "ppm"
    for magic, fmt in ((b"8BPS", "psd"), (b"DDS ", "dds"), (b"qoif", "qoi"), (b"icns", "icns"), (b"\x01\xda", "sgi")):
        if head.startswith(magic):
            return "image", fmt
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and len(head) >= 10 and head[4:6] != b"\x00\x00" and head[9] == 0:  # ICO/CUR: count > 0, reserved 0
        return "image", "ico"
    if len(head) >= 4 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] == 1 and head[3] in (1, 2, 4, 8):  # PCX: version, RLE, bits
        return "image", "pcx"
    return None


def _audio_magic(head: bytes) -> tuple[str, str] | None:
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":  # RF64/BW64: WAV over 4 GiB (EBU Tech 3306/ITU BS.2088)
        return "audio", "wav" if head[:4] == b"RIFF" else head[:4].decode().lower()
    if head.startswith(_W64_RIFF) and head[24:40] == _W64_WAVE:  # Sony Wave64: GUID chunk ids
        return "audio", "w64"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio", head[8:12].decode().lower()
    if head.startswith(b"FRM8") and head[12:16] == b"DSD ":  # DSDIFF
        return "audio", "dff"
    if head.startswith(b"caff\x00\x01"):  # Core Audio Format, version 1
        return "audio", "caf"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    if head.startswith(b"OggS"):
        return "audio", "ogg"
    if head.startswith(_ASF_HEADER):
        return "audio", "wma"  # sniff() turns it into wmv when a video stream is declared
    for magic, fmt in ((b"wvpk", "wv"), (b"MAC ", "ape"), (b"MPCK", "mpc"), (b"tBaK", "tak"), (b"TTA1", "tta"), (b"DSD \x1c\x00", "dsf"), (b"ADIF", "aac"), (b"#!AMR", "amr"), (b".snd", "au")):
        if head.startswith(magic):
            return "audio", fmt
    if head.startswith(b"MP+") and len(head) > 3 and head[3] & 0x0F == 7:  # Musepack SV7 (SV8 is 'MPCK')
        return "audio", "mpc"
    if head.startswith(b"\x0b\x77"):  # AC-3 / E-AC-3 sync word; bsid (byte 5, top 5 bits) > 10 is E-AC-3
        return "audio", "eac3" if len(head) > 5 and head[5] >> 3 > 10 else "ac3"
    id3 = head.startswith(b"ID3") and len(head) >= 10 and head[3] in (2, 3, 4) and head[5] & 0x0F == 0 and all(b < 0x80 for b in head[6:10])
    if id3 or _mpeg_frame_header(head):
        return "audio", "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # AAC ADTS: sync 0xFFF, layer 00
        return "audio", "aac"
    return None


def _video_magic(head: bytes) -> tuple[str, str] | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return ("audio", "m4a") if brand in (b"M4A ", b"M4B ") else ("video", "mp4")
    if head[4:8] in _QT_FIRST_BOXES:
        return "video", "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm" if b"webm" in head else "mkv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video", "avi"
    if head.startswith(b"FLV\x01") and len(head) > 4:  # flags: 1 video, 4 audio
        return ("video", "flv") if head[4] & 1 else ("audio", "flv")
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):  # MPEG program stream; MPEG-1/2 video
        return "video", "mpg"
    return None


def _mpeg_frame_header(head: bytes) -> bool:
    """A bare MPEG audio frame header (layer II or III; layer I is 'mp1', not what .mp3 means).
    Checking every field keeps a UTF-16 byte-order mark (FF FE) and other text from passing for MP3."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x3  # 01: layer III, 10: layer II, 11: layer I
    return layer in (1, 2) and head[2] >> 4 != _MPEG_BAD_BITRATE and (head[2] >> 2) & 0x3 != _MPEG_RESERVED_RATE


def _ebml_vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int] | None:
    """(value, next position) of the EBML variable-length integer at `pos`; an element id keeps its
    length marker, a size does not (an all-ones size, 'unknown', comes back as -1)."""
    if pos >= len(data) or data[pos] == 0:
        return None
    width = 8 - data[pos].bit_length() + 1
    if pos + width > len(data):
        return None
    value = int.from_bytes(data[pos : pos + width], "big")
    if keep_marker:
        return value, pos + width
    value &= (1 << (7 * width)) - 1
    return (-1 if value == (1 << (7 * width)) - 1 else value), pos + width


def _ebml_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(id, body start, body end) of the elements between `start` and `end`; stops at damage."""
    out, pos = [], start
    while pos < end and len(out) < 4096:
        ident = _ebml_vint(data, pos, keep_marker=True)
        size = _ebml_vint(data, ident[1], keep_marker=False) if ident else None
        if ident is None or size is None:
            break
        body = size[1]
        stop = end if size[0] < 0 else min(end, body + size[0])
        out.append((ident[0], body, stop))
        pos = stop
    return out


def matroska_track_types(data: bytes) -> set[int] | None:
    """TrackType values (1 video, 2 audio, 17 subtitle, …) of a Matroska/WebM file, read from its
    Tracks element; None when the file has none before its first Cluster (or is damaged there)."""
    top = _ebml_children(data, 0, len(data))
    segment = next(((b, e) for i, b, e in top if i == _SEGMENT), None)
    if not top or top[0][0] != _EBML or segment is None:
        return None
    for ident, body, end in _ebml_children(data, *segment):
        if ident == _CLUSTER:
            return None
        if ident == _TRACKS:
            types = set()
            for entry_id, eb, ee in _ebml_children(data, body, end):
                if entry_id == _TRACK_ENTRY:
                    types |= {int.from_bytes(data[tb:te], "big") for tid, tb, te in _ebml_children(data, eb, ee) if tid == _TRACK_TYPE and te > tb}
            return types
    return None
