"""The review web app as a steward's browser speaks to it (Starlette's TestClient): who may see
what, forged and stale requests refused, media served in byte ranges, the queue filtered and
paged on the server, and every decision recorded with who made it and from where — meaning what
`tessera review` means, over a real lake made by ingest + materialize."""

from __future__ import annotations

import io
import json
import re
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bench.steward_queue import synthetic_queue
from tessera.orchestration.cli import main
from tessera.resources import decisions
from tessera.resources.params import load_params
from tessera.resources.store import Lake
from tessera.steward.users import Users
from tessera.steward.web import clock_time, create_app
from tests.steward.review_lake import BATCH, ICONS, build_review_lake, review_env

pytestmark = pytest.mark.slow
BASE = "http://127.0.0.1:8080"
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("web") / "tessera"
    with review_env(home):
        build_review_lake(home)
        users = Users(home / "steward")
        users.add("ana", "steward", PASSWORD)
        users.add("vic", "viewer", PASSWORD)
        yield home


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lake(home: Path) -> Lake:
    return Lake(str(home / "lake"))


@pytest.fixture
def web(home: Path, lake: Lake, clock: Clock) -> TestClient:
    app = create_app(lake, home / "steward", params=load_params(), session_s=3600, clock=clock)
    return TestClient(app, base_url=BASE, follow_redirects=False)


def login(client: TestClient, user: str = "ana", password: str = PASSWORD) -> object:
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    return client.post("/login", data={"user": user, "password": password, "csrf": token, "next": "/"}, headers={"Origin": BASE})


def csrf(client: TestClient, path: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)[1]


def entries(client: TestClient, **filters: str) -> list[dict]:
    response = client.get("/api/queue", params={"status": "all", **filters})
    assert response.status_code == 200
    return response.json()["entries"]


def entry(client: TestClient, reason: str, n: int = 0) -> dict:
    return entries(client, reason=reason, status="open")[n]


def decisions_about(lake: Lake, sid: str) -> list[dict]:
    return sorted(decisions.read(lake, f"sample_id = '{sid}'"), key=lambda d: d["decided_at"])


# -- who may see what ----------------------------------------------------------------------------
def test_anonymous_pages_go_to_login_and_media_and_api_get_401(web: TestClient, lake: Lake) -> None:
    page = web.get("/?stage=cleaned")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F%3Fstage%3Dcleaned"
    assert web.get("/sample/" + "0" * 64).status_code == 303
    sha = lake.dataset("blobs").to_table(columns=["sha256"]).column(0)[0].as_py()
    for path in (f"/media/{sha}", "/api/queue", "/api/sample/" + "0" * 12):
        assert web.get(path).status_code == 401, path
    assert web.post("/decide", data={"action": "approve"}).status_code == 401
    assert web.get("/login").status_code == 200 and "Log in" in web.get("/login").text


def test_a_wrong_password_or_unknown_user_is_refused_and_the_right_one_logs_in(web: TestClient) -> None:
    for user, password in (("ana", "wrong password"), ("nobody", PASSWORD)):
        refused = login(web, user, password)
        assert refused.status_code == 401 and "wrong user name or password" in refused.text
        assert "tessera_session" not in refused.cookies
        assert web.get("/").status_code == 303
    ok = login(web)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert web.get("/").status_code == 200


def test_sessions_expire(web: TestClient, clock: Clock) -> None:
    login(web)
    assert web.get("/").status_code == 200
    clock.now += 3599
    assert web.get("/api/queue").status_code == 200
    clock.now += 2
    assert web.get("/").status_code == 303
    assert web.get("/api/queue").status_code == 401


def test_a_removed_user_is_logged_out_at_once(web: TestClient, home: Path) -> None:
    Users(home / "steward").add("temp", "viewer", PASSWORD)
    login(web, "temp")
    assert web.get("/").status_code == 200
    Users(home / "steward").remove("temp")
    assert web.get("/").status_code == 303


