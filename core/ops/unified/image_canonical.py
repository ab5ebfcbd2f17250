from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageOps

from core.decode import DecodeFailure
from core.decode.image import encode_png, fit_within, open_image, to_rgb
from core.ops.base import RowOp, register_op
from core.records import Result, Sample


@register_op("image.canonical")
@dataclass(frozen=True, slots=True)
class ImageCanonical(RowOp):
    """Upright (EXIF orientation applied) RGB PNG whose longer side is at most `max_side`;
    deterministic bytes. JPEGs decode at a reduced DCT scale when that is enough."""

    max_side: int = 512
    max_pixels: int = 40_000_000
    png_level: int = 1
    modality = "image"

    def __call__(self, s: Sample) -> Result:
        try:
            im = open_image(s.media["image"], max_pixels=self.max_pixels, draft=(self.max_side, self.max_side))
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        im = fit_within(to_rgb(ImageOps.exif_transpose(im)), self.max_side)
        return s.evolve(media={**s.media, "image": encode_png(im, self.png_level)}, formats={**s.formats, "image": "png"}).with_metrics(
            width=float(im.width), height=float(im.height)
        )
