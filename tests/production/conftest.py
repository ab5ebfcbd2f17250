"""The production deployment, for real: PostgreSQL (the distribution's server, tests/servers.py),
SeaweedFS as S3, and Dagster's own processes — the code server (`dagster code-server start`,
as docker/compose.yaml runs it), `dagster-webserver` and `dagster-daemon run` — on the instance
docker/dagster.yaml describes, pointed at them by environment (DAGSTER_PG_*, AWS_*,
DAGSTER_COMPUTE_LOG_BUCKET). The lake and the landing root are S3 prefixes.

One test-only change to docker/dagster.yaml: run monitoring polls every few seconds instead of
every two minutes (`dagster_yaml_for_tests`); everything else is the shipped file. The test process
sees the deployment's environment too, so it opens the same instance and lake.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers import PostgresServer, S3Server, dying_with_this_process, free_port, running_postgres

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DAGSTER_YAML = ROOT / "docker" / "dagster.yaml"
BIN = Path(sys.executable).parent  # the venv's dagster, dagster-webserver, dagster-daemon, tessera
LOCATION, REPOSITORY = "tessera", "__repository__"
MONITORING_POLL_S = 2
START_TIMEOUT_S = 120
STOP_GRACE_S = 3.0


def dagster_yaml_for_tests() -> str:
    """docker/dagster.yaml as shipped, but for run monitoring's poll interval (a test cannot wait 2 min)."""
    shipped = DOCKER_DAGSTER_YAML.read_text()
    changed = re.sub(r"(?m)^(  poll_interval_seconds:) \d+$", rf"\1 {MONITORING_POLL_S}", shipped)
    assert changed.count(f"poll_interval_seconds: {MONITORING_POLL_S}") == 1, "docker/dagster.yaml: run_monitoring.poll_interval_seconds moved"
    return changed



@dataclass
class Deployment:
    """The running deployment: where everything is, and how to reach it."""

    home: Path  # scratch: DAGSTER_HOME, TESSERA_HOME, process logs
    env: dict[str, str]  # what every process of the deployment sees
    postgres: PostgresServer
    s3: S3Server
    prefix: str  # this deployment's key prefix in the bucket
    webserver_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def lake_uri(self) -> str:
        return self.env["TESSERA_LAKE_URI"]

    @property
    def landing_root(self) -> str:
        return self.env["TESSERA_LANDING_ROOT"]

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.webserver_url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.loads(resp.read())
        assert "errors" not in out, out["errors"]
        return out["data"]

    def tessera(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The `tessera` command against this deployment's lake and instance."""
        return subprocess.run([str(BIN / "tessera"), *args], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout, check=False)

    def s3_keys(self, prefix: str) -> list[str]:
        """Keys under `prefix` in the deployment's bucket."""
        from pyarrow import fs

        from tessera.resources.landing import s3_filesystem

        selector = fs.FileSelector(f"{self.s3.bucket}/{prefix.rstrip('/')}", recursive=True, allow_not_found=True)
        return [i.path for i in s3_filesystem().get_file_info(selector) if i.type == fs.FileType.File]

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")[-chars:]

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}); log tail:\n{self.log_tail(name)}")


def wait_for(what: str, condition: Callable[[], Any], timeout: float, deployment: Deployment | None = None, every: float = 0.5) -> Any:
    """`condition()`'s first truthy value within `timeout` seconds; fails naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if deployment is not None:
            deployment.check_alive()
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _start(deployment: Deployment, name: str, argv: list[str]) -> None:
    """A deployment process in its own session (its children with it), dying with the test process."""
    with (deployment.home / f"{name}.log").open("wb") as log:
        deployment.processes[name] = subprocess.Popen(
            dying_with_this_process(argv), env=deployment.env, cwd=deployment.home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(deployment: Deployment) -> None:
    """SIGTERM each process group (daemon first: it launches runs), SIGKILL what is left after a
    short grace period (the instance and the bucket are throwaway)."""
    for name in ("daemon", "webserver", "code"):
        proc = deployment.processes.get(name)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in deployment.processes.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group: run workers and step processes too
        except ProcessLookupError:
            pass
        proc.wait(10)


def _serving(port: int) -> bool:
    """The gRPC code server is up and its definitions loaded (a ping answers only then)."""
    from dagster._grpc.client import DagsterGrpcClient

    try:
        return DagsterGrpcClient(port=port, host="127.0.0.1").ping("tessera") is not None
    except Exception:  # not listening yet: gRPC raises its own error types
        return False


def _location_loaded(deployment: Deployment) -> bool:
    try:
        data = deployment.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                                  "locationOrLoadError { __typename ... on PythonError { message } } } } } }")  # fmt: skip
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    entries = data["workspaceOrError"].get("locationEntries", [])
    for entry in entries:
        error = entry["locationOrLoadError"] or {}
        assert error.get("__typename") != "PythonError", f"code location failed to load: {error.get('message')}"
    return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)


@pytest.fixture(scope="module")
def deployment(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = tmp_path_factory.mktemp("production")
    prefix = f"production-{secrets.token_hex(3)}"
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text(dagster_yaml_for_tests())
    grpc_port, web_port = free_port(set()), free_port(set())
    (home / "workspace.yaml").write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n      location_name: {LOCATION}\n"
    )
    with running_postgres() as postgres:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "DAGSTER_", "AWS_"))},
            **postgres.env(),
            **s3_server.env(),
            "AWS_DEFAULT_REGION": s3_server.env()["AWS_REGION"],  # boto3 (compute logs) reads this one
            "DAGSTER_COMPUTE_LOG_BUCKET": s3_server.bucket,
            "DAGSTER_HOME": str(home / "dagster"),
            "TESSERA_HOME": str(home / "tessera"),
            "TESSERA_LAKE_URI": f"s3://{s3_server.bucket}/{prefix}/lake",
            "TESSERA_LANDING_ROOT": f"s3://{s3_server.bucket}/{prefix}/landing",
            "TESSERA_MAX_CONCURRENT": "1",  # the pipeline is a chain: one step at a time per run anyway
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        dep = Deployment(home, env, postgres, s3_server, prefix, f"http://127.0.0.1:{web_port}")
        with pytest.MonkeyPatch.context() as mp:
            for name in [k for k in os.environ if k.startswith(("TESSERA_", "DAGSTER_", "AWS_"))]:
                mp.delenv(name)
            for name, value in env.items():
                mp.setenv(name, value)
            yield from _running(dep, grpc_port, web_port)


def _running(dep: Deployment, grpc_port: int, web_port: int) -> Iterator[Deployment]:
    """Code server, webserver and daemon started, the code location loaded; all stopped afterwards."""
    workspace = str(dep.home / "workspace.yaml")
    try:
        _start(dep, "code", [str(BIN / "dagster"), "code-server", "start", "-m", "tessera.orchestration.definitions",
                             "--location-name", LOCATION, "-h", "127.0.0.1", "-p", str(grpc_port)])  # fmt: skip
        wait_for("the code server to answer", lambda: _serving(grpc_port), START_TIMEOUT_S, dep, every=1.0)
        _start(dep, "webserver", [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port)])
        _start(dep, "daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        wait_for("the code location to load in the webserver", lambda: _location_loaded(dep), START_TIMEOUT_S, dep, every=1.0)
        yield dep
    finally:
        _stop(dep)
