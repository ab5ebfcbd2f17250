from __future__ import annotations

from dataclasses import dataclass

from core.decode import DecodeFailure
from core.decode.text import POLICIES, decode_text
from core.ops.base import RowOp, register_op
from core.records import Result, Sample


@register_op("text.decode")
@dataclass(frozen=True, slots=True)
class TextDecode(RowOp):
    """Decode raw text bytes as UTF-8 under `policy` (strict → BAD_ENCODING) and a size cap."""

    max_bytes: int = 1_000_000
    policy: str = "strict"
    modality = "text"

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r} must be one of {POLICIES}")

    def __call__(self, s: Sample) -> Result:
        raw = s.media.get("text")
        if raw is None:
            return s
        try:
            text = decode_text(raw, max_bytes=self.max_bytes, policy=self.policy)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        media = {k: v for k, v in s.media.items() if k != "text"}
        return s.evolve(text=text, media=media).with_metrics(text_chars=float(len(text)), text_bytes=float(len(raw)))
