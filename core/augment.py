"""Shared rules for augmentation variants: deterministic ids, seeds and lineage fields."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.records import Sample


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
