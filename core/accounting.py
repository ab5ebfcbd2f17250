"""Invariant I1: per stage and batch, input keys = landed ∪ quarantined, disjoint.

Raw counts input *files* (a sample's `source` lists them); later stages count sample ids.
Augmentation variants are extra landed rows whose `parent_id` is an input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from core.discover import split_source
from core.records import Quarantined, Sample


@dataclass(frozen=True, slots=True)
class Account:
    inputs: int
    landed: int
    quarantined: int
    variants: int
    missing: list[str] = field(default_factory=list)  # inputs that went nowhere (silent drop)
    overlap: list[str] = field(default_factory=list)  # inputs both landed and quarantined
    unknown: list[str] = field(default_factory=list)  # outputs that are neither an input nor a variant of one

    @property
    def passed(self) -> bool:
        return not (self.missing or self.overlap or self.unknown)


def keys_by_source(s: Sample) -> list[str]:
    return split_source(s.source)


def keys_by_id(s: Sample) -> list[str]:
    return [s.sample_id]


def account(
    input_keys: list[str], landed: list[Sample], quarantined: list[Quarantined], key: Callable[[Sample], list[str]] = keys_by_id
) -> Account:
    inputs = set(input_keys)
    variants = [s for s in landed if s.parent_id is not None and s.sample_id not in inputs]
    variant_ids = {v.sample_id for v in variants}
    landed_keys = [k for s in landed if s.sample_id not in variant_ids for k in key(s)]
    q_keys = [k for q in quarantined for k in key(q.sample)]
    landed_set, q_set = set(landed_keys), set(q_keys)
    # an input must end in exactly one row: a key counted twice anywhere is an overlap
    counts = Counter(landed_keys) + Counter(q_keys)
    return Account(
        inputs=len(inputs),
        landed=len(landed) - len(variants),
        quarantined=len(quarantined),
        variants=len(variants),
        missing=sorted(inputs - landed_set - q_set),
        overlap=sorted(k for k, n in counts.items() if n > 1),
        unknown=sorted(((landed_set | q_set) - inputs) | {v.sample_id for v in variants if v.parent_id not in inputs}),
    )
