from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from core.clusters import mark
from core.ops.base import OpContext, register_op
from core.records import Result, Sample

Clusters = dict[str, tuple[str, float]]  # member id → (its representative's id, bits apart); representatives map to themselves
HASHES = ("phash", "dhash")
ACTIONS = ("quarantine", "keep")


def image_hash(metrics: dict[str, Any], kind: str) -> int | None:
    hi, lo = metrics.get(f"{kind}_hi"), metrics.get(f"{kind}_lo")
    return None if hi is None or lo is None else (int(hi) << 32) | int(lo)


@register_op("image.near_dup")
@dataclass(frozen=True, slots=True)
class ImageNearDup:
    """Within a batch, cluster images whose perceptual hashes (from cleaned; `hash`: phash or
    dhash) lie within `radius` bits of a cluster's representative — the first image by sample id.
    The cluster is data on every member's row (`cluster`: the representative's id;
    `cluster_size`; `cluster_distance`: bits from it). With `action: quarantine` the members
    other than the representative are DUPLICATE naming it; with `keep` they land, clustered.
    Only image-only samples are compared (a captioned pair is distinct by its text).

    Batch-aware: clusters come from `prepare` over the whole batch, so the verdict does not
    depend on chunking. Applied to a bare list (no prepared state), the list is the batch."""

    radius: int = 4
    hash: str = "phash"
    action: str = "quarantine"
    prepare_columns: ClassVar[tuple[str, ...]] = ("sample_id", "modalities", "metrics")

    def __post_init__(self) -> None:
        if self.hash not in HASHES or self.action not in ACTIONS:
            raise ValueError(f"image.near_dup: hash must be one of {HASHES} and action one of {ACTIONS}, not {self.hash!r} / {self.action!r}")

    def prepare(self, rows: Any) -> Clusters:
        return self.clusters((r["sample_id"], r["modalities"] or [], r["metrics"] or {}) for r in rows.to_pylist())

    def clusters(self, items: Iterable[tuple[str, list[str], dict[str, Any]]]) -> Clusters:
        # pigeonhole: hashes within `radius` bits agree exactly on at least one of radius+1 bands,
        # so candidates come from band buckets (near-linear) and the verdict equals a full scan's
        bands = self.radius + 1
        width = -(-64 // bands)
        buckets: dict[tuple[int, int], list[int]] = {}
        kept: list[tuple[int, str]] = []
        members: Clusters = {}
        for sid, modalities, metrics in sorted(items):
            h = image_hash(metrics, self.hash)
            if list(modalities) != ["image"] or h is None:
                continue
            keys = [(b, (h >> (b * width)) & ((1 << width) - 1)) for b in range(bands)]
            near = sorted({i for k in keys for i in buckets.get(k, ()) if (kept[i][0] ^ h).bit_count() <= self.radius})
            if near:
                members[sid] = (kept[near[0]][1], float((kept[near[0]][0] ^ h).bit_count()))
                continue
            for k in keys:
                buckets.setdefault(k, []).append(len(kept))
            kept.append((h, sid))
        for rep in {rep for rep, _ in members.values()}:
            members[rep] = (rep, 0.0)
        return members

    def apply(self, samples: list[Sample], ctx: OpContext | None) -> list[Result]:
        prepared = ctx.prepared.get(self.op_name) if ctx is not None else None
        clusters = prepared if prepared is not None else self.clusters((s.sample_id, s.modalities, s.metrics) for s in samples)
        why = lambda rep, bits, size: f"near-duplicate of {rep[:12]} ({bits:.0f} bits apart by {self.hash}; cluster of {size})"  # noqa: E731
        return mark(samples, clusters, self.action == "quarantine", why)
