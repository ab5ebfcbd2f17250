from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from core.ops.base import OpContext, register_op
from core.records import Reason, Result, Sample

Clusters = dict[str, tuple[str, int]]  # duplicate id → (id of the image kept, bits apart)


def _dhash(metrics: dict[str, Any]) -> int | None:
    hi, lo = metrics.get("dhash_hi"), metrics.get("dhash_lo")
    return None if hi is None or lo is None else (int(hi) << 32) | int(lo)


@register_op("image.near_dup")
@dataclass(frozen=True, slots=True)
class ImageNearDup:
    """Within a batch, keep the first image (by sample id) of each cluster whose dHashes (from
    cleaned) lie within `radius` bits; quarantine the others as DUPLICATE naming the one kept.
    Only image-only samples are compared (a captioned pair is distinct by its text).

    Batch-aware: clusters come from `prepare` over the whole batch, so the verdict does not
    depend on chunking. Applied to a bare list (no prepared state), the list is the batch."""

    radius: int = 4
    prepare_columns: ClassVar[tuple[str, ...]] = ("sample_id", "modalities", "metrics")

    def prepare(self, rows: Any) -> Clusters:
        return self.clusters((r["sample_id"], r["modalities"] or [], r["metrics"] or {}) for r in rows.to_pylist())

    def clusters(self, items: Iterable[tuple[str, list[str], dict[str, Any]]]) -> Clusters:
        # pigeonhole: hashes within `radius` bits agree exactly on at least one of radius+1 bands,
        # so candidates come from band buckets (near-linear) and the verdict equals a full scan's
        bands = self.radius + 1
        width = -(-64 // bands)
        buckets: dict[tuple[int, int], list[int]] = {}
        kept: list[tuple[int, str]] = []
        dups: Clusters = {}
        for sid, modalities, metrics in sorted(items):
            h = _dhash(metrics)
            if list(modalities) != ["image"] or h is None:
                continue
            keys = [(b, (h >> (b * width)) & ((1 << width) - 1)) for b in range(bands)]
            near = sorted({i for k in keys for i in buckets.get(k, ()) if (kept[i][0] ^ h).bit_count() <= self.radius})
            if near:
                dups[sid] = (kept[near[0]][1], (kept[near[0]][0] ^ h).bit_count())
                continue
            for k in keys:
                buckets.setdefault(k, []).append(len(kept))
            kept.append((h, sid))
        return dups

    def apply(self, samples: list[Sample], ctx: OpContext | None) -> list[Result]:
        prepared = ctx.prepared.get(self.op_name) if ctx is not None else None
        dups = prepared if prepared is not None else self.clusters((s.sample_id, s.modalities, s.metrics) for s in samples)
        return [
            s.quarantine(Reason.DUPLICATE, f"near-duplicate of {dups[s.sample_id][0][:12]} ({dups[s.sample_id][1]} bits apart)")
            if s.sample_id in dups
            else s
            for s in samples
        ]
