"""Side by side: Tessera through `unified`, Data-Juicer 1.6.1 and a naive single-process loop, on
one drop of captioned photos.

    .venv/bin/python bench/peers.py --quick              # smoke: 60 images, 1 repeat (installs Data-Juicer first, once)
    .venv/bin/python bench/peers.py                      # 400 and 2,000 images, min of 2 repeats (~30 min on 2 shared cores)
    .venv/bin/python bench/peers.py --sizes 400 --skip-dj

The drop (seeded, built once per seed under bench/out/peers/pool-*, hard-linked per size): JPEGs cut
from scikit-image's photos (its `skimage.data` folder) — a random crop, turned or mirrored, rescaled
to 600-2400 px on its long side and saved at quality 90 — with a `.txt` caption of the same stem;
among them exact copies of earlier pictures (the same bytes), near-copies (re-saved at quality
60-75, or shrunk to 0.90-0.97) and tiny pictures (under 32 px a side, which every tool's filters
drop). Item i depends only on (seed, i), so the 400 drop is the first 400 of the 2,000 drop.

Each repeat is a round of the three tools in turn, each round starting with the next tool (the
min of `--repeat` walls is reported):

1. Tessera: `tessera ingest DROP --batch B` + `tessera materialize --batch B --through unified`,
   the CLI a user runs, each a subprocess of this tree's venv, in a fresh TESSERA_HOME per repeat
   (DAGSTER_HOME=$TESSERA_HOME/dagster). Wall = both commands. Kept/removed: unified's landed and
   quarantined rows (plus what cleaned set aside). Per-stage seconds are read back from the Dagster
   event log afterwards, in a helper process.
2. Data-Juicer 1.6.1 (`dj-process`), in its own venv under bench/out/dj-venv (installed only when
   missing, with aiohttp and imagededup beside it; never in the project's venv), `np: 2`, ops
   image_shape_filter (min 32 px a side), image_aspect_ratio_filter (1/6 to 6), image_size_filter
   (up to 64 MB) and image_deduplicator (pHash, exact hash match), over a JSONL of the drop
   (`images` list + `text` with the `<__dj__image>` token), fresh caches per run. It filters and
   writes a JSONL; it writes no resized pictures. Its own per-op seconds are read from its log.
3. The naive loop, one process: per picture Pillow decode, size and aspect check, a 64-bit dHash
   (Pillow + NumPy), drop when within Hamming distance 4 of a picture kept before, resize to 512 on
   the long side, save JPEG quality 90 (and its caption) into an output folder.

Per tool and size: wall (min of the repeats, whole processes, interpreter start included),
images/s (drop images / wall), peak RSS of the whole process tree (the sum over the tool's process
and all its descendants, sampled from /proc every 50 ms in a thread; the peak over the repeats),
kept/removed counts, and Tessera's speed over Data-Juicer's and over the naive loop's.
Targets printed beside them: Tessera through unified at >= 1.5x Data-Juicer's speed and >= 1.2x
the naive loop's, at 400 and 2,000 images. Everything is written under bench/out/ (results:
bench/out/peers/results-*.json). Machines are shared and noisy: compare the tools of one run,
not figures across runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from stages import _children, _rss_and_cpu  # noqa: E402

OUT = ROOT / "bench" / "out"
PEERS = OUT / "peers"
DJ_VENV = OUT / "dj-venv"
DJ_PINS = ("py-data-juicer==1.6.1", "aiohttp", "imagededup")
MiB = 1 << 20

PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "clock_motion", "coffee", "coins", "grass", "gravel",
          "hubble_deep_field", "ihc", "moon", "motorcycle_left", "page", "retina", "rocket", "text")  # fmt: skip
SHARES = (("tiny", 0.04), ("exact", 0.08), ("near", 0.10))  # the rest: distinct pictures
FIRST_BASES = 8  # items 0..7 are always distinct pictures, so every copy has a source
MIN_SIDE, MAX_ASPECT, MAX_BYTES = 32, 6.0, 64 * MiB  # one filter setting for all three tools
DHASH_RADIUS = 4
TARGETS = {"dj": 1.5, "naive": 1.2}  # Tessera's speed over the peer's, at least


def log(msg: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- the drop --------------------------------------------------------------------------------
def kind_of(seed: int, i: int) -> str:
    if i < FIRST_BASES:
        return "base"
    u = random.Random(f"{seed}/kind/{i}").random()
    for kind, share in SHARES:
        if u < share:
            return kind
        u -= share
    return "base"


_PHOTOS: list[Any] = []


def _photos() -> list[Any]:
    from PIL import Image

    if not _PHOTOS:
        import skimage.data

        folder = Path(skimage.data.__file__).parent
        for name in PHOTOS:
            path = next(folder.glob(f"{name}.*"))
            _PHOTOS.append(Image.open(path).convert("RGB"))
    return _PHOTOS


def base_picture(seed: int, j: int) -> Any:
    """Distinct picture j: a crop of a photo (15-90 % of each side, aspect kept within 1:3), maybe
    turned or mirrored, rescaled to 600-2400 px on its long side."""
    from PIL import Image

    rng = random.Random(f"{seed}/base/{j}")
    im = rng.choice(_photos())
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.15, 0.9)), int(h * rng.uniform(0.15, 0.9))
    cw, ch = max(cw, ch // 3, 16), max(ch, cw // 3, 16)
    cw, ch = min(cw, w), min(ch, h)
    x, y = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
    crop = im.crop((x, y, x + cw, y + ch))
    turn = rng.choice([None, *Image.Transpose])
    if turn is not None:
        crop = crop.transpose(turn)
    scale = rng.randint(600, 2400) / max(crop.size)
    return crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.LANCZOS)


def jpeg(im: Any, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_item(job: tuple[int, int, str]) -> dict[str, Any]:
    """Item i of the pool for `seed`, written as img{i}.jpg + img{i}.txt; what it is, for the index."""
    from PIL import Image

    seed, i, folder = job
    kind = kind_of(seed, i)
    rng = random.Random(f"{seed}/item/{i}")
    item: dict[str, Any] = {"i": i, "kind": kind}
    if kind == "base":
        im = base_picture(seed, i)
        data, note = jpeg(im, 90), "distinct"
    elif kind == "tiny":
        w, h = rng.randint(8, 28), rng.randint(8, 28)
        im = base_picture(seed, i).resize((w, h), Image.Resampling.LANCZOS)
        data, note = jpeg(im, 90), f"tiny {w}x{h}"
    else:
        src = rng.choice([j for j in range(i) if kind_of(seed, j) == "base"])
        item["source"] = src
        im = base_picture(seed, src)
        if kind == "exact":
            data, note = jpeg(im, 90), f"exact copy of {src}"
        elif rng.random() < 0.5:
            q = rng.randint(60, 75)
            data, note = jpeg(im, q), f"picture {src} re-saved at q{q}"
        else:
            f = rng.uniform(0.90, 0.97)
            data, note = jpeg(im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.LANCZOS), 90), f"picture {src} shrunk to {f:.2f}"
    Path(folder, f"img{i:05d}.jpg").write_bytes(data)
    Path(folder, f"img{i:05d}.txt").write_text(f"photo {i}: {note}, a scene cut from a real photograph\n")
    item.update(size=list(im.size), bytes=len(data))
    return item


def build_drop(n: int, seed: int, workers: int) -> tuple[Path, dict[str, Any]]:
    """The first n items of the seed's pool (made where missing), hard-linked into drops/n{n}-s{seed}."""
    pool = PEERS / f"pool-s{seed}"
    pool.mkdir(parents=True, exist_ok=True)
    index_path = pool / "items.json"
    items: dict[int, dict[str, Any]] = {}
    if index_path.exists():
        items = {int(k): v for k, v in json.loads(index_path.read_text()).items()}
    missing = [i for i in range(n) if i not in items or not (pool / f"img{i:05d}.jpg").exists()]
    if missing:
        log(f"drop: making {len(missing)} pictures (seed {seed}) in {pool}")
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as ex:
            for k, item in enumerate(ex.map(make_item, [(seed, i, str(pool)) for i in missing], chunksize=4), 1):
                items[item["i"]] = item
                if k % 200 == 0:
                    log(f"drop: {k}/{len(missing)} in {time.perf_counter() - started:.0f} s")
        index_path.write_text(json.dumps({str(k): items[k] for k in sorted(items)}))
        log(f"drop: made in {time.perf_counter() - started:.0f} s")
    drop = PEERS / "drops" / f"n{n}-s{seed}"
    if drop.exists():
        shutil.rmtree(drop)
    drop.mkdir(parents=True)
    for i in range(n):
        for ext in ("jpg", "txt"):
            os.link(pool / f"img{i:05d}.{ext}", drop / f"img{i:05d}.{ext}")
    chosen = [items[i] for i in range(n)]
    kinds = {k: sum(1 for it in chosen if it["kind"] == k) for k in ("base", "exact", "near", "tiny")}
    return drop, {"images": n, "kinds": kinds, "bytes": sum(it["bytes"] for it in chosen), "path": str(drop)}


