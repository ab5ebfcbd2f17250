from __future__ import annotations

from dataclasses import dataclass

from tessera.core.embedding import embed_modality, text_for
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


@register_op("embed.text")
@dataclass(frozen=True, slots=True)
class EmbedText:
    """Text vector of the caption, else the transcript or cues (speech is searched by its words)."""

    batch_size: int = 64

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        return embed_modality(samples, ctx.models, "text", text_for, self.batch_size)
