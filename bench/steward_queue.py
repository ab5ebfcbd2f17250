"""Review-queue latency at scale: one page of the steward's queue (`steward.queue.page`, what
`tessera review list` and the web app's queue page call) over a synthetic lake of N quarantined
rows, and the web app's queue page and one sample page end to end (HTTP through the ASGI app, HTML rendered).

    PYTHONPATH=. .venv/bin/python bench/steward_queue.py              # 100k rows: ~10 s to build, then the timings
    PYTHONPATH=. .venv/bin/python bench/steward_queue.py --n 20000 --decided 2000

The rows are written directly with the stage schema (`core.schema.samples_to_arrow`), spread over
4 batches, 3 stages and 3 reasons; `--decided` of them get a decision first (so `open` and
`decided` filters do real work). Each figure is the median of `--repeat` calls after one warm-up;
machines are shared and noisy: compare figures of one run with each other.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tessera.core.records import Reason, Sample, sha256_hex  # noqa: E402
from tessera.core.schema import samples_to_arrow  # noqa: E402
from tessera.resources import decisions  # noqa: E402
from tessera.resources.store import STAGE_TABLES, Lake  # noqa: E402

STAGES = ("cleaned", "unified", "aligned")
REASONS = ((Reason.LOW_QUALITY, "image.min_side", "{w}x{w} has a side under 64 px"), (Reason.DUPLICATE, "image.near_dup", "near-duplicate of {k} (3 bits apart)"),
           (Reason.MISALIGNED, "segments.offset", "cues run 2.5 s late against the audio (correlation 0.71; limit 1.0 s)"))  # fmt: skip


def synthetic_queue(uri: str, n: int, batches: int = 4, chunk: int = 20_000) -> list[dict[str, str]]:
    """Write `n` quarantined rows into the stage tables at `uri`; return (sample_id, batch, stage) of each."""
    lake = Lake(uri)
    lake.ensure_tables()
    made: list[dict[str, str]] = []
    for start in range(0, n, chunk):
        by_stage: dict[str, list] = {s: [] for s in STAGES}
        for i in range(start, min(n, start + chunk)):
            sid = sha256_hex(f"sample {i}".encode())
            stage, (reason, op, detail) = STAGES[i % len(STAGES)], REASONS[i % len(REASONS)]
            s = Sample(sid, f"b{i % batches}", f"drop/{i:06d}.png", ["image"], text=f"caption {i}", metrics={"width": 20.0 + i % 40, "height": 20.0})
            by_stage[stage].append(s.quarantine(reason, detail.format(w=20 + i % 40, k=sid[-12:]), op=op))
            made.append({"sample_id": sid, "batch": s.batch, "stage": stage, "op": op, "reason": reason.value})
        for stage, held in by_stage.items():
            table, _ = samples_to_arrow([], quarantined=held, stage=stage, run_id="bench", code_version="bench", input_version=0)
            lance.write_dataset(table, lake.dataset_uri(STAGE_TABLES[stage]), mode="append")
    return made


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--decided", type=int, default=5_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()

    from starlette.testclient import TestClient

    from tessera.steward.queue import Filter, page
    from tessera.steward.users import Users
    from tessera.steward.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        made = synthetic_queue(f"{tmp}/lake", args.n)
        lake = Lake(f"{tmp}/lake")
        decisions.record(lake, [{**m, "action": "reject", "note": "bench"} for m in made[: args.decided]], who="bench", client="bench")
        print(f"built {args.n} quarantined rows (+{args.decided} decisions) in {time.perf_counter() - t0:.1f} s")
        cases = {
            "open, page 1": (Filter(), 0),
            "open, page 1000": (Filter(), 50 * 999),
            "all, page 1": (Filter(status="all"), 0),
            "decided, page 1": (Filter(status="decided"), 0),
            "batch b2, page 1": (Filter(batch="b2"), 0),
            "stage aligned + reason MISALIGNED": (Filter(stage="aligned", reason="MISALIGNED"), 0),
        }
        for name, (f, offset) in cases.items():
            ms = median_ms(lambda f=f, offset=offset: page(lake, f, 50, offset), args.repeat)
            print(f"steward.queue.page  {name:<34} {ms:8.1f} ms  ({page(lake, f, 50, offset)[1]} match)")
        users = Users(Path(tmp) / "steward")
        users.add("bench", "viewer", "bench-password")
        client = TestClient(create_app(lake, Path(tmp) / "steward"), base_url="http://127.0.0.1:8080")
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)[1]
        client.post("/login", data={"user": "bench", "password": "bench-password", "csrf": token}, headers={"Origin": "http://127.0.0.1:8080"})

        def queue_page(query: str) -> None:
            response = client.get("/" + query, follow_redirects=False)
            assert response.status_code == 200 and 'id="count"' in response.text, f"GET /{query}: {response.status_code}"

        for name, query in {"queue page 1 (HTML)": "", "queue page 1000 (HTML)": "?page=1000", "queue batch b2 (HTML)": "?batch=b2"}.items():
            ms = median_ms(lambda query=query: queue_page(query), args.repeat)
            print(f"web GET /{query:<12} {name:<24} {ms:8.1f} ms")
        sample = f"/sample/{made[args.n // 2]['sample_id']}"
        ms = median_ms(lambda: client.get(sample, follow_redirects=False).raise_for_status(), args.repeat)
        print(f"web GET /sample/…   {'one sample page (HTML)':<24} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
