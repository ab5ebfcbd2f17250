"""kill -9 of `tessera materialize` at ≥ 20 random moments across stages and commits, then a
re-run to completion (the Scale issue). After every kill: every lake table opens and scans
whole, no (batch, sample) is landed twice, content shared by two batches is landed in one
(I6), a batch's rows in a table are wholly one run's (I4), and a separate `quarantine` index,
where a lake keeps one, agrees with the stage tables (I2; today the index is a view of them). After the re-run: every input is accounted for per stage and
batch (I1), and ids, verdicts and row counts per stage and batch — and `tessera status` —
equal those of a clean run of the same drops (I3).

The harness speaks to Tessera only as a user does: the `tessera` command in a subprocess
(its own session, so SIGKILL reaches its whole process group, decode children included), and
the lake's tables read with lancedb. It knows nothing of how a stage commits, so it holds
across rewrites of the commit path. It watches `<table>.lance/_versions` only to time its
kills (half of them land just before or just after a stage table's commit) and to say where
each kill landed; no verdict depends on that.

Shared content is held by the batch whose raw commit lands it first, so the kills run in two
phases: batch `a` alone first (as in the clean run), then both; if `a` does not hold the shared
sample when phase 1 ends, one unkilled `--through cleaned` of `a` comes between. No command of
`b` runs before that: a raw commit of `b` landing the content first would make `b` hold it.

Replay: TESSERA_FAULT_SEED=<seed from the report> pytest -m fault tests/fault/test_kill.py
(the seed fixes the schedule and the delays; where inside the run a delay lands still depends
on the machine's speed, so the report lists the commits each command made before its kill).
TESSERA_FAULT_KILLS raises the number of kills for a longer soak.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import lancedb
import pytest

pytestmark = [pytest.mark.fault, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("raw", "cleaned", "unified", "aligned", "augmented", "embedded")
TABLE_OF = {
    "raw": "raw",
    "cleaned": "cleaned",
    "unified": "unified",
    "aligned": "aligned",
    "augmented": "augmented",
    "embedded": "samples",
}
BATCHES = ("a", "b")  # ingested in this order; the reference materializes them in this order
MIN_KILLS = int(os.environ.get("TESSERA_FAULT_KILLS", "20"))


# -- the command, as a user runs it ------------------------------------------------------------
class Cli:
    """`tessera` (python -m tessera.orchestration.cli from this checkout) against one TESSERA_HOME."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home, self.logs, self.lake = home, logs, home / "lake"
        logs.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "TESSERA_HOME": str(home), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        for var in ("DAGSTER_HOME", "TESSERA_LAKE_URI"):  # the command derives both from TESSERA_HOME
            self.env.pop(var, None)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tessera.orchestration.cli", *args]

    def run(self, *args: str, timeout: float = 420) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def json(self, *args: str, timeout: float = 420) -> object:
        proc = self.run(*args, "--json", timeout=timeout)
        assert proc.returncode == 0, f"`tessera {' '.join(args)}` exited {proc.returncode} in {self.home}:\n{proc.stderr[-3000:]}"
        return json.loads(proc.stdout)

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        """stdout to `log`, stderr to `log` + `.err`; its own session, so killpg reaches every child."""
        with open(log, "wb") as out, open(f"{log}.err", "wb") as err:  # the child keeps its own descriptors
            return subprocess.Popen(self.argv(*args), env=self.env, cwd=ROOT, stdout=out, stderr=err, start_new_session=True)


def survivors(pgid: int, home: Path) -> list[str]:
    """Live (non-zombie) processes of process group `pgid`, or of anything else started for
    `home` (a child that left the group still carries TESSERA_HOME), as 'pid name'."""
    mark = f"TESSERA_HOME={home}".encode()
    alive = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            text = (proc / "stat").read_text()
            name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
            if fields[0] in "ZX" or int(proc.name) == os.getpid():
                continue
            if int(fields[2]) == pgid or mark in (proc / "environ").read_bytes().split(b"\0"):
                alive.append(f"{proc.name} {name}")
        except (OSError, ValueError):
            continue
    return alive


