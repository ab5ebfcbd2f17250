from __future__ import annotations

from dataclasses import dataclass

from tessera.core.embedding import Pooled, embed_modality
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


def image_for(s: Sample, keyframes: int = 8) -> bytes | Pooled | None:
    """The canonical image, or up to `keyframes` of a video's keyframes spread over it (pooled; with
    one, its middle keyframe)."""
    if "image" in s.media:
        return s.media["image"]
    if not s.keyframes:
        return None
    n, m = len(s.keyframes), min(keyframes, len(s.keyframes))
    picked = [round(i * (n - 1) / (m - 1)) for i in range(m)] if m > 1 else [n // 2]  # first to last; one: the middle
    return Pooled(tuple(s.keyframes[i] for i in picked))


@register_op("embed.image")
@dataclass(frozen=True, slots=True)
class EmbedImage:
    """Image vector (CLIP by default) of the picture; of a video, the mean of up to `keyframes` of its
    keyframes' vectors (spread from first to last), so any of its scenes can find it."""

    batch_size: int = 32
    keyframes: int = 8

    def __post_init__(self) -> None:
        if self.keyframes < 1 or self.batch_size < 1:
            raise ValueError(f"embed.image: keyframes ({self.keyframes}) and batch_size ({self.batch_size}) must be at least 1")

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        return embed_modality(samples, ctx.models, "image", lambda s: image_for(s, self.keyframes), self.batch_size)
