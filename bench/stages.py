"""Per-stage throughput of the pipeline on a generated corpus, beside a naive per-file loop.

    .venv/bin/python bench/stages.py --n 24          # N images, N audio clips, N videos

The naive loop does the same decode + resize work file by file in one process (Pillow open →
RGB → fit 512; PyAV decode → 16 kHz mono; PyAV decode every frame → 1 fps keyframes at 384),
with none of the pipeline's bookkeeping. Both run in this process, one after the other, so
the machine's load affects them alike; absolute figures on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.synth import encoded_audio, tone, video_bytes  # noqa: E402

STAGES = ("raw", "cleaned", "unified", "aligned", "augmented", "embedded")


def build_corpus(root: Path, n: int, seed: int = 0) -> dict[str, int]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        h, w = int(rng.integers(480, 960)), int(rng.integers(640, 1280))
        base = rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC)
        img.save(root / f"img{i:04d}.jpg", quality=90)
        (root / f"img{i:04d}.txt").write_text(f"generated picture number {i} with blobs of colour\n")
        (root / f"clip{i:04d}.flac").write_bytes(encoded_audio(tone(3.0, 200 + 37 * i, 44_100), 44_100, "flac"))
        (root / f"video{i:04d}.mp4").write_bytes(video_bytes(4.0, fps=15, size=(320, 240), cues=[(0.5, 1.5, f"cue {i}")]))
    return {"image": n, "audio": n, "video": n}


def naive_loop(root: Path) -> tuple[int, float]:
    """Decode + resize every file, one at a time, the plain way."""
    import av
    from PIL import Image

    started = time.perf_counter()
    files = sorted(p for p in root.iterdir() if p.suffix in {".jpg", ".flac", ".mp4"})
    for path in files:
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
    return len(files), time.perf_counter() - started


def run_pipeline(root: Path, home: Path) -> dict[str, dict[str, float]]:
    os.environ["TESSERA_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    from dagster import DagsterInstance

    from orchestration.definitions import build_definitions
    from resources.lake import LakeResource

    LakeResource().register_batch("bench", str(root), None)
    instance = DagsterInstance.get()
    instance.add_dynamic_partitions("batch", ["bench"])
    result = build_definitions().resolve_job_def("pipeline").execute_in_process(
        partition_key="bench", instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    )
    figures: dict[str, dict[str, float]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        md = {k: v.value for k, v in mat.metadata.items()}
        figures[mat.asset_key.path[-1]] = {"in": md["in"], "seconds": md["seconds"], "per_s": md["samples_per_s"]}
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=24, help="images, audio clips and videos each (default 24)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        root, home = Path(tmp) / "landing", Path(tmp) / "home"
        counts = build_corpus(root, args.n)
        files, naive_s = naive_loop(root)
        figures = run_pipeline(root, home)
    decode_s = figures["cleaned"]["seconds"] + figures["unified"]["seconds"]
    print(f"corpus: {counts['image']} captioned images (≤1280×960 JPEG), {counts['audio']} 3 s FLAC clips, {counts['video']} 4 s 320×240 H.264 videos")
    print(f"{'stage':<10} {'in':>5} {'seconds':>8} {'samples/s':>10}")
    for stage in STAGES:
        f = figures[stage]
        print(f"{stage:<10} {f['in']:>5} {f['seconds']:>8.2f} {f['per_s']:>10.1f}")
    print(f"{'naive loop':<10} {files:>5} {naive_s:>8.2f} {files / naive_s:>10.1f}   (decode + resize only, one file at a time)")
    print(f"cleaned+unified (full decode under limits, metrics, dedup, canonical encode): {files / decode_s:.1f} files/s "
          f"= {naive_s / decode_s:.2f}× the naive loop")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MiB (models included), largest decode child {kids:.0f} MiB")


if __name__ == "__main__":
    main()
