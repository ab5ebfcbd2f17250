"""The stream path: `tessera serve --watch` lands a complete drop in its warm process and the photo
is searchable through the same server seconds later; the run is an ordinary Dagster run of the
pipeline; a drop still being copied (no ready marker) waits."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import skimage.data
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

import tessera
from tessera.serve import create_app
from tessera.steward.users import Users

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _search(port: int, token: str, query: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/search", data=json.dumps({"query": query, "k": 3}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, method="POST")  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _drop(landing: Path, name: str, photo: str, caption: str, ready: bool = True) -> Path:
    drop = landing / name
    drop.mkdir(parents=True)
    shutil.copyfile(PHOTOS / photo, drop / photo)
    (drop / f"{Path(photo).stem}.txt").write_text(caption + "\n")
    if ready:
        (drop / "_READY").touch()  # written last, by whatever copies the drop
    return drop


def test_a_dropped_photo_is_searchable_seconds_after_its_ready_marker(tessera_home: Path) -> None:
    import uvicorn

    (tessera_home / "dagster").mkdir(parents=True)
    (tessera_home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    landing = tessera_home / "landing"
    landing.mkdir()
    (tessera_home / "lake").mkdir()
    users = Users(tessera_home / "steward")
    users.add("reader", "viewer", "a long enough password")
    token = users.add_token("reader", "stream")
    port = _free_port()
    app = create_app(tessera.connect(tessera_home), tessera_home / "steward", watch=(str(landing), "_READY", 0.2))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        status, body = _search(port, token, "a rocket on its launch pad")
        assert status == 400 and "empty" in body["error"]  # nothing landed yet: said, not a crash

        _drop(landing, "half", "coffee.png", "a cup of coffee", ready=False)  # still being copied
        times = {}
        for name, photo, caption in (("first", "rocket.jpg", "a rocket on its launch pad"), ("second", "chelsea.png", "a tabby cat looking up")):
            _drop(landing, name, photo, caption)
            started = time.perf_counter()
            while time.perf_counter() - started < 180:
                status, body = _search(port, token, caption)
                if status == 200 and any(h["text"] == caption for h in body["hits"]):
                    break
                time.sleep(0.1)
            times[name] = time.perf_counter() - started
            assert status == 200 and body["hits"][0]["text"] == caption, body
        print(f"drop → searchable: first {times['first']:.1f} s, second {times['second']:.1f} s (bench/latency.py measures it)")
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    from tessera.resources import engine

    assert not engine._WARM_HOST and not engine._WARM  # the stream stopped: its pool's workers are gone, later runs own theirs

    instance = DagsterInstance.get()
    runs = instance.get_runs(filters=RunsFilter(job_name="pipeline"))
    assert sorted(r.tags["dagster/partition"] for r in runs) == ["first", "second"]  # "half" waits for its marker
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
