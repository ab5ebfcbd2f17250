from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode import DecodeFailure
from tessera.core.decode.text import POLICIES, decode_text_as
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Result, Sample


@register_op("text.decode")
@dataclass(frozen=True, slots=True)
class TextDecode(RowOp):
    """Decode raw text bytes under a size cap and an encoding `policy` (core/decode/text.py:
    `strict` UTF-8 → BAD_ENCODING; `replace`; `detect`: charset-normalizer's guess when coherent
    above `min_confidence`); the encoding found is the row's text format (`formats["text"]`)."""

    max_bytes: int = 1_000_000
    policy: str = "strict"
    min_confidence: float = 0.8
    modality = "text"

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r} must be one of {POLICIES}")

    def __call__(self, s: Sample) -> Result:
        raw = s.media.get("text")
        if raw is None:
            return s
        try:
            text, encoding = decode_text_as(raw, max_bytes=self.max_bytes, policy=self.policy, min_confidence=self.min_confidence)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        media = {k: v for k, v in s.media.items() if k != "text"}
        return s.evolve(text=text, media=media, formats={**s.formats, "text": encoding}).with_metrics(text_chars=float(len(text)), text_bytes=float(len(raw)))
