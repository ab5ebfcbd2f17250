"""Near-duplicate pictures: how many planted near-copies image.near_dup finds and how many false
clusters it makes, by radius, within a batch and across batches; and what the cross-batch
lookup costs a small batch as the table it joins grows.

    PYTHONPATH=. .venv/bin/python bench/near_dups.py                    # ~2 min on 2 idle cores
    PYTHONPATH=. .venv/bin/python bench/near_dups.py --photos DIR       # also crop your own photos

The drop: `--n` captioned pictures cropped from real photos (scikit-image's, plus `--photos`),
each a different region, or a turned or mirrored one (a crop overlaps no earlier crop of its photo by
more than half), rescaled to 256-900 px; then `--copies` planted near-copies of some of them,
each under another caption: re-saved as JPEG at quality 60-75, or shrunk to 0.90-0.97 of their
size. Found: a copy clustered with its source. False cluster: a cluster joining two different
crops. Hashes come from image.decode, as the pipeline computes them.

The cost part times `resources.near_index.settle` for a batch of `--batch` pictures against an
index holding 0, 10x and 100x as many: the hashes there are seeded random 64-bit values (index
plumbing, not pictures), so the timing isolates the lookup and commit.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import skimage.data
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tessera.core.ops.cleaned.image_decode import ImageDecode  # noqa: E402
from tessera.core.ops.unified.image_near_dup import ImageNearDup  # noqa: E402
from tessera.core.records import Sample, compute_sample_id  # noqa: E402

PHOTOS = ("astronaut", "brick", "camera", "cat", "coffee", "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field",
          "immunohistochemistry", "logo", "moon", "page", "retina", "rocket", "text", "clock", "cell")  # fmt: skip
RADII = (4, 6, 8, 10, 12)


def photos(extra: Path | None) -> list[Image.Image]:
    out = [Image.fromarray(getattr(skimage.data, n)()).convert("RGB") for n in PHOTOS]
    if extra is not None:
        out += [Image.open(p).convert("RGB") for p in sorted(extra.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
    return out


def bases(sources: list[Image.Image], n: int, rng: random.Random) -> list[Image.Image]:
    """`n` distinct pictures: crops of different regions (overlapping no earlier crop of the photo
    by more than half), each in up to eight orientations (turned and mirrored: pHash is not
    invariant to either, and a turned picture is not a re-encoded copy), rescaled to 256-900 px."""
    boxes: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    out: list[Image.Image] = []
    T = Image.Transpose
    turns = [None, T.ROTATE_90, T.ROTATE_180, T.ROTATE_270, T.FLIP_LEFT_RIGHT, T.FLIP_TOP_BOTTOM, T.TRANSPOSE, T.TRANSVERSE]
    tries = 0
    while len(out) < n and tries < 200 * n:
        tries += 1
        k = rng.randrange(len(sources))
        im = sources[k]
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.15, 0.6)), int(h * rng.uniform(0.15, 0.6))
        x, y = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
        box = (x, y, x + cw, y + ch)
        if any(_overlap(box, b) > 0.5 for b in boxes[k]):
            continue
        boxes[k].append(box)
        crop = im.crop(box)
        for turn in rng.sample(turns, rng.randint(1, 8)):
            turned = crop.transpose(turn) if turn is not None else crop
            scale = rng.randint(256, 900) / max(turned.size)
            out.append(turned.resize((max(32, int(turned.width * scale)), max(32, int(turned.height * scale))), Image.Resampling.LANCZOS))
    if len(out) < n:
        raise SystemExit(f"only {len(out)} distinct crops from {len(sources)} photos; add --photos or lower --n")
    return out[:n]


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw, ih = max(0, min(a[2], b[2]) - max(a[0], b[0])), max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def planted(base: Image.Image, rng: random.Random) -> tuple[str, bytes]:
    if rng.random() < 0.5:
        q = rng.randint(60, 75)
        return f"re-saved at q{q}", jpeg(base, q)
    f = rng.uniform(0.90, 0.97)
    return f"shrunk to {f:.2f}", jpeg(base.resize((int(base.width * f), int(base.height * f)), Image.Resampling.LANCZOS), 90)


def hashed(files: list[tuple[bytes, str]]) -> list[Sample]:
    """Each picture with its caption, decoded by image.decode (its pHash and dHash on the row)."""
    raw = [Sample(compute_sample_id({"image": b, "text": c.encode()}), "bench", f"{i}", ["text", "image"], media={"image": b}, text=c) for i, (b, c) in enumerate(files)]
    return [s for s in ImageDecode().apply(raw, None) if isinstance(s, Sample)]


def score(op: ImageNearDup, rows: list[Sample], truth: dict[str, int]) -> tuple[int, int, int, set[int]]:
    """(copies found, false clusters, pictures in false clusters, bases whose copy was found) for
    the op's clusters; `truth`: id → base index."""
    prepared = op.clusters((s.sample_id, s.metrics, s.text) for s in rows)
    groups: dict[str, list[str]] = defaultdict(list)
    for sid, (rep, _) in prepared.members.items():
        groups[rep].append(sid)
    found = false = wrongly = 0
    with_copy: set[int] = set()
    for members in groups.values():
        kinds = Counter(truth[m] for m in members)
        found += sum(c - 1 for c in kinds.values())
        with_copy |= {k for k, c in kinds.items() if c > 1}
        if len(kinds) > 1:
            false += 1
            wrongly += len(members) - max(kinds.values())
    return found, false, wrongly, with_copy