# -- memory of a process tree, from /proc (the walk bench/stages.py uses) ----------------------
def _rss(pid: int) -> int:
    return (_rss_and_cpu(pid) or (0, 0.0))[0]


class TreeMemory(threading.Thread):
    """The peak, over time, of the summed RSS of `root` and all its live descendants (every 50 ms)."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stop = threading.Event()
        self.peak = self.peak_alive = 0
        self.pids: set[int] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            total, alive, stack = 0, 0, [self.root]
            while stack:
                pid = stack.pop()
                rss = _rss(pid)
                if rss:
                    total, alive = total + rss, alive + 1
                    self.pids.add(pid)
                stack += _children(pid)
            self.peak, self.peak_alive = max(self.peak, total), max(self.peak_alive, alive)
            self.stop.wait(self.interval)


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 3600) -> dict[str, Any]:
    """Run a command; its wall time, exit code, output and the peak RSS of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sampler = TreeMemory(proc.pid)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    return {"wall_s": round(wall, 3), "rc": proc.returncode, "stdout": out, "stderr": err, "peak_rss": sampler.peak,
            "peak_processes": sampler.peak_alive, "processes": len(sampler.pids)}  # fmt: skip


def failed(res: dict[str, Any], what: str) -> str:
    tail = [line for line in (res["stderr"] or res["stdout"] or "").strip().splitlines() if line.strip()][-3:]
    return f"{what} exited {res['rc']}: {' | '.join(tail)[-600:]}"


