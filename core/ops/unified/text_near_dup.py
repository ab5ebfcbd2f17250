from __future__ import annotations

import functools
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tessera.core.clusters import band_key, mark
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample

Clusters = dict[str, tuple[str, float]]  # member id → (its representative's id, 1 - estimated Jaccard); representatives map to themselves
WORDS = re.compile(r"\w+")


def shingles(text: str, k: int) -> np.ndarray:
    """CRC-32 of the character `k`-grams of the text's words (lower case, punctuation and
    spacing ignored): short captions still have enough of them to compare."""
    norm = " ".join(WORDS.findall(text.lower()))
    grams = {norm[i : i + k] for i in range(max(1, len(norm) - k + 1))}
    return np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


@functools.cache
def _salts(seed: int, n: int) -> np.ndarray:
    """One 64-bit salt per permutation: the same on every machine and run."""
    return np.random.default_rng(seed).integers(0, np.iinfo(np.int64).max, n, dtype=np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (wrapping uint64 arithmetic): a salted shingle hash becomes an
    independent-looking 64-bit value, so each salt orders the shingles differently."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@register_op("text.near_dup")
@dataclass(frozen=True, slots=True)
class TextNearDup:
    """Within a batch, cluster texts whose MinHash-estimated Jaccard similarity (character
    `k`-grams) to a cluster's representative — the first by sample id — is at least `threshold`;
    candidates come from LSH bands, so the batch is not compared pairwise.

    Text-only samples: the cluster is data on every member's row (`cluster`, `cluster_size`,
    `cluster_distance` = 1 - similarity); with `action: quarantine` members other than the
    representative are DUPLICATE naming it, with `keep` they land, clustered.

    Captions of different media (`captions`): the media differ, so neither sample is a copy of the
    other — `flag` (the default) lands both and flags each caption that near-copies another's
    (`text.near_dup:caption shared with …`: boilerplate such as "image" or a photographer's credit
    is a weak label a training set filters), `ignore` compares only text-only samples. Pictures
    that are copies are image.near_dup's to judge. Batch-aware like image.near_dup."""

    threshold: float = 0.8
    k: int = 5
    permutations: int = 128
    bands: int = 16  # 8 rows a band: pairs at 0.8 meet in some band 95 % of the time, pairs at 0.4 1 %
    seed: int = 1
    action: str = "quarantine"
    captions: str = "flag"
    prepare_columns: ClassVar[tuple[str, ...]] = ("sample_id", "modalities", "text")

    def __post_init__(self) -> None:
        if self.permutations % self.bands or self.action not in ("quarantine", "keep") or self.captions not in ("flag", "ignore"):
            raise ValueError(
                f"text.near_dup: bands must divide permutations ({self.bands} ∤ {self.permutations}), action is quarantine or keep "
                f"and captions flag or ignore (not {self.action!r} / {self.captions!r})"
            )

    def signature(self, text: str) -> np.ndarray:
        """Per permutation, the least mixed hash of the text's shingles."""
        return _mix(shingles(text, self.k)[:, None] ^ _salts(self.seed, self.permutations)[None, :]).min(axis=0)

    def band_keys(self, sig: np.ndarray) -> list[tuple[int, bytes]]:
        width = self.permutations // self.bands
        return [(i, sig[i * width : (i + 1) * width].tobytes()) for i in range(self.bands)]

    def prepare(self, rows: Any) -> Prepared:
        return self.grouped((r["sample_id"], r["modalities"] or [], r["text"]) for r in rows.to_pylist())

    def grouped(self, items: Iterable[tuple[str, list[str], str | None]]) -> Prepared:
        """Text-only samples' clusters, and (with `captions: flag`) captioned samples' clusters."""
        notes, captions = [], []
        for sid, modalities, text in items:
            if text:
                (notes if list(modalities) == ["text"] else captions).append((sid, text))
        return Prepared(self.clusters(notes), self.clusters(captions) if self.captions == "flag" else {})

    def clusters(self, items: Iterable[tuple[str, str]]) -> Clusters:
        buckets: dict[tuple[int, bytes], list[int]] = {}
        reps: list[tuple[np.ndarray, str]] = []
        members: Clusters = {}
        for sid, text in sorted(items):
            sig = self.signature(text)
            keys = self.band_keys(sig)
            near = sorted({j for key in keys for j in buckets.get(key, ())})
            scored = [(float(np.mean(reps[j][0] == sig)), j) for j in near]
            best = max(scored, key=lambda t: (t[0], -t[1]), default=(0.0, -1))
            if best[0] >= self.threshold:
                members[sid] = (reps[best[1]][1], round(1.0 - best[0], 4))
                continue
            for key in keys:
                buckets.setdefault(key, []).append(len(reps))
            reps.append((sig, sid))
        for rep in {rep for rep, _ in members.values()}:
            members[rep] = (rep, 0.0)
        return members

    # -- across batches (core.clusters.NearIndexed): text-only samples, the same LSH bands --------
    @property
    def cross_batch(self) -> bool:
        return self.action == "quarantine"

    @property
    def index_kind(self) -> str:
        return f"text:k{self.k}:p{self.permutations}:b{self.bands}:s{self.seed}"

    def index_value(self, modalities: list[str], metrics: Mapping[str, Any], text: str | None) -> bytes | None:
        return self.signature(text).tobytes() if text and list(modalities) == ["text"] else None

    def index_keys(self, value: bytes) -> list[int]:
        return [band_key(self.index_kind, i, part) for i, part in self.band_keys(np.frombuffer(value, dtype=np.uint64))]

    def distance(self, a: bytes, b: bytes) -> float | None:
        similarity = float(np.mean(np.frombuffer(a, dtype=np.uint64) == np.frombuffer(b, dtype=np.uint64)))
        return round(1.0 - similarity, 4) if similarity >= self.threshold else None

    def held_elsewhere(self, holder: str, batch: str, distance: float) -> str:
        return f"near-duplicate caption of {holder[:12]} held by batch {batch!r} (similarity {1 - distance:.2f})"

    def apply(self, samples: list[Sample], ctx: OpContext | None) -> list[Result]:
        prepared = ctx.prepared.get(self.op_name) if ctx is not None else None
        if prepared is None:
            prepared = self.grouped((s.sample_id, s.modalities, s.text) for s in samples)
        why = lambda rep, distance, size: f"near-duplicate caption of {rep[:12]} (similarity {1 - distance:.2f}; cluster of {size})"  # noqa: E731
        marked = mark(samples, prepared.notes, self.action == "quarantine", why)
        shared = Counter(rep for rep, _ in prepared.captions.values())
        out: list[Result] = []
        for r in marked:
            if isinstance(r, Sample) and r.sample_id in prepared.captions:
                rep, distance = prepared.captions[r.sample_id]
                others = f"{shared[rep] - 1} other sample" + ("s" if shared[rep] > 2 else "")
                r = r.evolve(flags=[*r.flags, f"text.near_dup:caption shared with {others} (as {rep[:12]}, similarity {1 - distance:.2f})"])
            out.append(r)
        return out


@dataclass(frozen=True, slots=True)
class Prepared:
    notes: Clusters  # text-only samples
    captions: Clusters = field(default_factory=dict)  # captions of samples with media (flagged, never set aside)
