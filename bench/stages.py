"""Throughput, memory and scaling of the pipeline on generated corpora, beside a naive per-file loop.

    .venv/bin/python bench/stages.py --n 24                          # quick: 2-5 min on 2 shared cores
    .venv/bin/python bench/stages.py --scale --json bench-scale.json # + 50 MiB / 250 MiB / 1 GiB drops, the 1 % batch
    .venv/bin/python bench/stages.py --against 97a89d9 --repeat 3   # stage step times beside a git revision's, in turn

Every pipeline run is the `tessera` command (`python -m tessera.orchestration.cli`, this tree) in its own
process with its own TESSERA_HOME, so runs and drop sizes never share memory or a lake. One run prints:

1. cleaned+unified files/s against a naive loop that does the same decode + resize work file by
   file in this process (Pillow open → RGB → fit 512 → PNG; PyAV decode → 16 kHz mono; PyAV decode
   every frame → 1 fps keyframes at 384 → JPEG), run before and after the pipeline on the same
   corpus; the ratio is taken against the mean of the two loops. Then the same work taken apart:
   each operator of cleaned and unified timed serially in one process (the runner's own
   functions, on a copy of the lake), by modality, beside the naive loop's seconds for it.
2. end-to-end files/s (ingest + all six stages, whole processes) and per-stage seconds and
   samples/s, read back from the Dagster materialization metadata.
3. peak RSS of the pipeline's process tree — the `tessera` process and every descendant (its
   forkserver, pool workers, their forkservers, isolated decoder children) — sampled from /proc
   every 50 ms in a thread: the peak of the sum over live processes, the largest single process,
   the peak per depth in the tree, and how many processes were started.
4. lake bytes / drop bytes (apparent sizes under $TESSERA_HOME/lake), split by table.
5. (--scale) the cost of a 1 % batch joining a table 100× its size, and of the same batch alone.
6. the fixed cost of a run: interpreter start, `tessera --help`, the import of the Definitions,
   `tessera status`, and `tessera materialize` on a 1-file batch (per stage, beside the stage
   times; with --scale also on an empty batch).

Machines are shared and noisy: compare figures of one run with each other, not across runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tessera.core.synth import encoded_audio, tone, video_bytes  # noqa: E402

STAGES = ("raw", "cleaned", "unified", "aligned", "augmented", "embedded")
STAGE_TABLES = {"raw": "raw", "cleaned": "cleaned", "unified": "unified", "aligned": "aligned", "augmented": "augmented", "embedded": "samples"}
MEDIA = (".jpg", ".flac", ".mp4")
MiB = 1 << 20
SCALE_SIZES_MIB = (50, 250, 1024)
POOL_VERSION = "scale-v1"
DEPTHS = {
    0: "the tessera process",
    1: "its forkserver, resource tracker",
    2: "pool workers",
    3: "a worker's own forkserver",
    4: "isolated decoder children",
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- corpora ---------------------------------------------------------------------------------
def build_corpus(root: Path, n: int, seed: int = 0, start: int = 0) -> dict[str, int]:
    """N captioned ≤1280×960 JPEGs, N 3 s FLAC tones, N 4 s 320×240 H.264 videos with one cue.
    `start` offsets the item numbers (names and content), so two corpora never share content."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        h, w = int(rng.integers(480, 960)), int(rng.integers(640, 1280))
        base = rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC)
        img.save(root / f"img{i:04d}.jpg", quality=90)
        (root / f"img{i:04d}.txt").write_text(f"generated picture number {i} with blobs of colour\n")
        (root / f"clip{i:04d}.flac").write_bytes(encoded_audio(tone(3.0, 200 + 37 * i, 44_100), 44_100, "flac"))
        (root / f"video{i:04d}.mp4").write_bytes(video_bytes(4.0, fps=15, size=(320, 240), cues=[(0.5, 1.5, f"cue {i}")]))
    return {"image": n, "audio": n, "video": n}


