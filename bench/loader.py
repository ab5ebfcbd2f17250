"""The PyTorch loader (`tessera.connect(...).dataset`) beside a naive PIL loop and Lance's own
`lance.torch` dataset, on the same images, in the same run.

    .venv/bin/python bench/loader.py                 # 400 photos; builds the lake (~1.5 min), then ~2 min of reads
    .venv/bin/python bench/loader.py --n 1000 --reuse

The drop: real photos from scikit-image, cropped and rescaled to 600–2400 px, JPEG q90, each with
a caption. It runs through every stage (`tessera ingest` + `materialize`); the loader then reads
`samples`' landed originals (variants left out) and decodes each image to 3×224×224 uint8
(shorter side to 224, centre crop). Every reader runs in its own process, one after another, and
yields the same tensors; samples/s counts images out of the loader, peak RSS is the sum over the
reader's process tree (DataLoader workers included), sampled every 50 ms.

- naive PIL loop, original files: open → RGB → resize → crop → tensor, one process (what a user
  writes first; it decodes the drop's large originals);
- naive PIL loop, the lake's canonical images written out as files: the decode limit of one
  process on the same bytes the loader decodes (the target is ≥ 0.9× this with 2 workers);
- tessera, map-style and streamed, with 0, 1 and 2 DataLoader workers, batch 32;
- `lance.torch.data.LanceDataset` over a Lance table of the same canonical bytes (a plain binary
  column), decoding with the same function, 0 and 2 workers;
- memory in epoch length: the streamed loader, 2 workers, over 2 and 8 epochs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stages import TreeMemory, log, machine, mib, table, tessera  # noqa: E402

SIZE = 224
JPEG_MAGIC = b"\xff\xd8"
BATCH = 32


def build_drop(root: Path, n: int, seed: int = 0) -> int:
    """N captioned JPEGs cut from scikit-image's photos: random crops, rescaled so the longer side
    is 600–2400 px, quality 90. Returns the drop's bytes."""
    import numpy as np
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = Path(skimage.data.__file__).parent
    names = ("astronaut.png", "chelsea.png", "rocket.jpg", "coffee.png", "motorcycle_left.png", "hubble_deep_field.jpg")
    sources = [Image.open(folder / name).convert("RGB") for name in names]
    root.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n):
        src, name = sources[i % len(sources)], Path(names[i % len(names)]).stem
        w, h = src.size
        cw, ch = int(w * rng.uniform(0.5, 1.0)), int(h * rng.uniform(0.5, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        side = int(rng.integers(600, 2401))
        scale = side / max(cw, ch)
        im = src.crop((x, y, x + cw, y + ch)).resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.Resampling.BICUBIC)
        im.save(root / f"photo{i:05d}.jpg", quality=90)
        (root / f"photo{i:05d}.txt").write_text(f"photo {i}: a crop of scikit-image's {name}\n")
        total += (root / f"photo{i:05d}.jpg").stat().st_size
    return total


# -- readers: each runs in its own process (`bench/loader.py --reader NAME …`) ---------------------
def to_tensor(data: bytes) -> Any:
    from tessera.loader import Decode, image_tensor

    return image_tensor(data, Decode(modalities=("image",), image_size=SIZE))


def naive(folder: Path, epochs: int) -> Iterator[int]:
    import numpy as np
    import torch
    from PIL import Image

    files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in (".jpg", ".png")]
    for _ in range(epochs):
        for path in files:
            with Image.open(path) as im:
                im = im.convert("RGB")
            w, h = im.size
            s = SIZE / min(w, h)
            im = im.resize((max(SIZE, round(w * s)), max(SIZE, round(h * s))), Image.Resampling.BILINEAR)
            left, top = (im.size[0] - SIZE) // 2, (im.size[1] - SIZE) // 2
            t = torch.from_numpy(np.asarray(im.crop((left, top, left + SIZE, top + SIZE))).copy()).permute(2, 0, 1)
            yield int(t.shape[0] == 3)


