from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample


@register_op("image.min_side")
@dataclass(frozen=True, slots=True)
class ImageMinSide(RowOp):
    """Quarantine images whose shorter side is under `px`; the measured size stays on the row."""

    px: int = 32
    modality = "image"

    def applies_to(self, s: Sample) -> bool:
        return "image" in s.modalities and "width" in s.metrics  # measured by image.decode

    def __call__(self, s: Sample) -> Result:
        w, h = int(s.metrics["width"]), int(s.metrics["height"])
        if min(w, h) < self.px:
            return s.quarantine(Reason.LOW_QUALITY, f"{w}x{h} has a side under {self.px} px")
        return s
