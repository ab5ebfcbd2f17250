"""Invariant I1: per stage and batch, input keys = landed ∪ quarantined, disjoint.

Raw counts input *files* (a row's `source` lists them); later stages count sample ids.
Augmentation variants are extra landed rows whose `parent_id` is an input.
The books are kept row by row as chunks are written, so no stage holds its batch to count it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.core.discover import split_source


@dataclass(frozen=True, slots=True)
class Account:
    inputs: int
    landed: int
    quarantined: int
    variants: int
    missing: list[str] = field(default_factory=list)  # inputs that went nowhere (silent drop)
    overlap: list[str] = field(default_factory=list)  # inputs both landed and quarantined, or twice
    unknown: list[str] = field(default_factory=list)  # outputs that are neither an input nor a variant of one

    @property
    def passed(self) -> bool:
        return not (self.missing or self.overlap or self.unknown)


@dataclass(slots=True)
class Books:
    """Running account of one (stage, batch). Feed it every output row (a mapping with
    sample_id, parent_id, status, source, reason); ask `account(inputs)` at the end."""

    by_source: bool = False  # raw: keys are input names, not sample ids
    keys: Counter[str] = field(default_factory=Counter)
    outputs: list[tuple[str, str | None]] = field(default_factory=list)  # (sample id, parent) of landed rows
    reasons: Counter[str] = field(default_factory=Counter)
    landed: int = 0
    quarantined: int = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for r in rows:
            if r["status"] == "landed":
                self.landed += 1
                self.outputs.append((r["sample_id"], r.get("parent_id")))
                if r.get("parent_id") is not None:
                    continue  # a variant is counted against its parent below
            elif r["status"] == "quarantined":
                self.quarantined += 1
                self.reasons[r["reason"]] += 1
            else:
                continue
            self.keys.update(split_source(r["source"]) if self.by_source else [r["sample_id"]])

    def set_aside(self, ids: Iterable[str], reason: str) -> None:
        """Landed rows turned into quarantined ones after the fact (a quality gate's verdict)."""
        gone = set(ids)
        for sid, parent in [o for o in self.outputs if o[0] in gone]:
            self.outputs.remove((sid, parent))
            self.landed -= 1
            self.quarantined += 1
            self.reasons[reason] += 1
            if parent is not None:  # a variant that is an input was counted through `outputs`
                self.keys[sid] += 1

    def account(self, input_keys: Iterable[str]) -> Account:
        inputs = set(input_keys)
        variants = [(sid, parent) for sid, parent in self.outputs if parent is not None and sid not in inputs]
        unknown = (set(self.keys) - inputs) | {sid for sid, parent in variants if parent not in inputs}
        # a variant that is also an input (its own parent in this batch) is counted as an input
        self_parented = Counter(sid for sid, parent in self.outputs if parent is not None and sid in inputs)
        counts = self.keys + self_parented
        return Account(
            inputs=len(inputs),
            landed=self.landed - len(variants),
            quarantined=self.quarantined,
            variants=len(variants),
            missing=sorted(inputs - set(counts)),
            overlap=sorted(k for k, n in counts.items() if n > 1),
            unknown=sorted(unknown),
        )
