from __future__ import annotations

from dataclasses import dataclass

from core.ops.base import OpContext, register_op
from core.records import Reason, Result, Sample


def _dhash(s: Sample) -> int:
    return (int(s.metrics["dhash_hi"]) << 32) | int(s.metrics["dhash_lo"])


@register_op("image.near_dup")
@dataclass(frozen=True, slots=True)
class ImageNearDup:
    """Within a batch, keep the first image (by sample id) of each cluster whose dHashes lie
    within `radius` bits; quarantine the others as DUPLICATE naming the one kept.
    Only image-only samples are compared (a captioned pair is distinct by its text)."""

    radius: int = 4

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        kept: list[tuple[int, Sample]] = []
        verdict: dict[str, Result] = {}
        for s in sorted(samples, key=lambda x: x.sample_id):
            if s.modalities != ["image"] or "dhash_hi" not in s.metrics:
                continue
            h = _dhash(s)
            near = next((k for kh, k in kept if (kh ^ h).bit_count() <= self.radius), None)
            if near is None:
                kept.append((h, s))
            else:
                bits = (_dhash(near) ^ h).bit_count()
                verdict[s.sample_id] = s.quarantine(Reason.DUPLICATE, f"near-duplicate of {near.sample_id[:12]} ({bits} bits apart)")
        return [verdict.get(s.sample_id, s) for s in samples]
