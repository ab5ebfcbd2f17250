"""The production deployment end to end (tests/production/conftest.py starts it): drops copied
under the S3 landing root are found by the daemon's sensor and land in the S3 lake, with runs,
events and check results in Postgres; a run worker killed with SIGKILL mid-stage fails its run
and a retry completes it, losing and duplicating nothing; two batches run at once through the
queue within docker/dagster.yaml's limits.

One scenario drives it all (`story`, once per module), then each test checks one promise.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunRecord, RunsFilter
from PIL import Image, ImageDraw

from tessera.resources.lake import STAGE_TABLES, LakeResource
from tests.production.conftest import BIN, LOCATION, REPOSITORY, Deployment, wait_for

pytestmark = [pytest.mark.production, pytest.mark.s3, pytest.mark.fault, pytest.mark.slow]

BATCHES = ("a", "b")
KILL_AT_STEP = "cleaned"  # the stage whose run worker (and its step process) is killed in batch a's first run
FINISH_TIMEOUT_S = 300
PARTITION = "dagster/partition"


def _picture(colour: tuple[int, int, int], shape: str) -> bytes:
    im = Image.new("RGB", (96, 72), colour)
    draw = ImageDraw.Draw(im)
    (draw.ellipse if shape == "circle" else draw.rectangle)((20, 14, 76, 58), fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def drop_files(batch: str) -> dict[str, bytes]:
    """A small drop: a captioned picture and a text note, each batch its own content."""
    shape, colour = ("circle", (200, 40, 40)) if batch == "a" else ("square", (40, 90, 200))
    return {
        f"{shape}.png": _picture(colour, shape),
        f"{shape}.txt": f"a {shape} on a plain background ({batch})\n".encode(),
        "notes/readme.txt": f"field notes for batch {batch}: two pictures were taken\n".encode(),
    }


@dataclass
class Story:
    """What happened, as the test saw it."""

    killed_run: str = ""
    killed_pids: list[int] = field(default_factory=list)
    queued_run: str = ""  # a second run of batch b's partition, launched while b's first run was running
    queued_while: list[str] = field(default_factory=list)  # its status each time b's first run was seen running
    elapsed_s: float = 0.0


def runs_of(instance: DagsterInstance, batch: str) -> list[RunRecord]:
    return sorted(instance.get_run_records(RunsFilter(tags={PARTITION: batch})), key=lambda r: r.create_timestamp)


def run_worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid, from the engine event the code server's subprocess writes when it starts."""
    for entry in instance.all_logs(run_id):
        found = re.search(r"Started process for run \(pid: (\d+)\)", entry.message or "")
        if found:
            return int(found.group(1))
    return None


def step_started(instance: DagsterInstance, run_id: str, step: str) -> bool:
    return any(e.is_dagster_event and e.dagster_event.event_type_value == "STEP_START" and e.step_key == step for e in instance.all_logs(run_id))


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        tree.append(p)
        todo += children.get(p, [])
    return tree


def copy_drop(dep: Deployment, batch: str) -> None:
    """What a producer does: every file under the landing prefix, then (last) the ready marker."""
    prefix = dep.landing_root.removeprefix(f"s3://{dep.s3.bucket}/")
    for name, body in drop_files(batch).items():
        assert dep.s3.put(f"{prefix}/{batch}/{name}", body) == 200
    assert dep.s3.put(f"{prefix}/{batch}/_READY", b"") == 200


def start_sensor(dep: Deployment, name: str) -> None:
    data = dep.graphql(
        "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename "
        "... on Sensor { sensorState { status } } ... on PythonError { message } } }",
        {"s": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}},
    )
    assert data["startSensor"]["__typename"] == "Sensor", data
    assert data["startSensor"]["sensorState"]["status"] == "RUNNING"


def launch_raw_run(dep: Deployment, batch: str) -> str:
    """A run of `raw` alone for `batch`, through the webserver (it goes through the daemon's queue)."""
    data = dep.graphql(
        "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename "
        "... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } } }",
        {"p": {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "pipeline",
                            "assetSelection": [{"path": ["raw"]}]},
               "executionMetadata": {"tags": [{"key": PARTITION, "value": batch}]}, "runConfigData": {}}},
    )  # fmt: skip
    assert data["launchRun"]["__typename"] == "LaunchRunSuccess", data
    return data["launchRun"]["run"]["runId"]


