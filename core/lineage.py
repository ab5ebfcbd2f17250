"""A sample's ledger: one edge per operator that changed or judged it at a stage, kept on the
row the stage commits (so the ledger and the table can never disagree: I2), replaced with it
when the batch is re-run.

Edges (`kind`):
- `modified`: the fields the operator changed (`detail`: their names);
- `dropped`: set aside (`detail`: reason, and the operator's words: the value and the limit);
- `duplicate_of`: set aside as a copy of `related[0]` (a near-copy's representative, or content another batch holds);
- `merged`: a near-duplicate cluster formed with `related[0]` as its representative;
- `split` / `window_of`: a long medium cut into windows or clips (`related`: the children / the parent);
- `augmented` / `variant_of`: variants made of it (`related`: the variants / the parent);
- `steward`: a steward's decision applied (relabel, approval, rejection).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from tessera.core.records import Quarantined, Reason, Result, Sample

WINDOW_OPS = ("audio.window", "video.window")  # aug_op of the rows a long medium is cut into
STEWARD = "steward."
# fields an operator's change to which is not worth an edge of its own (bookkeeping)
QUIET = frozenset({"lineage", "code_versions"})
FIELDS = tuple(f.name for f in dataclasses.fields(Sample) if f.name not in QUIET)


@dataclass(frozen=True, slots=True)
class Edge:
    op: str
    kind: str
    detail: str = ""
    related: tuple[str, ...] = ()


def changed(before: Sample, after: Sample) -> list[str]:
    """The fields `after` holds differently (media and keyframes compared by identity first:
    an operator that did not touch the bytes hands the same objects on)."""
    out = []
    for name in FIELDS:
        a, b = getattr(before, name), getattr(after, name)
        if a is b:
            continue
        if name == "media" and a.keys() == b.keys() and all(a[k] is b[k] for k in a):
            continue
        if a != b:
            out.append(name)
    return out


def edges(op: str, inputs: dict[str, Sample], outputs: Iterable[Result]) -> dict[str, list[Edge]]:
    """sample id → the edges one operator's outputs make (inputs: what it was given, by id)."""
    out: dict[str, list[Edge]] = {}
    children: dict[tuple[str, str], list[str]] = {}
    steward = op.startswith(STEWARD)
    for r in outputs:
        if isinstance(r, Quarantined):
            s = r.sample
            if r.reason is Reason.DUPLICATE and s.cluster and s.cluster != s.sample_id:
                edge = Edge(r.op or op, "duplicate_of", f"{r.reason.value}: {r.detail}", (s.cluster,))
            else:
                edge = Edge(r.op or op, "steward" if steward else "dropped", f"{r.reason.value}: {r.detail}")
            out.setdefault(s.sample_id, []).append(edge)
            continue
        before = inputs.get(r.sample_id)
        if before is None:  # a new row: a window or clip of a long medium, or a variant
            if r.parent_id is not None and r.parent_id in inputs:
                cut = r.aug_op in WINDOW_OPS
                out.setdefault(r.sample_id, []).append(Edge(op, "window_of" if cut else "variant_of", r.aug_op or "", (r.parent_id,)))
                children.setdefault((r.parent_id, "split" if cut else "augmented"), []).append(r.sample_id)
            continue
        fields = changed(before, r)
        if not fields:
            continue
        mine = out.setdefault(r.sample_id, [])
        by_steward = steward or ("flags" in fields and any(f.startswith(STEWARD) for f in r.flags if f not in before.flags))  # an approval against this op
        mine.append(Edge(op, "steward" if by_steward else "modified", ", ".join(fields)))
        if "cluster" in fields and r.cluster:
            size = r.metrics.get("cluster_size")
            mine.append(Edge(op, "merged", f"cluster of {size:.0f}" if size else "", (r.cluster,)))
    for (parent, kind), ids in children.items():
        out.setdefault(parent, []).append(Edge(op, kind, f"{len(ids)} rows", tuple(sorted(ids))))
    return out


def as_rows(edges: Iterable[Edge]) -> list[dict[str, object]]:
    return [{"op": e.op, "kind": e.kind, "detail": e.detail, "related": list(e.related)} for e in edges]


def set_aside_edge(op: str, reason: str, detail: str, duplicate_of: str | None = None) -> dict[str, object]:
    """The edge a row set aside after its stage's operators ran (a gate, a holder elsewhere) gains."""
    kind = "duplicate_of" if duplicate_of else "dropped"
    return {"op": op, "kind": kind, "detail": f"{reason}: {detail}", "related": [duplicate_of] if duplicate_of else []}
