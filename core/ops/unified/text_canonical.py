from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode.text import canonical_text
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample, Segment


@register_op("text.canonical")
@dataclass(frozen=True, slots=True)
class TextCanonical(RowOp):
    """NFC, unified newlines, trimmed — for the caption and every segment."""

    def __call__(self, s: Sample) -> Result:
        text = canonical_text(s.text) if s.text is not None else None
        if s.text is not None and not text:
            return s.quarantine(Reason.EMPTY, "text is empty after normalisation")
        segments = [Segment(g.start, g.end, canonical_text(g.text), g.source) for g in s.segments]
        return s.evolve(text=text, segments=[g for g in segments if g.text])
