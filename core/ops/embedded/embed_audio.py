from __future__ import annotations

from dataclasses import dataclass

from tessera.core.embedding import embed_modality
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample


def audio_for(s: Sample) -> bytes | None:
    """The canonical 16 kHz mono FLAC (a video's own track included)."""
    return s.media.get("audio")


@register_op("embed.audio")
@dataclass(frozen=True, slots=True)
class EmbedAudio:
    """Audio vector (CLAP by default) of the canonical 16 kHz track."""

    batch_size: int = 16

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        return embed_modality(samples, ctx.models, "audio", audio_for, self.batch_size)
