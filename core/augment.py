"""Shared rules for augmentation variants: deterministic ids, seeds and lineage fields."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tessera.core.decode import DecodeFailure
from tessera.core.records import Sample

log = logging.getLogger(__name__)


def variant_id(parent_id: str, op: str, params: dict[str, Any]) -> str:
    """Same parent, op and params → same id, on every machine and re-run."""
    blob = json.dumps({"parent": parent_id, "op": op, "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def variant_seed(seed: int, parent_id: str, op: str) -> int:
    """A per-(run seed, sample, op) seed: variants do not depend on batch order."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{parent_id}:{op}".encode()).digest()[:8], "little")


def make_variant(parent: Sample, op: str, params: dict[str, Any], **changes: Any) -> Sample:
    """A new row derived from `parent`; vectors and encoder notes never carry over."""
    return parent.evolve(
        sample_id=variant_id(parent.sample_id, op, params),
        parent_id=parent.sample_id,
        aug_op=op,
        aug_params=params,
        vectors={},
        encoders={},
        **changes,
    )


def is_original(s: Sample) -> bool:
    """A row augmentations may vary: an input, or a window of a long medium (itself content, not a variant)."""
    return s.parent_id is None or (s.aug_op or "").endswith(".window")


def seeds(seed: int, parent_id: str, op: str, n: int) -> list[int]:
    """`n` seeds for `n` variants of one sample by one op (the first is `variant_seed`'s)."""
    first = variant_seed(seed, parent_id, op)
    return [first] + [variant_seed(first, parent_id, f"{op}#{i}") for i in range(1, n)]


def caption_similarity(a: str, b: str) -> float:
    """Character-trigram Jaccard similarity of two captions (case and spacing ignored): 1 same, 0 nothing shared."""

    def grams(text: str) -> set[str]:
        t = " ".join(text.lower().split())
        return {t[i : i + 3] for i in range(max(1, len(t) - 2))}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def each_decoded(samples: Iterable[Sample], wanted: Callable[[Sample], bool], decode: Callable[[Sample], Any], op: str, variants: int) -> Iterator[tuple[Sample, Any]]:
    """(sample, its decoded media) for every original sample `wanted` that decodes; one that does
    not still lands, with no variant (logged). Nothing when `variants` is 0."""
    for s in samples:
        if not variants or not is_original(s) or not wanted(s):
            continue
        try:
            yield s, decode(s)
        except DecodeFailure as exc:
            log.warning("%s: no variant for %s: %s", op, s.sample_id[:12], exc.detail)


def audio_only(s: Sample) -> bool:
    """A sample whose audio is its own (a video's track varies with its pictures, not alone)."""
    return "audio" in s.media and "video" not in s.modalities


def audio_variant(parent: Sample, op: str, params: dict[str, Any], samples: Any, source: Any, **changes: Any) -> Sample:
    """A variant carrying new canonical audio `samples` (mono float32 at 16 kHz) and its metrics;
    `source` is the parent's decoded clip (the source rate and channels it came from)."""
    from tessera.core.decode.audio import CANONICAL_RATE, AudioClip, audio_metrics, encode_audio

    metrics = audio_metrics(AudioClip(samples, CANONICAL_RATE, source.source_rate, source.source_channels))
    variant = make_variant(parent, op, params, media={**parent.media, "audio": encode_audio(samples, CANONICAL_RATE)}, **changes)
    return variant.with_metrics(**metrics, audio_rate=float(CANONICAL_RATE))