@pytest.fixture(scope="module")
def instance(deployment: Deployment) -> Iterator[DagsterInstance]:
    """The deployment's instance, opened from its dagster.yaml (Postgres, S3 compute logs)."""
    with DagsterInstance.from_config(deployment.env["DAGSTER_HOME"]) as inst:
        yield inst


def step_times(instance: DagsterInstance) -> str:
    """Per run: when it started (from the first run's start) and how long each step took."""
    records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)
    t0 = min(r.start_time for r in records if r.start_time)
    lines = []
    for r in records:
        started: dict[str, float] = {}
        took = []
        for e in instance.all_logs(r.dagster_run.run_id):
            kind = e.dagster_event.event_type_value if e.is_dagster_event else ""
            if kind == "STEP_START":
                started[e.step_key] = e.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and e.step_key in started:
                took.append(f"{e.step_key} {e.timestamp - started[e.step_key]:.0f}s")
        at = f"+{(r.start_time or t0) - t0:.0f}s..+{(r.end_time or t0) - t0:.0f}s"
        lines.append(f"  {r.dagster_run.tags.get(PARTITION)} {r.dagster_run.status.value} {at}: {', '.join(took)}")
    return "\n".join(lines)


def runs_report(instance: DagsterInstance) -> str:
    """Every run's partition, status and last events: what a failed wait prints."""
    lines = []
    for r in sorted(instance.get_run_records(), key=lambda r: r.create_timestamp):
        run = r.dagster_run
        lines.append(f"run {run.run_id[:8]} batch {run.tags.get(PARTITION)} {run.status.value} parent {str(run.parent_run_id)[:8]}")
        lines += [f"    {e.step_key or '-'} {e.dagster_event.event_type_value if e.is_dagster_event else 'log'}: {(e.message or '')[:300]}"
                  for e in instance.all_logs(run.run_id)[-6:]]  # fmt: skip
    return "\n".join(lines)


@pytest.fixture(scope="module")
def story(deployment: Deployment, instance: DagsterInstance) -> Iterator[Story]:
    try:
        yield tell(deployment, instance)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{runs_report(instance)}\ndaemon log:\n{deployment.log_tail('daemon')}\ncode server log:\n{deployment.log_tail('code')}") from None


def tell(deployment: Deployment, instance: DagsterInstance) -> Story:
    told, t0 = Story(), time.monotonic()
    for batch in BATCHES:
        copy_drop(deployment, batch)
    start_sensor(deployment, "landing_drops")
    first = {b: wait_for(f"the sensor's run of batch {b}", lambda b=b: runs_of(instance, b), 90, deployment)[0] for b in BATCHES}
    for record in first.values():
        assert record.dagster_run.tags.get("dagster/sensor_name") == "landing_drops"

    # batch b: a second run of its partition waits in the queue while the first runs
    wait_for("batch b's first run to start", lambda: instance.get_run_by_id(first["b"].dagster_run.run_id).status == DagsterRunStatus.STARTED, 120, deployment)
    told.queued_run = launch_raw_run(deployment, "b")

    # batch a: kill its run worker mid-stage
    a_run = first["a"].dagster_run.run_id
    wait_for(f"batch a's {KILL_AT_STEP} step to start", lambda: step_started(instance, a_run, KILL_AT_STEP), 180, deployment)
    time.sleep(1.0)  # inside the stage's work, not at its first line
    pid = run_worker_pid(instance, a_run)
    assert pid is not None, "no 'Started process for run' event names the run worker's pid"
    # The run worker and the step process it spawned die together, as with a lost container or an
    # OOM-killed cgroup; a step process left running alone would still be writing the batch.
    told.killed_run, told.killed_pids = a_run, process_tree(pid)
    for p in told.killed_pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def settled() -> bool:
        b_first = instance.get_run_by_id(first["b"].dagster_run.run_id)
        if b_first.status == DagsterRunStatus.STARTED:
            told.queued_while.append(instance.get_run_by_id(told.queued_run).status.value)
        records = instance.get_run_records()
        return all(r.dagster_run.is_finished for r in records) and {r.dagster_run.tags.get(PARTITION) for r in records
                                                                     if r.dagster_run.status == DagsterRunStatus.SUCCESS} >= set(BATCHES)  # fmt: skip

    wait_for("every run to finish, a retry of batch a included", settled, FINISH_TIMEOUT_S, deployment, every=1.0)
    told.elapsed_s = time.monotonic() - t0
    print(f"\nproduction story: {told.elapsed_s:.0f} s from the drops to the last run's end\n{step_times(instance)}")
    return told


