"""Decoders: bytes (or streams over stored bytes) in, arrays and metrics out, under explicit limits.

Decoders raise `DecodeFailure` (an expected outcome on bad data, with a reason code);
operators turn it into a quarantine row. Any other exception is a bug.
"""

import io
from typing import IO

from tessera.core.records import Media, Reason


class DecodeFailure(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def open_media(data: Media) -> IO[bytes]:
    """A readable, seekable stream over media bytes in memory or stored in the lake."""
    return io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data.open()
