"""Whether a container file ends before its own structure says it does (a cut download, an
interrupted copy): the RIFF chunks of WAV/AVI and the top-level boxes of MP4/MOV/M4A declare their
sizes, so a cut shows in their headers without decoding anything. FFmpeg clamps such a file's
length to the bytes present, so the decoders cannot tell on their own."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

from tessera.core.decode import DecodeFailure, open_media
from tessera.core.records import Media, Reason

# Top-level ISO-BMFF boxes (ISO/IEC 14496-12); a file opening with one of them is walked box by box
_BOXES = frozenset({b"ftyp", b"styp", b"moov", b"mdat", b"moof", b"mfra", b"free", b"skip", b"wide", b"sidx", b"uuid", b"meta", b"pdin", b"emsg", b"prft"})
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # RIFF writers that stream leave the size unset: 'until the end'
_MAX_ITEMS = 4096  # a walk stops here: a file of millions of tiny boxes costs no more


@dataclass(frozen=True, slots=True)
class Cut:
    """The file stops `missing` bytes inside the `part` it names; `share` is the part of that
    chunk or box present (for a media payload, about the share of the media that survives)."""

    part: str
    declared: int
    present: int

    @property
    def in_media(self) -> bool:
        """Whether the cut falls in the media payload (a WAV's samples, an MP4's sample data or
        fragments), not in a chunk or box of metadata that follows it."""
        return self.part in ("'data' chunk", "'mdat' box", "'moof' box", "box header")

    @property
    def share(self) -> float:
        return self.present / self.declared if self.declared else 0.0

    @property
    def detail(self) -> str:
        return f"the file ends {self.declared - self.present} bytes into its {self.part} ({self.present} of {self.declared} declared bytes present)"


def cut_short(fh: IO[bytes]) -> Cut | None:
    """The chunk or box the file ends inside, for RIFF (WAV, AVI) and ISO-BMFF (MP4, MOV, M4A,
    fragmented MP4); None when every declared size fits, or for any other format. Reads only
    headers (seeking past payloads); `fh` is left at its start."""
    size = fh.seek(0, 2)
    fh.seek(0)
    head = fh.read(12)
    try:
        if head[:4] == b"RIFF" and len(head) == 12:
            return _riff(fh, size)
        if head[4:8] in _BOXES:
            return _boxes(fh, size)
        return None
    finally:
        fh.seek(0)


def _riff(fh: IO[bytes], size: int) -> Cut | None:
    declared = struct.unpack("<I", _at(fh, 4, 4))[0]
    pos = 12
    for _ in range(_MAX_ITEMS):
        header = _at(fh, pos, 8)
        if len(header) < 8:
            break
        ident, length = header[:4], struct.unpack("<I", header[4:])[0]
        if length in _UNKNOWN_SIZES and ident in (b"data", b"LIST"):
            return None
        if pos + 8 + length > size:
            return Cut(f"'{ident.decode('latin-1')}' chunk", length, size - pos - 8)
        pos += 8 + length + (length & 1)  # chunks are padded to an even length
    if declared not in _UNKNOWN_SIZES and 8 + declared > size + 1:  # the pad byte of a last odd chunk is often left off
        return Cut("RIFF file", declared, size - 8)
    return None


def _boxes(fh: IO[bytes], size: int) -> Cut | None:
    pos = 0
    for _ in range(_MAX_ITEMS):
        header = _at(fh, pos, 16)
        if len(header) < 8:
            return None if pos >= size else Cut("box header", 8, size - pos)
        length, kind = struct.unpack(">I", header[:4])[0], header[4:8]
        at = 8
        if length == 1:  # a 64-bit size follows the type
            if len(header) < 16:
                return Cut(f"'{kind.decode('latin-1')}' box header", 16, size - pos)
            length, at = struct.unpack(">Q", header[8:16])[0], 16
        elif length == 0:  # 'to the end of the file'
            return None
        if length < at:
            return None  # not a size this walk can trust: leave the verdict to the decoder
        if pos + length > size:
            return Cut(f"'{kind.decode('latin-1')}' box", length - at, size - pos - at)
        pos += length
    return None


def _at(fh: IO[bytes], pos: int, n: int) -> bytes:
    fh.seek(pos)
    return fh.read(n)


def cut_of(data: Media) -> Cut | None:
    """`cut_short` over media bytes or a stored stream."""
    with open_media(data) as fh:
        return cut_short(fh)


def as_truncation(exc: DecodeFailure, cut: Cut | None) -> DecodeFailure:
    """A decoder's failure on a file cut short is its truncation: CORRUPT, NO_STREAM and EMPTY are
    what a missing index or missing samples look like from inside the decoder."""
    if cut is None or exc.reason not in (Reason.CORRUPT, Reason.NO_STREAM, Reason.EMPTY, Reason.TRUNCATED) or cut.detail in exc.detail:
        return exc
    return DecodeFailure(Reason.TRUNCATED, f"{cut.detail}; {exc.detail}")


def recovered(share: float, min_share: float, what: str, *damage: str) -> float:
    """`share` (of its declared length that `what` decodes) when it is at least `min_share`, else
    TRUNCATED naming the `damage` seen; a damaged file whose share is unknown (0) is never kept."""
    if share < min_share or share <= 0.0:
        why = "".join(f"{d}; " for d in damage if d)
        got = f"{share:.0%} of the {what} its header declares decodes" if share > 0.0 else f"how much of the {what} is missing is unknown"
        raise DecodeFailure(Reason.TRUNCATED, f"{why}{got} (recovery needs {min_share:.0%})")
    return share


def recovery(share: float) -> dict[str, float]:
    """The metric a row carries for what `recovered` kept: `recovered_share`, only when under 1."""
    return {"recovered_share": share} if share < 1.0 else {}