# -- the drops land ------------------------------------------------------------------------------
def test_drops_on_s3_are_found_by_the_daemons_sensor_and_land_in_the_s3_lake(deployment: Deployment, instance: DagsterInstance, story: Story) -> None:
    lake = LakeResource()
    assert lake.resolved_uri() == deployment.lake_uri and lake.resolved_uri().startswith("s3://")
    assert not (Path(deployment.env["TESSERA_HOME"]) / "lake").exists()  # nothing of the lake on local disk
    tables = {k.split("/lake/", 1)[1].split("/", 1)[0] for k in deployment.s3_keys(f"{deployment.prefix}/lake")}
    assert {"raw.lance", "samples.lance", "blobs.lance", "batches.lance"} <= tables  # it is all in the bucket
    for batch in BATCHES:
        info = lake.batch_info(batch)
        assert info["uri"] == f"{deployment.landing_root}/{batch}"
        samples = lake.dataset("samples").to_table(columns=["source", "modalities", "status"], filter=f"batch = '{batch}' AND status = 'landed'").to_pylist()
        shape = "circle" if batch == "a" else "square"
        assert {r["source"]: sorted(r["modalities"]) for r in samples} == {
            f'["{shape}.png", "{shape}.txt"]': ["image", "text"],  # the caption paired with its picture
            '["notes/readme.txt"]': ["text"],
        }
    status = deployment.tessera("status", "--json")
    assert status.returncode == 0, status.stderr
    assert sorted(p["batch"] for p in json.loads(status.stdout)) == list(BATCHES)


