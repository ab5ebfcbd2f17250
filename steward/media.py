"""Stored media served over HTTP: content-addressed blobs read as streams, with byte ranges
(what browsers' audio and video players ask for), never loaded whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from tessera.core.sniff import sniff
from tessera.resources.store import LakeStore

SHA = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 64 * 1024
SNIFF_BYTES = 4096
MIME = {
    ("image", "png"): "image/png", ("image", "jpeg"): "image/jpeg", ("image", "gif"): "image/gif", ("image", "webp"): "image/webp",
    ("image", "bmp"): "image/bmp", ("image", "tiff"): "image/tiff",
    ("audio", "wav"): "audio/wav", ("audio", "flac"): "audio/flac", ("audio", "mp3"): "audio/mpeg", ("audio", "ogg"): "audio/ogg",
    ("audio", "opus"): "audio/ogg", ("audio", "m4a"): "audio/mp4",
    ("video", "mp4"): "video/mp4", ("video", "mov"): "video/quicktime", ("video", "webm"): "video/webm", ("video", "mkv"): "video/x-matroska",
    ("subtitles", "vtt"): "text/vtt; charset=utf-8", ("subtitles", "srt"): "text/plain; charset=utf-8",
}  # fmt: skip
# what a browser may show inline; anything else is sent as an attachment
INLINE = ("image/", "audio/", "video/", "text/")


class RangeNotSatisfiable(ValueError):
    """The requested range lies wholly outside the blob."""


class BadRange(ValueError):
    """A Range header no blob could satisfy the form of (a position of more than 18 digits)."""


@dataclass(frozen=True, slots=True)
class Blob:
    sha256: str
    size: int
    mime: str
    stream: IO[bytes]

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes start … end (inclusive), in chunks; closes the stream when done."""
        try:
            self.stream.seek(start)
            left = end - start + 1
            while left > 0:
                data = self.stream.read(min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data
        finally:
            self.stream.close()


def open_blob(lake: LakeStore, sha: str) -> Blob | None:
    """The stored blob `sha` as a stream with its size and media type, or None."""
    if not SHA.match(sha):
        return None
    where = lake.blob_addresses([sha])
    stream = lake.open_blobs([sha], where).get(sha)
    if stream is None:
        return None
    head = stream.read(SNIFF_BYTES)
    found = sniff(head)
    return Blob(sha, where[sha][1], MIME.get((found.modality or "", found.format), "application/octet-stream"), stream)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive of a single `Range: bytes=…` request, or None to send it all (no
    header, another unit, several ranges, a malformed one: a server may ignore Range).
    Raises RangeNotSatisfiable for a range wholly past the end, BadRange for a position longer
    than 18 digits (no blob is that large; the digits are never turned into a number)."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header, re.ASCII)
    if m is None or (not m[1] and not m[2]):
        return None
    if max(len(m[1]), len(m[2])) > 18:
        raise BadRange(f"Range positions are at most 18 digits; this one has {max(len(m[1]), len(m[2]))}")
    if not m[1]:  # the last N bytes
        n = int(m[2])
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - n), size - 1
    start = int(m[1])
    end = min(int(m[2]), size - 1) if m[2] else size - 1
    if m[2] and int(m[2]) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header)
    return start, end
