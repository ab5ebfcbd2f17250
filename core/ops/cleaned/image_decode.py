from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode import DecodeFailure
from tessera.core.decode.image import (
    ALLOWED_FORMATS,
    PILLOW_ERRORS,
    canonical_image,
    dhash,
    frame_count,
    gray_preview,
    image_metrics,
    open_image,
    phash,
    to_srgb,
    unreadable,
)
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample


@register_op("image.decode")
@dataclass(frozen=True, slots=True)
class ImageDecode(RowOp):
    """Decode all of the image's data under a pixel cap and format allow-list; record its
    declared size, blur, exposure, dHash and pHash (after an ICC profile other than sRGB is
    applied: colours as a display shows them); its frame count (an animation or multi-page file
    over `max_frames` is TOO_LARGE; the canonical image is the first frame); and, from the same decode, its canonical form
    (upright RGB, longer side ≤ `max_side`, JPEG from a JPEG and PNG otherwise: what
    `image.canonical` would make), so the
    pixels are decoded once. A JPEG decodes at the smallest DCT scale still ≥ 1.5× `max_side`
    (every byte is still decoded, so truncation is still caught)."""

    max_pixels: int = 40_000_000
    formats: tuple[str, ...] = tuple(sorted(ALLOWED_FORMATS))
    max_side: int = 512
    png_level: int = 1
    jpeg_quality: int = 90
    max_frames: int = 1000
    modality = "image"

    def applies_to(self, s: Sample) -> bool:
        return "image" in s.media  # a row whose picture this stage did not load stays as it is

    def __call__(self, s: Sample) -> Result:
        allowed = frozenset(f.upper() for f in self.formats)
        try:
            im = open_image(s.media["image"], max_pixels=self.max_pixels, allowed=allowed, draft=(self.max_side, self.max_side))
        except DecodeFailure as exc:
            if s.formats.get("image") == "heic" and exc.reason is Reason.CORRUPT:  # sniffed as HEIF: Pillow has no decoder for it
                return s.quarantine(Reason.UNSUPPORTED, "a HEIF/HEIC picture: no HEIF decoder is installed (convert it to JPEG or AVIF first)")
            return s.quarantine(exc.reason, exc.detail)
        try:
            frames, stopped = frame_count(im, self.max_frames, self.max_pixels)
            if frames > self.max_frames:
                return s.quarantine(Reason.TOO_LARGE, f"more than {self.max_frames} frames (limit max_frames); the canonical image would be the first")
            im, converted = to_srgb(im)
            preview = gray_preview(im)
            h, p = dhash(preview), phash(preview)
            data, _, fmt = canonical_image(im, self.max_side, self.png_level, self.jpeg_quality)
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, exc.detail)
        except PILLOW_ERRORS as exc:  # pixels that loaded but do not convert (a damaged palette, an odd mode)
            failure = unreadable(exc, "pixels do not convert to RGB")
            return s.quarantine(failure.reason, failure.detail)
        if stopped:
            s = s.evolve(flags=[*s.flags, f"image.decode:{stopped}"])
        # hashes kept as two exact 32-bit halves so they fit the float metrics columns
        return s.evolve(media={**s.media, "image": data}, formats={**s.formats, "image": fmt}).with_metrics(
            **image_metrics(im, preview), dhash_hi=float(h >> 32), dhash_lo=float(h & 0xFFFFFFFF), phash_hi=float(p >> 32), phash_lo=float(p & 0xFFFFFFFF),
            source_frames=float(frames), icc_converted=float(converted),
        )  # fmt: skip
