"""Near-duplicate clusters as data: every member's row names its representative (`cluster`),
the cluster's size and the member's distance from the representative; members other than the
representative may be set aside DUPLICATE, naming it."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from tessera.core.records import Reason, Result, Sample

Clusters = Mapping[str, tuple[str, float]]  # member id → (its representative's id, distance); representatives map to (themselves, 0)


def mark(samples: list[Sample], clusters: Clusters, quarantine: bool, why: Callable[[str, float, int], str]) -> list[Result]:
    """Each sample with its cluster recorded; with `quarantine`, non-representatives DUPLICATE
    with `why(representative, distance, cluster size)` as the detail."""
    sizes = Counter(rep for rep, _ in clusters.values())
    out: list[Result] = []
    for s in samples:
        if s.sample_id not in clusters:
            out.append(s)
            continue
        rep, distance = clusters[s.sample_id]
        row = s.evolve(cluster=rep).with_metrics(cluster_size=float(sizes[rep]), cluster_distance=float(distance))
        out.append(row.quarantine(Reason.DUPLICATE, why(rep, distance, sizes[rep])) if quarantine and rep != s.sample_id else row)
    return out


def band_key(kind: str, band: int, part: bytes) -> int:
    """One LSH band's bucket as a signed 64-bit key, the same on every machine. Two values that
    share a band share its key; a collision only adds a candidate, which is verified."""
    return int.from_bytes(hashlib.blake2b(f"{kind}\0{band}\0".encode() + part, digest_size=8).digest(), "big", signed=True)


class NearIndexed(Protocol):
    """An operator whose clusters reach across batches through the lake's band index
    (resources/near_index.py): it states what it indexes of a landed row and how two values compare."""

    op_name: ClassVar[str]

    @property
    def cross_batch(self) -> bool: ...  # whether copies of other batches' content are set aside

    @property
    def index_kind(self) -> str: ...  # the band layout: entries made under another one never meet

    def index_value(self, modalities: list[str], metrics: Mapping[str, Any], text: str | None) -> bytes | None: ...

    def index_keys(self, value: bytes) -> list[int]: ...

    def distance(self, a: bytes, b: bytes) -> float | None: ...  # None: not near enough to be one cluster

    def held_elsewhere(self, holder: str, batch: str, distance: float) -> str: ...  # the DUPLICATE detail
