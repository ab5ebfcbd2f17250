from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image, ImageOps

from core.augment import make_variant
from core.decode.image import encode_png
from core.ops.base import OpContext, register_op
from core.records import Result, Sample

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
    """Add a mirrored variant of each image; its caption says right where the parent says left."""

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        for s in samples:
            if "image" not in s.media or s.parent_id is not None:
                continue
            flipped = ImageOps.mirror(Image.open(io.BytesIO(s.media["image"])).convert("RGB"))
            text = swap_sides(s.text) if s.text is not None else None
            out.append(make_variant(s, self.op_name, {"axis": "horizontal"}, media={**s.media, "image": encode_png(flipped)}, text=text))
        return out