# -- 1. Tessera ------------------------------------------------------------------------------
def tessera_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TESSERA_LAKE_URI", "TESSERA_PARAMS", "PYTHONPATH"}}
    env.update(TESSERA_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    return env


def run_tessera(drop: Path, work: Path, tag: str) -> dict[str, Any]:
    home = work / f"tessera-{tag}"
    if home.exists():
        shutil.rmtree(home)
    (home / "dagster").mkdir(parents=True)
    env, exe = tessera_env(home), str(ROOT / ".venv" / "bin" / "tessera")
    batch = f"peers-{tag}"
    ingest = timed([exe, "ingest", str(drop), "--batch", batch, "--json"], env=env, cwd=home)  # not the project folder: its batches.json is not this run's
    if ingest["rc"] != 0:
        return {"ok": False, "error": failed(ingest, "tessera ingest")}
    mat = timed([exe, "materialize", "--batch", batch, "--through", "unified", "--json"], env=env, cwd=home)
    try:
        got = json.loads(mat["stdout"])
        got = got[0] if isinstance(got, list) else got
    except json.JSONDecodeError:
        got = {}
    if mat["rc"] != 0 or not got.get("success"):
        return {"ok": False, "error": failed(mat, "tessera materialize") + (f" (failed steps {got.get('failed_steps')})" if got else "")}
    stages = {st["stage"]: {k: st.get(k) for k in ("in", "landed", "quarantined", "by_reason")} for st in got.get("stages", [])}
    kept = stages.get("unified", {}).get("landed")
    return {
        "ok": True, "wall_s": round(ingest["wall_s"] + mat["wall_s"], 3), "ingest_s": ingest["wall_s"], "materialize_s": mat["wall_s"],
        "in_process_s": got.get("seconds"), "peak_rss": max(ingest["peak_rss"], mat["peak_rss"]), "processes": mat["processes"],
        "kept": kept, "stages": stages, "home": str(home), "run_id": got.get("run_id"),
        "checks_warned": got.get("checks_warned"),
    }  # fmt: skip


def stage_seconds(home: str, run_id: str) -> dict[str, Any]:
    """Helper mode: per stage, the step's wall and the stage's own `seconds` from the Dagster event log."""
    from dagster import DagsterEventType, DagsterInstance

    instance = DagsterInstance.from_config(str(Path(home) / "dagster"))
    steps: dict[str, dict[str, float]] = {}
    for record in instance.all_logs(run_id):
        ev = record.dagster_event
        if ev is not None and ev.step_key and ev.event_type_value in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
            steps.setdefault(ev.step_key, {})["start" if ev.event_type_value == "STEP_START" else "end"] = record.timestamp
    out: dict[str, Any] = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        mat = record.dagster_event.event_specific_data.materialization
        md = {k: v.value for k, v in mat.metadata.items()}
        name = mat.asset_key.path[-1]
        t = steps.get(name, {})
        out[name] = {"seconds": md.get("seconds"), "samples_per_s": md.get("samples_per_s"), "quarantined_by_reason": md.get("quarantined_by_reason"),
                     "step_s": round(t["end"] - t["start"], 3) if "start" in t and "end" in t else None}  # fmt: skip
    return out


def read_stage_seconds(home: str, run_id: str) -> dict[str, Any]:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), __file__, "--stage-seconds", home, run_id], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "LANCE_LOG": "error"}, capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        log(f"reading stage seconds failed: {done.stderr.strip()[-300:]}")
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- 2. Data-Juicer --------------------------------------------------------------------------
def dj_python() -> Path:
    return DJ_VENV / "bin" / "python"


