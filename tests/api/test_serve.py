"""`tessera serve` as a client and an attacker meet it: token auth shared with the steward app (and
revocation), the search `tessera search` runs with segment times and previews, releases, bounded
bodies, 400 for odd input, a Host check; and `tessera search` going through a running server."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

import tessera
from tessera.orchestration.cli import main
from tessera.serve import create_app
from tessera.steward.users import Users

pytestmark = pytest.mark.slow


@pytest.fixture
def served(home: Path):
    users = Users(home / "steward")
    users.add("ml", "viewer", "a long enough password")
    token = users.add_token("ml", "laptop")
    app = create_app(tessera.connect(home), home / "steward", max_body_bytes=4096, refresh_s=0.0)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, token, users
    users.remove("ml")


def _search(client: TestClient, token: str, **body) -> tuple[int, dict]:
    r = client.post("/api/search", json=body, headers={"Authorization": f"Bearer {token}"})
    return r.status_code, r.json()


def test_a_token_is_needed_and_a_revoked_one_stops_at_once(served) -> None:
    client, token, users = served
    r = client.post("/api/search", json={"query": "a rocket"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer") and "token" in r.json()["error"]
    assert _search(client, "tst_not-a-token", query="a rocket")[0] == 401
    assert _search(client, token, query="a rocket")[0] == 200
    users.revoke_token("ml", "laptop")
    assert _search(client, token, query="a rocket")[0] == 401
    assert client.get("/api/health").json() == {"ok": True}  # the only open route, and it says nothing


def test_served_hits_match_the_cli_with_segment_times_and_previews(served, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client, token, _ = served
    code, out = _search(client, token, query="a rocket on the launch pad", k=5)
    assert code == 200 and out["took_ms"] > 0
    assert main(["search", "a rocket on the launch pad", "--k", "5", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [h["sample_id"] for h in out["hits"]] == [h["sample_id"] for h in cli]
    rocket = out["hits"][0]
    assert "rocket" in rocket["text"] and rocket["by"] == ["text", "fts"]
    picture = client.get(rocket["preview"], headers={"Authorization": f"Bearer {token}"})
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(picture.content)).size) <= 256
    # a phrase said in a video finds the moment it was said
    code, out = _search(client, token, query="the colours drift to the right", k=3)
    seg = out["hits"][0]["segment"]
    assert (round(seg["start"], 1), round(seg["end"], 1), seg["text"]) == (1.6, 2.8, "the colours drift to the right")


def test_a_phrase_in_other_words_finds_the_moment_by_meaning(served, home: Path) -> None:
    from tessera.resources.search import best_segment
    from tessera.resources.segments import TABLE
    from tessera.resources.store import Lake

    client, token, _ = served
    query = "hues shifting rightward"
    code, out = _search(client, token, query=query, k=3)
    hit = out["hits"][0]
    assert code == 200 and "segments" in hit["by"] and "gradient" in hit["text"]
    assert (round(hit["segment"]["start"], 1), round(hit["segment"]["end"], 1), hit["segment"]["text"]) == (1.6, 2.8, "the colours drift to the right")
    assert best_segment(query, [hit["segment"]]) is None  # no word in common: found by meaning
    rows = Lake().dataset(TABLE).to_table(columns=["sample_id", "idx", "start", "end", "text", "source"]).to_pylist()
    said = sorted((r["text"], round(r["start"], 1), round(r["end"], 1)) for r in rows if r["sample_id"] == hit["sample_id"])
    assert said == [("a gradient starts to move", 0.4, 1.4), ("the colours drift to the right", 1.6, 2.8)]


def test_the_server_warms_up_on_an_onnx_export_of_the_text_model(served, home: Path) -> None:
    from tessera.serve import Searcher

    state = Searcher(tessera.connect(home)).warm()  # the fixture's app exported it already: reused
    assert state["text_encoder"] == "OnnxSentenceEncoder" and state["text_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(list((home / "models").glob("all_minilm_l6_v2-*.onnx"))) == 1


def test_a_release_is_served_at_its_tag(served) -> None:
    client, token, _ = served
    _, now = _search(client, token, query="a red motorcycle", k=1)
    _, then = _search(client, token, query="a red motorcycle", k=20, release="v1")
    assert "motorcycle" in now["hits"][0]["text"]
    assert not any("motorcycle" in (h["text"] or "") for h in then["hits"])
    code, out = _search(client, token, query="x", release="v9")
    assert code == 404 and "no release named 'v9'" in out["error"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, None),  # too deep, or too long: never a 500
        (json.dumps({"query": 5}).encode(), "query must be a string"),
        (json.dumps({"query": "a", "k": "ten"}).encode(), "k must be a whole number"),
        (json.dumps({"query": "a", "k": 10**30}).encode(), "k must be a whole number"),
        (json.dumps({"query": "a", "smell": 1}).encode(), "unknown field 'smell'"),
        (json.dumps({}).encode(), "give exactly one of"),
        (json.dumps({"image": "%%%"}).encode(), "not valid base64"),
        (json.dumps({"image": "aGVsbG8="}).encode(), "no image encoder"),
    ],
)
def test_odd_input_is_a_400_with_one_line(served, body: bytes, says: str | None) -> None:
    client, token, _ = served
    r = client.post("/api/search", content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code in (400, 413) and "\n" not in r.json()["error"]
    if says:
        assert says in r.json()["error"]


def test_bodies_are_refused_past_the_limit_while_read_and_foreign_hosts_are_refused(served) -> None:
    client, token, _ = served
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/search", content=b"x" * 5000, headers=auth).status_code == 413  # declared length
    chunked = client.post("/api/search", content=iter([b"{" * 1000] * 8), headers=auth)  # no length: counted while read
    assert chunked.status_code == 413
    assert client.post("/api/search", json={"query": "a"}, headers={**auth, "Host": "evil.example"}).status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tessera_search_and_status_go_through_a_running_server_and_fall_back_when_it_is_gone(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    users = Users(home / "steward")
    users.add("cli", "viewer", "a long enough password")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(tessera.connect(home), home / "steward"), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        monkeypatch.setenv("TESSERA_SERVE_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("TESSERA_TOKEN", "tst_wrong")
        assert main(["search", "a tabby cat", "--json"]) == 1
        assert "refused the search (401)" in capsys.readouterr().err
        monkeypatch.setenv("TESSERA_TOKEN", users.add_token("cli", "script"))
        assert main(["search", "a tabby cat", "--json"]) == 0
        served = json.loads(capsys.readouterr().out)
        assert "cat" in served[0]["text"] and served[0].get("preview")  # only the server gives preview URLs
        assert main(["status", "--batch", "demo", "--json"]) == 0
        books = json.loads(capsys.readouterr().out)
        assert main(["status", "--batch", "nope", "--json"]) == 1
        assert "refused the status (404): batch 'nope' is not registered" in capsys.readouterr().err
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        users.remove("cli")
    assert main(["search", "a tabby cat", "--json"]) == 0
    out = capsys.readouterr()
    assert "did not answer" in out.err and json.loads(out.out)[0]["sample_id"] == served[0]["sample_id"]
    assert main(["status", "--batch", "demo", "--json"]) == 0
    out = capsys.readouterr()
    assert "did not answer" in out.err and json.loads(out.out) == books  # the same books, served or not
    assert [s["stage"] for s in books[0]["stages"]][-1] == "embedded" and books[0]["stages"][0]["landed"] > 0
