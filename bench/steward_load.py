"""The review web app under load on loopback, while the pipeline commits into the same lake.

    PYTHONPATH=. .venv/bin/python bench/steward_load.py                 # 60 s of load (~2 min to build the lake first)
    PYTHONPATH=. .venv/bin/python bench/steward_load.py --seconds 20 --clients 50

It builds the small review lake the tests use (`tests/steward/review_lake.py`: ingest +
materialize through Dagster), starts `tessera steward serve` (a real uvicorn process on
127.0.0.1, a free port), adds a steward, logs in, and runs `--clients` concurrent clients, each on
its own keep-alive connection with that session, for `--seconds`: round-robin over the queue page,
one sample's page, and 64 KiB byte ranges of that sample's audio. Meanwhile `tessera ingest` +
`tessera materialize` run a second batch into the same lake in another process, so stage tables
commit under the readers (the clients start at its first commit). It prints p50/p95/max per route, requests per second, the commits
that landed during the load, and the errors (any status but 200/206, any failed connection):
the target is zero. Machines are shared and noisy: compare figures of one run with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tessera.resources.store import STAGE_TABLES, Lake  # noqa: E402
from tessera.steward.users import Users  # noqa: E402
from tests.steward.review_lake import build_review_lake, make_drop, review_env  # noqa: E402

PASSWORD = "correct horse battery"
RANGE = 64 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def second_drop(drop: Path, extra: int = 12) -> None:
    """The review drop again plus `extra` new noise pictures: a batch with content of its own."""
    make_drop(drop)
    rng = np.random.default_rng(11)
    for i in range(extra):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(drop / f"noise{i}.png")
        (drop / f"noise{i}.txt").write_text(f"noise picture number {i}\n")


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TESSERA_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("TESSERA_LAKE_URI", None)
    cmd = [sys.executable, "-m", "tessera.orchestration.cli", "steward", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the app did not start: {proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.1)
    raise SystemExit("the app did not start within 60 s")


def login(port: int) -> str:
    """A session cookie of the steward `ana`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    body, login_cookie = page.read().decode(), page.headers["set-cookie"].split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', body)[1]
    form = urlencode({"user": "ana", "password": PASSWORD, "csrf": token, "next": "/"})
    headers = {"Cookie": login_cookie, "Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/x-www-form-urlencoded"}
    conn.request("POST", "/login", body=form, headers=headers)
    done = conn.getresponse()
    done.read()
    if done.status != 303:
        raise SystemExit(f"login failed: {done.status}")
    return next(c.split(";")[0] for c in done.headers.get_all("set-cookie") if c.startswith("tessera_session="))


def get_json(port: int, path: str, cookie: str) -> object:
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Cookie": cookie})
    return json.loads(conn.getresponse().read())


