from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.augment import each_decoded, make_variant, seeds
from tessera.core.decode.image import CANONICAL_PNG, encode_canonical, open_image, to_rgb
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


@register_op("image.crop")
@dataclass(frozen=True, slots=True)
class ImageCrop:
    """`variants` random crops of each image, each keeping at least `min_area` of the picture
    (aspect within ±`max_aspect_change`), in the parent's canonical format; the caption is kept
    (a crop this large still shows what it names). Seeded per sample: re-runs give the same bytes."""

    variants: int = 1
    min_area: float = 0.7
    max_aspect_change: float = 0.15
    max_pixels: int = 40_000_000

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        decode = lambda s: to_rgb(open_image(s.media["image"], max_pixels=self.max_pixels))  # noqa: E731
        for s, im in each_decoded(samples, lambda s: "image" in s.media, decode, self.op_name, self.variants):
            w, h = im.size
            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                rng = np.random.default_rng(seed)
                area = rng.uniform(self.min_area, 1.0)
                aspect = np.exp(rng.uniform(-self.max_aspect_change, self.max_aspect_change))
                cw, ch = min(w, max(1, round(w * np.sqrt(area * aspect)))), min(h, max(1, round(h * np.sqrt(area / aspect))))
                x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
                box = (x, y, x + cw, y + ch)
                crop = im.crop(box)
                data = encode_canonical(crop, s.formats.get("image", CANONICAL_PNG))
                variant = make_variant(s, self.op_name, {"box": list(box), "seed": seed}, media={**s.media, "image": data})
                out.append(variant.with_metrics(width=float(cw), height=float(ch)))
        return out
