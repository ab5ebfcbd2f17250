"""Whether a stage's work for a batch is already done: nothing is done twice.

A stage's output for a batch is a function of its code version (operators' sources, its params
section), the rest of params.yaml that can change rows (not `execution`, `search`, `serve`, ...),
the Great Expectations suites, its inputs (the landing drop for `raw`; the upstream table's rows
of the batch otherwise) and the steward's decisions. `inputs_digest` folds all of these into one
value; the factory records it, with `rows_digest` of the stage's own rows after its commits, on
each materialization.

Invariant: a stage is skipped only when its last materialization for the batch recorded the same
inputs digest, its own rows are still exactly the rows it left (same ids, statuses, reasons and
run ids: nothing deleted, handed over or set aside since), and its blocking checks passed then.
Anything else — or a run tagged `tessera/force` — does the work again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

from tessera.resources.decisions import TABLE as DECISIONS
from tessera.resources.store import LakeStore, _quote

FORCE_TAG = "tessera/force"
# params.yaml sections that never change a stage's rows (how it runs, how it is served and kept)
INERT = frozenset({"execution", "search", "serve", "release", "kubernetes", "maintenance", "landing"})
ROW_COLUMNS = ("sample_id", "status", "reason", "run_id")


def rows_digest(lake: LakeStore, table: str, batch: str) -> str:
    """Every row of the batch in `table`, landed or set aside, by id, status, reason and the run that
    wrote it (cost ∝ the batch: the `batch` index finds its rows)."""
    ds = lake.dataset(table)
    h = hashlib.sha256(table.encode())
    if ds is None:
        return h.hexdigest()[:16]
    columns = [c for c in ROW_COLUMNS if c in ds.schema.names]
    rows = ds.to_table(columns=columns, filter=f"batch = {_quote(batch)}")
    for row in sorted(zip(*(rows[c].to_pylist() for c in columns), strict=True), key=lambda r: tuple(str(v) for v in r)):
        h.update("\0".join(str(v) for v in row).encode() + b"\n")
    return h.hexdigest()[:16]


def inputs_digest(lake: LakeStore, params: Mapping[str, Any], code_version: str, inputs: str) -> str:
    """One value for everything a stage's rows depend on besides its own code: params that can
    change rows, the GX suites' code, `inputs` (the stage's own digest of what it reads) and the
    decisions table's version (a steward's decision anywhere may reach this batch: rejected content
    is set aside in every batch that carries it)."""
    from tessera.expectations import suites

    decisions = lake.dataset(DECISIONS)
    h = hashlib.sha256(code_version.encode())
    h.update(json.dumps({k: v for k, v in params.items() if k not in INERT}, sort_keys=True, default=str).encode())
    h.update(inspect.getsource(suites).encode())
    h.update(f"\0{inputs}\0{decisions.version if decisions is not None else 0}".encode())
    return h.hexdigest()[:16]


def forced(tags: Mapping[str, str]) -> bool:
    return str(tags.get(FORCE_TAG, "")).lower() in ("1", "true", "yes")