def across_batches(op: ImageNearDup, base_rows: list[Sample], copy_rows: list[Sample], truth: dict[str, int]) -> tuple[int, int, float]:
    """Bases landed as batch w1, the copies as w2 through the lake's band index: (right claims, wrong claims, seconds for w2)."""
    from tessera.resources.lake import LakeResource
    from tessera.resources.near_index import settle

    with tempfile.TemporaryDirectory() as tmp:
        lake = LakeResource(uri=f"{tmp}/lake")
        for b in ("w1", "w2"):
            lake.register_batch(b, tmp, None)
        row = lambda s: {"sample_id": s.sample_id, "modalities": s.modalities, "metrics": s.metrics, "text": s.text}  # noqa: E731
        settle(lake, "w1", [op], [row(s) for s in base_rows], lambda *_: False)
        started = time.perf_counter()
        out = settle(lake, "w2", [op], [row(s) for s in copy_rows], lambda *_: False)
        took = time.perf_counter() - started
    right = sum(1 for sid, c in out.claims.items() if truth[sid] == truth[c.holder_id])
    return right, len(out.claims) - right, took


def cost(batch: int, multiples: tuple[int, ...], seed: int) -> list[tuple[int, float]]:
    """Seconds to settle a batch of `batch` pictures against an index of `m` x as many, per m."""
    from tessera.resources.lake import LakeResource
    from tessera.resources.near_index import settle

    op = ImageNearDup()
    rng = np.random.default_rng(seed)

    def rows(n: int, tag: str) -> list[dict[str, Any]]:
        h = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
        return [{"sample_id": f"{tag}-{i:07d}", "modalities": ["image"], "metrics": {"phash_hi": float(int(x) >> 32), "phash_lo": float(int(x) & 0xFFFFFFFF)}, "text": None}
                for i, x in enumerate(h)]  # fmt: skip

    out = []
    for m in multiples:
        with tempfile.TemporaryDirectory() as tmp:
            lake = LakeResource(uri=f"{tmp}/lake")
            names = [f"t{k:03d}" for k in range(max(1, m // 10))] + ["new"]
            for b in names:
                lake.register_batch(b, tmp, None)
            per = batch * m // max(1, m // 10) if m else 0
            for b in names[:-1]:
                if per:
                    settle(lake, b, [op], rows(per, b), lambda *_: False)
            fresh = rows(batch, "new")
            settle(lake, "new", [op], fresh, lambda *_: False)  # warm: imports, index files opened
            started = time.perf_counter()
            settle(lake, "new", [op], fresh, lambda *_: False)  # the re-decision a re-run pays: lookups + one commit
            out.append((m, time.perf_counter() - started))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="distinct captioned pictures")
    ap.add_argument("--copies", type=int, default=100, help="planted near-copies")
    ap.add_argument("--photos", type=Path, default=None, help="a folder of photos to crop besides scikit-image's")
    ap.add_argument("--batch", type=int, default=500, help="pictures in the batch whose cross-batch cost is timed")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    pics = bases(photos(args.photos), args.n, rng)
    files = [(jpeg(p, 90), f"picture {i}: a scene") for i, p in enumerate(pics)]
    sources = rng.sample(range(args.n), args.copies)
    kinds = []
    for k in sources:
        kind, data = planted(pics[k], rng)
        files.append((data, f"another caption for picture {k}"))
        kinds.append(kind)
    truth_of_file = list(range(args.n)) + sources
    rows = hashed(files)
    truth = {s.sample_id: truth_of_file[int(s.source)] for s in rows}
    print(f"drop: {args.n} pictures cropped from {len(PHOTOS)} photos{' + ' + str(args.photos) if args.photos else ''}, "
          f"{args.copies} planted copies ({Counter(k.split()[0] for k in kinds)}); decoded in {time.perf_counter() - started:.1f} s")  # fmt: skip
    print(f"\n{'hash':6} {'radius':>6} {'found':>7} {'of':>4} {'false clusters':>15} {'pictures wrongly clustered':>27}")
    missed: dict[int, list[str]] = {}
    for h in ("phash", "dhash"):
        for r in RADII:
            found, false, wrongly, with_copy = score(ImageNearDup(radius=r, hash=h), rows, truth)
            print(f"{h:6} {r:>6} {found:>7} {args.copies:>4} {false:>15} {wrongly:>27}")
            if h == "phash":
                missed[r] = [kind for k, kind in zip(sources, kinds, strict=True) if k not in with_copy]
    for r in (4, 6):
        print(f"phash at radius {r} missed: {', '.join(missed[r]) or 'none'}")

    base_rows = [s for s in rows if int(s.source) < args.n]
    copy_rows = [s for s in rows if int(s.source) >= args.n]
    print(f"\nacross batches (bases in w1, copies in w2, through near_index):\n{'radius':>6} {'right claims':>13} {'wrong claims':>13} {'w2 settle s':>12}")
    for r in (4, 8, 10):
        right, wrong, took = across_batches(ImageNearDup(radius=r), base_rows, copy_rows, truth)
        print(f"{r:>6} {right:>13} {wrong:>13} {took:>12.2f}")

    print(f"\ncost of one batch of {args.batch} against the index (seeded random hashes; the re-decision a re-run pays):")
    timings = cost(args.batch, (0, 10, 100), args.seed)
    base = timings[0][1]
    for m, took in timings:
        print(f"  table {m:>3}x the batch ({m * args.batch:>6} pictures): {took:6.2f} s  ({took / base:4.2f}x the empty table)")


if __name__ == "__main__":
    main()
