"""The review web app in a real browser (Debian's Chromium driven by Playwright), served by
`tessera steward serve` over a lake made by ingest + materialize: a steward logs in, filters the
queue, opens a sample and plays its audio, approves, rejects, relabels, bulk-approves a filtered
set; the decisions are in the lake with who and where from, and the decisions sensor asks for
the run that re-materializes the batch from the stage decided. A stranger and a cross-site form
get nothing.

Set TESSERA_SCREENSHOTS=DIR to keep the queue and sample screenshots (docs/ holds a pair)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import build_sensor_context
from PIL import Image

from tessera.orchestration.instance import get_instance
from tessera.orchestration.sensors import steward_decisions
from tessera.resources import decisions
from tessera.resources.lake import LakeResource
from tessera.resources.store import Lake
from tessera.steward.users import Users
from tests.steward.review_lake import BATCH, ICONS, build_review_lake, review_env

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(the app's address, TESSERA_HOME): `tessera steward serve` in its own process."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium (the browser tests drive it)")
    home = tmp_path_factory.mktemp("browser") / "tessera"
    with review_env(home):
        build_review_lake(home)
    Users(home / "steward").add("ana", "steward", PASSWORD)
    port = _free_port()
    env = {**os.environ, "TESSERA_HOME": str(home)}
    env.pop("TESSERA_LAKE_URI", None)
    cmd = [sys.executable, "-m", "tessera.orchestration.cli", "steward", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/login", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        yield url, home
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _shot(page: object, name: str) -> None:
    """A small PNG of the page (palette, ≤ 256 colours) where TESSERA_SCREENSHOTS asks for one."""
    folder = os.environ.get("TESSERA_SCREENSHOTS")
    if folder:
        im = Image.open(io.BytesIO(page.screenshot()))
        im.convert("RGB").quantize(colors=128).save(Path(folder) / name, optimize=True)


def _decisions(home: Path) -> list[dict]:
    return sorted(decisions.read(Lake(str(home / "lake"))), key=lambda d: d["decided_at"])


def test_a_steward_reviews_in_the_browser(served: tuple[str, Path], browser: object) -> None:
    url, home = served
    context = browser.new_context(viewport={"width": 1200, "height": 760}, base_url=url)
    page = context.new_page()
    page.goto("/")
    assert "/login" in page.url
    page.fill("input[name=user]", "ana")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "wrong user name or password"
    page.fill("input[name=user]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("#count").inner_text().startswith(f"1–{ICONS + 2} of {ICONS + 2}")  # icons, a duplicate, a misaligned talk
    _shot(page, "steward-queue.png")

    # filter the queue
    page.select_option("select[name=reason]", "LOW_QUALITY")
    page.click("#filters button[type=submit]")
    assert "reason=LOW_QUALITY" in page.url
    assert page.locator("table.queue tbody tr").count() == ICONS

    # approve one, reject one (the first open rows of the filtered queue)
    page.locator('input[name="entry"]').nth(0).check()
    page.click('button[value="approve"]')
    assert "1 approve decision(s) recorded" in page.locator(".flash").inner_text()
    page.locator('input[name="entry"]').nth(0).check()
    page.fill('#selected input[name="note"]', "not an icon we want")
    page.click('button[value="reject"]')
    assert "1 reject decision(s) recorded" in page.locator(".flash").inner_text()
    assert page.locator("table.queue tbody tr").count() == ICONS - 2

    # bulk-approve what the filters still match, after confirming the count
    page.select_option('#bulk select[name="action"]', "approve")
    page.fill('#bulk input[name="note"]', "icons are fine")
    page.click("#bulk button[type=submit]")
    assert page.locator("h1").inner_text() == f"Approve {ICONS - 2} entries?"
    page.click("#confirm button[type=submit]")
    assert f"{ICONS - 2} approve decision(s) recorded" in page.locator(".flash").inner_text()
    assert page.locator(".empty").is_visible()

    # open the misaligned recording, play its audio from a cue, relabel it
    page.select_option("select[name=reason]", "MISALIGNED")
    page.click("#filters button[type=submit]")
    media = []
    page.on("response", lambda r: media.append(r) if "/media/" in r.url else None)
    page.locator("a.sid").first.click()
    page.wait_for_selector("#audio")
    page.locator("#cues button.time").first.click()  # a user gesture: seeks to the cue and plays
    page.wait_for_function("() => { const a = document.getElementById('audio'); return a.readyState >= 2 && a.currentTime > 3.5; }", timeout=15_000)
    assert any(r.status == 206 and r.headers.get("content-range", "").startswith("bytes 0-") for r in media)
    _shot(page, "steward-sample.png")
    page.fill('#decide input[name="text"]', "six short lines, read aloud")
    page.click('#decide button[value="relabel"]')
    assert "1 relabel decision(s) recorded" in page.locator(".flash").inner_text()
    assert "six short lines, read aloud" in page.locator("#decisions").inner_text()

    stored = _decisions(home)
    assert [(d["action"], d["text"] if d["action"] == "relabel" else d["note"]) for d in stored] == [
        ("approve", ""), ("reject", "not an icon we want"), *[("approve", "icons are fine")] * (ICONS - 2), ("relabel", "six short lines, read aloud"),
    ]  # fmt: skip
    assert {(d["who"], d["client"], d["batch"]) for d in stored} == {("ana", "127.0.0.1", BATCH)}
    assert {d["stage"] for d in stored} == {"cleaned", "aligned"}
    context.close()

    # the runs they request: the decisions sensor (running by default under the daemon) re-runs the batch from cleaned
    with review_env(home):
        sensed = steward_decisions(build_sensor_context(instance=get_instance(), resources={"lake": LakeResource()}))
    (request,) = sensed.run_requests
    assert request.partition_key == BATCH
    assert [k.path[-1] for k in request.asset_selection] == ["cleaned", "unified", "aligned", "augmented", "embedded"]


def test_strangers_and_cross_site_forms_are_refused(served: tuple[str, Path], browser: object) -> None:
    url, home = served
    before = len(_decisions(home))
    stranger = browser.new_context(base_url=url)
    page = stranger.new_page()
    assert page.request.get("/api/queue").status == 401
    sha = Lake(str(home / "lake")).dataset("blobs").to_table(columns=["sha256"]).column(0)[0].as_py()
    assert page.goto(f"/media/{sha}").status == 401
    page.goto("/sample/" + sha)
    assert "/login" in page.url
    stranger.close()

    # a logged-in steward visits another site whose page posts a decision form to the app
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=user]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    evil = "http://attacker.test/"
    form = f'<form method="post" action="{url}/decide"><input name="action" value="reject"><input name="sample_id" value="{sha}"></form>'
    page.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body=f"<html><body>{form}</body></html>"))
    page.goto(evil)
    with page.expect_response(f"{url}/decide") as answer:
        page.evaluate("document.forms[0].submit()")
    assert answer.value.status == 403
    assert len(_decisions(home)) == before
    context.close()