def photo(rng: np.random.Generator, w: int, h: int, grain: float) -> np.ndarray:
    """Photo-like RGB pixels: a sky-to-ground gradient, smooth multi-scale texture, sensor grain."""
    from PIL import Image

    sw, sh = max(8, w // 4), max(8, h // 4)
    yy = np.linspace(0, 1, sh, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(60, 200, 3).astype(np.float32), rng.uniform(20, 160, 3).astype(np.float32)
    small = np.repeat(top * (1 - yy) + bottom * yy, sw, axis=1)
    for cells, amp in ((6, 45.0), (24, 25.0), (96, 14.0)):
        g = rng.integers(0, 256, (max(2, cells * sh // sw), cells, 3), dtype=np.uint8)
        small += (np.asarray(Image.fromarray(g).resize((sw, sh), Image.Resampling.BICUBIC), np.float32) - 128.0) * (amp / 128.0)
    up = np.asarray(Image.fromarray(small.clip(0, 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC), np.float32)
    return (up + rng.standard_normal((h, w, 1), dtype=np.float32) * grain).clip(0, 255).astype(np.uint8)


def photo_jpeg(seed: int) -> bytes:
    """A 12 MP (4000×3000) quality-90 JPEG, about 3 MB, like a phone photo."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(photo(np.random.default_rng(seed), 4000, 3000, grain=4.0)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def music_flac(seed: int, seconds: float = 60.0, rate: int = 44_100) -> bytes:
    """60 s of 44.1 kHz mono FLAC: four vibrato tones under a slow swell, with a noise floor (about 4 MB)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    x = np.zeros_like(t)
    for k in range(4):
        x += (0.15 / (k + 1)) * np.sin(2 * np.pi * rng.uniform(110, 880) * t + 2 * np.sin(2 * np.pi * rng.uniform(0.1, 2.0) * t))
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t) ** 2
    x += rng.normal(0, 0.02, t.shape).astype(np.float32)
    return encoded_audio(x, rate, "flac")


def textured_video(seed: int, seconds: float = 30.0, fps: int = 24, size: tuple[int, int] = (640, 360)) -> bytes:
    """30 s 640×360 H.264 (x264 ultrafast, CRF 23) panning over a photo-like scene, an AAC tone track
    and one mov_text cue (about 4 MB). core.synth.video_bytes draws a flat gradient, which compresses
    to a few hundred kbit/s and takes longer to draw; this keeps a camera-like bitrate."""
    import av

    rng = np.random.default_rng(seed)
    w, h = size
    scene = photo(rng, w * 2, h * 2, grain=6.0)
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="mp4")
    v = out.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    v.options = {"preset": "ultrafast", "crf": "23"}
    a = out.add_stream("aac", rate=22_050, layout="mono")
    s = out.add_stream("mov_text")
    s.codec_context.time_base = Fraction(1, 1000)
    s.codec_context.subtitle_header = (
        b"[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
        b"Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    frames = int(seconds * fps)
    for i in range(frames):
        x0, y0 = int(w * i / frames), int(h * (0.5 + 0.5 * np.sin(i / 40)))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(scene[y0 : y0 + h, x0 : x0 + w]), format="rgb24")
        for p in v.encode(frame):
            out.mux(p)
    for p in v.encode(None):
        out.mux(p)
    pcm = (tone(seconds, float(rng.uniform(200, 600)), 22_050) * 32767).astype(np.int16)
    resampler = av.AudioResampler(format=a.codec_context.format.name, layout="mono", rate=22_050)
    for start in range(0, len(pcm), 1024):
        chunk = av.AudioFrame.from_ndarray(pcm[None, start : start + 1024], format="s16", layout="mono")
        chunk.sample_rate = 22_050
        for f in resampler.resample(chunk):
            for p in a.encode(f):
                out.mux(p)
    for p in a.encode(None):
        out.mux(p)
    body = f"scene {seed}".encode()
    pkt = av.Packet(len(body).to_bytes(2, "big") + body)
    pkt.stream, pkt.time_base = s, Fraction(1, 1000)
    pkt.pts = pkt.dts = 1000
    pkt.duration = 2000
    out.mux(pkt)
    out.close()
    return buf.getvalue()


# byte shares of a scale drop and the expected size of one item (to plan how many to make)
SCALE_MIX = {"image": (0.40, 3.0 * MiB), "audio": (0.25, 3.8 * MiB), "video": (0.35, 4.0 * MiB)}


def _make_item(job: tuple[str, int, str]) -> tuple[str, int, str]:
    kind, seed, folder = job
    data = {"image": photo_jpeg, "audio": music_flac, "video": textured_video}[kind](seed)
    name = {"image": f"photo{seed:05d}.jpg", "audio": f"music{seed:05d}.flac", "video": f"scene{seed:05d}.mp4"}[kind]
    Path(folder, name).write_bytes(data)
    if kind == "image":
        Path(folder, f"photo{seed:05d}.txt").write_text(f"photo {seed}: a generated landscape under a coloured sky\n")
    return kind, len(data), name


def build_scale_pool(folder: Path, total_bytes: int, workers: int) -> tuple[list[dict[str, Any]], float, bool]:
    """Items (photos with captions, music clips, videos) in a fixed order whose byte shares follow
    SCALE_MIX at every prefix; reused when `folder` already holds enough of this version.
    Returns (items, seconds it took to generate them, whether they were reused)."""
    index = folder / "items.json"
    if index.exists():
        saved = json.loads(index.read_text())
        if saved.get("version") == POOL_VERSION and sum(i["bytes"] for i in saved["items"]) >= total_bytes:
            return saved["items"], saved.get("seconds", 0.0), True
    folder.mkdir(parents=True, exist_ok=True)
    jobs, planned = [], {k: 0.0 for k in SCALE_MIX}
    while sum(planned.values()) < total_bytes * 1.08:
        total = sum(planned.values()) or 1.0
        kind = max(SCALE_MIX, key=lambda k: SCALE_MIX[k][0] - planned[k] / total)
        jobs.append((kind, len(jobs), str(folder)))
        planned[kind] += SCALE_MIX[kind][1]
    items: list[dict[str, Any]] = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=__import__("multiprocessing").get_context("spawn")) as pool:
        for kind, size, name in pool.map(_make_item, jobs, chunksize=2):
            items.append({"kind": kind, "bytes": size, "name": name})
            if len(items) % 25 == 0:
                log(f"scale corpus: {len(items)}/{len(jobs)} items, {sum(i['bytes'] for i in items) / MiB:.0f} MiB, {time.perf_counter() - started:.0f} s")
    while sum(i["bytes"] for i in items) < total_bytes:  # the estimate fell short: add more, in the same order rule
        kind = max(SCALE_MIX, key=lambda k: SCALE_MIX[k][0] - sum(i["bytes"] for i in items if i["kind"] == k) / sum(i["bytes"] for i in items))
        k, size, name = _make_item((kind, len(items), str(folder)))
        items.append({"kind": k, "bytes": size, "name": name})
    seconds = round(time.perf_counter() - started, 1)
    index.write_text(json.dumps({"version": POOL_VERSION, "items": items, "seconds": seconds}))
    return items, seconds, False


def drop_from_pool(pool: Path, items: list[dict[str, Any]], target: int, drop: Path) -> dict[str, Any]:
    """The shortest prefix of the pool holding `target` media bytes, hard-linked into `drop`."""
    drop.mkdir(parents=True, exist_ok=True)
    used, counts, taken = 0, {k: 0 for k in SCALE_MIX}, []
    for item in items:
        if used >= target:
            break
        taken.append(item["name"])
        if item["kind"] == "image":
            taken.append(item["name"][:-4] + ".txt")
        used += item["bytes"]
        counts[item["kind"]] += 1
    for name in taken:
        try:
            os.link(pool / name, drop / name)
        except OSError:
            shutil.copyfile(pool / name, drop / name)
    return {"files": len(taken), "media_files": sum(counts.values()), **counts}


def drop_bytes(root: Path) -> dict[str, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    media = [p for p in files if p.suffix in MEDIA]
    return {"files": len(files), "media_files": len(media), "bytes": sum(p.stat().st_size for p in files), "media_bytes": sum(p.stat().st_size for p in media)}


# -- the naive loop --------------------------------------------------------------------------
def naive_loop(root: Path, by_kind: dict[str, float] | None = None) -> tuple[int, float]:
    """Decode + resize every media file, one at a time, the plain way (seconds per kind into `by_kind`)."""
    import av
    from PIL import Image

    started = time.perf_counter()
    files = sorted(p for p in root.iterdir() if p.suffix in MEDIA)
    for path in files:
        t = time.perf_counter()
        if path.suffix == ".jpg":
            im = Image.open(path).convert("RGB")
            im.thumbnail((512, 512))
            im.save(io.BytesIO(), format="PNG")
        elif path.suffix == ".flac":
            with av.open(str(path)) as c:
                rs = av.AudioResampler(format="s16", layout="mono", rate=16_000)
                chunks = [f.to_ndarray() for fr in c.decode(audio=0) for f in rs.resample(fr)]
                np.concatenate(chunks, axis=1)
        else:
            with av.open(str(path)) as c:
                next_t = 0.0
                for frame in c.decode(video=0):
                    if (frame.time or 0.0) >= next_t:
                        im = frame.to_image()
                        im.thumbnail((384, 384))
                        im.save(io.BytesIO(), format="JPEG", quality=90)
                        next_t += 1.0
        if by_kind is not None:
            kind = {".jpg": "image", ".flac": "audio"}.get(path.suffix, "video")
            by_kind[kind] = by_kind.get(kind, 0.0) + time.perf_counter() - t
    return len(files), time.perf_counter() - started


# -- cleaned + unified taken apart -----------------------------------------------------------
OP_KIND = {"image.decode": "image", "image.canonical": "image", "audio.decode": "audio", "audio.canonical": "audio",
           "video.decode": "video", "video.canonical": "video"}  # fmt: skip


def decompose(lake_uri: str, batch: str) -> dict[str, Any]:
    """cleaned and unified over a finished lake's rows, in this one process, serially, with the
    runner's own functions: plan, lake read (take + hydrate), each operator, fragment write — and
    the start of a forkserver like the one each pool worker starts for its isolated decoders.
    Runs in a helper process (on a copy of the lake: the fragments it writes stay uncommitted)."""
    from tessera.assets.runner import StageSpec, plan_chunks, write_chunk
    from tessera.core.isolate import run_isolated
    from tessera.core.ops.base import OpContext, build_ops
    from tessera.core.records import Quarantined
    from tessera.core.schema import arrow_to_samples
    from tessera.resources.lake import STAGE_TABLES, LakeResource
    from tessera.resources.params import load_params

    lake, params = LakeResource(uri=lake_uri), load_params()
    t = time.perf_counter()
    run_isolated(abs, [((0,), {})], workers=1, timeout_s=300)  # starts this process's forkserver (preload: core.ops, assets.runner)
    out: dict[str, Any] = {"forkserver_start_s": round(time.perf_counter() - t, 3)}
    for stage, upstream in (("cleaned", "raw"), ("unified", "cleaned")):
        source = lake.dataset(STAGE_TABLES[upstream])
        spec = StageSpec(
            stage=stage, table=STAGE_TABLES[stage], upstream=STAGE_TABLES[upstream], lake_uri=lake_uri, batch=batch,
            ops=tuple(params[stage]["ops"]), seed=int(params.get("seed", 0)), code_version="bench", run_id="bench-decompose",
            input_version=int(source.version),
        )  # fmt: skip
        t = time.perf_counter()
        _, prepared, tasks = plan_chunks(lake, spec, 1 << 30, 1 << 60)
        (task,) = list(tasks)
        plan_s, t = time.perf_counter() - t, time.perf_counter()
        samples = lake.hydrate(arrow_to_samples(lake.take(spec.upstream, spec.input_version, list(task.addresses))), spec.hydrate)
        read_s = time.perf_counter() - t
        ctx = OpContext(batch=batch, seed=spec.seed, workers=1, prepared=prepared)
        ops: dict[str, float] = {}
        current, quarantined = samples, []
        for op in build_ops(spec.ops):
            t = time.perf_counter()
            results = op.apply(current, ctx)
            ops[op.op_name] = round(time.perf_counter() - t, 3)
            current = [r for r in results if not isinstance(r, Quarantined)]
            quarantined += [r for r in results if isinstance(r, Quarantined)]
        t = time.perf_counter()
        write_chunk(lake, task.spec, 0, current, quarantined)
        out[stage] = {"rows": len(samples), "plan_s": round(plan_s, 3), "read_s": round(read_s, 3), "ops": ops, "write_s": round(time.perf_counter() - t, 3)}
    return out


def decompose_in_child(home: Path, batch: str, tmp: Path) -> dict[str, Any] | None:
    lake = tmp / "decompose-lake"
    shutil.copytree(home / "lake", lake)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANCE_LOG": "error", "TESSERA_HOME": str(tmp / "decompose-home")}
    log("cleaned + unified taken apart, serially, in one process")
    done = subprocess.run([sys.executable, __file__, "--decompose", str(lake), batch], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    shutil.rmtree(lake, ignore_errors=True)
    if done.returncode != 0:
        log(f"decomposition failed: {done.stderr.strip()[-500:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- memory of a process tree, from /proc ----------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out += [int(c) for c in f.read().split()]
            except OSError:
                continue
    except OSError:
        pass
    return out


def _rss_and_cpu(pid: int) -> tuple[int, float] | None:
    """(VmRSS in bytes, user+system CPU seconds) of a live process; None once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:")), None)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if rss is None:
        return None
    return rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split among their sharers); 0 once gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next((int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:")), 0)
    except OSError:
        return 0


class TreeMemory(threading.Thread):
    """Samples the RSS of `root` and all its live descendants every `interval` s.

    Keeps the peak of the sum over time, the largest single process, the peak per depth (0 = root),
    the processes seen per depth and their CPU seconds at their last sample. Every `pss_every`-th
    sample also sums PSS (forked processes share pages, which a sum of RSS counts once per process;
    reading smaps_rollup costs ~40 ms per GB mapped, hence the lower rate)."""

    def __init__(self, root: int, interval: float = 0.05, pss_every: int = 40) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.pss_every = root, interval, pss_every
        self.stop = threading.Event()
        self.peak_total = self.peak_single = self.peak_alive = self.samples = self.peak_pss = 0
        self.peak_single_depth = 0
        self.by_depth: dict[int, int] = {}
        self.seen: dict[int, dict[int, float]] = {}  # depth → pid → CPU s at last sample

    def sample(self) -> None:
        total, alive, pss, stack = 0, 0, 0, [(self.root, 0)]
        with_pss = self.samples % self.pss_every == 0
        while stack:
            pid, depth = stack.pop()
            got = _rss_and_cpu(pid)
            if got is not None:
                rss, cpu = got
                total, alive = total + rss, alive + 1
                pss += _pss(pid) if with_pss else 0
                self.seen.setdefault(depth, {})[pid] = cpu
                self.by_depth[depth] = max(self.by_depth.get(depth, 0), rss)
                if rss > self.peak_single:
                    self.peak_single, self.peak_single_depth = rss, depth
            stack += [(c, depth + 1) for c in _children(pid)]
        self.peak_total, self.peak_alive, self.peak_pss = max(self.peak_total, total), max(self.peak_alive, alive), max(self.peak_pss, pss)
        self.samples += 1

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def summary(self) -> dict[str, Any]:
        return {
            "peak_tree_bytes": self.peak_total,
            "peak_tree_pss_bytes": self.peak_pss,
            "peak_single_bytes": self.peak_single,
            "peak_single_depth": self.peak_single_depth,
            "peak_alive": self.peak_alive,
            "samples": self.samples,
            "by_depth": {
                d: {"peak_bytes": self.by_depth[d], "processes": len(self.seen.get(d, {})), "cpu_s": round(sum(self.seen.get(d, {}).values()), 2)}
                for d in sorted(self.by_depth)
            },
        }


# -- running the tessera command -------------------------------------------------------------
def tessera(home: Path, *args: str, memory: bool = False, timeout: float = 3600, root: Path = ROOT) -> dict[str, Any]:
    """Run `tessera ARGS` (the CLI of the tree at `root`, this tree by default; this interpreter)
    with TESSERA_HOME=home; time the whole process."""
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "TESSERA_LAKE_URI", "TESSERA_PARAMS"}}
    env.update(TESSERA_HOME=str(home), PYTHONPATH=os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]))
    argv = [sys.executable, "-m", "tessera.orchestration.cli", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeMemory(proc.pid) if memory else None
    if sampler:
        sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    if sampler:
        sampler.stop.set()
        sampler.join()
    try:
        payload = json.loads(out) if "--json" in args else None
    except json.JSONDecodeError:
        payload = None
    result = {"argv": ["tessera", *args], "wall_s": round(wall, 3), "rc": proc.returncode, "json": payload}
    if proc.returncode != 0:
        result["stderr_tail"] = err[-2000:]
        log(f"tessera {' '.join(args)} exited {proc.returncode}: {err.strip().splitlines()[-1:] if err.strip() else ''}")
    if sampler:
        result["memory"] = sampler.summary()
    return result


def run_batch(home: Path, drop: Path, batch: str, through: str = "embedded", memory: bool = True, root: Path = ROOT) -> dict[str, Any]:
    """`tessera ingest` + `tessera materialize` of one drop; whole-process times; the run id for read-back."""
    log(f"{batch}: ingest + materialize through {through} ({home.name})")
    ingest = tessera(home, "ingest", str(drop), "--batch", batch, "--json", root=root)
    mat = tessera(home, "materialize", "--batch", batch, "--through", through, "--json", memory=memory, root=root)
    first = (mat["json"] or [{}])[0]
    log(f"{batch}: ingest {ingest['wall_s']:.1f} s, materialize {mat['wall_s']:.1f} s, success={first.get('success')}")
    return {
        "home": str(home), "batch": batch, "through": through, "ingest_wall_s": ingest["wall_s"], "wall_s": mat["wall_s"],
        "inner_s": first.get("seconds"), "run_id": first.get("run_id"), "success": bool(first.get("success")),
        "failed_steps": first.get("failed_steps", []), "memory": mat.get("memory"), "rc": mat["rc"],
    }  # fmt: skip


def fixed_costs(quick_home: Path, one_file: Path, tmp: Path, empty: bool) -> dict[str, Any]:
    """Interpreter start, `tessera --help`, the imports, `tessera status`, a 1-file batch (and an empty one)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def wall(argv: list[str], repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - t)
        return round(statistics.median(times), 3)

    log("fixed costs: interpreter, --help, imports, status, a 1-file batch" + (", an empty batch" if empty else ""))
    out = {
        "python_s": wall([sys.executable, "-c", "pass"]),
        "help_s": wall([sys.executable, "-m", "tessera.orchestration.cli", "--help"]),
        "definitions_import_s": wall([sys.executable, "-c", "import tessera.orchestration.definitions"], repeat=1),
        "runner_import_s": wall([sys.executable, "-c", "import tessera.core.ops, tessera.assets.runner"], repeat=1),
        "gx_import_s": wall([sys.executable, "-c", "import great_expectations"], repeat=1),
        "status_s": tessera(quick_home, "status", "--batch", "bench", "--json")["wall_s"],
    }
    (tmp / "one-drop").mkdir()
    shutil.copyfile(one_file, tmp / "one-drop" / one_file.name)
    out["one"] = run_batch(tmp / "home-one", tmp / "one-drop", "one")
    if empty:
        (tmp / "empty-drop").mkdir()
        out["empty"] = run_batch(tmp / "home-empty", tmp / "empty-drop", "empty")
    return out


# -- reading back what the runs recorded -----------------------------------------------------
def read_back(spec: list[dict[str, Any]]) -> dict[str, Any]:
    """Per home: the stage metadata of its runs (Dagster event log) and the lake's tables.
    Runs in a helper process (it imports dagster and lance; the driver stays light)."""
    import lance
    from dagster import DagsterEventType, DagsterInstance

    out: dict[str, Any] = {}
    for entry in spec:
        home = Path(entry["home"])
        instance = DagsterInstance.from_config(str(home / "dagster"))
        runs: dict[str, Any] = {}
        for run_id in entry["run_ids"]:
            stages: dict[str, Any] = {}
            records = instance.all_logs(run_id)
            steps: dict[str, dict[str, float]] = {}
            for record in records:
                ev = record.dagster_event
                if ev is not None and ev.step_key and ev.event_type_value in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                    steps.setdefault(ev.step_key, {})["start" if ev.event_type_value == "STEP_START" else "end"] = record.timestamp
            span = records[-1].timestamp - records[0].timestamp if records else 0.0
            for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
                mat = record.dagster_event.event_specific_data.materialization
                md = {k: v.value for k, v in mat.metadata.items()}
                stages[mat.asset_key.path[-1]] = {k: md.get(k) for k in ("in", "landed", "variants", "quarantined", "seconds", "samples_per_s", "chunks", "quarantined_by_reason")}
            for name, st in stages.items():
                t = steps.get(name, {})
                st["step_s"] = round(t["end"] - t["start"], 3) if "start" in t and "end" in t else None
            runs[run_id] = {"stages": stages, "span_s": round(span, 3), "steps_s": round(sum(t.get("end", 0) - t.get("start", 0) for t in steps.values()), 3)}
        tables: dict[str, Any] = {}
        lake = home / "lake"
        raw_shas: set[str] = set()
        if (lake / "raw.lance").exists():
            ds = lance.dataset(str(lake / "raw.lance"))
            cols = [c for c in ds.schema.names if c.startswith("raw_sha256_")]
            for col in ds.to_table(columns=cols).itercolumns():
                raw_shas.update(x for x in col.to_pylist() if x)
        for path in sorted(lake.glob("*.lance")) if lake.exists() else []:
            ds = lance.dataset(str(path))
            info = {"bytes": sum(p.stat().st_size for p in path.rglob("*") if p.is_file()), "rows": ds.count_rows(), "versions": len(ds.versions())}
            if path.stem == "blobs":
                t = ds.to_table(columns=["sha256", "size"])
                sizes = dict(zip(t["sha256"].to_pylist(), t["size"].to_pylist(), strict=True))
                info["raw_bytes"] = sum(s for k, s in sizes.items() if k in raw_shas)
                info["derived_bytes"] = sum(s for k, s in sizes.items() if k not in raw_shas)
            if path.stem == "samples":
                info["vector_columns"] = [f.name for f in ds.schema if f.name.startswith("vec_")]
            tables[path.stem] = info
        out[entry["home"]] = {"runs": runs, "tables": tables}
    return out


def read_back_in_child(spec: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    path = tmp / "read-back.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANCE_LOG": "error"}
    done = subprocess.run([sys.executable, __file__, "--read-back", str(path)], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: reading back run metadata failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout)


# -- report ----------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()  # noqa: E731
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths]), *(fmt(r) for r in cells[1:])])


def mib(n: float | None) -> str:
    return "—" if n is None else f"{n / MiB:,.0f}"


def attach(run: dict[str, Any], back: dict[str, Any]) -> dict[str, Any]:
    """A run's stage figures and its home's lake tables, from the read-back."""
    home = back.get(run["home"], {})
    got = home.get("runs", {}).get(run.get("run_id") or "", {})
    run["stages"], run["span_s"], run["steps_s"] = got.get("stages", {}), got.get("span_s", 0.0), got.get("steps_s", 0.0)
    run["tables"] = home.get("tables", {})
    run["stage_s"] = round(sum(s["seconds"] or 0 for s in run["stages"].values()), 3)
    return run


def lake_split(tables: dict[str, Any]) -> dict[str, int]:
    stage_tables = [t for s, t in STAGE_TABLES.items() if s != "embedded"]
    split = {
        "blobs": tables.get("blobs", {}).get("bytes", 0),
        "blobs_raw": tables.get("blobs", {}).get("raw_bytes", 0),
        "blobs_derived": tables.get("blobs", {}).get("derived_bytes", 0),
        "stage_tables": sum(tables.get(t, {}).get("bytes", 0) for t in stage_tables),
        "samples": tables.get("samples", {}).get("bytes", 0),
    }
    split["other"] = sum(v.get("bytes", 0) for k, v in tables.items() if k not in {"blobs", "samples", *stage_tables})
    split["total"] = split["blobs"] + split["stage_tables"] + split["samples"] + split["other"]
    return split


def memory_row(label: str, mem: dict[str, Any] | None) -> list[Any]:
    if not mem:
        return [label, "—", "—", "—", "—", "—"]
    depths = " ".join(f"d{d}:{v['processes']}×≤{v['peak_bytes'] / MiB:.0f}" for d, v in mem["by_depth"].items())
    single = f"{mib(mem['peak_single_bytes'])} (d{mem['peak_single_depth']})"
    return [label, mib(mem["peak_tree_bytes"]), mib(mem.get("peak_tree_pss_bytes")), single, mem["peak_alive"], depths]


def cpu_by_depth(mem: dict[str, Any] | None) -> str:
    if not mem:
        return "—"
    return " ".join(f"d{d}:{v['cpu_s']:.0f}" for d, v in mem["by_depth"].items())


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        total_kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(), "usable_cores": usable, "ram_gib": round(total_kib / 1024 / 1024, 1), "load_avg_at_start": os.getloadavg(),
        "python": platform.python_version(), "platform": platform.platform(),
    }  # fmt: skip


def pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else "—"


def secs(f: dict[str, Any] | None, key: str = "seconds") -> str:
    return "—" if not f or f.get(key) is None else f"{f[key]:.2f}"


def stage_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """Per stage: in, then for each run its stage seconds and the rest of its step (checks, books)."""
    headers = ["stage", "in"]
    for label, _ in runs:
        headers += [f"{label} s", "samples/s", "+checks s"]
    rows = []
    for st in STAGES:
        first = runs[0][1]["stages"].get(st)
        if not first:
            continue
        row: list[Any] = [st, first["in"]]
        for _, run in runs:
            f = run["stages"].get(st)
            rest = f"{f['step_s'] - f['seconds']:.2f}" if f and f.get("step_s") is not None else "—"
            row += [secs(f), f"{f['samples_per_s']:.1f}" if f else "—", rest]
        rows.append(row)
    return table(headers, rows)


def whole_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """Where a `tessera materialize` process spends its time, outside and inside the stages."""
    parts = [
        ("tessera ingest (process)", lambda r: r["ingest_wall_s"]),
        ("tessera materialize (process)", lambda r: r["wall_s"]),
        ("  start-up: interpreter, imports, Definitions", lambda r: r["wall_s"] - (r["inner_s"] or 0)),
        ("  in process, outside the Dagster run (run set-up, status summary)", lambda r: (r["inner_s"] or 0) - r["span_s"]),
        ("  Dagster run: between steps", lambda r: r["span_s"] - r["steps_s"]),
        ("  steps: checks (GX, accounted_for) and step books", lambda r: r["steps_s"] - r["stage_s"]),
        ("  steps: Σ stage seconds (metadata)", lambda r: r["stage_s"]),
    ]
    return table(["whole command, seconds", *(label for label, _ in runs)], [[name, *(f"{fn(r):.2f}" for _, r in runs)] for name, fn in parts])


def decomposition(parts: dict[str, Any], naive: dict[str, float], stage_s: float) -> str:
    """Where cleaned + unified's seconds go: the same work serially in one process, by modality, beside the naive loop."""
    kinds: dict[str, list[float]] = {k: [0.0, 0.0] for k in ("image", "audio", "video", "other")}
    for i, stage in enumerate(("cleaned", "unified")):
        for op, s in parts[stage]["ops"].items():
            kinds[OP_KIND.get(op, "other")][i] += s
    rows = []
    for kind, (c, u) in kinds.items():
        n = naive.get(kind)
        rows.append([kind, f"{n:.2f}" if n is not None else "—", f"{c:.2f}", f"{u:.2f}", f"{(c + u) / n:.2f}×" if n else "—"])
    io_s = {k: sum(parts[st][k] for st in ("cleaned", "unified")) for k in ("plan_s", "read_s", "write_s")}
    serial = sum(sum(parts[st]["ops"].values()) for st in ("cleaned", "unified")) + sum(io_s.values())
    rows += [[f"lake: {k[:-2]}", "", f"{parts['cleaned'][k]:.2f}", f"{parts['unified'][k]:.2f}", ""] for k in ("plan_s", "read_s", "write_s")]
    rows.append(["serial total", f"{sum(naive.values()):.2f}", "", "", f"{serial / sum(naive.values()):.2f}×"])
    lines = [
        "   cleaned + unified taken apart: the same rows, one process, serially, with the runner's own functions (per-op seconds; "
        "isolated decoders included); 'ops/naive' = work done per unit of the naive loop's work",  # fmt: skip
        table(["kind", "naive s", "cleaned ops s", "unified ops s", "ops/naive"], rows),
        f"   a forkserver preloading core.ops + assets.runner starts in {parts['forkserver_start_s']:.2f} s; the pool lives for the run, "
        f"so its workers (and the decoder forkserver a worker starts at its first video) serve every stage; with 2 workers the serial {serial:.2f} s could take ≈{serial / 2:.2f} s, "
        f"the stages took {stage_s:.2f} s",  # fmt: skip
    ]
    return "\n".join(lines)


def report(res: dict[str, Any]) -> str:
    out: list[str] = []
    m, q, fx = res["machine"], res["quick"], res["fixed"]
    sc = res.get("scale")
    out.append(f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']} GiB RAM, load average at start "
               f"{' '.join(f'{x:.1f}' for x in m['load_avg_at_start'])}; Python {m['python']}; a shared machine: figures are noisy")  # fmt: skip
    c = q["corpus"]
    out.append(f"quick corpus (--n {q['n']}): {q['n']} captioned ≤1280×960 JPEGs, {q['n']} 3 s FLAC tones, {q['n']} 4 s 320×240 H.264 videos "
               f"= {c['files']} files ({c['media_files']} media), {c['bytes'] / MiB:.1f} MiB; 1-file batch: one of its videos")  # fmt: skip
    if sc:
        for s in sc["sizes"]:
            d = s["drop"]
            out.append(f"scale drop {s['label']}: {d['image']} captioned 12 MP JPEGs (~3 MB), {d['audio']} 60 s 44.1 kHz FLAC music clips (~4 MB), "
                       f"{d['video']} 30 s 640×360 H.264 videos with AAC + a cue (~4 MB) = {d['files']} files, {d['media_bytes'] / MiB:.0f} MiB of media")  # fmt: skip
        b = sc["one_percent"]
        out.append(f"1 % batch: base = the quick corpus at --n {b['base_n']} ({b['base_files']} files), then {b['small_files']} new files "
                   f"(scale corpus generated in {sc['corpus_generation_s']:.0f} s on {m['usable_cores']} cores{', reused from --corpus-dir' if sc['corpus_reused'] else ''})")  # fmt: skip
    out.append("")

    # 2: stages, whole command
    run, one = q["run"], fx["one"]
    out.append("2. stages (seconds, samples/s: Dagster materialization metadata; +checks: the rest of the step — resources, GX suite, "
               "accounted_for, events — from the event log's step start/end)")  # fmt: skip
    runs = [("quick", run), ("1-file", one)] + ([("empty", fx["empty"])] if "empty" in fx else [])
    out.append(stage_table(runs))
    out.append(whole_table(runs))
    n_files, media = c["files"], c["media_files"]
    total = run["ingest_wall_s"] + run["wall_s"]
    out.append(f"end-to-end, quick corpus (ingest + all six stages, whole processes): {n_files} files in {total:.1f} s = {n_files / total:.2f} files/s "
               f"({media / total:.2f} media files/s); from stage seconds alone: {n_files / run['stage_s']:.2f} files/s")  # fmt: skip
    if sc and sc.get("full"):
        full, d = sc["full"], sc["full"]["drop"]
        total = full["ingest_wall_s"] + full["wall_s"]
        out.append(f"end-to-end, {full['label']} scale drop, all six stages: {d['files']} files ({d['media_bytes'] / MiB:.0f} MiB) in {total:.1f} s = "
                   f"{d['files'] / total:.2f} files/s, {d['media_bytes'] / MiB / total:.2f} MiB/s")  # fmt: skip
        out.append(stage_table([(full["label"], full)]))
    out.append("")

    # 1: decode throughput
    nv = q["naive"]
    cu = run["stages"]["cleaned"]["seconds"] + run["stages"]["unified"]["seconds"]
    cu_one = one["stages"]["cleaned"]["seconds"] + one["stages"]["unified"]["seconds"]
    naive_s = statistics.mean(nv["seconds"])
    marginal = cu - cu_one
    rows = [
        ["naive loop (before the pipeline)", media, f"{nv['seconds'][0]:.2f}", f"{media / nv['seconds'][0]:.1f}", ""],
        ["naive loop (after the pipeline)", media, f"{nv['seconds'][1]:.2f}", f"{media / nv['seconds'][1]:.1f}", ""],
        ["cleaned + unified", media, f"{cu:.2f}", f"{media / cu:.1f}", f"{naive_s / cu:.2f}×"],
    ]
    if marginal > 0:  # noise can make the 1-file batch slower than the whole corpus
        rows.append(["  the same less the 1-file batch's cleaned + unified", media, f"{marginal:.2f}", f"{media / marginal:.1f}", f"{naive_s / marginal:.2f}×"])
    out.append("1. decode throughput, quick corpus (media files; target: cleaned + unified ≥ 1.5× the naive loop, mean of its two runs)")
    out.append(table(["", "files", "seconds", "files/s", "vs naive"], rows))
    ratio = naive_s / cu
    out.append(f"cleaned + unified = {ratio:.2f}× the naive loop: target 1.5× {'met' if ratio >= 1.5 else f'MISSED (needs {1.5 / ratio:.1f}× faster)'}")
    if q.get("parts"):
        out.append(decomposition(q["parts"], nv["by_kind"], cu))
    if sc:
        rows = []
        for s in sc["sizes"]:
            st = s["run"]["stages"]
            if "cleaned" in st and "unified" in st and s.get("naive_s"):
                cus, mf = st["cleaned"]["seconds"] + st["unified"]["seconds"], s["drop"]["media_files"]
                rows.append([s["label"], mf, f"{s['naive_s']:.1f}", f"{mf / s['naive_s']:.2f}", f"{cus:.1f}", f"{mf / cus:.2f}", f"{s['naive_s'] / cus:.2f}×"])
        if rows:
            out.append(table(["scale drop", "media files", "naive s", "naive files/s", "cleaned+unified s", "files/s", "vs naive"], rows))
        for s in sc["sizes"]:
            if s.get("parts"):
                st = s["run"]["stages"]
                out.append(f"   the {s['label']} drop taken apart the same way:")
                out.append(decomposition(s["parts"], s["naive_by_kind"], st["cleaned"]["seconds"] + st["unified"]["seconds"]))
    out.append("")

    # 3: memory
    out.append("3. peak memory of the pipeline's process tree, MiB (RSS every 50 ms, summed over live processes; PSS summed every 2 s; "
               "per depth: processes seen × the largest; " + "; ".join(f"d{k} {v}" for k, v in DEPTHS.items()) + ")")  # fmt: skip
    rows = [memory_row(f"quick ({c['bytes'] / MiB:.0f} MiB), all stages", run["memory"]), memory_row("1-file batch, all stages", one["memory"])]
    if "empty" in fx:
        rows.append(memory_row("empty batch, all stages", fx["empty"]["memory"]))
    if sc:
        rows += [memory_row(f"{s['label']} drop, through {s['run']['through']}", s["run"]["memory"]) for s in sc["sizes"]]
        if sc.get("full"):
            rows.append(memory_row(f"{sc['full']['label']} drop, all stages", sc["full"]["memory"]))
    out.append(table(["run", "RSS sum peak", "PSS sum peak", "largest process", "alive peak", "per depth"], rows))
    if sc and len(sc["sizes"]) >= 2:
        lo, hi = sc["sizes"][0], sc["sizes"][-1]
        peaks = [s["run"]["memory"]["peak_tree_bytes"] for s in sc["sizes"]]
        grow = peaks[-1] / max(peaks[:-1])  # flat: the largest drop needs no more than a smaller one did
        by_drop = " → ".join(f"{s['label']} {mib(p)}" for s, p in zip(sc["sizes"], peaks, strict=True))
        out.append(f"RSS sum peak by drop: {by_drop} MiB; "
                   f"the {hi['label']} drop ({hi['drop']['media_bytes'] / lo['drop']['media_bytes']:.0f}× the {lo['label']} drop's bytes) peaks at {grow:.2f}× the largest "
                   f"smaller drop's peak ({'flat' if grow < 1.25 else 'NOT flat'}); a batch under 2 × workers × chunk_bytes is cut into smaller chunks, so smaller "
                   f"drops can peak lower; largest process {mib(lo['run']['memory']['peak_single_bytes'])} → {mib(hi['run']['memory']['peak_single_bytes'])} MiB; "
                   f"{peaks[-1] / hi['drop']['media_bytes']:.2f} bytes of RAM per byte of media at {hi['label']}")  # fmt: skip
        out.append(f"scale runs stop after `{sc['sizes'][0]['run']['through']}`: `aligned` transcribes every clip with Whisper on CPU "
                   "(≈100 min of audio in the 1 GiB drop), too slow here; CPU seconds per depth of the tree:")  # fmt: skip
        rows = [[s["label"], f"{s['run']['ingest_wall_s']:.1f}", f"{s['run']['wall_s']:.1f}", *(secs(s["run"]["stages"].get(st)) for st in STAGES[:3]),
                 f"{s['drop']['media_bytes'] / MiB / max(s['run']['wall_s'], 1e-9):.2f}", cpu_by_depth(s["run"]["memory"])] for s in sc["sizes"]]  # fmt: skip
        out.append(table(["drop", "ingest s", "materialize s", "raw s", "cleaned s", "unified s", "MiB/s (materialize)", "CPU s by depth"], rows))
    out.append("")

    # 4: lake / drop
    out.append("4. lake bytes / drop bytes (apparent sizes under $TESSERA_HOME/lake; blobs: raw files + derived media; target ≤ 2× plus vectors)")
    lakes = [("quick, all stages", c["bytes"], run["tables"])]
    if sc:
        lakes += [(f"{s['label']}, through {s['run']['through']}", s["drop"]["bytes"], s["run"]["tables"]) for s in sc["sizes"]]
        if sc.get("full"):
            lakes.append((f"{sc['full']['label']}, all stages", sc["full"]["drop"]["bytes"], sc["full"]["tables"]))
        b = sc["one_percent"]
        lakes.append(("1 % lake (base + 1 % batch), all stages", b["base_bytes"] + b["small_bytes"], b["small"]["tables"]))
    rows = []
    for label, dbytes, tables in lakes:
        sp = lake_split(tables)
        vec = " ".join(tables.get("samples", {}).get("vector_columns", [])) or "—"
        rows.append([label, f"{dbytes / MiB:.1f}", f"{sp['total'] / MiB:.1f}", f"{sp['total'] / dbytes:.2f}×", f"{sp['blobs_raw'] / MiB:.1f}",
                     f"{sp['blobs_derived'] / MiB:.1f}", f"{sp['blobs'] / MiB:.1f}", f"{sp['stage_tables'] / MiB:.2f}", f"{sp['samples'] / MiB:.2f}",
                     f"{sp['other'] / MiB:.2f}", vec])  # fmt: skip
    out.append(table(["lake", "drop", "lake", "lake/drop", "blobs raw", "blobs derived", "blobs on disk", "raw…augmented", "samples", "other", "vectors"], rows))
    out.append("")

    # 5: the 1 % batch
    if sc:
        b = sc["one_percent"]
        base, small, alone = b["base"], b["small"], b["alone"]
        rows = []
        for st in STAGES:
            f0, f1, f2 = base["stages"].get(st), small["stages"].get(st), alone["stages"].get(st)
            if f0 and f1:
                rows.append([st, f0["in"], secs(f0), f1["in"], secs(f1), pct(f1["seconds"], f0["seconds"]), secs(f2)])
        rows.append(["Σ stages", "", f"{base['stage_s']:.2f}", "", f"{small['stage_s']:.2f}", pct(small["stage_s"], base["stage_s"]), f"{alone['stage_s']:.2f}"])
        for name, key in (("materialize (process)", "wall_s"), ("ingest (process)", "ingest_wall_s")):
            rows.append([name, "", f"{base[key]:.2f}", "", f"{small[key]:.2f}", pct(small[key], base[key]), f"{alone[key]:.2f}"])
        out.append(f"5. a 1 % batch ({b['small_files']} files) joining a lake that holds a {b['base_files']}-file batch (target ≤ 3% of the base batch's "
                   "cost); last column: the same batch alone in a fresh lake")  # fmt: skip
        out.append(table(["stage", "base in", "base s", "1% in", "1% s", "share", "alone s"], rows))
        share = small["stage_s"] / base["stage_s"]
        out.append(f"the 1 % batch's stage seconds = {100 * share:.1f}% of the base batch's: target 3% {'met' if share <= 0.03 else f'MISSED by {share / 0.03:.1f}×'}; "
                   f"joined vs alone: {small['stage_s'] / max(alone['stage_s'], 1e-9):.2f}× (≈1 means its cost does not depend on the table it joins)")  # fmt: skip
        out.append("")

    # 6: fixed cost
    out.append("6. fixed cost of a run (whole processes; median of 3 where cheap; per stage: the 1-file column of table 2)")
    rows = [
        ["python -c pass", fx["python_s"]],
        ["tessera --help", fx["help_s"]],
        ["import tessera.orchestration.definitions (what materialize loads: dagster, lance, assets, GX bridge)", fx["definitions_import_s"]],
        ["import tessera.core.ops, tessera.assets.runner (what every forkserver preloads)", fx["runner_import_s"]],
        ["import great_expectations (the first check of a run pays it)", fx["gx_import_s"]],
        ["tessera status --batch bench (quick lake)", fx["status_s"]],
        ["tessera ingest, 1 file (fresh home)", one["ingest_wall_s"]],
        ["tessera materialize, 1-file batch, six stages", one["wall_s"]],
        ["  of which Σ stage seconds", one["stage_s"]],
    ]
    if "empty" in fx:
        rows += [["tessera materialize, empty batch, six stages", fx["empty"]["wall_s"]], ["  of which Σ stage seconds", fx["empty"]["stage_s"]]]
    out.append(table(["what", "seconds"], [[w, f"{v:.2f}"] for w, v in rows]))
    return "\n".join(out)


# -- main ------------------------------------------------------------------------------------
def quick(n: int, tmp: Path) -> dict[str, Any]:
    root = tmp / "landing"
    log(f"quick corpus: --n {n}")
    build_corpus(root, n)
    corpus = drop_bytes(root)
    by_kind: dict[str, float] = {}
    files, first = naive_loop(root, by_kind)
    log(f"naive loop: {files} files in {first:.2f} s")
    run = run_batch(tmp / "home-quick", root, "bench")
    _, second = naive_loop(root, by_kind)
    log(f"naive loop again: {second:.2f} s")
    naive = {"files": files, "seconds": [round(first, 3), round(second, 3)], "by_kind": {k: round(v / 2, 3) for k, v in by_kind.items()}}
    return {"n": n, "corpus": corpus, "naive": naive, "run": run, "parts": decompose_in_child(tmp / "home-quick", "bench", tmp)}


def scale(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    pool = Path(args.corpus_dir) if args.corpus_dir else tmp / "pool"
    log(f"scale corpus in {pool} (reused when already there)")
    items, gen_s, reused = build_scale_pool(pool, max(args.sizes) * MiB, workers=max(1, len(os.sched_getaffinity(0))))
    sizes, full = [], None
    for size in args.sizes:
        label = f"{size} MiB" if size < 1024 or size % 1024 else f"{size // 1024} GiB"
        drop = tmp / f"drop-{size}"
        counts = drop_from_pool(pool, items, size * MiB, drop)
        entry: dict[str, Any] = {"label": label, "target_mib": size, "drop": {**counts, **drop_bytes(drop)}}
        if not args.no_scale_naive:
            entry["naive_by_kind"] = {}
            _, entry["naive_s"] = naive_loop(drop, entry["naive_by_kind"])
            log(f"{label}: naive loop {entry['naive_s']:.1f} s")
        entry["run"] = run_batch(tmp / f"home-{size}", drop, f"s{size}", through=args.scale_through)
        if size == args.sizes[0] and not args.no_scale_naive and entry["run"]["success"]:
            entry["parts"] = decompose_in_child(tmp / f"home-{size}", f"s{size}", tmp)
        sizes.append(entry)
        if size == args.full_at and args.scale_through != "embedded":
            full = {**run_batch(tmp / f"home-{size}-full", drop, f"f{size}"), "label": label, "drop": entry["drop"]}
    base_root, small_root = tmp / "base-drop", tmp / "small-drop"
    build_corpus(base_root, args.base_n, seed=1)
    build_corpus(small_root, max(1, args.base_n // 100), seed=2, start=args.base_n)
    base = run_batch(tmp / "home-joined", base_root, "base")
    small = run_batch(tmp / "home-joined", small_root, "small")
    alone = run_batch(tmp / "home-alone", small_root, "small")
    return {
        "corpus_generation_s": gen_s, "corpus_reused": reused, "sizes": sizes, "full": full,
        "one_percent": {"base_n": args.base_n, "base_files": drop_bytes(base_root)["files"], "base_bytes": drop_bytes(base_root)["bytes"],
                        "small_files": drop_bytes(small_root)["files"], "small_bytes": drop_bytes(small_root)["bytes"],
                        "base": base, "small": small, "alone": alone},
    }  # fmt: skip


def against(rev: str, n: int, repeat: int, tmp: Path) -> dict[str, Any]:
    """The quick corpus through this tree and through `rev` (a git revision, exported whole), in
    turn, `repeat` times each on fresh homes: per stage, the median step seconds of each and their
    ratio. Step seconds (the event log's step start to end: the stage, its GX check and its books)
    are compared rather than the `seconds` metadata, whose span has changed between versions."""
    other = tmp / "against"
    other.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"bench: git archive {rev} failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(other)], input=archive.stdout, check=True)
    drop = tmp / "landing"
    build_corpus(drop, n)
    runs: dict[str, list[dict[str, Any]]] = {"this": [], rev: []}
    for i in range(repeat):
        for j, (label, root) in enumerate((("this", ROOT), (rev, other))):
            runs[label].append(run_batch(tmp / f"home-{j}-{i}", drop, "bench", memory=False, root=root))
    back = read_back_in_child([{"home": r["home"], "run_ids": [r["run_id"] or ""]} for rs in runs.values() for r in rs], tmp)
    for rs in runs.values():
        for r in rs:
            attach(r, back)
    return {"rev": rev, "n": n, "repeat": repeat, "corpus": drop_bytes(drop), "runs": runs}


def against_report(res: dict[str, Any]) -> str:
    rev, runs = res["rev"], res["runs"]

    def median(label: str, pick: Any) -> float | None:
        got = [v for v in (pick(r) for r in runs[label]) if v is not None]
        return statistics.median(got) if got else None

    def row(name: str, pick: Any) -> list[Any]:
        a, b = median("this", pick), median(rev, pick)
        return [name, secs({"s": a}, "s"), secs({"s": b}, "s"), f"{a / b:.2f}×" if a and b else "—"]

    rows = [row(st, lambda r, st=st: (r["stages"].get(st) or {}).get("step_s")) for st in STAGES]
    rows += [row("Σ steps", lambda r: r["steps_s"] or None), row("tessera materialize (process)", lambda r: r["wall_s"])]
    head = (
        f"against {rev}: the quick corpus (--n {res['n']}, {res['corpus']['files']} files) through each tree {res['repeat']}× in turn, "
        "fresh homes; medians of whole steps (stage + GX check + books), seconds"
    )
    return head + "\n" + table(["stage", "this tree", rev, "ratio"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=24, help="quick corpus: images, audio clips and videos each (default 24)")
    ap.add_argument("--scale", action="store_true", help="also the 50 MiB / 250 MiB / 1 GiB drops and the 1 %% batch (tens of minutes)")
    ap.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",") if x], default=list(SCALE_SIZES_MIB), help="scale drops in MiB of media (default 50,250,1024)")
    ap.add_argument("--scale-through", choices=STAGES, default="unified", help="last stage of the scale drops' runs (default: unified)")
    ap.add_argument("--full-at", type=int, default=SCALE_SIZES_MIB[0], help="also run this scale drop through all six stages (default 50; 0: none)")
    ap.add_argument("--base-n", type=int, default=100, help="1 %% batch: the base batch is the quick corpus at this --n (4×N files), the new one 4×N/100 files")
    ap.add_argument("--no-scale-naive", action="store_true", help="skip the naive loop on the scale drops")
    ap.add_argument("--corpus-dir", help="keep the scale corpus here and reuse it on later runs")
    ap.add_argument("--corpus-only", action="store_true", help="only build the scale corpus in --corpus-dir, then stop")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    ap.add_argument("--against", metavar="REV", help="only compare stage step times with git revision REV (e.g. the commit before a change), run in turn")
    ap.add_argument("--repeat", type=int, default=3, help="--against: runs of each tree (default 3)")
    ap.add_argument("--read-back", metavar="SPEC", help=argparse.SUPPRESS)  # helper mode: runs' metadata and lake tables
    ap.add_argument("--decompose", nargs=2, metavar=("LAKE", "BATCH"), help=argparse.SUPPRESS)  # helper mode: cleaned + unified apart
    args = ap.parse_args()
    if args.read_back:
        print(json.dumps(read_back(json.loads(Path(args.read_back).read_text())), default=str))
        return
    if args.decompose:
        print(json.dumps(decompose(*args.decompose)))
        return
    if args.corpus_only:
        if not args.corpus_dir:
            ap.error("--corpus-only needs --corpus-dir")
        items, seconds, reused = build_scale_pool(Path(args.corpus_dir), max(args.sizes) * MiB, workers=max(1, len(os.sched_getaffinity(0))))
        print(f"{len(items)} items, {sum(i['bytes'] for i in items) / MiB:.0f} MiB in {args.corpus_dir} ({'reused' if reused else f'made in {seconds:.0f} s'})")
        return
    if args.against:
        with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp_name:
            res = against(args.against, args.n, max(1, args.repeat), Path(tmp_name))
        print(against_report(res))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2, default=str) + "\n")
        return
    res: dict[str, Any] = {"machine": machine(), "argv": sys.argv[1:]}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp_name:
        tmp = Path(tmp_name)
        res["quick"] = quick(args.n, tmp)
        res["fixed"] = fixed_costs(tmp / "home-quick", tmp / "landing" / "video0000.mp4", tmp, empty=args.scale)
        runs = [res["quick"]["run"], *(res["fixed"][k] for k in ("one", "empty") if k in res["fixed"])]
        if args.scale:
            res["scale"] = sc = scale(args, tmp)
            runs += [s["run"] for s in sc["sizes"]] + ([sc["full"]] if sc["full"] else []) + [sc["one_percent"][k] for k in ("base", "small", "alone")]
        homes: dict[str, list[str]] = {}
        for r in runs:
            homes.setdefault(r["home"], []).append(r["run_id"] or "")
        back = read_back_in_child([{"home": h, "run_ids": ids} for h, ids in homes.items()], tmp)
        for r in runs:
            attach(r, back)
    res["bench_wall_s"] = round(time.perf_counter() - started, 1)
    text = report(res)
    print(text)
    print(f"\n(bench wall time {res['bench_wall_s']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
