"""The `tessera` command as a user runs it: subprocesses, --json, one-line errors, and the UI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import skimage.data

TESSERA = str(Path(sys.executable).parent / "tessera")


def _run(*args: str, home: Path, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "TESSERA_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run([TESSERA, *args], env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ingest", "/no/such/folder"], "not a directory"),
        (["materialize", "--batch", "nope"], "is not registered"),
        (["status"], "no batch is registered"),
        (["ingest", ".", "--batch", "../evil"], "batch name"),
        (["delete-batch", "nope"], "is not registered"),
    ],
)
def test_failures_exit_non_zero_with_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    proc = _run(*args, home=tmp_path / "home", ok=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tessera {args[0]}:") and says in lines[0], proc.stderr


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("cli")
    drop = root / "drop"
    drop.mkdir()
    photos = Path(skimage.data.__file__).parent
    shutil.copyfile(photos / "rocket.jpg", drop / "rocket.jpg")
    (drop / "rocket.txt").write_text("a rocket standing on a launchpad\n")
    shutil.copyfile(photos / "chelsea.png", drop / "cat.png")
    (drop / "cat.txt").write_text("a tabby cat looking at the camera\n")
    (drop / "broken.jpg").write_bytes(b"definitely not a jpeg")
    home = root / "home"
    ingest = json.loads(_run("ingest", str(drop), "--batch", "cli", "--json", home=home).stdout)
    run = json.loads(_run("materialize", "--batch", "cli", "--json", home=home).stdout)
    return {"home": home, "ingest": ingest, "run": run}


@pytest.mark.slow
def test_ingest_then_materialize_reports_every_stage(materialized) -> None:
    assert materialized["ingest"]["batch"] == "cli" and materialized["ingest"]["files"] == 5
    (run,) = materialized["run"]
    assert run["success"] and all(run["checks_passed"].values()) and len(run["checks_passed"]) == 13  # 6 × 2 + embedded's retrieval
    assert "embedded:retrieval" in run["checks_passed"]
    raw = run["stages"][0]
    assert (raw["stage"], raw["in"], raw["landed"], raw["by_reason"]) == ("raw", 5, 2, {"CORRUPT": 1})
    assert run["stages"][-1]["landed"] == 2 and run["stages"][-1]["variants"] == 2


@pytest.mark.slow
def test_status_and_search_speak_json(materialized) -> None:
    home = materialized["home"]
    (status,) = json.loads(_run("status", "--batch", "cli", "--json", home=home).stdout)
    assert [s["stage"] for s in status["stages"]] == ["raw", "cleaned", "unified", "aligned", "augmented", "embedded"]
    assert all(s["checks"] == {"accounted_for": "passed", "quality": "passed"} and s["lake_version"] > 0 for s in status["stages"])
    cleaned = status["stages"][1]["metrics"]  # the distribution of what the stage landed
    assert cleaned["width"]["n"] == 2 and cleaned["width"]["p10"] <= cleaned["width"]["median"] <= cleaned["width"]["p90"]
    assert "medians of the landed rows" in _run("status", "--batch", "cli", home=home).stdout
    hits = json.loads(_run("search", "a cat", "--json", home=home).stdout)
    assert hits[0]["text"] == "a tabby cat looking at the camera" and hits[0]["score"] > hits[-1]["score"]
    assert all(h["parent_id"] is None for h in hits)  # variants only on request
    like = json.loads(_run("search", "--like", hits[0]["sample_id"], "--json", home=home).stdout)
    assert hits[0]["sample_id"] not in {h["sample_id"] for h in like}
    with_variants = json.loads(_run("search", "a cat", "--variants", "--k", "4", "--json", home=home).stdout)
    assert any(h["aug_op"] == "image.hflip" for h in with_variants)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


@pytest.mark.slow
def test_ui_shows_the_six_stage_assets_with_checks_and_metadata_and_the_release(materialized) -> None:
    port = _free_port()
    env = {**os.environ, "TESSERA_HOME": str(materialized["home"])}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen([TESSERA, "ui", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                nodes = _graphql(port, "{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }")
                if nodes["assetNodes"]:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the UI did not come up"
            time.sleep(1)
        assets = {n["assetKey"]["path"][-1]: n for n in nodes["assetNodes"]}
        assert set(assets) == {"raw", "cleaned", "unified", "aligned", "augmented", "embedded", "release"}  # release: `tessera release`
        for name, node in assets.items():
            if name == "release":
                continue
            own = {("retrieval", False)} if name == "embedded" else set()  # the golden set's recall: reported, not blocking
            assert {(c["name"], c["blocking"]) for c in node["assetChecksOrError"]["checks"]} == {("accounted_for", True), ("quality", True), *own}
        mats = _graphql(
            port,
            '{ assetOrError(assetKey: {path: ["raw"]}) { ... on Asset { assetMaterializations(limit: 1) '
            "{ partition metadataEntries { label } } } } }",
        )["assetOrError"]["assetMaterializations"]
        labels = {e["label"] for e in mats[0]["metadataEntries"]}
        assert mats[0]["partition"] == "cli"
        assert {"in", "landed", "quarantined", "quarantined_by_reason", "samples_per_s", "preview"} <= labels
        (dev,) = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()  # dagster dev, leading its own group
        assert _live_in_group(int(dev))  # its webserver, daemon and code server
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    gone_by = time.monotonic() + 10  # a killed process takes a moment to go
    while _live_in_group(int(dev)) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert _live_in_group(int(dev)) == []  # nothing the UI started outlives it


def _live_in_group(pgid: int) -> list[int]:
    """Processes (not zombies) of process group `pgid`, from /proc."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:  # exited meanwhile
            continue
        if int(group) == pgid and state != "Z":
            live.append(int(stat.parent.name))
    return live


@pytest.mark.slow
def test_the_multiprocess_executor_runs_the_job_and_every_step_process_exits(materialized) -> None:
    """What the UI and sensors launch: one subprocess per step, the gpu pool, real exits (no hang)."""
    home = materialized["home"]
    env = {**os.environ, "TESSERA_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    dagster = str(Path(sys.executable).parent / "dagster")
    cmd = [dagster, "asset", "materialize", "--select", "*", "--partition", "cli", "-m", "tessera.orchestration.definitions"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Launching subprocess" in proc.stderr + proc.stdout  # one process per step
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        (run,) = instance.get_runs(limit=1)  # the newest: this one (read from storage, not from the log text)
        steps = {s.step_key: s.status.value for s in instance.get_run_step_stats(run.run_id)}
        assert run.status.value == "SUCCESS" and run.tags.get("dagster/partition") == "cli"
    assert steps == dict.fromkeys(("raw", "cleaned", "unified", "aligned", "augmented", "embedded"), "SUCCESS")
    (status,) = json.loads(_run("status", "--batch", "cli", "--json", home=home).stdout)
    assert status["stages"][0]["landed"] == 2  # idempotent: the second run changed no count


@pytest.mark.slow
def test_materialize_shows_a_line_per_finished_stage(materialized) -> None:
    proc = _run("materialize", "--batch", "cli", "--through", "cleaned", home=materialized["home"])
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip().startswith("✓")]
    assert [line.split()[1] for line in lines] == ["raw", "cleaned"]
    assert "batch cli" in proc.stdout and "accounted_for:passed" in proc.stdout
