"""Which batch holds a picture (or a note) whose near-copies arrive in several batches: the
lake's band index, `near_index`, one table for every batch.

Entries: each landed row of a batch that a near-duplicate operator indexes (image.near_dup's
perceptual hash, text.near_dup's MinHash signature; core.clusters.NearIndexed) is either
- a *holder*: one entry per LSH band (`key`), found by later batches' lookups of the same keys, or
- a *claim*: one entry naming the holder (`holder_batch`, `holder_id`) it is a near-copy of;
  its row in `unified` is set aside DUPLICATE naming that batch.

Rule (the exact duplicates' rule, resources/ledger.py, for near-copies; I6):
- A batch's `unified` decides after its own commit, against every other batch's holders: a
  landed row within the operator's radius of another batch's holder claims it (the nearest; then
  the earliest-registered batch; then the smallest id); the rest hold. The first batch to decide
  holds; later batches never take over. A steward's approval against the operator keeps a row a holder.
- Re-deciding (a re-run) replaces the batch's entries. What it held and holds no longer (the drop
  lost the file, a steward rejected it, the batch was deleted) passes, in the same commit, to the
  earliest-registered claimant; the other claimants near it name it, the rest hold themselves.
  Each receiving batch is stale from `unified` on: its handoff is reported so it is re-run.

Concurrency: every decision also replaces the one token row, so two decisions never both commit
from one version: Lance rejects the second with a retryable conflict and it decides again.
A lookup costs the batch's keys (BTREE on `key`), never the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from lance.fragment import FragmentMetadata

from tessera.core.clusters import NearIndexed
from tessera.core.records import sha256_hex
from tessera.core.schema import NEAR_INDEX_SCHEMA
from tessera.resources.ledger import LATEST
from tessera.resources.store import NEAR_INDEX, TOKEN_ID, LakeStore, _quote, in_list, near_token

TABLE = NEAR_INDEX
SCHEMA = NEAR_INDEX_SCHEMA
SCALAR = {"key": "BTREE", "batch": "BITMAP", "holder_id": "BTREE", "row_id": "BTREE"}  # row_id: the token and handed-on rows are removed by id
CHUNK = 512


@dataclass(frozen=True, slots=True)
class Claim:
    op: str
    holder_id: str
    holder_batch: str
    distance: float
    detail: str


@dataclass(slots=True)
class NearCommit:
    version: int = 0
    claims: dict[str, Claim] = field(default_factory=dict)  # this batch's sample id → the near-copy another batch holds
    handoffs: dict[str, list[str]] = field(default_factory=dict)  # batch that now holds → its sample ids


@dataclass(frozen=True, slots=True)
class _Entry:
    op: NearIndexed
    sample_id: str
    value: bytes


def settle(
    lake: LakeStore, batch: str, ops: Sequence[NearIndexed], rows: Iterable[dict[str, Any]], approved: Callable[[str, str], bool], retries: int = 10
) -> NearCommit:
    """Decide, in one commit of `near_index`, which of the batch's landed `rows` (sample_id,
    modalities, metrics, text) are near-copies of content other batches hold, and hand on what
    the batch held before and holds no more. `approved(sample_id, op)`: a steward kept it."""
    ops = [op for op in ops if op.cross_batch]
    mine = [
        _Entry(op, r["sample_id"], v)
        for r in rows
        for op in ops
        if (v := op.index_value(list(r.get("modalities") or []), {k: x for k, x in (r.get("metrics") or {}).items() if x is not None}, r.get("text")))
    ]
    ds = lake.ensure(TABLE, SCHEMA, seed=near_token())
    if ds.count_rows(f"row_id = {_quote(TOKEN_ID)}") == 0:  # every decision replaces it: without it, two would not conflict
        lake.commit_appends(TABLE, lake.write_rows(TABLE, near_token()))
    by_kind = {op.index_kind: op for op in ops}
    order = lake.batch_order()
    result = NearCommit()

    def decide(ds: Any) -> tuple[str, list[FragmentMetadata]]:
        claims = _claims(ds, batch, mine, approved, order)
        new: list[dict[str, Any]] = []
        held_now: set[tuple[str, str]] = set()
        for e in mine:
            mark = (e.op.index_kind, e.sample_id)
            if mark in claims:
                new.append(_claim_row(batch, e, claims[mark]))
            else:
                new += _holder_rows(batch, e.op, e.sample_id, e.value)
                held_now.add(mark)
        moved, replaced, handoffs = _hand_on(ds, batch, held_now, by_kind, order)
        fragments = lake.write_rows(TABLE, pa.Table.from_pylist([*new, *moved, *near_token().to_pylist()], schema=SCHEMA))
        result.claims = {sid: Claim(by_kind[kind].op_name, *c, by_kind[kind].held_elsewhere(*c)) for (kind, sid), c in claims.items()}
        result.handoffs = handoffs
        return in_list("row_id", [TOKEN_ID, *replaced]), fragments

    result.version = lake.commit_batch(TABLE, batch, [], extra=decide)
    from tessera.resources.indexes import ensure_scalar_indexes

    ensure_scalar_indexes(lake.dataset(TABLE), SCALAR)
    return result


def near_ops(params: Mapping[str, Any]) -> list[NearIndexed]:
    """unified's operators whose clusters reach across batches, as params.yaml configures them."""
    from tessera.core.ops.base import build_ops

    return [op for op in build_ops(params.get("unified", {}).get("ops", [])) if getattr(op, "cross_batch", False)]  # type: ignore[misc]


