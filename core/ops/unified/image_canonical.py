from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from core.decode.image import encode_png, fit_within, to_rgb
from core.ops.base import RowOp, register_op
from core.records import Result, Sample


@register_op("image.canonical")
@dataclass(frozen=True, slots=True)
class ImageCanonical(RowOp):
    """RGB PNG whose longer side is at most `max_side` (deterministic bytes)."""

    max_side: int = 512
    modality = "image"

    def __call__(self, s: Sample) -> Result:
        im = fit_within(to_rgb(Image.open(io.BytesIO(s.media["image"]))), self.max_side)
        return s.evolve(media={**s.media, "image": encode_png(im)}, formats={**s.formats, "image": "png"}).with_metrics(
            width=float(im.width), height=float(im.height)
        )
