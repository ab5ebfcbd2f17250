from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample


@register_op("image.shape")
@dataclass(frozen=True, slots=True)
class ImageShape(RowOp):
    """Quarantine strips and banners (longer side over `max_aspect` × the shorter: LOW_QUALITY) and
    pictures with a side over `max_side` px (TOO_LARGE; 0: no limit); `aspect_ratio` stays on the
    row either way. Sizes are the source's, as image.decode measured them."""

    max_aspect: float = 6.0
    max_side: int = 16384
    modality = "image"

    def applies_to(self, s: Sample) -> bool:
        return "image" in s.modalities and "width" in s.metrics  # measured by image.decode

    def __call__(self, s: Sample) -> Result:
        w, h = int(s.metrics["width"]), int(s.metrics["height"])
        aspect = round(max(w, h) / max(min(w, h), 1), 4)
        measured = s.with_metrics(aspect_ratio=aspect)
        if self.max_side and max(w, h) > self.max_side:
            return measured.quarantine(Reason.TOO_LARGE, f"{w}x{h} has a side over {self.max_side} px")
        if aspect > self.max_aspect:
            return measured.quarantine(Reason.LOW_QUALITY, f"{w}x{h} is {aspect:.1f}:1, longer than {self.max_aspect:g}:1 (a strip or banner)")
        return measured