def release(lake: LakeStore, batch: str, ops: Sequence[NearIndexed]) -> NearCommit:
    """The batch holds nothing any more (it is being deleted): its entries go, what it held passes
    on (`ops`: the operators configured now, whose bands the heirs' entries get)."""
    if lake.dataset(TABLE) is None:
        return NearCommit()
    return settle(lake, batch, ops, [], lambda sid, op: False)


def _claims(ds: Any, batch: str, mine: list[_Entry], approved: Callable[[str, str], bool], order: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, float]]:
    """(kind, sample id) → (holder id, holder batch, distance) for this batch's entries that are
    near another batch's holder (cost: the batch's keys)."""
    wanted: dict[str, dict[int, list[_Entry]]] = defaultdict(lambda: defaultdict(list))
    for e in mine:
        if approved(e.sample_id, e.op.op_name):
            continue
        for k in e.op.index_keys(e.value):
            wanted[e.op.index_kind][k].append(e)
    best: dict[tuple[str, str], tuple[Any, ...]] = {}
    for kind, keys in wanted.items():
        found = sorted(keys)
        for i in range(0, len(found), CHUNK):
            where = f"kind = {_quote(kind)} AND key IN ({', '.join(str(k) for k in found[i : i + CHUNK])}) AND batch != {_quote(batch)} AND holder_batch IS NULL"
            for r in ds.to_table(columns=["key", "sample_id", "batch", "value"], filter=where).to_pylist():
                for e in keys[r["key"]]:
                    d = e.op.distance(e.value, r["value"])
                    if d is None:
                        continue
                    rank = (d, order.get(r["batch"], LATEST), r["batch"], r["sample_id"])
                    mark = (kind, e.sample_id)
                    if mark not in best or rank < best[mark][0]:
                        best[mark] = (rank, r["sample_id"], r["batch"], d)
    return {mark: (sid, b, d) for mark, (_, sid, b, d) in best.items()}


def _hand_on(ds: Any, batch: str, held_now: set[tuple[str, str]], by_kind: dict[str, NearIndexed], order: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], dict[str, list[str]]]:
    """Because `batch` no longer holds some of what it held: (rows to write, row ids they
    replace, batch → ids it now holds). Cost: what the batch held and its claimants."""
    before = ds.to_table(columns=["kind", "sample_id"], filter=f"batch = {_quote(batch)} AND holder_batch IS NULL")
    released = sorted({(k, s) for k, s in zip(before["kind"].to_pylist(), before["sample_id"].to_pylist(), strict=True)} - held_now)
    if not released:
        return [], [], {}
    claimants: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    gone = set(released)
    ids = sorted({s for _, s in released})
    for i in range(0, len(ids), CHUNK):
        where = f"holder_batch = {_quote(batch)} AND {in_list('holder_id', ids[i : i + CHUNK])}"
        for r in ds.to_table(filter=where).to_pylist():
            if (r["kind"], r["holder_id"]) in gone:
                claimants[(r["kind"], r["holder_id"])].append(r)
    rows: list[dict[str, Any]] = []
    replaced: list[str] = []
    handoffs: dict[str, list[str]] = defaultdict(list)
    for (kind, _), claims in sorted(claimants.items()):
        op = by_kind.get(kind)
        claims.sort(key=lambda r: (order.get(r["batch"], LATEST), r["batch"], r["sample_id"]))
        replaced += [r["row_id"] for r in claims]
        first, *rest = claims
        heirs = [first]
        for r in rest:  # near the new holder: they name it; otherwise they hold themselves
            d = op.distance(r["value"], first["value"]) if op is not None else None
            if d is not None:
                rows.append({**r, "holder_batch": first["batch"], "holder_id": first["sample_id"], "distance": d})
            else:
                heirs.append(r)
        for r in heirs:
            handoffs[r["batch"]].append(r["sample_id"])
            if op is not None:  # a layout no longer configured: the heir re-decides when re-run
                rows += _holder_rows(r["batch"], op, r["sample_id"], r["value"])
    return rows, replaced, dict(handoffs)


def _holder_rows(batch: str, op: NearIndexed, sid: str, value: bytes) -> list[dict[str, Any]]:
    kind = op.index_kind
    return [
        {"row_id": sha256_hex(f"{batch}\0{kind}\0{sid}\0{band}".encode()), "kind": kind, "key": key, "sample_id": sid, "batch": batch,
         "op": op.op_name, "value": value}
        for band, key in enumerate(op.index_keys(value))
    ]  # fmt: skip


def _claim_row(batch: str, e: _Entry, claim: tuple[str, str, float]) -> dict[str, Any]:
    kind = e.op.index_kind
    return {
        "row_id": sha256_hex(f"{batch}\0{kind}\0{e.sample_id}\0claim".encode()), "kind": kind, "key": None, "sample_id": e.sample_id,
        "batch": batch, "op": e.op.op_name, "value": e.value, "holder_id": claim[0], "holder_batch": claim[1], "distance": claim[2],
    }  # fmt: skip