# -- reading the lake --------------------------------------------------------------------------
@dataclass
class Books:
    """One batch's rows in one stage table."""

    landed: Counter = field(default_factory=Counter)  # sample_id → landed rows
    quarantined: Counter = field(default_factory=Counter)  # (sample_id, reason) → rows
    parent: dict = field(default_factory=dict)  # landed sample_id → parent_id
    run_ids: set = field(default_factory=set)


@dataclass
class LakeState:
    broken: list[str]  # tables that do not open or read
    books: dict  # (stage, batch) → Books
    index: dict  # (stage, batch) → Counter of (sample_id, reason) in `quarantine`
    index_runs: dict  # (stage, batch) → run ids in `quarantine`
    sources: dict  # (batch, sample_id) → input names, to name ids in messages
    versions: dict  # table → version
    has_index: bool = False  # the lake has a `quarantine` table


def _table_names(db: lancedb.DBConnection) -> set[str]:
    names, token = set(), None
    while True:
        page = db.list_tables(page_token=token)
        names |= set(page.tables)
        token = page.page_token
        if not token:
            return names


def _names(source: str | None) -> list[str]:
    try:
        names = json.loads(source or "[]")
    except json.JSONDecodeError:
        return [source]
    return [str(n) for n in names] if isinstance(names, list) else [str(names)]


