"""Decoders: bytes in, arrays and metrics out, under explicit limits.

Decoders raise `DecodeFailure` (an expected outcome on bad data, with a reason code);
operators turn it into a quarantine row. Any other exception is a bug.
"""

from core.records import Reason


class DecodeFailure(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
