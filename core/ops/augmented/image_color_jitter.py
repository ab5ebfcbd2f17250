from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import ImageEnhance

from tessera.core.augment import each_decoded, make_variant, seeds
from tessera.core.decode.image import CANONICAL_PNG, encode_canonical, open_image, to_rgb
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample

COLOUR_WORDS = re.compile(
    r"\b(red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|grey|gray|golden|silver|teal|turquoise|beige|crimson|scarlet|navy)\b",
    re.IGNORECASE,
)


@register_op("image.color_jitter")
@dataclass(frozen=True, slots=True)
class ImageColorJitter:
    """`variants` copies of each image with brightness, contrast and saturation each scaled by a
    seeded factor within ±`strength`. Hue is never shifted; when the caption names a colour, the
    saturation change is held to ±`named_colour_strength` so the named colour stays that colour."""

    variants: int = 1
    strength: float = 0.25
    named_colour_strength: float = 0.05
    max_pixels: int = 40_000_000

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        decode = lambda s: to_rgb(open_image(s.media["image"], max_pixels=self.max_pixels))  # noqa: E731
        for s, im in each_decoded(samples, lambda s: "image" in s.media, decode, self.op_name, self.variants):
            named = bool(s.text and COLOUR_WORDS.search(s.text))
            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                rng = np.random.default_rng(seed)
                b, c = (round(float(rng.uniform(1 - self.strength, 1 + self.strength)), 4) for _ in range(2))
                limit = self.named_colour_strength if named else self.strength
                sat = round(float(rng.uniform(1 - limit, 1 + limit)), 4)
                jittered = ImageEnhance.Color(ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(b)).enhance(c)).enhance(sat)
                data = encode_canonical(jittered, s.formats.get("image", CANONICAL_PNG))
                params = {"brightness": b, "contrast": c, "saturation": sat, "caption_names_colour": named, "seed": seed}
                out.append(make_variant(s, self.op_name, params, media={**s.media, "image": data}))
        return out
