"""Near-duplicate clusters as data: every member's row names its representative (`cluster`),
the cluster's size and the member's distance from the representative; members other than the
representative may be set aside DUPLICATE, naming it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from core.records import Reason, Result, Sample

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