def tessera_loader(home: Path, workers: int, stream: bool, epochs: int) -> Iterator[int]:
    import tessera

    ds = tessera.connect(home).dataset(modalities=["image"], require=["image"], variants=False, image_size=SIZE, stream=stream, read_rows=BATCH)
    loader = tessera.dataloader(ds, batch_size=BATCH, num_workers=workers)
    for epoch in range(epochs):
        if stream:
            ds.set_epoch(epoch)
        for b in loader:
            yield int(b["mask"]["image"].sum())


def decode_batch(batch: Any, **_: Any) -> Any:
    """lance.torch's to_tensor_fn: the batch's pictures, decoded as the tessera loader does."""
    import torch

    return torch.stack([to_tensor(b) for b in batch.column("data").to_pylist()])


def lance_torch(table_uri: str, workers: int, epochs: int) -> Iterator[int]:
    from lance.torch.data import LanceDataset
    from torch.utils.data import DataLoader

    ds = LanceDataset(table_uri, batch_size=BATCH, columns=["data"], to_tensor_fn=decode_batch, shard_granularity="batch" if workers else None)
    loader = DataLoader(ds, batch_size=None, num_workers=workers, multiprocessing_context="forkserver" if workers else None)
    for _ in range(epochs):
        for b in loader:
            yield int(b.shape[0])


def reader_main(args: argparse.Namespace) -> None:
    """Times one reader: the whole run (imports and worker start-up included), the wait for the
    first batch, and the steady rate after it."""
    started = time.perf_counter()
    if args.reader == "naive":
        counts = naive(Path(args.path), args.epochs)
    elif args.reader == "tessera":
        counts = tessera_loader(Path(args.path), args.workers, args.stream, args.epochs)
    else:
        counts = lance_torch(args.path, args.workers, args.epochs)
    n = n_first = 0
    first = None
    for c in counts:
        n += c
        if first is None:
            first, n_first = time.perf_counter(), n
    end = time.perf_counter()
    steady = (n - n_first) / (end - first) if first is not None and end > first else 0.0
    print(json.dumps({"images": n, "seconds": end - started, "startup_s": (first or end) - started, "steady_per_s": steady}))


def run_reader(label: str, *argv: str) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, __file__, "--reader", *argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeMemory(proc.pid, pss_every=4)
    sampler.start()
    out, err = proc.communicate(timeout=3600)
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    got = json.loads(out.strip().splitlines()[-1])
    mem = sampler.summary()
    got.update(label=label, per_s=got["steady_per_s"], peak_bytes=mem["peak_tree_bytes"], peak_pss_bytes=mem["peak_tree_pss_bytes"])
    log(f"{label}: {got['images']} images in {got['seconds']:.1f} s (first batch after {got['startup_s']:.1f} s), "
        f"{got['per_s']:.1f}/s after it, peak {mib(got['peak_bytes'])} MiB RSS / {mib(got['peak_pss_bytes'])} MiB PSS")
    return got


