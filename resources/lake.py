"""The lake as a Dagster resource: the data plane is `resources.store` (see its docstring for
the invariants: one Lance transaction per (table, batch), no host lock, bytes stored once)."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import PrivateAttr

from tessera.resources.store import (
    BATCH_NAME,
    LANDED,
    QUARANTINED,
    SAMPLE_SCHEMA,
    STAGE_TABLES,
    TABLE_STAGES,
    Lake,
    LakeStore,
    _quote,
    check_batch_name,
    in_list,
    iter_chunks,
)


class LakeResource(ConfigurableResource, LakeStore):
    """LanceDB lake. `uri` empty → `TESSERA_LAKE_URI` or `$TESSERA_HOME/lake`."""

    uri: str = ""

    _db: Any = PrivateAttr(default=None)

    def store(self) -> Lake:
        """The same lake as a plain object (picklable; what workers open)."""
        return Lake(self.resolved_uri())


__all__ = [
    "BATCH_NAME", "LANDED", "QUARANTINED", "SAMPLE_SCHEMA", "STAGE_TABLES", "TABLE_STAGES",
    "Lake", "LakeResource", "_quote", "check_batch_name", "in_list", "iter_chunks",
]  # fmt: skip
