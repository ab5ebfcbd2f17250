"""What releases and the sample ledger cost: the time of `tessera release` and `release diff`
on a lake made from a mixed drop (photos with captions, music, videos: bench/stages.py's pool),
beside the time it took to make that lake, and the ledger's share of the lake's bytes.

    PYTHONPATH=. .venv/bin/python bench/releases.py                  # 50 MiB drop, ~5 min on 2 cores
    PYTHONPATH=. .venv/bin/python bench/releases.py --mib 250        # the 250 MiB drop, ~25 min

The ledger's cost in stage time is measured by bench/stages.py --against REV (a revision
before the ledger), step by step.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stages import MiB, build_scale_pool, drop_bytes, drop_from_pool, log, run_batch, tessera  # noqa: E402


def ledger_share(lake: Path) -> tuple[int, int, int]:
    """(the ledger's bytes as written, the stage tables' bytes, the lake's bytes on disk): each
    stage table's `lineage` column read back as Arrow, against the files of the whole lake."""
    import lance

    on_disk = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file())
    ledger = tables = 0
    for name in ("raw", "cleaned", "unified", "aligned", "augmented", "samples"):
        path = lake / f"{name}.lance"
        if path.is_dir():
            ds = lance.dataset(str(path))
            ledger += ds.to_table(columns=["lineage"]).nbytes
            tables += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return ledger, tables, on_disk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=50, help="size of the drop (media bytes)")
    ap.add_argument("--corpus-dir", default=str(Path(tempfile.gettempdir()) / "tessera-bench-pool"), help="where the generated pool is kept (reused)")
    args = ap.parse_args()
    items, gen_s, reused = build_scale_pool(Path(args.corpus_dir), (args.mib + args.mib // 5 + 1) * MiB, workers=max(1, len(os.sched_getaffinity(0))))
    log(f"pool: {len(items)} items ({'reused' if reused else f'made in {gen_s:.0f} s'})")
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        home, drop = Path(tmp) / "home", Path(tmp) / "drop"
        info = drop_from_pool(Path(args.corpus_dir), items, args.mib * MiB, drop)
        size = drop_bytes(drop)
        started = time.perf_counter()
        run = run_batch(home, drop, "b1", memory=False)
        made = time.perf_counter() - started
        first = tessera(home, "release", "v1", "--json")
        half = drop_from_pool(Path(args.corpus_dir), items[info["media_files"] :], args.mib * MiB // 10, Path(tmp) / "drop2")  # content b1 lacks
        run_batch(home, Path(tmp) / "drop2", "b2", memory=False)
        second = tessera(home, "release", "v2", "--json")
        diff = tessera(home, "release", "diff", "v1", "v2", "--json")
        ledger, tables, lake = ledger_share(home / "lake")
    print(f"\ndrop: {size['media_files']} media files ({info}), {size['bytes'] / MiB:.0f} MiB; ingest + six stages: {made:.0f} s (success={run['success']})")
    print(f"tessera release v1 (whole process): {first['wall_s']:.1f} s = {100 * first['wall_s'] / made:.1f}% of making the lake")
    print(f"a second batch ({half['media_files']} media files), tessera release v2: {second['wall_s']:.1f} s; release diff v1 v2: {diff['wall_s']:.1f} s")
    d = diff["json"] or {}
    print(f"  diff: {d.get('added', {}).get('count')} added, {d.get('removed', {}).get('count')} removed, {d.get('changed', {}).get('count')} changed")
    print(f"ledger (lineage column, as Arrow): {ledger / MiB:.2f} MiB = {100 * ledger / lake:.2f}% of the lake's {lake / MiB:.0f} MiB on disk "
          f"({100 * ledger / max(tables, 1):.1f}% of the stage tables' {tables / MiB:.1f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
