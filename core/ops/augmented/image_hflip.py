from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from PIL import Image, ImageOps

from tessera.core.augment import is_original, make_variant
from tessera.core.decode import DecodeFailure
from tessera.core.decode.image import CANONICAL_PNG, dhash, encode_canonical, open_image, to_rgb
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample
from tessera.core.textdet import text_scores

log = logging.getLogger(__name__)
_SIDES = re.compile(r"\b(left|right)(?=\b|[-_])", re.IGNORECASE)


def swap_sides(text: str) -> str:
    """'left' ↔ 'right', keeping case ('Left' → 'Right', 'LEFT' → 'RIGHT')."""

    def repl(m: re.Match[str]) -> str:
        word = m.group(0)
        other = "right" if word.lower() == "left" else "left"
        if word.isupper():
            return other.upper()
        return other.capitalize() if word[0].isupper() else other

    return _SIDES.sub(repl, text)


@register_op("image.hflip")
@dataclass(frozen=True, slots=True)
class ImageHFlip:
    """Add a mirrored variant of each image, in its parent's canonical format; its caption says
    right where the parent says left. A picture with writing in it is not mirrored (mirror
    writing is not the same picture): its `text_score` (core/textdet.py, share of the area that
    reads as text) is kept on the row, and over `max_text_score` the parent carries a flag
    saying why it has no variant."""

    max_pixels: int = 40_000_000
    max_text_score: float = 0.002

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        decoded: list[tuple[Sample, Image.Image]] = []
        for s in samples:
            if "image" not in s.media or not is_original(s):
                continue
            try:
                decoded.append((s, to_rgb(open_image(s.media["image"], max_pixels=self.max_pixels))))
            except DecodeFailure as exc:  # the parent still lands; it just gets no variant
                log.warning("image.hflip: no variant for %s: %s", s.sample_id[:12], exc.detail)
        scores = dict(zip((s.sample_id for s, _ in decoded), text_scores([im for _, im in decoded]), strict=True))
        out: list[Result] = []
        variants: list[Result] = []
        for s in samples:
            if s.sample_id not in scores:
                out.append(s)
                continue
            score = scores[s.sample_id]
            if score > self.max_text_score:
                out.append(s.evolve(flags=[*s.flags, f"image.hflip:not mirrored, writing covers {score:.2%}"]).with_metrics(text_score=score))
                continue
            out.append(s.with_metrics(text_score=score))
            flipped = ImageOps.mirror(next(im for t, im in decoded if t is s))
            h = dhash(flipped)
            variant = make_variant(
                s, self.op_name, {"axis": "horizontal"}, media={**s.media, "image": encode_canonical(flipped, s.formats.get("image", CANONICAL_PNG))}, text=swap_sides(s.text) if s.text else s.text
            )
            variants.append(variant.with_metrics(dhash_hi=float(h >> 32), dhash_lo=float(h & 0xFFFFFFFF), text_score=score))
        return out + variants
