"""The pairing funnel's last step: manifest rows first, then shared stems, then time.

A file that neither a manifest row nor a stem paired (a group of one) may join another such
file when their recordings overlap in time: a camera's video takes a separate recorder's audio
track; a sound recording takes a photograph taken while it ran. The host is the recording the
other joins; the guest's start on the host's timeline travels with the group (`starts`) and
lands on the row as `paired_<modality>_start_s`, so that later stages put both on one timeline.

Invariant: pairing only merges groups of one into a host's group; every file still belongs to
exactly one group, so raw's accounting (I1 over files) is untouched, and a paired sample's id is
the one a stem pairing of the same files would give.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from tessera.core.capture import Capture
from tessera.core.discover import Group
from tessera.core.sniff import claimed_modality

# host modality → the modalities it takes as guests (one file of each at most)
GUESTS: dict[str, tuple[str, ...]] = {"video": ("audio",), "audio": ("image",)}


@dataclass(frozen=True, slots=True)
class TimePairing:
    """`min_overlap`: the share of the shorter recording that both must cover; a photograph
    pairs when taken within the recording, `tolerance_s` either side included."""

    min_overlap: float = 0.5
    tolerance_s: float = 1.0
    naive_utc_offset_h: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.min_overlap <= 1.0 or self.tolerance_s < 0:
            raise ValueError(f"raw.pairing.time: min_overlap must be in (0, 1] and tolerance_s ≥ 0, not {self.min_overlap} / {self.tolerance_s}")

    def fit(self, host: Capture, guest: Capture) -> tuple[float, float] | None:
        """(share of the shorter covered, seconds covered) when `guest` fits `host`, else None."""
        if guest.duration == 0.0:
            inside = host.start - self.tolerance_s <= guest.start <= host.end + self.tolerance_s
            return (1.0, 0.0) if inside else None
        covered = min(host.end, guest.end) - max(host.start, guest.start)
        share = covered / min(host.duration, guest.duration)
        return (share, covered) if covered > 0 and share >= self.min_overlap else None


def loners(groups: Iterable[Group]) -> dict[str, str]:
    """name → claimed modality of the files alone in their group whose modality can time-pair."""
    kinds = {m for host, guests in GUESTS.items() for m in (host, *guests)}
    return {g.names[0]: m for g in groups if g.row is None and len(g.names) == 1 and (m := claimed_modality(g.names[0])) in kinds}


def worth_reading(candidates: Mapping[str, str]) -> bool:
    """Whether any two candidates could pair at all (else no header need be read)."""
    present = set(candidates.values())
    return any(host in present and present & set(guests) for host, guests in GUESTS.items())


def pair_by_time(groups: list[Group], captures: Mapping[str, tuple[str, Capture]], rule: TimePairing) -> list[Group]:
    """`groups` with time-paired loners merged into their host's group (`captures`: name →
    (modality, capture) of the loners whose clocks could be read). Best fits first (largest
    share, then most seconds covered, then closest starts, then names): deterministic. A file is
    a host or a guest, never both; a host takes one guest of each modality."""
    options = []
    for gm in {g for guests in GUESTS.values() for g in guests}:
        # guests by start: a host looks only at those that can reach it (cost ∝ files × near neighbours, not files²)
        by_start = sorted((c.start, name) for name, (m, c) in captures.items() if m == gm)
        starts = [t for t, _ in by_start]
        reach = max((captures[n][1].duration for _, n in by_start), default=0.0) + rule.tolerance_s
        for host, (hm, hc) in captures.items():
            if gm not in GUESTS.get(hm, ()):
                continue
            for _, guest in by_start[bisect_left(starts, hc.start - reach) : bisect_right(starts, hc.end + rule.tolerance_s)]:
                gc = captures[guest][1]
                if guest != host and (fit := rule.fit(hc, gc)) is not None:
                    options.append((-fit[0], -fit[1], abs(gc.start - hc.start), host, guest))
    taken: dict[str, dict[str, str]] = {}  # host → guest modality → guest
    guests: set[str] = set()
    for *_, host, guest in sorted(options):
        gm = captures[guest][0]
        if guest in guests or guest in taken or host in guests or gm in taken.get(host, {}):
            continue
        taken.setdefault(host, {})[gm] = guest
        guests.add(guest)
    out: list[Group] = []
    for g in groups:
        name = g.names[0] if len(g.names) == 1 else None
        if name in guests:
            continue
        if name in taken:
            joined = sorted(taken[name].values())
            starts = {n: round(captures[n][1].start - captures[name][1].start, 6) for n in joined}
            g = replace(g, names=[name, *joined], starts=starts)
        out.append(g)
    return out


def funnel(groups: Iterable[Group]) -> dict[str, int]:
    """How the drop's files were grouped: manifest rows, shared stems, overlapping times, alone."""
    out = {"manifest": 0, "stem": 0, "time": 0, "alone": 0}
    for g in groups:
        out["manifest" if g.row is not None else "time" if g.starts else "stem" if len(g.names) > 1 else "alone"] += 1
    return out