def ensure_dj(timeout: float) -> dict[str, Any]:
    """Data-Juicer in its own venv under bench/out/, installed only when missing; then one warm-up
    import (its first import installs Ray into the venv by itself), so no timed run pays for it."""
    record = DJ_VENV / "installed.json"
    if record.exists() and dj_python().exists():
        return {**json.loads(record.read_text()), "installed_now": False}
    started = time.perf_counter()
    steps: list[tuple[str, list[str]]] = [
        ("venv", [sys.executable, "-m", "venv", "--clear", str(DJ_VENV)]),
        ("pip", [str(dj_python()), "-m", "pip", "install", "--quiet", "--upgrade", "pip"]),
        ("install", [str(dj_python()), "-m", "pip", "install", "--quiet", *DJ_PINS]),
        ("warm-up import", [str(dj_python()), "-c", "import data_juicer, data_juicer.core, data_juicer.ops; print(data_juicer.__version__)"]),
    ]
    seconds: dict[str, float] = {}
    for name, argv in steps:
        left = timeout - (time.perf_counter() - started)
        log(f"Data-Juicer: {name} ({left:.0f} s left of {timeout:.0f})")
        t = time.perf_counter()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=max(1.0, left), check=False)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"Data-Juicer {name} ran past the {timeout:.0f} s install limit", "seconds": round(time.perf_counter() - started, 1)}
        seconds[name] = round(time.perf_counter() - t, 1)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"ok": False, "error": f"Data-Juicer {name} failed (exit {done.returncode}): {' | '.join(tail)}", "seconds": round(time.perf_counter() - started, 1)}
    got = {"ok": True, "pins": list(DJ_PINS), "seconds": round(time.perf_counter() - started, 1), "steps_s": seconds, "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    record.write_text(json.dumps(got, indent=2) + "\n")
    return {**got, "installed_now": True}


def dj_config(dataset: Path, export: Path) -> str:
    ops = [
        {"image_shape_filter": {"min_width": MIN_SIDE, "min_height": MIN_SIDE, "any_or_all": "any"}},
        {"image_aspect_ratio_filter": {"min_ratio": 1 / MAX_ASPECT, "max_ratio": MAX_ASPECT, "any_or_all": "any"}},
        {"image_size_filter": {"min_size": "0", "max_size": f"{MAX_BYTES // MiB}MB", "any_or_all": "any"}},
        {"image_deduplicator": {"method": "phash"}},
    ]
    cfg = {"project_name": "peers", "dataset_path": str(dataset), "export_path": str(export), "np": 2, "text_keys": "text",
           "image_key": "images", "open_tracer": False, "process": ops}  # fmt: skip
    return json.dumps(cfg, indent=2)  # JSON is YAML


def run_dj(drop: Path, work: Path, tag: str) -> dict[str, Any]:
    base = work / f"dj-{tag}"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    dataset, export = base / "dataset.jsonl", base / "export" / "kept.jsonl"
    with dataset.open("w") as f:
        for jpg in sorted(drop.glob("*.jpg")):
            caption = jpg.with_suffix(".txt").read_text().strip()
            f.write(json.dumps({"images": [str(jpg)], "text": f"<__dj__image> {caption} <|__dj__eoc|>"}) + "\n")
    (base / "config.yaml").write_text(dj_config(dataset, export))
    env = {**os.environ, "HF_HOME": str(base / "hf"), "HF_DATASETS_CACHE": str(base / "hf" / "datasets"), "DATA_JUICER_CACHE_HOME": str(base / "dj-cache")}
    env.pop("PYTHONPATH", None)
    res = timed([str(DJ_VENV / "bin" / "dj-process"), "--config", str(base / "config.yaml")], env=env, cwd=base)
    (base / "dj.log").write_text(res["stdout"] + "\n---- stderr ----\n" + res["stderr"])
    if res["rc"] != 0 or not export.exists():
        return {"ok": False, "error": failed(res, "dj-process") + ("" if export.exists() else " (no export written)")}
    kept = sum(1 for line in export.read_text().splitlines() if line.strip())
    ops = {m.group(1): float(m.group(2)) for m in re.finditer(r"OP \[(\w+)\] Done in ([\d.]+)s", res["stderr"] + res["stdout"])}
    all_ops = re.search(r"All OPs are done in ([\d.]+)s", res["stderr"] + res["stdout"])
    return {"ok": True, "wall_s": res["wall_s"], "peak_rss": res["peak_rss"], "processes": res["processes"], "kept": kept, "log": str(base / "dj.log"),
            "ops_s": ops, "all_ops_s": float(all_ops.group(1)) if all_ops else None}  # fmt: skip


# -- 3. the naive loop -----------------------------------------------------------------------
def dhash(im: Any) -> int:
    import numpy as np
    from PIL import Image

    g = np.asarray(im.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def naive_loop(drop: Path, out: Path) -> dict[str, Any]:
    """Helper mode: every picture in turn — decode, size check, dHash, drop copies, resize, save."""
    import numpy as np
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    kept_hashes = np.zeros(0, dtype=np.uint64)
    kept = small = dups = bad = 0
    for jpg in sorted(drop.glob("*.jpg")):
        try:
            with Image.open(jpg) as src:
                im = src.convert("RGB")
        except OSError:
            bad += 1
            continue
        w, h = im.size
        if min(w, h) < MIN_SIDE or max(w, h) / min(w, h) > MAX_ASPECT or jpg.stat().st_size > MAX_BYTES:
            small += 1
            continue
        hsh = np.uint64(dhash(im))
        if kept_hashes.size and int(np.bitwise_count(kept_hashes ^ hsh).min()) <= DHASH_RADIUS:
            dups += 1
            continue
        kept_hashes = np.append(kept_hashes, hsh)
        im.thumbnail((512, 512), Image.Resampling.LANCZOS)
        im.save(out / jpg.name, "JPEG", quality=90)
        shutil.copyfile(jpg.with_suffix(".txt"), out / jpg.with_suffix(".txt").name)
        kept += 1
    return {"kept": kept, "removed": small + dups + bad, "too_small_or_odd": small, "duplicates": dups, "undecodable": bad}


def run_naive(drop: Path, work: Path, tag: str) -> dict[str, Any]:
    out = work / f"naive-{tag}"
    if out.exists():
        shutil.rmtree(out)
    res = timed([str(ROOT / ".venv" / "bin" / "python"), __file__, "--naive-loop", str(drop), str(out)])
    if res["rc"] != 0:
        return {"ok": False, "error": failed(res, "naive loop")}
    got = json.loads(res["stdout"].strip().splitlines()[-1])
    return {"ok": True, "wall_s": res["wall_s"], "peak_rss": res["peak_rss"], "processes": res["processes"], **got}


# -- report ----------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()  # noqa: E731
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths]), *(fmt(r) for r in cells[1:])])


