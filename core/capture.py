"""When a recording was made: a media file's capture interval, read from its own metadata.

Time-overlap pairing (core/pairing.py) asks this of the files that paired neither by manifest
nor by stem. Only headers are read (an MP4's `moov`, a WAV's `bext`, a JPEG's EXIF), never the
samples. A clock that states no zone (EXIF without OffsetTimeOriginal, a WAV's `bext` date and
time) is read at `naive_utc_offset_h` from UTC; a file with no clock has no capture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import IO

EXIF_IFD, DATETIME, DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, SUBSEC_TIME_ORIGINAL = 0x8769, 0x0132, 0x9003, 0x9011, 0x9291
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO = re.compile(r"(\d{4})[-:](\d{2})[-:](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True, slots=True)
class Capture:
    """A recording's span in seconds since the epoch (UTC); a photograph lasts 0 s."""

    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


def parse_time(text: str, naive_utc_offset_h: float = 0.0, subsec: str = "", offset: str = "") -> float | None:
    """Seconds since the epoch of an ISO 8601 or EXIF (`2026:05:01 10:00:07`) date-time; None
    when `text` is not one (a bare year, an empty field, a camera's all-zero date)."""
    m = _ISO.match(text.strip().rstrip("\x00"))
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    zone = zone or offset.strip() or None
    try:
        if zone in (None, ""):
            tz = timezone(timedelta(hours=naive_utc_offset_h))
        elif zone == "Z":
            tz = UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))
        at = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz)
    except ValueError:
        return None
    seconds = float(fraction) if fraction else float(f"0.{subsec.strip()}") if subsec.strip().isdigit() else 0.0
    return at.timestamp() + seconds


def capture_of(stream: IO[bytes], modality: str, naive_utc_offset_h: float = 0.0) -> Capture | None:
    """The capture interval of an image (EXIF DateTimeOriginal) or a recording (container
    `creation_time`, or a broadcast WAV's origination date and time, and its duration); None
    when the file states none or cannot be read (its decoder judges it later)."""
    try:
        if modality == "image":
            return _image(stream, naive_utc_offset_h)
        if modality in ("audio", "video"):
            return _recording(stream, naive_utc_offset_h)
    except Exception:  # a header no library can read is a file with no clock, not a failed run
        return None
    return None


def _image(stream: IO[bytes], naive_utc_offset_h: float) -> Capture | None:
    from PIL import Image

    with Image.open(stream) as im:  # lazy: reads the header, not the pixels
        exif = im.getexif()
        inner = exif.get_ifd(EXIF_IFD)
    text = inner.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not isinstance(text, str):
        return None
    at = parse_time(text, naive_utc_offset_h, str(inner.get(SUBSEC_TIME_ORIGINAL) or ""), str(inner.get(OFFSET_TIME_ORIGINAL) or ""))
    return None if at is None else Capture(at, 0.0)


def _recording(stream: IO[bytes], naive_utc_offset_h: float) -> Capture | None:
    import av

    with av.open(stream, metadata_errors="ignore") as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
        for s in container.streams:
            tags = {**{k.lower(): v for k, v in s.metadata.items()}, **tags}
        at = parse_time(tags.get("creation_time", ""))
        if at is None and _DAY.fullmatch(tags.get("date", "")):  # broadcast WAV: FFmpeg reads bext's local date and time so
            at = parse_time(f"{tags['date']} {tags.get('creation_time') or '00:00:00'}", naive_utc_offset_h)
        if at is None:
            return None
        duration = container.duration / 1e6 if container.duration else 0.0
        if not duration:
            duration = max((float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base), default=0.0)
    return Capture(at, duration) if duration > 0 else None