def test_forged_posts_are_refused_and_record_nothing(web: TestClient, lake: Lake) -> None:
    login(web)
    target = entry(web, "LOW_QUALITY")
    form = {"action": "reject", "entry": f"{target['stage']}|{target['batch']}|{target['sample_id']}"}
    token = csrf(web)
    forged = ("y" if token.startswith("x") else "x") + token[1:]  # one character off (never the token itself)
    refused = {
        "no token": web.post("/decide", data=form, headers={"Origin": BASE}),
        "another session's token": web.post("/decide", data={**form, "csrf": forged}, headers={"Origin": BASE}),
        "a foreign Origin": web.post("/decide", data={**form, "csrf": token}, headers={"Origin": "http://evil.example"}),
        "a cross-site fetch": web.post("/decide", data={**form, "csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}),
        "a foreign Referer": web.post("/decide", data={**form, "csrf": token}, headers={"Referer": "http://evil.example/page"}),
    }
    for why, response in refused.items():
        assert response.status_code == 403, why
    login_form = web.post("/login", data={"user": "ana", "password": PASSWORD, "csrf": "forged"}, headers={"Origin": BASE})
    assert login_form.status_code == 403
    assert decisions_about(lake, target["sample_id"]) == []
    assert web.post("/decide", data={**form, "csrf": token, "note": "blurry"}, headers={"Origin": BASE}).status_code == 303
    assert [d["action"] for d in decisions_about(lake, target["sample_id"])] == ["reject"]


def test_a_viewer_reads_but_may_not_decide(web: TestClient, lake: Lake) -> None:
    login(web, "vic")
    page = web.get("/")
    assert page.status_code == 200 and 'name="entry"' not in page.text and "Approve" not in page.text
    target = entry(web, "MISALIGNED")
    refused = web.post("/decide", data={"action": "approve", "sample_id": target["sample_id"], "csrf": csrf(web)}, headers={"Origin": BASE})
    assert refused.status_code == 403 and "viewer" in refused.text
    assert decisions_about(lake, target["sample_id"]) == []


def test_the_host_header_must_name_this_machine(home: Path, lake: Lake) -> None:
    rebound = TestClient(create_app(lake, home / "steward"), base_url="http://attacker.example")
    assert rebound.get("/login").status_code == 400


# -- media ---------------------------------------------------------------------------------------
def test_media_are_served_in_byte_ranges(web: TestClient, lake: Lake) -> None:
    login(web)
    talk = web.get(f"/api/sample/{entry(web, 'MISALIGNED')['sample_id']}").json()
    sha = talk["media"]["audio"]
    data = lake.read_blobs([sha])[sha]
    size = len(data)
    whole = web.get(f"/media/{sha}")
    assert (whole.status_code, whole.headers["accept-ranges"], whole.headers["content-type"], whole.content) == (200, "bytes", "audio/flac", data)
    part = web.get(f"/media/{sha}", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{size}" and part.headers["content-length"] == "1000"
    assert part.content == data[100:1100]
    tail = web.get(f"/media/{sha}", headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.headers["content-range"], tail.content) == (206, f"bytes {size - 10}-{size - 1}/{size}", data[-10:])
    rest = web.get(f"/media/{sha}", headers={"Range": f"bytes={size - 5}-"})
    assert (rest.status_code, rest.content) == (206, data[-5:])
    past = web.get(f"/media/{sha}", headers={"Range": f"bytes={size}-"})
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{size}")
    assert web.get("/media/" + "0" * 64).status_code == 404
    assert web.get("/media/not-a-sha").status_code == 404


# -- the queue -----------------------------------------------------------------------------------
def test_the_queue_filters_and_pages_on_the_server(tmp_path: Path, clock: Clock) -> None:
    made = synthetic_queue(str(tmp_path / "lake"), 130, batches=2)
    lake = Lake(str(tmp_path / "lake"))
    Users(tmp_path / "steward").add("ana", "steward", PASSWORD)
    web = TestClient(create_app(lake, tmp_path / "steward", clock=clock), base_url=BASE, follow_redirects=False)
    login(web)
    first = web.get("/")
    assert "1–50 of 130" in first.text and first.text.count('name="entry"') == 50
    last = web.get("/?page=3")
    assert "101–130 of 130" in last.text and last.text.count('name="entry"') == 30
    b1 = web.get("/?batch=b1&stage=aligned")
    expected = sum(1 for m in made if m["batch"] == "b1" and m["stage"] == "aligned")
    assert f"1–{expected} of {expected}" in b1.text and b1.text.count("<td>b1</td><td>aligned</td>") == expected and "<td>b0</td>" not in b1.text
    assert [e["sample_id"] for e in web.get("/api/queue", params={"limit": 10, "offset": 45}).json()["entries"]] == [
        e["sample_id"] for e in web.get("/api/queue", params={"limit": 100}).json()["entries"][45:55]
    ]
    one = made[0]
    form = {"action": "approve", "entry": f"{one['stage']}|{one['batch']}|{one['sample_id']}", "csrf": csrf(web), "back": "/"}
    assert web.post("/decide", data=form, headers={"Origin": BASE}).status_code == 303
    assert "of 129" in web.get("/").text
    decided = web.get("/api/queue", params={"status": "decided"}).json()
    assert decided["total"] == 1 and decided["entries"][0]["decision"]["who"] == "ana"
    assert web.get("/?status=maybe").status_code == 400


# -- decisions -----------------------------------------------------------------------------------
def test_decisions_record_who_and_client_one_at_a_time_and_in_bulk(web: TestClient, lake: Lake) -> None:
    login(web)
    icons = entries(web, reason="LOW_QUALITY", status="open")
    approve, relabel = icons[0], icons[1]
    form = {"action": "approve", "note": "an icon, wanted", "entry": f"{approve['stage']}|{approve['batch']}|{approve['sample_id']}", "csrf": csrf(web)}
    done = web.post("/decide", data=form, headers={"Origin": BASE})
    assert done.status_code == 303 and "1 approve decision(s) recorded" in web.get("/").text
    (d,) = decisions_about(lake, approve["sample_id"])
    assert (d["action"], d["who"], d["client"], d["note"], d["stage"], d["batch"], d["op"]) == (
        "approve", "ana", "testclient", "an icon, wanted", "cleaned", BATCH, "image.min_side"
    )  # fmt: skip

    page = f"/sample/{relabel['sample_id']}?batch={BATCH}&stage=cleaned"
    empty = web.post("/decide", data={"action": "relabel", "sample_id": relabel["sample_id"], "text": " ", "csrf": csrf(web, page), "back": page}, headers={"Origin": BASE})
    assert "needs the new text" in web.get(empty.headers["location"]).text
    form = {"action": "relabel", "sample_id": relabel["sample_id"], "batch": BATCH, "stage": "cleaned", "text": "a grey square", "csrf": csrf(web, page), "back": page}
    assert web.post("/decide", data=form, headers={"Origin": BASE}).headers["location"] == page
    (d,) = decisions_about(lake, relabel["sample_id"])
    assert (d["action"], d["text"], d["who"], d["client"]) == ("relabel", "a grey square", "ana", "testclient")
    assert "a grey square" in web.get(page).text  # in the page's decisions

    still_open = {e["sample_id"] for e in entries(web, reason="LOW_QUALITY", status="open")}
    assert {approve["sample_id"], relabel["sample_id"]}.isdisjoint(still_open) and len(still_open) >= ICONS - 3  # one may be rejected above
    confirm = web.get("/bulk", params={"reason": "LOW_QUALITY", "action": "approve", "note": "icons are fine"})
    assert f"Approve {len(still_open)} entr" in confirm.text
    bulk = {"reason": "LOW_QUALITY", "batch": "", "stage": "", "action": "approve", "note": "icons are fine", "text": "", "csrf": csrf(web)}
    stale = web.post("/bulk", data={**bulk, "expected": str(len(still_open) + 1)}, headers={"Origin": BASE})
    assert stale.headers["location"].startswith("/bulk?") and all(decisions_about(lake, s) == [] for s in still_open)
    assert web.post("/bulk", data={**bulk, "expected": str(len(still_open))}, headers={"Origin": BASE}).status_code == 303
    for sid in still_open:
        (d,) = decisions_about(lake, sid)
        assert (d["action"], d["who"], d["client"], d["note"]) == ("approve", "ana", "testclient", "icons are fine")
    assert entries(web, reason="LOW_QUALITY", status="open") == []


def test_approving_what_raw_set_aside_is_refused_as_the_cli_refuses_it(web: TestClient, lake: Lake, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    login(web)
    landed = lake.dataset("raw").to_table(columns=["sample_id"], filter=f"batch = '{BATCH}' AND status = 'landed'")["sample_id"][0].as_py()
    form = {"action": "approve", "sample_id": landed, "batch": BATCH, "stage": "raw", "csrf": csrf(web), "back": "/"}
    refused = web.post("/decide", data=form, headers={"Origin": BASE})
    assert "nothing to approve" in web.get(refused.headers["location"]).text
    assert decisions_about(lake, landed) == []


# -- the sample page -----------------------------------------------------------------------------
def test_the_sample_page_shows_media_cues_limits_story_and_neighbours(web: TestClient, lake: Lake) -> None:
    login(web)
    talk = entry(web, "MISALIGNED")
    page = web.get(f"/sample/{talk['sample_id'][:10]}")
    assert page.status_code == 303 and page.headers["location"] == f"/sample/{talk['sample_id']}"
    text = web.get(page.headers["location"]).text
    assert re.search(r'<audio id="audio" [^>]*src="/media/[0-9a-f]{64}"', text)
    lead = float(re.search(r"<th>trim_lead_s</th><td>([0-9.]+)", text)[1])  # audio.trim: the silence before the first word went
    assert 0.8 <= lead < 1.0  # the first word starts at 1.0 s; 0.1 s before it is kept
    assert f"{clock_time(3.5 - lead)} – {clock_time(5.0 - lead)}" in text and "line 0" in text  # the first cue, 2.5 s late, moved with the sound
    # the verdict beside its limit; the estimate's grid is segments.offset's frame_s (0.1 s)
    assert re.search(r"cues run 2\.[45] s late", text) and "max_offset_s=1.0" in text
    assert re.search(r"<th>cue_offset_s</th><td>2\.[45]", text)
    assert text.count("<td>landed</td>") == 3 and "<td>quarantined</td>" in text  # raw, cleaned, unified; held at aligned
    # the ledger beside each row: what each operator did to it (as `tessera lineage` tells it)
    assert "audio.decode: modified" in text and "segments.offset: dropped — MISALIGNED: cues run" in text

    rocket = lake.dataset("samples").to_table(columns=["sample_id"], filter="source LIKE '%rocket.jpg%' AND parent_id IS NULL")["sample_id"][0].as_py()
    shown = web.get(f"/api/sample/{rocket}").json()
    assert shown["neighbours"] and shown["neighbours"][0]["column"].startswith("vec_text__")
    assert rocket not in {n["sample_id"] for n in shown["neighbours"]}
    assert "Nearest neighbours" in web.get(f"/sample/{rocket}").text and shown["media"]["image"]
    assert web.get("/sample/ffffffffffff").status_code == 404

    clip = lake.dataset("samples").to_table(columns=["sample_id"], filter="source LIKE '%clip.mp4%' AND parent_id IS NULL")["sample_id"][0].as_py()
    text = web.get(f"/sample/{clip}").text
    video = re.search(r'<video id="video" [^>]*src="/media/([0-9a-f]{64})"', text)[1]
    assert web.get(f"/media/{video}", headers={"Range": "bytes=0-15"}).headers["content-type"] == "video/mp4"
    assert "0:00.20 – 0:00.90" in text and "hello there" in text and text.count('alt="keyframe at') == 2


def test_keep_this_one_in_a_near_duplicate_cluster(web: TestClient, lake: Lake) -> None:
    login(web)
    dup = entry(web, "DUPLICATE")
    shown = web.get(f"/api/sample/{dup['sample_id']}").json()
    cluster = shown["cluster"]
    kept = cluster["kept"]
    assert dup["detail"].startswith(f"near-duplicate of {kept[:12]}")
    assert [m["sample_id"] for m in cluster["members"]] == [kept, dup["sample_id"]]
    text = web.get(f"/sample/{dup['sample_id']}").text
    assert text.count("Keep this one</button>") == 2 and all(f"/media/{m['media_image']}" in text for m in cluster["members"])
    form = {"keep": dup["sample_id"], "sample_id": dup["sample_id"], "csrf": csrf(web)}
    assert web.post("/keep", data=form, headers={"Origin": BASE}).status_code == 303
    (approved,) = decisions_about(lake, dup["sample_id"])
    (rejected,) = decisions_about(lake, kept)
    assert (approved["action"], approved["stage"], approved["op"], approved["who"]) == ("approve", "unified", "image.near_dup", "ana")
    # the kept one is rejected where `tessera review reject KEPT --batch web` rejects it: the last stage it reached
    assert (rejected["action"], rejected["stage"], rejected["batch"]) == ("reject", "embedded", BATCH)


# -- the command line ----------------------------------------------------------------------------
def test_steward_user_add_stores_a_salted_hash_never_the_password(tessera_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["steward", "user", "add", "ana", "--role", "steward", "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["steward", "user", "add", "bot", "--role", "viewer", "--generate-password", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["password"]
    path = tessera_home / "steward" / "users.json"
    stored = path.read_text()
    assert "a long enough secret" not in stored and token not in stored and stat.S_IMODE(path.stat().st_mode) == 0o600
    users = Users(tessera_home / "steward")
    assert users.check("ana", "a long enough secret").role == "steward" and users.check("ana", "a long enough secreT") is None
    assert users.check("bot", token).role == "viewer"
    assert [(u.name, u.role) for u in users.list()] == [("ana", "steward"), ("bot", "viewer")]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["steward", "user", "add", "eve", "--role", "steward", "--password-stdin"]) == 1
    assert "too short" in capsys.readouterr().err and users.get("eve") is None


def test_scripts_read_and_decide_with_a_token_and_a_revoked_token_stops_at_once(
    web: TestClient, lake: Lake, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    monkeypatch.setenv("TESSERA_HOME", str(home))
    assert main(["steward", "token", "add", "ana", "--label", "nightly", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert main(["steward", "token", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert "nightly" in listed and token not in listed and token not in (home / "steward" / "users.json").read_text()
    bearer = {"Authorization": f"Bearer {token}"}

    open_entries = web.get("/api/queue", params={"status": "open"}, headers=bearer).json()["entries"]
    target = open_entries[0]
    body = {"action": "reject", "note": "from the nightly script", "samples": [{"sample_id": target["sample_id"], "batch": target["batch"], "stage": target["stage"]}]}
    done = web.post("/api/decide", json=body, headers=bearer)
    assert done.status_code == 200 and done.json()["decided"][0]["action"] == "reject"
    (d,) = decisions_about(lake, target["sample_id"])
    assert (d["who"], d["note"]) == ("ana", "from the nightly script")

    assert web.get("/", headers=bearer).status_code == 303  # pages still want a login: tokens are for /api and /media
    assert web.post("/api/decide", json=body, headers={"Authorization": "Bearer tst_not-a-token"}).status_code == 401
    Users(home / "steward").add_token("vic", "read")
    viewer = {"Authorization": f"Bearer {Users(home / 'steward').add_token('vic', 'read')}"}
    assert web.get("/api/queue", headers=viewer).status_code == 200
    assert web.post("/api/decide", json=body, headers=viewer).status_code == 403  # a viewer's token reads only
    login(web)
    assert web.post("/api/decide", json=body, headers={"Origin": BASE}).status_code == 403  # a browser session decides through its forms
    web.cookies.clear()

    assert main(["steward", "token", "revoke", "ana", "--label", "nightly"]) == 0
    assert web.get("/api/queue", headers=bearer).status_code == 401


# -- sessions end on the server ------------------------------------------------------------------
def _replay(web: TestClient, value: str) -> TestClient:
    """Another client carrying exactly this session cookie (a copy an attacker kept)."""
    return TestClient(web.app, base_url=BASE, follow_redirects=False, cookies={"tessera_session": value})


def test_logout_a_password_change_and_a_re_add_end_sessions_at_once(web: TestClient, home: Path) -> None:
    users = Users(home / "steward")
    users.add("kim", "steward", PASSWORD)
    login(web, "kim")
    kept = web.cookies["tessera_session"]
    assert web.post("/logout", data={"csrf": csrf(web)}, headers={"Origin": BASE}).status_code == 303
    assert _replay(web, kept).get("/").status_code == 303 and _replay(web, kept).get("/api/queue").status_code == 401

    login(web, "kim")
    kept = web.cookies["tessera_session"]
    users.add("kim", "steward", "a brand new password")  # a password change
    assert _replay(web, kept).get("/").status_code == 303

    login(web, "kim", "a brand new password")
    kept = web.cookies["tessera_session"]
    assert web.get("/").status_code == 200
    users.remove("kim")
    users.add("kim", "steward", "a brand new password")  # the same name and password again
    assert _replay(web, kept).get("/").status_code == 303 and _replay(web, kept).get("/api/queue").status_code == 401
    assert login(web, "kim", "a brand new password").status_code == 303 and web.get("/").status_code == 200


# -- the login throttle --------------------------------------------------------------------------
def _client_at(app: object, address: str) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False, client=(address, 40000))


def test_parallel_guesses_are_each_counted_before_a_password_is_checked(home: Path, lake: Lake, clock: Clock) -> None:
    # two app instances over one steward folder: as two worker processes would share it
    apps = [create_app(lake, home / "steward", session_s=3600, clock=clock) for _ in range(2)]
    clients = [_client_at(apps[i % 2], "198.51.100.30") for i in range(30)]
    forms = [(c, re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)[1]) for c in clients]
    start = threading.Barrier(len(forms))

    def guess(pair: tuple[TestClient, str]) -> object:
        c, token = pair
        start.wait()
        return c.post("/login", data={"user": "ana", "password": "guess", "csrf": token}, headers={"Origin": BASE})

    with ThreadPoolExecutor(len(forms)) as pool:
        answers = list(pool.map(guess, forms))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * 10 + [429] * 20  # ten passwords checked, no more
    throttled = next(r for r in answers if r.status_code == 429)
    assert 0 < int(throttled.headers["retry-after"]) <= 300 and "too many failed logins for &#39;ana&#39;" in throttled.text
    assert login(clients[0]).status_code == 429  # the right password too: that pair is locked


def test_one_accounts_failures_never_lock_out_another_account(home: Path, lake: Lake, clock: Clock) -> None:
    users = Users(home / "steward")
    for name in ("tom", "tia"):
        users.add(name, "viewer", PASSWORD)
    app = create_app(lake, home / "steward", session_s=3600, clock=clock)
    proxy = _client_at(app, "198.51.100.40")  # everyone behind one proxy has one address
    for _ in range(10):
        assert login(proxy, "tom", "wrong password").status_code == 401
    locked = login(proxy, "tom", "wrong password")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) == 300
    assert login(proxy, "tom").status_code == 429
    assert login(_client_at(app, "198.51.100.40"), "tia").status_code == 303  # another account, the same address
    assert login(_client_at(app, "198.51.100.41"), "tom").status_code == 303  # the same account, another address

    sprayer = _client_at(app, "198.51.100.42")  # many accounts from one address: its ceiling
    for i in range(100):
        assert login(sprayer, f"name{i // 10}", "wrong password").status_code == 401
    refused = login(sprayer, "tia")
    assert refused.status_code == 429 and "from 198.51.100.42" in refused.text
    clock.now += 301
    assert login(sprayer, "tia").status_code == 303 and login(proxy, "tom").status_code == 303


# -- bodies and fields are capped ----------------------------------------------------------------
def test_bodies_over_their_limit_are_refused_and_record_nothing(web: TestClient, lake: Lake, home: Path) -> None:
    form = web.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    huge = web.post("/login", content=b"user=ana&password=" + b"x" * 300_000, headers={"Origin": BASE, "Content-Type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413 and "at most 65536 bytes" in huge.text
    long_password = web.post("/login", data={"user": "ana", "password": "x" * 5000, "csrf": token}, headers={"Origin": BASE})
    assert long_password.status_code == 413 and "'password' is over 2000 characters" in long_password.text

    bearer = {"Authorization": f"Bearer {Users(home / 'steward').add_token('ana', 'limits')}"}
    target = entries(TestClient(web.app, base_url=BASE, headers=bearer))[0]
    sample = {"sample_id": target["sample_id"], "batch": target["batch"], "stage": target["stage"]}
    before = decisions_about(lake, target["sample_id"])
    big = web.post("/api/decide", json={"action": "relabel", "text": "y" * (2 << 20), "samples": [sample]}, headers=bearer)
    assert big.status_code == 413
    long_text = web.post("/api/decide", json={"action": "relabel", "text": "y" * 20_000, "samples": [sample]}, headers=bearer)
    assert long_text.status_code == 413 and "text is 20000 characters; at most 2000" in long_text.text
    login(web)
    page_form = {"action": "relabel", "sample_id": target["sample_id"], "text": "z" * 20_000, "csrf": csrf(web)}
    assert web.post("/decide", data=page_form, headers={"Origin": BASE}).status_code == 413
    assert decisions_about(lake, target["sample_id"]) == before


# -- odd input is a 400 with one line ------------------------------------------------------------
def test_odd_input_gets_a_one_line_400_never_a_500(web: TestClient, lake: Lake, home: Path) -> None:
    login(web)
    sha = lake.dataset("blobs").to_table(columns=["sha256"]).column(0)[0].as_py()
    script = TestClient(web.app, base_url=BASE, headers={"Authorization": f"Bearer {Users(home / 'steward').add_token('ana', 'odd')}"})
    target = entries(web)[0]
    sample = {"sample_id": target["sample_id"], "batch": target["batch"], "stage": target["stage"]}
    before = decisions_about(lake, target["sample_id"])
    odd = {
        "a Range of 5000 digits": web.get(f"/media/{sha}", headers={"Range": "bytes=" + "9" * 5000 + "-"}),
        "a page of 5000 digits": web.get("/", params={"page": "9" * 5000}),
        "a page of 4300 digits": web.get("/", params={"page": "9" * 4300}),
        "a negative offset": web.get("/api/queue", params={"offset": "-1"}),
        "a limit in words": web.get("/api/queue", params={"limit": "ten"}),
        "a list as the text": script.post("/api/decide", json={"action": "relabel", "text": ["a", "b"], "samples": [sample]}),
        "a number as the note": script.post("/api/decide", json={"action": "reject", "note": 7, "samples": [sample]}),
        "a number as a sample": script.post("/api/decide", json={"action": "reject", "samples": [7]}),
        "an object as the action": script.post("/api/decide", json={"action": {}, "samples": [sample]}),
        "JSON 100,000 deep": script.post("/api/decide", content=b"[" * 100_000 + b"]" * 100_000),
        "not UTF-8": script.post("/api/decide", content=b"\xff\xfe{"),
        "not JSON": script.post("/api/decide", content=b'{"action": '),
    }
    for why, response in odd.items():
        said = response.text.strip() if response.headers["content-type"].startswith("text/plain") else "a page"  # a page shows its line in error.html
        assert (response.status_code, "\n" in said, len(said) < 300) == (400, False, True), (why, response.status_code, said[:300])
    assert "Range positions are at most 18 digits" in odd["a Range of 5000 digits"].text
    assert "page must be a whole number from 1 to 1000000" in odd["a page of 4300 digits"].text
    assert "text must be a string" in odd["a list as the text"].text
    assert "nests too deep" in odd["JSON 100,000 deep"].text
    assert decisions_about(lake, target["sample_id"]) == before
    forged = web.post("/login", data={"user": "ana", "password": "x", "csrf": "é"}, headers={"Origin": BASE})
    assert forged.status_code == 403  # a non-ASCII token is a wrong one
    stranger = TestClient(web.app, base_url=BASE, follow_redirects=False)
    cookie = [(b"cookie", b"tessera_session=\xe9.\xe9")]  # a cookie of non-ASCII characters
    assert stranger.get("/", headers=cookie).status_code == 303 and stranger.get("/api/queue", headers=cookie).status_code == 401
