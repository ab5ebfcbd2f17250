"""Search latency and recall as a user meets them: the cold `tessera search` command, and `tessera
serve` answering over HTTP at 100k and 1M rows, beside recall@10 against exact search for each
query-time setting, so that params.yaml `search.ann` is chosen by measurement.

    .venv/bin/python bench/search.py                      # 100k rows (~6 min on 2 cores, first run)
    .venv/bin/python bench/search.py --sizes 100000,1000000 --reuse

Tables: `samples`-shaped (the columns search reads) with all-MiniLM-L6-v2 vectors (384-d) of
distinct generated sentences, the table filled past them with real vectors plus small Gaussian
perturbations, re-normalised (bench/indexes.py's corpus); indexed as the embedded stage indexes
`samples` (resources/indexes.update_indexes: the ANN kind and options of params.yaml, FTS, scalar).
Queries: held-out sentences. Ground truth: exact cosine top-10 by NumPy over the same vectors.

1. cold CLI: `tessera search QUERY` as a fresh process, wall time, on the 100k table.
2. recall@10 and in-process latency of the vector ranking (`resources.search.nearest`) for each
   (`ef`, `refine_factor`) in the sweep — the ranking whose recall the index decides.
3. served: `tessera serve` in its own process with params.yaml's settings; a keep-alive HTTP
   client posts text queries one at a time; latency includes query encoding, both rankings,
   fusion and HTTP. p50 and p95 after warm-up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from indexes import encode, exact_top_k, grow, sentences  # noqa: E402

from tessera.resources.params import load_params  # noqa: E402

K = 10
COLUMN = "vec_text__all_minilm_l6_v2"
SWEEP = ((64, None), (128, None), (256, None), (512, None), (512, 2), (512, 4), (1024, None), (1024, 2))  # (ef, refine_factor)


def build_table(lake: Path, vecs: np.ndarray, texts: list[str]) -> dict[str, Any]:
    """A `samples`-shaped table of len(vecs) landed rows, indexed as the embedded stage does."""
    import lancedb

    from tessera.resources.indexes import update_indexes

    n = len(vecs)
    lake.mkdir(parents=True, exist_ok=True)
    db = lancedb.connect(str(lake))
    started = time.perf_counter()
    step = 100_000
    table = None
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        text = [texts[i % len(texts)] + ("" if i < len(texts) else f" (variant {i})") for i in range(lo, hi)]
        flat = pa.array(vecs[lo:hi].reshape(-1), type=pa.float32())
        rows = pa.table({
            "sample_id": [f"{i:064x}" for i in range(lo, hi)], "batch": ["bench"] * (hi - lo), "status": ["landed"] * (hi - lo),
            "modalities": [["text"]] * (hi - lo), "text": text, "transcript": pa.nulls(hi - lo, pa.string()),
            "search_text": text, "source": [json.dumps([f"t{i}.txt"]) for i in range(lo, hi)],
            "parent_id": pa.nulls(hi - lo, pa.string()), "aug_op": pa.nulls(hi - lo, pa.string()),
            COLUMN: pa.FixedSizeListArray.from_arrays(flat, vecs.shape[1]),
        })  # fmt: skip
        table = db.create_table("samples", rows) if table is None else table
        if lo:
            table.add(rows)
    written = time.perf_counter() - started
    report = update_indexes(table, load_params())
    return {"rows": n, "write_s": round(written, 1), "index_s": report["seconds"], "created": report["created"]}


def recall_sweep(lake: Path, queries: np.ndarray, truth: list[set[int]], settings: tuple[tuple[int, int | None], ...]) -> list[dict[str, Any]]:
    from tessera.resources.search import Keep, SearchParams, nearest
    from tessera.resources.store import Lake

    ds = Lake(str(lake)).dataset("samples")
    out = []
    for ef, refine in settings:
        p = SearchParams(ef=ef, refine_factor=refine)
        for q in queries[:5]:
            nearest(ds, COLUMN, q, Keep(), K, p)
        times, hits = [], 0
        for q, want in zip(queries, truth, strict=True):
            t0 = time.perf_counter()
            got = nearest(ds, COLUMN, q, Keep(), K, p)
            times.append((time.perf_counter() - t0) * 1000)
            hits += len(want & {int(r["sample_id"], 16) for r in got})
        times.sort()
        out.append({"ef": ef, "refine_factor": refine, "recall": hits / (K * len(queries)), "p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]})
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path, lake: Path, params: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    return {**env, "TESSERA_HOME": str(home), "TESSERA_LAKE_URI": str(lake), "TESSERA_PARAMS": str(params), "PYTHONPATH": str(ROOT)}


def served(home: Path, lake: Path, params: Path, texts: list[str], warmup: int = 20) -> dict[str, Any]:
    """p50/p95 of POST /api/search over keep-alive HTTP against `tessera serve` in its own process."""
    from tessera.steward.users import Users

    users = Users(home / "steward")
    if users.get("bench") is None:
        users.add("bench", "viewer", "bench password, long enough")
    token = users.add_token("bench", f"run{time.time_ns()}")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tessera.orchestration.cli", "serve", "--port", str(port)], cwd=ROOT, env=_env(home, lake, params),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    started = time.perf_counter()
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", "/api/health")
                conn.getresponse().read()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - started > 300:
                    raise SystemExit(f"tessera serve did not start: {proc.stderr.read()[-800:] if proc.stderr else ''}") from None
                time.sleep(0.2)
        ready_s = time.perf_counter() - started
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        times, server_ms = [], []
        for i, text in enumerate(texts):
            t0 = time.perf_counter()
            conn.request("POST", "/api/search", body=json.dumps({"query": text, "k": K}), headers=headers)
            resp = conn.getresponse()
            body = json.loads(resp.read())
            if resp.status != 200:
                raise SystemExit(f"search failed ({resp.status}): {body}")
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
                server_ms.append(body["took_ms"])
        times.sort()
        return {"ready_s": round(ready_s, 1), "queries": len(times), "p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))],
                "server_p50_ms": statistics.median(server_ms)}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cold_cli(home: Path, lake: Path, params: Path, query: str, repeat: int = 5) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tessera.orchestration.cli", "search", query, "--k", str(K)], cwd=ROOT,
                              env=_env(home, lake, params), capture_output=True, text=True)  # fmt: skip
        out.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"tessera search failed: {done.stderr[-500:]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000", help="table sizes, comma-separated (e.g. 100000,1000000)")
    ap.add_argument("--real", type=int, default=3000, help="distinct sentences encoded for the tables")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--work", type=Path, default=ROOT / "bench/out/search")
    ap.add_argument("--reuse", action="store_true", help="keep tables built by an earlier run")
    args = ap.parse_args()
    texts = sentences(args.real + args.queries, 0)
    encoded, how = encode(texts)
    real, queries = encoded[: args.real], encoded[args.real :]
    query_texts = texts[args.real :]
    params = load_params()
    print(f"{len(texts)} generated sentences, MiniLM vectors {how}; ANN {params['indexes']['ann']}; search.ann {params['search']['ann']}")
    home = args.work / "home"
    home.mkdir(parents=True, exist_ok=True)
    params_file = home / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    results = []
    for n in sorted(int(s) for s in args.sizes.split(",")):
        lake = args.work / f"lake-{n}"
        if not (args.reuse and (lake / "samples.lance").is_dir()):
            shutil.rmtree(lake, ignore_errors=True)
            vecs = grow(real, n, args.noise, seed=1)
            built = build_table(lake, vecs, texts[: args.real])
            print(f"{n:>9,} rows: written in {built['write_s']} s, indexed in {built['index_s']} s ({', '.join(built['created'].values())})", flush=True)
        vecs = grow(real, n, args.noise, seed=1)
        truth = exact_top_k(vecs, queries)
        del vecs
        sweep = recall_sweep(lake, queries, truth, SWEEP)
        for r in sweep:
            print(f"{n:>9,} rows  ef={r['ef']:<4} refine={r['refine_factor'] or '-':<2} recall@10 {r['recall']:.3f}  vector ranking p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms", flush=True)
        srv = served(home, lake, params_file, query_texts)
        print(f"{n:>9,} rows  served (search.ann {params['search']['ann']}): p50 {srv['p50_ms']:.1f} ms  p95 {srv['p95_ms']:.1f} ms over {srv['queries']} queries "
              f"(server's own p50 {srv['server_p50_ms']:.1f} ms; ready {srv['ready_s']} s after start)", flush=True)  # fmt: skip
        row = {"rows": n, "sweep": sweep, "served": srv}
        if n == min(int(s) for s in args.sizes.split(",")):
            cold = cold_cli(home, lake, params_file, query_texts[0])
            row["cold_cli_s"] = cold
            print(f"{n:>9,} rows  cold `tessera search`: median {statistics.median(cold):.2f} s (min {min(cold):.2f}, max {max(cold):.2f}) over {len(cold)} runs", flush=True)
        results.append(row)
    (args.work / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