def pipeline(home: Path, drop: Path, batch: str, out: dict[str, object]) -> None:
    """`tessera ingest` + `tessera materialize` of `batch`, as a user runs them, in another process."""
    env = {**os.environ, "TESSERA_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("TESSERA_LAKE_URI", None)
    started = time.perf_counter()
    cli = [sys.executable, "-m", "tessera.orchestration.cli"]
    for args in (["ingest", str(drop), "--batch", batch], ["materialize", "--batch", batch]):
        done = subprocess.run([*cli, *args], env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            out.update(ok=False, error=(done.stderr or done.stdout).strip().splitlines()[-1:], seconds=time.perf_counter() - started)
            return
    out.update(ok=True, seconds=time.perf_counter() - started)


def versions(uri: str) -> dict[str, int]:
    lake = Lake(uri)
    return {t: int(ds.version) for t in (*STAGE_TABLES.values(), "blobs") if (ds := lake.dataset(t)) is not None}


async def client(port: int, cookie: str, routes: list[tuple[str, str, dict[str, str]]], deadline: float, seen: dict[str, list[float]], errors: list[str]) -> None:
    """One browser-like client: a keep-alive connection, requests one after another until `deadline`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = random.randrange(len(routes))
    try:
        while time.perf_counter() < deadline:
            name, path, extra = routes[i % len(routes)]
            i += 1
            headers = {"Host": f"127.0.0.1:{port}", "Cookie": cookie, **extra}
            if name == "media range":
                start = random.randrange(0, max(1, int(extra["X-Size"]) - RANGE))
                headers["Range"] = f"bytes={start}-{start + RANGE - 1}"
            headers.pop("X-Size", None)
            t0 = time.perf_counter()
            try:
                writer.write((f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
                status = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors.append(f"{name}: {type(exc).__name__} {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            seen[name].append(time.perf_counter() - t0)
            if status not in (200, 206):
                errors.append(f"{name}: HTTP {status}")
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response whole (Content-Length or chunked); its status."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while (size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    return status


async def load(port: int, cookie: str, routes: list[tuple[str, str, dict[str, str]]], clients: int, seconds: float) -> tuple[dict[str, list[float]], list[str], float]:
    seen: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(client(port, cookie, routes, started + seconds, seen, errors) for _ in range(clients)))
    return seen, errors, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the clients run (default: 60)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients (default: 50)")
    ap.add_argument("--no-pipeline", action="store_true", help="no concurrent materialization (a baseline)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="steward-load-") as tmp:
        home = Path(tmp) / "tessera"
        t0 = time.perf_counter()
        with review_env(home):
            build_review_lake(home)
        print(f"review lake built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        second_drop(home / "drops" / "load2")
        Users(home / "steward").add("ana", "steward", PASSWORD)
        port = free_port()
        proc = serve(home, port)
        try:
            cookie = login(port)
            talk = next(e for e in get_json(port, "/api/queue?status=all&reason=MISALIGNED", cookie)["entries"])
            sha = get_json(port, f"/api/sample/{talk['sample_id']}", cookie)["media"]["audio"]
            size = Lake(str(home / "lake")).blob_addresses([sha])[sha][1]
            routes = [("queue page", "/", {}), ("sample page", f"/sample/{talk['sample_id']}", {}), ("media range", f"/media/{sha}", {"X-Size": str(size)})]
            ran: dict[str, object] = {}
            worker = threading.Thread(target=pipeline, args=(home, home / "drops" / "load2", "load2", ran))
            if not args.no_pipeline:  # the load starts with the pipeline's first commit: its stages commit under it
                first = versions(str(home / "lake"))
                worker.start()
                while versions(str(home / "lake")) == first and worker.is_alive():
                    time.sleep(0.2)
            before = versions(str(home / "lake"))
            seen, errors, took = asyncio.run(load(port, cookie, routes, args.clients, args.seconds))
            after = versions(str(home / "lake"))
            if not args.no_pipeline:
                worker.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        commits = sum(after.get(t, 0) - before.get(t, 0) for t in after)
        total = sum(len(v) for v in seen.values())
        print(f"\n{args.clients} clients for {took:.1f} s on 127.0.0.1 ({os.cpu_count()} CPUs); audio blob {size:,} bytes, ranges of {RANGE // 1024} KiB")
        print(f"{'route':<12} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, _, _ in routes:
            ms = sorted(t * 1000 for t in seen[name])
            p95 = statistics.quantiles(ms, n=20)[-1] if len(ms) > 1 else (ms[0] if ms else 0.0)
            print(f"{name:<12} {len(ms):>9} {statistics.median(ms) if ms else 0:>8.1f} {p95:>8.1f} {max(ms, default=0):>8.1f}")
        print(f"requests/s {total / took:.1f}; errors {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
        if args.no_pipeline:
            print("no concurrent pipeline (--no-pipeline)")
        else:
            print(f"pipeline (ingest + materialize of batch load2): {'ok' if ran.get('ok') else 'FAILED ' + str(ran.get('error'))} in {ran.get('seconds', 0):.0f} s; "
                  f"{commits} lake commits landed during the load ({', '.join(f'{t} +{after[t] - before.get(t, 0)}' for t in after if after[t] != before.get(t, 0)) or 'none'})")  # fmt: skip
        if errors:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