def read_lake(lake: Path) -> LakeState:
    """Open every table (listed, or present on disk), count it and scan it whole."""
    db = lancedb.connect(str(lake))
    state = LakeState([], defaultdict(Books), defaultdict(Counter), defaultdict(set), {}, {})
    try:
        names = _table_names(db)
    except Exception as exc:  # noqa: BLE001 — reported, not raised
        state.broken.append(f"listing the lake's tables fails: {type(exc).__name__}: {exc}")
        names = set()
    names |= {p.name[: -len(".lance")] for p in lake.glob("*.lance")}
    data = {}
    for name in sorted(names):
        try:
            table = db.open_table(name)
            count = table.count_rows()
            data[name] = table.to_arrow()
            state.versions[name] = int(table.version)
        except Exception as exc:  # noqa: BLE001
            state.broken.append(f"table {name!r} does not open or scan: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        if data[name].num_rows != count:
            state.broken.append(f"table {name!r}: count_rows() says {count} but a full scan reads {data[name].num_rows} rows")
    for stage, name in TABLE_OF.items():
        if name not in data:
            continue
        cols = [
            c for c in ("sample_id", "batch", "status", "reason", "parent_id", "run_id", "source") if c in data[name].column_names
        ]
        for r in data[name].select(cols).to_pylist():
            books = state.books[(stage, r["batch"])]
            state.sources.setdefault((r["batch"], r["sample_id"]), _names(r.get("source")))
            books.run_ids.add(r.get("run_id"))
            if r["status"] == "landed":
                books.landed[r["sample_id"]] += 1
                books.parent[r["sample_id"]] = r.get("parent_id")
            elif r["status"] == "quarantined":
                books.quarantined[(r["sample_id"], r["reason"])] += 1
    state.has_index = "quarantine" in data
    if state.has_index:
        for r in data["quarantine"].select(["sample_id", "batch", "stage", "reason", "run_id"]).to_pylist():
            state.index[(r["stage"], r["batch"])][(r["sample_id"], r["reason"])] += 1
            state.index_runs[(r["stage"], r["batch"])].add(r["run_id"])
    return state


# -- what must hold ----------------------------------------------------------------------------
class Namer:
    """Short, readable ids: first 12 hex digits and the input names they came from."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}

    def learn(self, state: LakeState) -> None:
        for (_, sid), names in state.sources.items():
            if names and sid not in self.names:
                self.names[sid] = names

    def __call__(self, items) -> str:
        def one(x) -> str:
            sid, reason = (x, None) if isinstance(x, str) else x
            label = f"{sid[:12]}({'+'.join(self.names.get(sid, ['?']))})"
            return f"{label}:{reason}" if reason else label

        return "[" + ", ".join(sorted(one(x) for x in items)) + "]"


def invariants_after_any_kill(state: LakeState, name: Namer) -> list[tuple[str, str]]:
    """(check, message) for everything that must hold at every instant, killed or not."""
    out = [("tables open", msg) for msg in state.broken]
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (stage, batch), books in sorted(state.books.items()):
        where = f"table {TABLE_OF[stage]}, batch {batch}"
        if twice := [sid for sid, n in books.landed.items() if n > 1]:
            out.append(("landed once", f"{where}: landed more than once: {name(twice)}"))
        if twice := [k for k, n in books.quarantined.items() if n > 1]:
            out.append(("landed once", f"{where}: quarantined more than once: {name(twice)}"))
        both = set(books.landed) & {sid for sid, _ in books.quarantined}
        if both and stage != "raw":  # at raw a file that duplicates another of its batch shares its id
            out.append(("I1", f"{where}: both landed and quarantined: {name(both)}"))
        if len(books.run_ids) > 1:  # one commit replaces the batch's rows with one run's
            out.append(
                ("I4", f"{where}: rows of {len(books.run_ids)} runs {sorted(map(str, books.run_ids))}, not wholly one run's")
            )
        for sid in books.landed:
            holders[(stage, sid)].add(batch)
        if state.has_index:
            out += _index_agrees(state, stage, batch, books, name)
    for (stage, batch), idx in sorted(state.index.items()):
        if (stage, batch) not in state.books and idx:
            out.append(
                (
                    "I2",
                    f"stage {stage}, batch {batch}: the `quarantine` index holds {name(idx)}; the stage table has no row of the batch",
                )
            )
    for (stage, sid), batches in sorted(holders.items()):
        if stage != "raw" and len(batches) > 1:
            out.append(
                (
                    "I6",
                    f"table {TABLE_OF[stage]}: {name([sid])} is landed in batches {sorted(batches)}; shared content lands once",
                )
            )
    return out


def _index_agrees(state: LakeState, stage: str, batch: str, books: Books, name: Namer) -> list[tuple[str, str]]:
    """I2: the `quarantine` index holds the verdicts the stage table holds, from the same run."""
    in_table, in_index = set(books.quarantined), set(state.index.get((stage, batch), ()))
    where = f"stage {stage}, batch {batch}"
    if in_table != in_index:
        return [("I2", f"{where}: table {TABLE_OF[stage]} quarantines {name(in_table - in_index)} that the `quarantine` index lacks, "
                       f"and the index holds {name(in_index - in_table)} that the table does not")]  # fmt: skip
    index_runs = state.index_runs.get((stage, batch), set())
    if in_table and index_runs != books.run_ids:
        return [("I2", f"{where}: table {TABLE_OF[stage]} holds the verdicts {name(in_table)} of run {sorted(map(str, books.run_ids))}, "
                       f"the `quarantine` index those of run {sorted(map(str, index_runs))}: written in two commits")]  # fmt: skip
    return []


def accounted_for(state: LakeState, drops: dict[str, Path], name: Namer) -> list[tuple[str, str]]:
    """I1 per stage and batch: the stage's landed ∪ quarantined ids are exactly the previous
    stage's landed ids (disjoint); at raw, every file of the drop is in exactly one row."""
    out = []
    for batch, drop in drops.items():
        files = Counter(p.relative_to(drop).as_posix() for p in drop.rglob("*") if p.is_file())
        raw = state.books.get(("raw", batch), Books())
        seen = Counter()
        for sid in raw.landed:
            seen.update(state.sources.get((batch, sid), []))
        for sid, _ in raw.quarantined:
            seen.update(state.sources.get((batch, sid), []))
        missing, extra = sorted(set(files) - set(seen)), sorted(n for n in seen if n not in files or seen[n] > 1)
        if missing or extra:
            out.append(
                ("I1", f"table raw, batch {batch}: files in no row {missing}; names in no file or in several rows {extra}")
            )
        previous = set(raw.landed)
        for stage in STAGES[1:]:
            books = state.books.get((stage, batch), Books())
            landed = {sid for sid in books.landed if books.parent.get(sid) is None or sid in previous}
            quarantined = {sid for sid, _ in books.quarantined}
            lost, unknown = previous - landed - quarantined, (landed | quarantined) - previous
            if lost or unknown:
                out.append((
                    "I1",
                    f"table {TABLE_OF[stage]}, batch {batch}: inputs (landed in the previous stage) neither landed nor quarantined "
                    f"{name(lost)}; rows whose input the previous stage did not land {name(unknown)}",
                ))  # fmt: skip
            previous = set(books.landed)
    return out


def same_books(ref: LakeState, got: LakeState, name: Namer) -> list[tuple[str, str]]:
    """I3: per stage and batch, the same landed ids, the same (id, reason) verdicts, the same row counts."""
    out = []
    for stage in STAGES:
        for batch in BATCHES:
            r, g = ref.books.get((stage, batch), Books()), got.books.get((stage, batch), Books())
            where = f"table {TABLE_OF[stage]}, batch {batch}"
            if set(r.landed) != set(g.landed):
                out.append(("I3", f"{where}: landed ids differ from the clean run: only in the clean run {name(set(r.landed) - set(g.landed))}, "
                                  f"only after the kills {name(set(g.landed) - set(r.landed))}"))  # fmt: skip
            if set(r.quarantined) != set(g.quarantined):
                out.append(("I3", f"{where}: verdicts differ from the clean run: only in the clean run {name(set(r.quarantined) - set(g.quarantined))}, "
                                  f"only after the kills {name(set(g.quarantined) - set(r.quarantined))}"))  # fmt: skip
            counts = lambda b: (sum(b.landed.values()), sum(b.quarantined.values()))  # noqa: E731
            if counts(r) != counts(g):
                out.append(
                    ("I3", f"{where}: (landed, quarantined) rows {counts(g)} after the kills, {counts(r)} in the clean run")
                )
    return out


def same_status(ref: dict, got: dict) -> list[tuple[str, str]]:
    """`tessera status --json` tells the same story (lake versions aside)."""
    out = []
    for batch in BATCHES:
        for r, g in zip(ref[batch]["stages"], got.get(batch, {}).get("stages", [{}] * len(STAGES)), strict=True):
            keys = ("in", "landed", "variants", "quarantined", "by_reason", "checks")
            diff = {k: (r.get(k), g.get(k)) for k in keys if r.get(k) != g.get(k)}
            if diff:
                out.append(("I3", f"`tessera status` batch {batch}, stage {r['stage']}: (clean run, after the kills) {diff}"))
    return out


# -- supervising a command ---------------------------------------------------------------------
BLOCKED = "blocked by limit for pool"  # Dagster's words for a step waiting on a pool slot


@dataclass
class Outcome:
    rc: int | None = None
    killed_at: float | None = None  # seconds after start
    wall: float = 0.0
    events: list[tuple[float, str]] = field(default_factory=list)  # (seconds after start, table that gained a version)
    blocked: str = ""  # the log line, when a step waited on a pool slot that nobody gave back
    capped: bool = False  # ran past its time limit and was killed for it
    survivors: list[str] = field(default_factory=list)


def _versions(lake: Path) -> dict[str, int]:
    """Manifests per table under `<table>.lance/_versions`: a new one is a commit."""
    out = {}
    for table in lake.glob("*.lance"):
        try:
            out[table.name[: -len(".lance")]] = sum(1 for p in os.scandir(table / "_versions") if p.name.endswith(".manifest"))
        except OSError:
            out[table.name[: -len(".lance")]] = 0
    return out


def supervise(
    cli: Cli, args: tuple[str, ...], log: Path, *, anchor: str | None = None, offset: float = math.inf, cap: float = 600.0
) -> Outcome:
    """Run `tessera *args` in its own session; SIGKILL its process group `offset` s after the
    command's first commit to table `anchor` (after its start when None), or when it blocks on a
    pool slot for good, or at `cap`. Commits are timed by watching the lake's `_versions`."""
    out = Outcome()
    last = _versions(cli.lake)
    t0 = time.monotonic()
    proc = cli.start(*args, log=log)
    anchor_t = 0.0 if anchor is None else None
    blocked_since, next_log_read = None, 0.5
    while True:
        t = time.monotonic() - t0
        now = _versions(cli.lake)
        new = [name for name, n in sorted(now.items()) if n > last.get(name, 0)]
        out.events += [(round(t, 2), name) for name in new]
        last = now
        if anchor_t is None and anchor in new:
            anchor_t = t
        if proc.poll() is not None:
            break
        if t >= next_log_read:
            next_log_read = t + 0.5
            text = log.read_text(errors="replace") + Path(f"{log}.err").read_text(errors="replace")
            line = next((x for x in text.splitlines() if BLOCKED in x), "")
            if line and blocked_since is None:
                blocked_since, out.blocked = t, line.strip()[-300:]
        due = anchor_t is not None and t >= anchor_t + offset
        due |= blocked_since is not None and t >= blocked_since + 5  # no other command runs: the holder is a killed run
        out.capped = t >= cap
        if due or out.capped:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
                out.killed_at = round(t, 2)
            except ProcessLookupError:
                pass
            break
        time.sleep(0.01)
    out.rc = proc.wait()
    out.wall = round(time.monotonic() - t0, 2)
    deadline = time.monotonic() + 10
    while (alive := survivors(proc.pid, cli.home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    out.survivors = alive
    for pid in (int(a.split()[0]) for a in alive):  # leave nothing behind for the next command
        os.kill(pid, signal.SIGKILL)
    return out


# -- the schedule ------------------------------------------------------------------------------
@dataclass
class Timeline:
    """A clean `materialize --batch X` seen from outside: wall time and lake commit instants."""

    wall: float
    events: list[tuple[float, str]]

    def commit(self, stage: str) -> float:
        """When the stage's table first gained a version (evenly spread guess when none was seen)."""
        return next((t for t, n in self.events if n == TABLE_OF[stage]), self.wall * (STAGES.index(stage) + 1) / 7)

    def gap(self, stage: str) -> float:
        """Seconds from the previous stage's commit (the command's first commit, for raw) to this one's."""
        i = STAGES.index(stage)
        before = self.commit(STAGES[i - 1]) if i else (self.events[0][0] - 1.0 if self.events else 0.0)
        return max(0.5, self.commit(stage) - before)


@dataclass
class Attempt:
    n: int
    batch: str
    args: tuple[str, ...]
    anchor: str | None  # the table whose first commit in this run starts the clock (None: the command's start)
    offset: float
    outcome: Outcome = field(default_factory=Outcome)

    @property
    def killed(self) -> bool:
        return self.outcome.killed_at is not None

    def label(self) -> str:
        cmd = f"materialize --batch {self.batch} {' '.join(self.args)}".rstrip()
        when = f"{self.offset:.2f} s after " + (f"its first `{self.anchor}` commit" if self.anchor else "its start")
        o = self.outcome
        if o.blocked:
            how = f"killed at {o.killed_at} s: blocked on a pool slot ({o.blocked[-90:]!r}), kill planned {when}"
        elif o.capped:
            how = f"killed at {o.killed_at} s: ran past its time limit, kill planned {when}"
        elif self.killed:
            how = f"killed at {o.killed_at:.2f} s ({when})"
        else:
            how = f"finished (exit {o.rc}) before its kill, planned {when}"
        return f"kill #{self.n} [{cmd}, {how}]"

    def commits(self) -> str:
        return ", ".join(f"{n}@{t:.2f}" for t, n in self.outcome.events) or "none"


def draw(rng: random.Random, n: int, batch: str, target: str, timeline: Timeline) -> Attempt:
    """An attempt whose kill falls in `target`'s part of the run: while it works, right after
    its table's commit (where another commit may still be due), a little later, or anywhere."""
    mode = rng.choices(["stage", "through", "full"], [0.75, 0.2, 0.05])[0]
    args = {"stage": ("--stage", target), "through": ("--through", target), "full": ()}[mode]
    i = STAGES.index(target)
    table, previous = TABLE_OF[target], (TABLE_OF[STAGES[i - 1]] if i and mode != "stage" else None)
    started = timeline.events[0][0] if timeline.events else timeline.wall / 3  # the first commit: start-up is over
    due = timeline.commit(target) if mode != "stage" or not i else started + timeline.gap(target)  # the target's commit
    r = rng.random()
    if r < 0.15:  # any moment up to the commit, start-up included
        anchor, offset = None, rng.uniform(0.0, due + 1.0)
    elif r < 0.4:  # while the stage works, before its commit
        if previous:
            anchor, offset = previous, rng.uniform(0.0, timeline.gap(target))
        else:
            anchor, offset = None, rng.uniform(max(0.0, due - timeline.gap(target)), due)
    elif r < 0.7:  # right after the stage table's commit, where a second commit may be due
        anchor, offset = table, rng.uniform(0.0, 0.06)
    else:  # what follows the commit: indexes, checks, the next stage's start
        anchor, offset = table, rng.uniform(0.06, 3.0)
    return Attempt(n, batch, args, anchor, round(offset, 3))


# -- the test ----------------------------------------------------------------------------------
ORDER = ("SIGKILL", "tables open", "re-run", "landed once", "I6", "I4", "I2", "I1", "I3", "status")


def release_dead_runs(cli: Cli) -> int:
    """Give back the pool slots of runs left STARTED by a kill (no process of theirs is alive), as
    Dagster's run monitoring would; `tessera` has no command for it today, and `dagster run wipe`
    leaves the pool with no slot at all. Returns how many runs it released."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    with DagsterInstance.from_config(str(cli.home / "dagster")) as instance:
        dead = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]))
        for run in dead:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return len(dead)


def _blocked(line: str) -> str:
    return line[line.index("Step blocked") :] if "Step blocked" in line else line


@pytest.mark.timeout(1500)
def test_kill_minus_9_anywhere_then_rerun_keeps_the_lake_whole(tmp_path: Path, fault_drops: dict[str, Path]) -> None:
    seed = int(os.environ.get("TESSERA_FAULT_SEED") or random.SystemRandom().randrange(1, 10**6))
    rng = random.Random(seed)
    began = time.monotonic()
    print(f"\nseed {seed} (replay: TESSERA_FAULT_SEED={seed} pytest -m fault {Path(__file__).relative_to(ROOT)})")
    ref, fault = Cli(tmp_path / "ref", tmp_path / "logs" / "ref"), Cli(tmp_path / "fault", tmp_path / "logs" / "fault")
    where = subprocess.run(
        [sys.executable, "-c", "import tessera.orchestration.cli as c; print(c.__file__)"],
        env=ref.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(ROOT), (
        f"`tessera` here imports {where.stdout.strip()!r}, not this checkout {ROOT}"
    )
    problems: dict[tuple[str, str], list[str]] = defaultdict(list)  # (check, message) → after what it was seen
    notes: list[str] = []

    # 1. the clean run: ingest both drops, materialize each batch (timed), read the books
    timelines: dict[str, Timeline] = {}
    for batch in BATCHES:
        ref.json("ingest", str(fault_drops[batch]), "--batch", batch)
    for batch in BATCHES:
        log = ref.logs / f"materialize-{batch}.json"
        o = supervise(ref, ("materialize", "--batch", batch, "--json"), log, cap=600)
        result = json.loads(log.read_text() or "null") if o.rc == 0 else None
        assert result and result[0]["success"], (
            f"the clean run of batch {batch} failed (exit {o.rc}): {Path(f'{log}.err').read_text()[-2000:]}"
        )
        timelines[batch] = Timeline(o.wall, o.events)
        print(f"clean run {batch}: {o.wall:.1f} s; commits {', '.join(f'{n}@{t:.1f}' for t, n in o.events)}", flush=True)
    ref_state = read_lake(ref.lake)
    ref_status = {s["batch"]: s for s in ref.json("status")}
    name = Namer()
    name.learn(ref_state)
    for check in invariants_after_any_kill(ref_state, name) + accounted_for(ref_state, fault_drops, name):
        problems[check].append("the clean run (no kill at all)")
    holder = {
        sid: next((b for b in batches if sid in ref_state.books[("cleaned", b)].landed), None)
        for sid, batches in _shared(ref_state).items()
    }
    assert holder, "the corpus must share content between the batches"

    # 2. the faulted lake: the same drops; kills across stages and commits
    for batch in BATCHES:
        fault.json("ingest", str(fault_drops[batch]), "--batch", batch)
    first, second = BATCHES
    # `second`'s raw runs only once `first` holds the shared content: a raw commit of `second` that
    # landed it first would make `second` its holder, by the rule, and the clean run's books differ
    phase1 = [(first, s) for s in rng.sample(STAGES, 6)] + [(first, rng.choice(STAGES)) for _ in range(4)]
    phase2 = [(second, s) for s in rng.sample(STAGES, 6)] + [(second, "raw")] * 2 + [(first, rng.choice(STAGES)) for _ in range(2)]
    rng.shuffle(phase1)
    rng.shuffle(phase2)
    attempts: list[Attempt] = []
    cap = 3 * max(t.wall for t in timelines.values()) + 60

    def kill(batch: str, target: str) -> None:
        attempt = draw(rng, len(attempts) + 1, batch, target, timelines[batch])
        attempts.append(attempt)
        log = fault.logs / f"kill{attempt.n:02d}-{batch}-{'-'.join(attempt.args).strip('-') or 'all'}.log"
        cmd = ("-v", "materialize", "--batch", batch, *attempt.args)  # -v: Dagster's log says when a step waits on a pool
        attempt.outcome = o = supervise(fault, cmd, log, anchor=attempt.anchor, offset=attempt.offset, cap=cap)
        print(f"  {attempt.label()}; commits: {attempt.commits()}", flush=True)
        if o.survivors:
            problems[("SIGKILL", f"processes outlived SIGKILL of their process group: {o.survivors}")].append(attempt.label())
        if o.blocked:
            message = f"a run waits forever on a pool slot that a killed run never gave back ({_blocked(o.blocked)!r})"
            problems[("re-run", message)].append(attempt.label())
            released = release_dead_runs(fault)
            notes.append(
                f"after kill #{attempt.n}: gave back the pool slots of {released} killed runs, so later kills reach the stage again"
            )
        state = read_lake(fault.lake)
        name.learn(state)
        for check in invariants_after_any_kill(state, name):
            problems[check].append(attempt.label())

    for batch, target in phase1:
        kill(batch, target)
    # content the drops share is held by the batch whose raw commit lands it first; the clean run
    # ran `first` first, so `first` must hold it before `second` reaches cleaned (else I3 compares two orders)
    state = read_lake(fault.lake)
    for sid, batch in holder.items():
        if batch is not None and sid not in state.books.get(("cleaned", batch), Books()).landed:
            o = supervise(
                fault, ("materialize", "--batch", batch, "--through", "cleaned"), fault.logs / "between-phases.log", cap=cap
            )
            notes.append(
                f"between the phases, unkilled: materialize --batch {batch} --through cleaned (exit {o.rc}, {o.wall:.1f} s), "
                f"so {batch} holds the shared content {name([sid])} as in the clean run"
            )
            break
    for batch, target in phase2:
        kill(batch, target)
    while sum(a.killed for a in attempts) < MIN_KILLS:  # some commands finished before their kill
        kill(rng.choice(BATCHES), rng.choice(STAGES))

    # 3. re-run everything to completion: the books must be the clean run's
    for tries in (1, 2):
        log = fault.logs / f"rerun{tries}.log"
        o = supervise(fault, ("-v", "materialize", "--all"), log, cap=4 * sum(t.wall for t in timelines.values()) + 120)
        notes.append(f"re-run after the kills: materialize --all, exit {o.rc}, {o.wall:.1f} s")
        if o.blocked:
            problems[
                (
                    "re-run",
                    f"`tessera materialize --all` after the kills never finishes: {_blocked(o.blocked)!r}, held by a killed run",
                )
            ].append(f"re-run #{tries}")
            if tries == 1:
                notes.append(f"gave back the pool slots of {release_dead_runs(fault)} killed runs, then the re-run once more")
                continue
        elif o.capped or o.rc != 0:
            tail = " | ".join(Path(f"{log}.err").read_text(errors="replace").strip().splitlines()[-5:])
            how = f"ran past {o.wall:.0f} s" if o.capped else f"exited {o.rc}"
            problems[("re-run", f"`tessera materialize --all` after the kills {how}: {tail[-800:]}")].append("the re-run")
        break
    end = read_lake(fault.lake)
    name.learn(end)
    for check in invariants_after_any_kill(end, name) + accounted_for(end, fault_drops, name) + same_books(ref_state, end, name):
        problems[check].append("the re-run after the kills")
    status = fault.run("status", "--json")
    if status.returncode != 0:
        problems[
            ("status", f"`tessera status` after the re-run exited {status.returncode}: {status.stderr.strip()[-500:]}")
        ].append("the re-run")
    else:
        for check in same_status(ref_status, {s["batch"]: s for s in json.loads(status.stdout)}):
            problems[check].append("the re-run after the kills")

    report = _report(seed, timelines, attempts, notes, problems, time.monotonic() - began)
    (tmp_path / "report.txt").write_text(report)
    assert sum(a.killed for a in attempts) >= MIN_KILLS, report
    if problems:
        pytest.fail(report, pytrace=False)
    print(report)


def _shared(state: LakeState) -> dict[str, list[str]]:
    """ids present (landed or quarantined) at raw in more than one batch (raw decides who holds them)."""
    seen = defaultdict(set)
    for (stage, batch), books in state.books.items():
        if stage == "raw":
            for sid in set(books.landed) | {s for s, _ in books.quarantined}:
                seen[sid].add(batch)
    return {sid: sorted(b) for sid, b in seen.items() if len(b) > 1}


def _report(seed, timelines, attempts, notes, problems, elapsed) -> str:
    lines = [
        f"seed {seed} (replay: TESSERA_FAULT_SEED={seed}); {sum(a.killed for a in attempts)} kills in {len(attempts)} attempts; {elapsed:.0f} s in all",
        "clean runs: " + ", ".join(f"batch {b} {t.wall:.1f} s" for b, t in timelines.items()),
        "attempts (and the commits each made, in seconds after its start):",
        *(f"  {a.label()}: {a.commits()}" for a in attempts),
        *notes,
    ]
    if not problems:
        return "\n".join([*lines, "no problem found"])
    lines.append(
        f"{len(problems)} problem(s), most basic first (a re-run that did not finish leaves I1/I3 findings that follow from it):"
    )
    for (check, message), seen in sorted(
        problems.items(), key=lambda kv: ORDER.index(kv[0][0]) if kv[0][0] in ORDER else len(ORDER)
    ):
        seen = list(dict.fromkeys(seen))
        shown = "; ".join(seen[:3]) + (f"; and after {len(seen) - 3} more" if len(seen) > 3 else "")
        lines.append(f"  [{check}] {message}\n      seen after: {shown}")
    return "\n".join(lines)
