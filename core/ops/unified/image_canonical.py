from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from tessera.core.decode import DecodeFailure
from tessera.core.decode.image import CANONICAL_FORMATS, canonical_image, open_image
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Result, Sample


@register_op("image.canonical")
@dataclass(frozen=True, slots=True)
class ImageCanonical(RowOp):
    """Upright (EXIF orientation applied) RGB whose longer side is at most `max_side`, JPEG from a
    JPEG source and PNG from any other; deterministic bytes. An image `image.decode` already made canonical at this size is only
    measured (its header read), not decoded again."""

    max_side: int = 512
    max_pixels: int = 40_000_000
    png_level: int = 1
    jpeg_quality: int = 90
    modality = "image"

    def applies_to(self, s: Sample) -> bool:
        return "image" in s.media  # a row whose picture this stage did not load stays as it is

    def __call__(self, s: Sample) -> Result:
        data = s.media["image"]
        if s.formats.get("image") in CANONICAL_FORMATS:
            with Image.open(io.BytesIO(data)) as header:
                size = header.size
            if max(size) <= self.max_side:
                return s.with_metrics(width=float(size[0]), height=float(size[1]))
        try:
            im = open_image(data, max_pixels=self.max_pixels, draft=(self.max_side, self.max_side))
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        data, (w, h), fmt = canonical_image(im, self.max_side, self.png_level, self.jpeg_quality)
        return s.evolve(media={**s.media, "image": data}, formats={**s.formats, "image": fmt}).with_metrics(width=float(w), height=float(h))