# -- the run -----------------------------------------------------------------------------------
def prepare(work: Path, n: int, reuse: bool) -> tuple[Path, Path, Path, str, dict[str, Any]]:
    home, drop, canon, table_uri = work / "home", work / "drop", work / "canonical", str(work / "canonical.lance")
    ready = work / f"ready-{n}.json"
    if reuse and ready.exists():
        return home, drop, canon, table_uri, json.loads(ready.read_text())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    drop_bytes = build_drop(drop, n)
    log(f"drop: {n} photos, {drop_bytes / 2**20:.0f} MiB; running every stage")
    started = time.perf_counter()
    for args in (("ingest", str(drop), "--batch", "photos"), ("materialize", "--batch", "photos")):
        r = tessera(home, *args)
        if r["rc"] != 0:
            raise SystemExit(f"tessera {' '.join(args)} failed: {r.get('stderr_tail', '')[-400:]}")
    pipeline_s = time.perf_counter() - started
    # the same canonical bytes the loader decodes, as files (the naive decode limit) and as a plain Lance table (lance.torch)
    import lance
    import pyarrow as pa

    import tessera as ts

    t = ts.connect(home)
    rows = t.lake.dataset("samples").to_table(columns=["media_image"], filter="status = 'landed' AND parent_id IS NULL AND media_image IS NOT NULL")
    refs = rows["media_image"].to_pylist()
    blobs = t.lake.read_blobs(refs)
    canon.mkdir()
    for i, ref in enumerate(refs):
        suffix = "jpg" if blobs[ref].startswith(JPEG_MAGIC) else "png"
        (canon / f"{i:05d}.{suffix}").write_bytes(blobs[ref])
    lance.write_dataset(pa.table({"data": pa.array([blobs[r] for r in refs], pa.binary())}), table_uri, max_rows_per_file=256)
    info = {"n": n, "drop_bytes": drop_bytes, "pipeline_s": round(pipeline_s, 1), "images": len(refs),
            "canonical_bytes": sum(len(b) for b in blobs.values())}  # fmt: skip
    ready.write_text(json.dumps(info))
    return home, drop, canon, table_uri, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400, help="photos in the drop")
    ap.add_argument("--reuse", action="store_true", help="keep the lake built by an earlier run with the same --n")
    ap.add_argument("--work", type=Path, default=ROOT / "bench/out/loader")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--reader", choices=("naive", "tessera", "lance"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stream", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, default=3, help="epochs each loader reads (the naive loop over originals reads one)")
    args = ap.parse_args()
    if args.reader:
        return reader_main(args)
    home, drop, canon, table_uri, info = prepare(args.work, args.n, args.reuse)
    log(f"lake ready ({info['images']} landed images; pipeline {info['pipeline_s']} s); reading")
    e = str(args.epochs)
    runs = [
        run_reader("naive PIL loop, original files", "naive", "--path", str(drop), "--epochs", "1"),
        run_reader("naive PIL loop, canonical files", "naive", "--path", str(canon), "--epochs", e),
    ]
    for workers in (0, 1, 2):
        runs.append(run_reader(f"tessera map-style, {workers} workers", "tessera", "--path", str(home), "--workers", str(workers), "--epochs", e))
    for workers in (0, 2):
        runs.append(run_reader(f"tessera streamed, {workers} workers", "tessera", "--path", str(home), "--workers", str(workers), "--stream", "--epochs", e))
    for workers in (0, 2):
        runs.append(run_reader(f"lance.torch LanceDataset, {workers} workers", "lance", "--path", table_uri, "--workers", str(workers), "--epochs", e))
    epochs = [run_reader(f"tessera streamed, 2 workers, {n} epoch(s)", "tessera", "--path", str(home), "--workers", "2", "--stream", "--epochs", str(n)) for n in (2, 8)]
    limit = runs[1]["per_s"]
    rows = [
        [r["label"], r["images"], f"{r['seconds']:.1f}", f"{r['startup_s']:.1f}", f"{r['per_s']:.1f}", f"{r['per_s'] / limit:.2f}×", mib(r["peak_bytes"]), mib(r["peak_pss_bytes"])]
        for r in [*runs, *epochs]
    ]
    print(f"\n{machine()}")
    print(f"drop: {info['n']} photos, {info['drop_bytes'] / 2**20:.0f} MiB; {info['images']} landed images, canonical {info['canonical_bytes'] / 2**20:.0f} MiB; {args.epochs} epochs a reader")
    print(table(["reader (3×224×224 uint8, batch 32)", "images", "wall s", "1st batch s", "images/s after", "vs decode limit", "peak RSS MiB", "peak PSS MiB"], rows))
    best = max(r["per_s"] for r in runs if r["label"].startswith("tessera") and "2 workers" in r["label"])
    print(f"\ntessera with 2 workers: {best / limit:.2f}× the one-process decode limit of the canonical files (target ≥ 0.90×)")
    for key, what in (("peak_bytes", "RSS"), ("peak_pss_bytes", "PSS")):
        grow = epochs[1][key] / max(1, epochs[0][key])
        print(f"memory in epoch length: 8 epochs {mib(epochs[1][key])} MiB {what} vs 2 epochs {mib(epochs[0][key])} MiB ({grow:.2f}×)")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "runs": runs, "epochs": epochs}, indent=2))


if __name__ == "__main__":
    main()
