from __future__ import annotations

from dataclasses import dataclass

from core.ops.base import OpContext, register_op
from core.records import Reason, Result, Sample


@register_op("dedup.exact")
@dataclass(frozen=True, slots=True)
class DedupExact:
    """Quarantine samples whose content already landed in another batch (same sample id).
    Duplicates inside one batch are caught at raw; re-running a batch never flags itself."""

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        seen = ctx.seen_elsewhere([s.sample_id for s in samples])
        return [
            s.quarantine(Reason.DUPLICATE, f"same content already landed in batch {seen[s.sample_id]!r}") if s.sample_id in seen else s
            for s in samples
        ]