def test_search_and_the_steward_app_work_against_the_s3_lake(deployment: Deployment, story: Story) -> None:
    """`tessera search` finds a landed caption in the S3 lake; the steward app, started on the same
    deployment, lists what was set aside (each drop's empty `_READY` marker) to a token's holder."""
    import socket
    import subprocess
    import urllib.request

    found = deployment.tessera("search", "a circle on a plain background", "--k", "3", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits and "circle.png" in hits[0]["source"] and hits[0]["batch"] == "a"

    added = subprocess.run([str(BIN / "tessera"), "steward", "user", "add", "ops", "--role", "viewer", "--password-stdin"], input="a long ops password\n",
                           env=deployment.env, cwd=deployment.home, capture_output=True, text=True, check=False)  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = json.loads(deployment.tessera("steward", "token", "add", "ops", "--label", "production", "--json").stdout)["token"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = subprocess.Popen([str(BIN / "tessera"), "steward", "serve", "--port", str(port)], env=deployment.env, cwd=deployment.home,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/queue?limit=50", headers={"Authorization": f"Bearer {token}"})

        def answered() -> dict | None:
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return json.loads(response.read())
            except OSError:
                assert app.poll() is None, f"tessera steward serve exited: {app.stderr.read() if app.stderr else ''}"
                return None

        queue = wait_for("the steward app to answer", answered, 60, deployment)
        empty = {(e["batch"], e["reason"]) for e in queue["entries"]}
        assert {(b, "EMPTY") for b in BATCHES} <= empty  # each drop's _READY marker, set aside at raw, waits for a steward
    finally:
        app.terminate()
        app.wait(timeout=30)


def test_runs_events_and_check_results_are_in_postgres(deployment: Deployment, story: Story) -> None:
    pg = deployment.postgres
    with psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=pg.db) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs")
        runs = dict(cur.fetchall())
        cur.execute("SELECT asset_key, partition, count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY 1, 2")
        materialized = {(json.loads(k)[0], p): n for k, p, n in cur.fetchall()}
        # a check execution row names its run, not its partition: the run's row has that
        cur.execute("SELECT c.asset_key, r.partition, c.check_name, c.execution_status FROM asset_check_executions c JOIN runs r ON r.run_id = c.run_id")
        checks = Counter((json.loads(k)[0], p, name, status) for k, p, name, status in cur.fetchall())
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s", (story.killed_run, DagsterEventType.RUN_FAILURE.value))
        (killed_failures,) = cur.fetchone()
    assert runs[story.killed_run] == "FAILURE" and killed_failures == 1
    assert sum(s == "SUCCESS" for s in runs.values()) >= 3  # a's retry, b, b's raw-only run
    for batch in BATCHES:
        for stage in STAGE_TABLES:
            assert materialized.get((stage, batch), 0) >= 1, (stage, batch)
            for check in ("accounted_for", "quality"):  # the blocking checks, evaluated and passed
                assert checks[(stage, batch, check, "SUCCEEDED")] >= 1, (stage, batch, check, checks)
    keys = deployment.s3_keys("dagster/compute-logs/")
    assert keys, "no step's compute log reached the S3 compute-log bucket"


# -- kill -9 mid-stage, run retries --------------------------------------------------------------
def test_a_killed_run_worker_fails_its_run_and_a_retry_completes_it(instance: DagsterInstance, story: Story) -> None:
    killed = instance.get_run_by_id(story.killed_run)
    assert killed.status == DagsterRunStatus.FAILURE
    said = " ".join(e.message or "" for e in instance.all_logs(story.killed_run))
    assert f"Run execution process for {story.killed_run}" in said, said[-2000:]  # the code server saw its worker die
    retries = [r.dagster_run for r in runs_of(instance, "a") if r.dagster_run.parent_run_id == story.killed_run]
    assert len(retries) == 1 and retries[0].status == DagsterRunStatus.SUCCESS
    assert retries[0].tags.get("dagster/retry_number") == "1"
    steps = {e.step_key for e in instance.all_logs(retries[0].run_id) if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_SUCCESS"}
    assert "raw" not in steps and KILL_AT_STEP in steps and "embedded" in steps  # re-executed from the failure, raw kept


def test_after_the_kill_nothing_is_lost_and_nothing_is_duplicated(story: Story) -> None:
    lake = LakeResource()
    for batch in BATCHES:
        dropped = sorted([*drop_files(batch), "_READY"])
        raw = lake.dataset("raw").to_table(columns=["source", "status"], filter=f"batch = '{batch}'").to_pylist()
        named = sorted(n for r in raw for n in json.loads(r["source"]))
        assert named == dropped  # every input file in exactly one landed or one quarantine row
        for stage, table in STAGE_TABLES.items():
            rows = lake.dataset(table).to_table(columns=["sample_id", "status", "run_id"], filter=f"batch = '{batch}'").to_pylist()
            twice = [sid for sid, n in Counter(r["sample_id"] for r in rows if r["status"] == "landed").items() if n > 1]
            assert rows and not twice, (stage, batch, twice)
            assert len({r["run_id"] for r in rows}) == 1, (stage, batch)  # a batch's rows are wholly one run's (I4)


# -- the queue -------------------------------------------------------------------------------------
def test_two_batches_run_at_once_within_the_queues_limits(instance: DagsterInstance, story: Story) -> None:
    records = [r for r in instance.get_run_records() if r.start_time is not None]
    spans = [(r.start_time, r.end_time or time.time(), r.dagster_run.tags.get(PARTITION), r.dagster_run.run_id) for r in records]
    first = {b: runs_of(instance, b)[0] for b in BATCHES}
    (a0, a1), (b0, b1) = ((first[b].start_time, first[b].end_time) for b in BATCHES)
    assert a0 < b1 and b0 < a1, "batches a and b did not run at the same time"
    most = max(sum(s <= t < e for s, e, _, _ in spans) for t, _, _, _ in spans)
    assert most <= 4  # concurrency.runs.max_concurrent_runs
    for s, e, part, run_id in spans:  # dagster/partition: one run per batch at a time
        assert not [other for s2, e2, p2, other in spans if p2 == part and other != run_id and s2 < e and s < e2], part
    queued = instance.get_run_record_by_id(story.queued_run)
    assert queued.dagster_run.status == DagsterRunStatus.SUCCESS and queued.start_time >= first["b"].end_time
    assert story.queued_while and set(story.queued_while) == {"QUEUED"}  # held while b's first run ran, with run slots free
