"""Where a picture's time goes: `cleaned` and `unified` over the peers drop (bench/peers.py: real
photo crops, copies, near-copies, tiny pictures, captions), run in one process under cProfile
(`execution.decode_workers: 1`, so every operator runs in the profiled process), then the time
of each operator's `apply` and of the stage around it (reads, writes, commits, GX, Dagster),
in milliseconds per picture.

    .venv/bin/python bench/operators.py               # 200 pictures, ~2 min on 2 cores
    .venv/bin/python bench/operators.py --n 400 --top 25

The figures are profiled (cProfile adds its own overhead to Python-heavy code); compare them
with each other, not with unprofiled wall times. `--top` also prints the heaviest functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

OPS_DIR = str(ROOT / "core" / "ops")
STAGE_FILES = {"assets/factory.py": "stage (plan, read, commit)", "assets/runner.py": "chunk (hydrate, write)", "expectations/bridge.py": "GX suite"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="pictures in the drop (each with a caption)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    ap.add_argument("--work", type=Path, default=ROOT / "bench/out/operators")
    args = ap.parse_args()

    from peers import build_drop

    shutil.rmtree(args.work, ignore_errors=True)
    home = args.work / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    from tessera.resources.params import load_params

    params = load_params()
    params.setdefault("execution", {})["decode_workers"] = 1  # every operator in this process, under the profiler
    (home / "params.yaml").write_text(yaml.safe_dump(params))
    os.environ.update(TESSERA_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), TESSERA_PARAMS=str(home / "params.yaml"))
    os.chdir(args.work)  # not the project folder: its DVC files are not this run's
    drop, info = build_drop(args.n, args.seed, 2)
    pictures = sum(1 for p in drop.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))

    from tessera.orchestration.cli import ingest, materialize

    ingest(str(drop), "ops")
    assert materialize("ops", ["raw"], quiet=True)["success"]
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    result = materialize("ops", ["cleaned", "unified"], quiet=True, force=True)
    profile.disable()
    wall = time.perf_counter() - started
    if not result["success"]:
        raise SystemExit(f"the run failed: {result['failed_steps']}")

    stats = pstats.Stats(profile)
    per_op: dict[str, float] = defaultdict(float)
    around: dict[str, float] = defaultdict(float)
    for (path, _, name), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        if path.startswith(OPS_DIR) and name == "apply":
            per_op[Path(path).parent.name + "/" + Path(path).stem] += cum
        for rel, label in STAGE_FILES.items():
            if path == str(ROOT / rel) and name in ("_stage", "run_chunk", "validate"):
                around[label] = max(around[label], cum)
    ms = lambda s: 1000 * s / max(pictures, 1)  # noqa: E731
    print(f"{pictures} pictures ({args.n} items: {info}); cleaned + unified {wall:.1f} s profiled, {ms(wall):.1f} ms a picture")
    print(f"{'operator':<28} {'s':>7} {'ms/picture':>11}")
    for name, s in sorted(per_op.items(), key=lambda kv: -kv[1]):
        print(f"{name:<28} {s:7.2f} {ms(s):11.2f}")
    print(f"{'operators, together':<28} {sum(per_op.values()):7.2f} {ms(sum(per_op.values())):11.2f}")
    for label, s in around.items():
        print(f"{label:<28} {s:7.2f} {ms(s):11.2f}  (includes what it calls)")
    for st in result["stages"]:
        if st["stage"] in ("cleaned", "unified"):  # the verdicts, to hold against another revision's
            print(f"{st['stage']}: landed {st['landed']}, quarantined {st['quarantined']} {st['by_reason']}")
    if args.top:
        print()
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
