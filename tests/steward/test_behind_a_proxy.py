"""The review app served by uvicorn on 127.0.0.1 as it runs in production: behind a TLS-terminating
reverse proxy (a small real one here: asyncio + ssl, a self-signed certificate made with
`cryptography`), which it trusts with `--trusted-proxy`; forwarded headers from any other peer
count for nothing; request bodies are refused while they stream in; and the app will not listen
beyond loopback without the host names it answers."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import ipaddress
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from bench.steward_load import load, login
from bench.steward_queue import synthetic_queue
from tessera.orchestration.cli import main
from tessera.resources import decisions
from tessera.resources.store import Lake
from tessera.steward.users import Users
from tessera.steward.web import create_app

PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class TlsProxy:
    """A TLS-terminating reverse proxy, one request per connection, as nginx is set up in front of
    the app: Host becomes the backend's, X-Forwarded-Proto/-For/-Host say what the client used."""

    def __init__(self, backend: int, cert: Path, key: Path) -> None:
        self.backend, self.port = backend, _free_port()
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", self.port, ssl=self.tls))
        self.ready.set()
        self.loop.run_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = [tuple(line.split(":", 1)) for line in head[1:] if line]
            headers = [(k.strip(), v.strip()) for k, v in fields]
            found = {k.lower(): v for k, v in headers}
            body = await reader.readexactly(int(found.get("content-length", "0")))
            dropped = {"host", "connection", "x-forwarded-proto", "x-forwarded-for", "x-forwarded-host"}
            out = [head[0], f"Host: 127.0.0.1:{self.backend}", *(f"{k}: {v}" for k, v in headers if k.lower() not in dropped),
                   "X-Forwarded-Proto: https", f"X-Forwarded-For: {writer.get_extra_info('peername')[0]}", f"X-Forwarded-Host: {found['host']}",
                   "Connection: close"]  # fmt: skip
            back_r, back_w = await asyncio.open_connection("127.0.0.1", self.backend)
            back_w.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
            await back_w.drain()
            while chunk := await back_r.read(65536):
                writer.write(chunk)
                await writer.drain()
            back_w.close()
        finally:
            writer.close()

    def __enter__(self) -> TlsProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Served:
    port: int
    lake: Lake
    folder: Path
    made: list[dict[str, str]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app over a small synthetic queue, served by uvicorn on 127.0.0.1, trusting 127.0.0.1 as its proxy."""
    root = tmp_path_factory.mktemp("proxied")
    made = synthetic_queue(str(root / "lake"), 12, batches=1)
    Users(root / "steward").add("ana", "steward", PASSWORD)
    lake = Lake(str(root / "lake"))
    port = _free_port()
    app = create_app(lake, root / "steward", trusted_proxies=["127.0.0.1"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield Served(port, lake, root / "steward", made)
    finally:
        server.should_exit = True
        thread.join(10)


class Browser:
    """An https client of one origin keeping its cookies (over a fresh connection per request)."""

    def __init__(self, port: int, cert: Path) -> None:
        self.port, self.origin = port, f"https://localhost:{port}"
        self.tls = ssl.create_default_context(cafile=str(cert))
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPSConnection("localhost", self.port, context=self.tls, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {"Origin": self.origin, "Content-Type": "application/x-www-form-urlencoded"}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        for raw in response.headers.get_all("set-cookie") or []:
            self.set_cookies.append(raw)
            for name, morsel in SimpleCookie(raw).items():
                if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text


def _token(text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', text)[1]


def test_a_login_and_a_decision_through_a_tls_proxy(served: Served, tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    with TlsProxy(served.port, cert, key) as proxy:
        browser = Browser(proxy.port, cert)
        status, _, page = browser.request("GET", "/login")
        assert status == 200
        status, headers, _ = browser.request("POST", "/login", {"user": "ana", "password": PASSWORD, "csrf": _token(page), "next": "/"})
        assert (status, headers["location"]) == (303, "/")
        session = next(c for c in browser.set_cookies if c.startswith("tessera_session="))
        assert "Secure" in session and "HttpOnly" in session
        status, _, queue = browser.request("GET", "/")
        assert status == 200 and "of 12" in queue
        one = served.made[0]
        form = {"action": "reject", "entry": f"{one['stage']}|{one['batch']}|{one['sample_id']}", "csrf": _token(queue), "back": "/", "note": "via the proxy"}
        status, headers, _ = browser.request("POST", "/decide", form)
        assert (status, headers["location"]) == (303, "/")
    (d,) = decisions.read(served.lake, f"sample_id = '{one['sample_id']}'")
    assert (d["action"], d["who"], d["note"], d["client"]) == ("reject", "ana", "via the proxy", "127.0.0.1")


def _login(client: TestClient, headers: dict[str, str]) -> object:
    page = client.get("/login", headers=headers)
    cookie = page.headers["set-cookie"]
    form = {"user": "ana", "password": PASSWORD, "csrf": _token(page.text), "next": "/"}
    login_cookie = cookie.split(";")[0]
    return page, client.post("/login", data=form, headers={**headers, "Cookie": login_cookie})


def test_forwarded_headers_count_only_from_a_trusted_proxy(served: Served) -> None:
    app = create_app(served.lake, served.folder, trusted_proxies=["10.0.0.0/8"])
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Host": "127.0.0.1:8080", "Origin": "https://127.0.0.1:8080"}
    stranger = TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False, client=("203.0.113.9", 5555))
    page, refused = _login(stranger, forwarded)
    assert "Secure" not in page.headers["set-cookie"]
    assert refused.status_code == 403 and "Origin https://127.0.0.1:8080 is not http://127.0.0.1:8080" in refused.text
    proxy = TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False, client=("10.1.2.3", 5555))
    page, ok = _login(proxy, forwarded)
    assert "Secure" in page.headers["set-cookie"] and ok.status_code == 303 and "Secure" in ok.headers["set-cookie"]
    session = {**forwarded, "Cookie": ok.headers["set-cookie"].split(";")[0]}
    one = served.made[1]
    queue = proxy.get("/", headers=session)
    form = {"action": "reject", "entry": f"{one['stage']}|{one['batch']}|{one['sample_id']}", "csrf": _token(queue.text), "back": "/"}
    assert proxy.post("/decide", data=form, headers=session).status_code == 303
    (d,) = decisions.read(served.lake, f"sample_id = '{one['sample_id']}'")
    assert d["client"] == "198.51.100.7"  # the address the trusted proxy saw, not its own
    plain = TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False, client=("203.0.113.9", 5555))
    assert plain.get("/login", headers={"X-Forwarded-Host": "attacker.example"}).status_code == 200  # ignored, not obeyed
    assert proxy.get("/login", headers={"X-Forwarded-Host": "attacker.example"}).status_code == 400  # obeyed, then Host-checked


def _stream_until_answered(port: int, path: str, extra: str = "", limit: int = 64 << 20) -> tuple[bytes, int]:
    """POST a chunked body of zeros until the server answers; (the answer's first bytes, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n{extra}\r\n".encode())
        chunk = b"10000\r\n" + b"0" * 0x10000 + b"\r\n"
        while sent < limit and not select.select([s], [], [], 0)[0]:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 0x10000
        return s.recv(4096), sent


def test_bodies_are_refused_while_they_stream_in(served: Served) -> None:
    token = Users(served.folder).add_token("ana", "stream")
    for path, extra in (("/login", ""), ("/api/decide", f"Authorization: Bearer {token}\r\n")):
        answer, sent = _stream_until_answered(served.port, path, extra)
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
        assert sent < 8 << 20, (path, sent)  # refused near the limit, not after 64 MiB


@pytest.mark.timeout(120)  # a server that started anyway would block here
def test_the_app_will_not_listen_beyond_loopback_without_its_host_names(tessera_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["steward", "serve", "--host", "0.0.0.0", "--port", str(_free_port())]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--host 0.0.0.0 listens beyond this machine" in err and "--allowed-host" in err
    assert main(["steward", "serve", "--host", "0.0.0.0", "--allowed-host", "*"]) == 1
    assert "answers any name" in capsys.readouterr().err
    assert main(["steward", "serve", "--trusted-proxy", "proxy.example"]) == 1
    assert "is not an IP address or CIDR" in capsys.readouterr().err


def test_the_host_check_holds_with_named_hosts(served: Served) -> None:
    app = create_app(served.lake, served.folder, allowed_hosts=["review.example.org"])
    assert TestClient(app, base_url="https://review.example.org").get("/login").status_code == 200
    assert TestClient(app, base_url="http://attacker.example").get("/login").status_code == 400
    assert TestClient(app, base_url="http://127.0.0.1:8080").get("/login").status_code == 400  # only the names given


def test_fifty_concurrent_clients_get_no_errors(served: Served) -> None:
    """bench/steward_load.py in small: 50 keep-alive clients for two seconds on the queue page and the API."""
    cookie = login(served.port)
    routes = [("queue page", "/", {}), ("queue api", "/api/queue?limit=5", {})]
    seen, errors, _ = asyncio.run(load(served.port, cookie, routes, clients=50, seconds=2.0))
    assert errors == [] and min(len(v) for v in seen.values()) > 0
