from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tessera.core.clusters import band_key, mark
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample

Clusters = dict[str, tuple[str, float]]  # member id → (its representative's id, bits apart); representatives map to themselves
HASHES = ("phash", "dhash")
ACTIONS = ("quarantine", "keep")
CAPTIONS = ("gather", "separate")


def image_hash(metrics: dict[str, Any], kind: str) -> int | None:
    hi, lo = metrics.get(f"{kind}_hi"), metrics.get(f"{kind}_lo")
    return None if hi is None or lo is None else (int(hi) << 32) | int(lo)


@register_op("image.near_dup")
@dataclass(frozen=True, slots=True)
class ImageNearDup:
    """Within a batch, cluster every sample with a picture — captioned or not — whose perceptual
    hash (from cleaned; `hash`: phash or dhash) lies within `radius` bits of a cluster's
    representative, the first by sample id. The cluster is data on every member's row
    (`cluster`: the representative's id; `cluster_size`; `cluster_distance`: bits from it).
    With `action: quarantine` the members other than the representative are DUPLICATE naming
    it; with `keep` they land, clustered.

    What the copies' captions become is `captions`: `gather` puts each distinct caption of the
    copies on the representative's row (`captions`, in sample-id order; full-text search finds
    the picture by any of them), `separate` leaves each only on its copy's quarantine row.

    Batch-aware: clusters come from `prepare` over the whole batch, so the verdict does not
    depend on chunking. Applied to a bare list (no prepared state), the list is the batch.
    Across batches: resources/near_index.py, with the same bands and radius (`index_entries`)."""

    radius: int = 4
    hash: str = "phash"
    action: str = "quarantine"
    captions: str = "gather"
    prepare_columns: ClassVar[tuple[str, ...]] = ("sample_id", "metrics", "text")

    def __post_init__(self) -> None:
        if self.hash not in HASHES or self.action not in ACTIONS or self.captions not in CAPTIONS:
            raise ValueError(
                f"image.near_dup: hash must be one of {HASHES}, action one of {ACTIONS} and captions one of {CAPTIONS}, "
                f"not {self.hash!r} / {self.action!r} / {self.captions!r}"
            )

    def prepare(self, rows: Any) -> Prepared:
        return self.clusters((r["sample_id"], r["metrics"] or {}, r["text"]) for r in rows.to_pylist())

    @property
    def bands(self) -> int:
        return self.radius + 1

    def band_keys(self, h: int) -> list[tuple[int, int]]:
        """Pigeonhole: hashes within `radius` bits agree exactly on at least one of radius+1 bands."""
        width = -(-64 // self.bands)
        return [(b, (h >> (b * width)) & ((1 << width) - 1)) for b in range(self.bands)]

    def clusters(self, items: Iterable[tuple[str, dict[str, Any], str | None]]) -> Prepared:
        # candidates come from band buckets (near-linear), and the verdict equals a full scan's
        buckets: dict[tuple[int, int], list[int]] = {}
        kept: list[tuple[int, str]] = []
        members: Clusters = {}
        texts: dict[str, str] = {}
        for sid, metrics, text in sorted(items, key=lambda t: t[0]):
            h = image_hash(metrics, self.hash)
            if h is None:
                continue
            if text:
                texts[sid] = text
            keys = self.band_keys(h)
            near = sorted({i for k in keys for i in buckets.get(k, ()) if (kept[i][0] ^ h).bit_count() <= self.radius})
            if near:
                members[sid] = (kept[near[0]][1], float((kept[near[0]][0] ^ h).bit_count()))
                continue
            for k in keys:
                buckets.setdefault(k, []).append(len(kept))
            kept.append((h, sid))
        for rep in {rep for rep, _ in members.values()}:
            members[rep] = (rep, 0.0)
        return Prepared(members, self._gathered(members, texts))

    def _gathered(self, members: Clusters, texts: dict[str, str]) -> dict[str, list[str]]:
        """representative → the distinct captions of its copies that differ from its own."""
        if self.captions != "gather" or self.action != "quarantine":
            return {}
        out: dict[str, list[str]] = {}
        for sid in sorted(members):
            rep = members[sid][0]
            text = texts.get(sid)
            if sid != rep and text and text != texts.get(rep) and text not in out.get(rep, []):
                out.setdefault(rep, []).append(text)
        return out

    # -- across batches (core.clusters.NearIndexed): the same bands, stored in the lake ----------
    @property
    def cross_batch(self) -> bool:
        return self.action == "quarantine"

    @property
    def index_kind(self) -> str:
        return f"image:{self.hash}:r{self.radius}"

    def index_value(self, modalities: list[str], metrics: Mapping[str, Any], text: str | None) -> bytes | None:
        h = image_hash(dict(metrics), self.hash)
        return None if h is None else h.to_bytes(8, "big")

    def index_keys(self, value: bytes) -> list[int]:
        return [band_key(self.index_kind, b, v.to_bytes(8, "big")) for b, v in self.band_keys(int.from_bytes(value, "big"))]

    def distance(self, a: bytes, b: bytes) -> float | None:
        bits = (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
        return float(bits) if bits <= self.radius else None

    def held_elsewhere(self, holder: str, batch: str, distance: float) -> str:
        return f"near-duplicate of {holder[:12]} held by batch {batch!r} ({distance:.0f} bits apart by {self.hash})"

    def apply(self, samples: list[Sample], ctx: OpContext | None) -> list[Result]:
        prepared = ctx.prepared.get(self.op_name) if ctx is not None else None
        if prepared is None:
            prepared = self.clusters((s.sample_id, s.metrics, s.text) for s in samples)
        why = lambda rep, bits, size: f"near-duplicate of {rep[:12]} ({bits:.0f} bits apart by {self.hash}; cluster of {size})"  # noqa: E731
        marked = mark(samples, prepared.members, self.action == "quarantine", why)
        return [r.evolve(captions=[*r.captions, *prepared.captions[r.sample_id]]) if isinstance(r, Sample) and r.sample_id in prepared.captions else r for r in marked]


@dataclass(frozen=True, slots=True)
class Prepared:
    members: Clusters
    captions: dict[str, list[str]] = field(default_factory=dict)  # representative → captions gathered from its copies