TOOLS = {"tessera": "Tessera (ingest + materialize --through unified)", "dj": "Data-Juicer 1.6.1 (dj-process, np 2)", "naive": "naive loop (1 process)"}


def summarise(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return {"ok": False, "error": runs[-1].get("error") if runs else "not run", "walls_s": []}
    best = min(ok, key=lambda r: r["wall_s"])
    kept = best.get("kept")
    return {"ok": True, "wall_s": best["wall_s"], "walls_s": [r["wall_s"] for r in ok], "images_per_s": round(n / best["wall_s"], 2),
            "peak_rss": max(r["peak_rss"] for r in ok), "kept": kept, "removed": None if kept is None else n - kept,
            "failed_repeats": len(runs) - len(ok)}  # fmt: skip


def best_run(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    ok = [r for r in runs if r.get("ok")]
    return min(ok, key=lambda r: r["wall_s"]) if ok else None


def report(res: dict[str, Any]) -> str:
    out = []
    dj = res["dj_install"]
    if not dj.get("ok"):
        out.append(f"Data-Juicer: NOT RUN — {dj.get('error', 'skipped')}")
    else:
        out.append(f"Data-Juicer: {'installed now' if dj.get('installed_now') else 'installed earlier'} in {dj['seconds']:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in dj['steps_s'].items())})")
    for size in res["sizes"]:
        n, drop = size["n"], size["drop"]
        out.append(f"\n{n} images (drop: {drop['kinds']['base']} distinct, {drop['kinds']['exact']} exact copies, {drop['kinds']['near']} near-copies, "
                   f"{drop['kinds']['tiny']} tiny; {drop['bytes'] / MiB:.0f} MiB; expected kept {drop['kinds']['base']}); min of {res['repeat']}")  # fmt: skip
        rows = []
        for key, label in TOOLS.items():
            s = size["tools"][key]
            if not s.get("ok"):
                rows.append([label, "—", "—", "—", "—", "—", "—", s.get("error", "")[:120]])
                continue
            rows.append([label, f"{s['wall_s']:.1f}", " / ".join(f"{w:.1f}" for w in s["walls_s"]), f"{s['images_per_s']:.1f}", f"{s['peak_rss'] / MiB:,.0f}",
                         s["kept"] if s["kept"] is not None else "?", s["removed"] if s["removed"] is not None else "?", ""])  # fmt: skip
        out.append(table(["tool", "wall s", "walls s", "images/s", "peak RSS MiB", "kept", "removed", "note"], rows))
        t = size["tools"]["tessera"]
        for key, name in (("dj", "Data-Juicer"), ("naive", "naive loop")):
            r = size["ratios"].get(key)
            if r is None:
                out.append(f"  Tessera / {name} speed: —  (target ≥ {TARGETS[key]}x)")
            else:
                out.append(f"  Tessera / {name} speed: {r:.2f}x  (target ≥ {TARGETS[key]}x: {'met' if r >= TARGETS[key] else 'NOT met'})")
        if t.get("ok") and size.get("tessera_stages"):
            parts = ", ".join(f"{k} {v['step_s']:.1f} s (own {v['seconds'] or 0:.1f} s)" for k, v in size["tessera_stages"].items() if v.get("step_s") is not None)
            best = size["tessera_best"]
            out.append(f"  Tessera's best run: ingest {best['ingest_s']:.1f} s + materialize {best['materialize_s']:.1f} s (in-process run {best['in_process_s']} s); steps: {parts}")
            q = {k: v.get("quarantined_by_reason") for k, v in size["tessera_stages"].items() if v.get("quarantined_by_reason")}
            if q:
                out.append(f"  Tessera set aside: {q}")
        dj_best = best_run(size["runs"]["dj"])
        if dj_best and dj_best.get("ops_s"):
            ops = ", ".join(f"{k} {v:.1f} s" for k, v in dj_best["ops_s"].items())
            out.append(f"  Data-Juicer's best run: its ops {dj_best['all_ops_s']} s of {dj_best['wall_s']:.1f} s ({ops})")
        naive = best_run(size["runs"]["naive"])
        if naive:
            out.append(f"  naive loop removed: {naive['too_small_or_odd']} too small or odd, {naive['duplicates']} within dHash distance {DHASH_RADIUS}")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    return {"host": platform.node(), "cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "load_avg": os.getloadavg(), "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="400,2000", help="drop sizes in images, comma-separated (default 400,2000)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of the three tools per size; the min wall is reported (default 2)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 60 images, 1 repeat")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-dj", action="store_true", help="leave Data-Juicer out")
    ap.add_argument("--dj-install-timeout", type=float, default=1500.0, help="seconds the Data-Juicer install may take (default 1500)")
    ap.add_argument("--keep-work", action="store_true", help="keep the homes and outputs under bench/out/peers/work")
    ap.add_argument("--naive-loop", nargs=2, metavar=("DROP", "OUT"), help=argparse.SUPPRESS)  # helper mode
    ap.add_argument("--stage-seconds", nargs=2, metavar=("HOME", "RUN_ID"), help=argparse.SUPPRESS)  # helper mode
    args = ap.parse_args()
    if args.naive_loop:
        print(json.dumps(naive_loop(Path(args.naive_loop[0]), Path(args.naive_loop[1]))))
        return
    if args.stage_seconds:
        print(json.dumps(stage_seconds(*args.stage_seconds), default=str))
        return
    sizes = [60] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    repeat = 1 if args.quick else max(1, args.repeat)
    started = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "argv": sys.argv[1:], "repeat": repeat, "seed": args.seed, "sizes": []}
    res["dj_install"] = {"ok": False, "error": "--skip-dj"} if args.skip_dj else ensure_dj(args.dj_install_timeout)
    if not res["dj_install"].get("ok"):
        log(f"Data-Juicer will not run: {res['dj_install'].get('error')}")
    work = PEERS / "work"
    workers = max(1, len(os.sched_getaffinity(0)))
    for n in sizes:
        drop, info = build_drop(n, args.seed, workers)
        runs: dict[str, list[dict[str, Any]]] = {"tessera": [], "dj": [], "naive": []}
        order = [("tessera", run_tessera), ("dj", run_dj), ("naive", run_naive)]
        for r in range(repeat):
            tag = f"n{n}-r{r}"
            for key, fn in order[r % 3 :] + order[: r % 3]:  # each repeat starts with another tool
                if key == "dj" and not res["dj_install"].get("ok"):
                    runs[key].append({"ok": False, "error": f"not run: {res['dj_install'].get('error')}"})
                    continue
                log(f"{n} images, repeat {r + 1}/{repeat}: {key}")
                got = fn(drop, work, tag)
                got["repeat"] = r
                runs[key].append(got)
                log(f"  {key}: " + (f"{got['wall_s']:.1f} s, kept {got.get('kept')}, peak RSS {got['peak_rss'] / MiB:,.0f} MiB" if got.get("ok") else f"FAILED {got['error']}"))
        tools = {k: summarise(v, n) for k, v in runs.items()}
        ratios = {}
        for key in ("dj", "naive"):
            if tools["tessera"].get("ok") and tools[key].get("ok"):
                ratios[key] = round(tools[key]["wall_s"] / tools["tessera"]["wall_s"], 3)
        size: dict[str, Any] = {"n": n, "drop": info, "tools": tools, "ratios": ratios, "runs": runs}
        if tools["tessera"].get("ok"):
            best = min((r for r in runs["tessera"] if r.get("ok")), key=lambda r: r["wall_s"])
            size["tessera_best"] = {k: best[k] for k in ("ingest_s", "materialize_s", "in_process_s", "stages", "run_id", "checks_warned")}
            size["tessera_stages"] = read_stage_seconds(best["home"], best["run_id"])
        res["sizes"].append(size)
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    res["bench_wall_s"] = round(time.perf_counter() - started, 1)
    text = report(res)
    print(text)
    print(f"\n(bench wall {res['bench_wall_s']:.0f} s; {res['machine']['cpus']} CPUs; load average at start {res['machine']['load_avg']})")
    PEERS.mkdir(parents=True, exist_ok=True)
    path = PEERS / f"results-{'quick' if args.quick else '-'.join(map(str, sizes))}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
