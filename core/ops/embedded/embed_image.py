from __future__ import annotations

from dataclasses import dataclass

from tessera.core.embedding import embed_modality
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


def image_for(s: Sample) -> bytes | None:
    """The canonical image, or a video's middle keyframe."""
    if "image" in s.media:
        return s.media["image"]
    return s.keyframes[len(s.keyframes) // 2] if s.keyframes else None


@register_op("embed.image")
@dataclass(frozen=True, slots=True)
class EmbedImage:
    """Image vector (CLIP by default) of the picture or a video's middle keyframe."""

    batch_size: int = 32

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        return embed_modality(samples, ctx.models, "image", image_for, self.batch_size)
