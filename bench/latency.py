"""How long a user waits: a drop until it is searchable, `tessera status`, and a small batch
beside its base run — each measured as the user meets it, in fresh processes, on this machine.

    .venv/bin/python bench/latency.py                 # ~10 min on 2 cores
    .venv/bin/python bench/latency.py --repeats 3 --base 100

1. drop → searchable, batch path: `tessera ingest` + `tessera materialize` + `tessera search`
   (each a fresh process, as a person or a script runs them), for 1 and 10 captioned photos.
2. drop → searchable, stream path: `tessera serve --watch` up (warm), a drop copied under the
   landing root with its `_READY` marker last; the clock runs from the marker until
   `POST /api/search` returns the drop's caption. p50 over `--repeats` drops, 1 and 10 photos.
3. `tessera status --batch B`: in its own process, and through the running server
   (TESSERA_SERVE_URL).
4. the small batch: a base run of `--base` captioned photos, then a batch of 1% of them, each
   through `tessera materialize` (and each through the warm stream host, marker to searchable);
   the small batch's wall as a share of the base run's.
5. nothing done twice: `tessera materialize --stage raw` on `--notes` small text notes, then again
   on the unchanged drop (skipped: the run's own seconds).

Pictures are generated (seeded smooth colour fields with shapes: each distinct, none a
near-copy of another), so every drop lands in full. Targets (issue: Speed): stream p50 ≤ 5 s
for one photo; status ≤ 1 s; the 1% batch ≤ 3% of its base run.
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
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
TESSERA = [sys.executable, "-m", "tessera.orchestration.cli"]
WORDS = "amber basalt cedar delta ember fjord garnet harbor indigo juniper kelp lagoon meadow nectar orchid pebble quartz".split()


def picture(seed: int, side: int = 480) -> Image.Image:
    """A distinct picture: a smooth random colour field with a few random shapes."""
    rng = np.random.default_rng(seed)
    field = rng.random((6, 6, 3))
    im = Image.fromarray((field * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = rng.integers(0, side - 60, 2)
        w, h = rng.integers(30, side // 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=colour)
    return im


def caption(seed: int) -> str:
    rng = np.random.default_rng(seed + 7)
    return f"shapes number {seed} " + " ".join(rng.choice(WORDS, 4, replace=False))


def make_drop(folder: Path, seeds: list[int], ready: bool = True) -> list[str]:
    folder.mkdir(parents=True)
    for s in seeds:
        picture(s).save(folder / f"p{s}.jpg", quality=90)
        (folder / f"p{s}.txt").write_text(caption(s) + "\n")
    if ready:
        (folder / "_READY").touch()
    return [caption(s) for s in seeds]


def env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "DAGSTER_"))}
    return {**base, "TESSERA_HOME": str(home), "PYTHONPATH": str(ROOT), **extra}


def cli(home: Path, *args: str, **extra: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run([*TESSERA, *args], cwd=home, env=env(home, **extra), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tessera {' '.join(args)} failed: {done.stderr.strip()[-600:]}")
    return time.perf_counter() - t0, done.stdout


def batch_path(home: Path, seeds: list[int], name: str) -> float:
    """ingest + materialize + search, each a fresh process: seconds until the first caption is found."""
    captions = make_drop(home / "drops" / name, seeds, ready=False)
    t0 = time.perf_counter()
    cli(home, "ingest", str(home / "drops" / name), "--batch", name)
    cli(home, "materialize", "--batch", name, "--json")
    _, out = cli(home, "search", captions[0], "--k", "3", "--json")
    if not any(h["text"] == captions[0] for h in json.loads(out)):
        raise SystemExit(f"batch {name}: '{captions[0]}' not found after its run")
    return time.perf_counter() - t0


class Server:
    """`tessera serve --watch` in its own process, with a viewer's token."""

    def __init__(self, home: Path, landing: Path) -> None:
        subprocess.run([*TESSERA, "steward", "user", "add", "bench", "--role", "viewer", "--password-stdin"], input="a long bench password\n",
                       cwd=home, env=env(home), check=True, capture_output=True, text=True)  # fmt: skip
        _, out = cli(home, "steward", "token", "add", "bench", "--label", f"latency{time.time_ns()}", "--json")
        self.token = json.loads(out)["token"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([*TESSERA, "serve", "--watch", "--port", str(self.port)], cwd=home,
                                     env=env(home, TESSERA_LANDING_ROOT=str(landing)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        started = time.perf_counter()
        while True:
            try:
                self.request("GET", "/api/health")
                break
            except OSError:
                if self.proc.poll() is not None or time.perf_counter() - started > 300:
                    raise SystemExit(f"tessera serve --watch did not start: {self.proc.stderr.read()[-800:] if self.proc.stderr else ''}") from None
                time.sleep(0.2)
        self.ready_s = time.perf_counter() - started

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {getattr(self, 'token', '')}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def found(self, text: str) -> bool:
        status, body = self.request("POST", "/api/search", {"query": text, "k": 3})
        return status == 200 and any(h["text"] == text for h in body["hits"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def stream_path(server: Server, landing: Path, seeds: list[int], name: str, timeout_s: float = 300) -> float:
    """Seconds from the drop's ready marker until its first caption is found through the server."""
    captions = make_drop(landing / name, seeds, ready=False)
    (landing / name / "_READY").touch()
    t0 = time.perf_counter()
    while not server.found(captions[0]):
        if time.perf_counter() - t0 > timeout_s:
            raise SystemExit(f"drop {name}: not searchable after {timeout_s} s")
        time.sleep(0.05)
    return time.perf_counter() - t0


def p50(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="drops per size on the stream path")
    ap.add_argument("--base", type=int, default=100, help="captioned photos in the base run of the small-batch figure")
    ap.add_argument("--notes", type=int, default=20_000, help="text notes in the drop whose unchanged raw is run twice (0: skip)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench/out/latency")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    home, landing = args.work / "home", args.work / "landing"
    (home / "drops").mkdir(parents=True)
    landing.mkdir(parents=True)
    seed = iter(range(1, 1_000_000))
    out: dict[str, Any] = {}

    warm = batch_path(home, [next(seed)], "first")  # the first batch also creates the lake and its tables
    out["batch_path"] = {"first_s": warm, **{f"{n}_photos_s": batch_path(home, [next(seed) for _ in range(n)], f"batch{n}") for n in (1, 10)}}
    print(f"batch path, drop → searchable (ingest + materialize + search, fresh processes): first batch {warm:.1f} s; "
          f"1 photo {out['batch_path']['1_photos_s']:.1f} s; 10 photos {out['batch_path']['10_photos_s']:.1f} s", flush=True)

    cold = [cli(home, "status", "--batch", "batch1")[0] for _ in range(3)]
    server = Server(home, landing)
    try:
        served = [cli(home, "status", "--batch", "batch1", TESSERA_SERVE_URL=f"http://127.0.0.1:{server.port}", TESSERA_TOKEN=server.token)[0] for _ in range(5)]
        print(f"tessera status: in its own process {p50(cold)}; through the server {p50(served)} (target ≤ 1 s)", flush=True)
        out["status"] = {"cold_s": cold, "served_s": served}
        stream: dict[int, list[float]] = {}
        for n in (1, 10):
            stream[n] = [stream_path(server, landing, [next(seed) for _ in range(n)], f"s{n}-{i}") for i in range(args.repeats + 1)]
            print(f"stream path, _READY → searchable, {n} photo(s): first {stream[n][0]:.2f} s, then {p50(stream[n][1:])}"
                  f"{' (target ≤ 5 s)' if n == 1 else ''}", flush=True)  # fmt: skip
        out["stream"] = {str(n): v for n, v in stream.items()}
        small = max(1, args.base // 100)
        warm_base = stream_path(server, landing, [next(seed) for _ in range(args.base)], "warm-base", timeout_s=3600)
        warm_small = stream_path(server, landing, [next(seed) for _ in range(small)], "warm-small")
        print(f"small batch on the stream path: {small} photo(s) {warm_small:.1f} s against {args.base} photos {warm_base:.1f} s: "
              f"{100 * warm_small / warm_base:.1f}% (target ≤ 3%)", flush=True)  # fmt: skip
        out["small_batch_stream"] = {"base": args.base, "base_s": warm_base, "small": small, "small_s": warm_small}
    finally:
        server.stop()

    base_s = cli(home, "ingest", str(_drop(home, "base", [next(seed) for _ in range(args.base)])), "--batch", "base")[0]
    base_s += cli(home, "materialize", "--batch", "base", "--json")[0]
    small = max(1, args.base // 100)
    small_s = cli(home, "ingest", str(_drop(home, "small", [next(seed) for _ in range(small)])), "--batch", "small")[0]
    small_s += cli(home, "materialize", "--batch", "small", "--json")[0]
    print(f"small batch: {small} photo(s) {small_s:.1f} s against the base run of {args.base} {base_s:.1f} s: "
          f"{100 * small_s / base_s:.1f}% (target ≤ 3%)", flush=True)  # fmt: skip
    out["small_batch"] = {"base": args.base, "base_s": base_s, "small": small, "small_s": small_s}

    if args.notes:  # nothing done twice: raw again on an unchanged drop of small text notes
        notes = home / "drops" / "notes"
        notes.mkdir(parents=True)
        for i in range(args.notes):
            (notes / f"note{i:05d}.txt").write_text(f"note {i}: the tide table for harbour {i % 97} says high water at {i % 24}:00\n")
        cli(home, "ingest", str(notes), "--batch", "notes")
        runs = [json.loads(cli(home, "materialize", "--batch", "notes", "--stage", "raw", "--json")[1])[0] for _ in range(2)]
        print(f"raw on {args.notes:,} text notes: {runs[0]['seconds']:.1f} s; again, unchanged: {runs[1]['seconds']:.2f} s in the run "
              f"(skipped: {runs[1]['skipped']})", flush=True)  # fmt: skip
        out["unchanged_raw"] = {"notes": args.notes, "first_s": runs[0]["seconds"], "again_s": runs[1]["seconds"], "skipped": runs[1]["skipped"]}
    (args.work / "results.json").write_text(json.dumps(out, indent=2))


def _drop(home: Path, name: str, seeds: list[int]) -> Path:
    make_drop(home / "drops" / name, seeds, ready=False)
    return home / "drops" / name


if __name__ == "__main__":
    main()
