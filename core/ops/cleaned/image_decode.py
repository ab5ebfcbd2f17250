from __future__ import annotations

from dataclasses import dataclass

from core.decode import DecodeFailure
from core.decode.image import ALLOWED_FORMATS, dhash, gray_preview, image_metrics, open_image
from core.ops.base import RowOp, register_op
from core.records import Result, Sample


@register_op("image.decode")
@dataclass(frozen=True, slots=True)
class ImageDecode(RowOp):
    """Decode all of the image's data under a pixel cap and format allow-list (a JPEG at the
    smallest DCT scale still ≥ 2× the metrics' 512 px preview: every byte is still decoded, so
    truncation is still caught); record size, blur, exposure, dHash."""

    max_pixels: int = 40_000_000
    formats: tuple[str, ...] = tuple(sorted(ALLOWED_FORMATS))
    modality = "image"

    def __call__(self, s: Sample) -> Result:
        try:
            im = open_image(s.media["image"], max_pixels=self.max_pixels, allowed=frozenset(f.upper() for f in self.formats), draft=(512, 512))
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        preview = gray_preview(im)
        h = dhash(preview)
        # dHash kept as two exact 32-bit halves so it fits the float metrics columns.
        return s.with_metrics(**image_metrics(im, preview), dhash_hi=float(h >> 32), dhash_lo=float(h & 0xFFFFFFFF))
