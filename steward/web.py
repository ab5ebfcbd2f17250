"""The data steward's review web app: a small ASGI app (Starlette, Jinja2 templates, plain HTML
and CSS, a little vanilla JS) over the same queue, stories and decisions as `tessera review`.

Every route but the app's own CSS/JS needs a session: pages answer an anonymous request with
the login page (303), media and API routes with 401. Sessions are signed cookies with an expiry
(`steward.auth`); scripts send a user's API token instead (`Authorization: Bearer`, on /api and
/media only; `POST /api/decide` takes decisions as JSON and only with a token). A state-changing request must come from this app's own pages: a foreign
Origin (or Referer, or a cross-site Sec-Fetch-Site) is refused with 403, and so is a form
without the session's CSRF token; cookies are SameSite=Strict. Only a `steward` may decide;
each decision records who (the user) and client (the request's address). The app only records
decisions: the `steward_decisions` sensor re-runs the batches they touch.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.core.decisions import Action
from tessera.core.records import Reason
from tessera.resources.store import STAGE_TABLES, LakeStore
from tessera.steward import queue
from tessera.steward.auth import Session, Signer, load_secret
from tessera.steward.media import RangeNotSatisfiable, byte_range, open_blob
from tessera.steward.sample import cluster, record_keep, view
from tessera.steward.users import User, Users

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
SESSION_COOKIE = "tessera_session"
LOGIN_COOKIE = "tessera_login"
FLASH_COOKIE = "tessera_flash"
LOGIN_FAILURES = 10  # per client address and LOGIN_WINDOW_S; then 429 until the window passes
LOGIN_WINDOW_S = 300.0
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
CSP = "default-src 'self'; img-src 'self'; media-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
HEADERS = [
    (b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"), (b"cross-origin-resource-policy", b"same-origin"),
]  # fmt: skip


class Refused(Exception):
    """A request refused with `status` and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class SecurityHeaders:
    """Adds CSP and friends to every response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class ReviewApp:
    """State shared by the routes: the lake, the users, the signer, the clock."""

    def __init__(self, lake: LakeStore, folder: Path, params: Mapping[str, Any], session_s: float, clock: Callable[[], float]) -> None:
        self.lake = lake
        self.users = Users(folder)
        self.signer = Signer(load_secret(folder))
        self.params = params
        self.session_s = session_s
        self.clock = clock
        self.failures: dict[str, list[float]] = {}
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters.update(short=lambda s: (s or "")[:12], clock=clock_time, when=when, num=lambda n: f"{n:,}", metric=metric, sources=sources)

    # -- sessions ---------------------------------------------------------------------------
    def session(self, request: Request) -> tuple[Session, User] | None:
        s = self.signer.read_session(request.cookies.get(SESSION_COOKIE), self.clock())
        user = self.users.get(s.user) if s is not None else None
        return None if s is None or user is None else (s, user)

    def bearer(self, request: Request) -> tuple[Session, User] | None:
        """A script's `Authorization: Bearer <token>` (steward/users.py): the token's user, on a
        session of this request only (no cookie, no CSRF token: a browser never sends the header
        on its own, so another site cannot ride on it)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self.users.by_token(token.strip()) if scheme.lower() == "bearer" else None
        return None if user is None else (Session(user.name, self.clock(), "", by_token=True), user)

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200, auth: tuple[Session, User] | None = None) -> Response:
        ctx: dict[str, Any] = {"stages": list(STAGE_TABLES), "flash": None}
        if auth is not None:
            ctx.update(user=auth[1], csrf=self.signer.csrf(auth[0].nonce))
            flash = self.signer.unsign("flash", request.cookies.get(FLASH_COOKIE), self.clock())
            ctx["flash"] = flash
        ctx.update(context)
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        if ctx["flash"] is not None and "flash" not in context:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def flash(self, response: Response, request: Request, text: str, ok: bool = True) -> Response:
        value = self.signer.sign("flash", {"text": text, "ok": ok, "exp": self.clock() + 120})
        _cookie(response, request, FLASH_COOKIE, value, 120)
        return response

    # -- checks -----------------------------------------------------------------------------
    def same_origin(self, request: Request) -> None:
        """Refuse (403) a state-changing request sent from another site."""
        own = f"{request.url.scheme}://{request.url.netloc}"
        origin = request.headers.get("origin")
        if origin is not None and origin != own:
            raise Refused(403, f"cross-site request refused: Origin {origin} is not {own}")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise Refused(403, f"cross-site request refused (Sec-Fetch-Site: {site})")
        referer = request.headers.get("referer")
        if origin is None and referer is not None and not (referer == own or referer.startswith(own + "/")):
            raise Refused(403, "cross-site request refused: the Referer is another site")

    async def form(self, request: Request) -> dict[str, list[str]]:
        body = await request.body()
        if len(body) > 1_000_000:
            raise Refused(413, "form too large")
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


# -- route decorators ----------------------------------------------------------------------------
Handler = Callable[..., Awaitable[Response]]


def page(fn: Handler) -> Handler:
    """A page: anonymous → the login page."""

    async def route(request: Request) -> Response:
        app: ReviewApp = request.app.state.review
        auth = app.session(request)
        if auth is None:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': nxt})}", status_code=303)
        try:
            return await fn(request, app, auth)
        except Refused as exc:
            return app.render(request, "error.html", {"message": str(exc)}, status=exc.status, auth=auth)

    return route


def api(fn: Handler) -> Handler:
    """Media and API: anonymous → 401."""

    async def route(request: Request) -> Response:
        app: ReviewApp = request.app.state.review
        auth = app.session(request) or app.bearer(request)
        if auth is None:
            return PlainTextResponse("401 Unauthorized: log in first, or send a token", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="tessera-steward"'})
        try:
            return await fn(request, app, auth)
        except Refused as exc:
            return PlainTextResponse(f"{exc.status} {exc}", status_code=exc.status)

    return route


def action(fn: Handler) -> Handler:
    """A state-changing form post: same origin, the session's CSRF token, a steward."""

    async def route(request: Request) -> Response:
        app: ReviewApp = request.app.state.review
        try:
            app.same_origin(request)
            auth = app.session(request)
            if auth is None:
                raise Refused(401, "log in first")
            form = await app.form(request)
            if not app.signer.csrf_ok(auth[0].nonce, _one(form, "csrf")):
                raise Refused(403, "the form's CSRF token is missing or stale; reload the page and try again")
            if not auth[1].may_decide:
                raise Refused(403, f"{auth[1].name} is a {auth[1].role}: only a steward may decide")
            return await fn(request, app, auth, form)
        except Refused as exc:
            return PlainTextResponse(f"{exc.status} {exc}", status_code=exc.status)

    return route


# -- login ---------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    app: ReviewApp = request.app.state.review
    return _login_form(request, app, "", 200)


def _login_form(request: Request, app: ReviewApp, message: str, status: int, nxt: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(16)
    nxt = _local(nxt or request.query_params.get("next") or "/")
    response = app.render(request, "login.html", {"message": message, "next": nxt, "login_token": app.signer.mac("login", nonce)}, status=status)
    _cookie(response, request, LOGIN_COOKIE, app.signer.sign("login-cookie", {"n": nonce, "exp": app.clock() + 600}), 600)
    return response


async def login(request: Request) -> Response:
    app: ReviewApp = request.app.state.review
    try:
        app.same_origin(request)
        form = await app.form(request)
        cookie = app.signer.unsign("login-cookie", request.cookies.get(LOGIN_COOKIE), app.clock())
        if cookie is None or not secrets.compare_digest(_one(form, "csrf"), app.signer.mac("login", str(cookie["n"]))):
            raise Refused(403, "the login form is missing its token or has expired; reload the page")
    except Refused as exc:
        return PlainTextResponse(f"{exc.status} {exc}", status_code=exc.status)
    client = _client(request)
    now = app.clock()
    recent = [t for t in app.failures.get(client, []) if t > now - LOGIN_WINDOW_S]
    if len(recent) >= LOGIN_FAILURES:
        return _login_form(request, app, f"too many failed logins from {client}; wait {LOGIN_WINDOW_S / 60:.0f} minutes", 429, _one(form, "next"))
    name, password = _one(form, "user").strip(), _one(form, "password")
    user = await run_in_threadpool(app.users.check, name, password)
    if user is None:
        app.failures[client] = [*recent, now]
        return _login_form(request, app, "wrong user name or password", 401, _one(form, "next"))
    app.failures.pop(client, None)
    _, value = app.signer.session(user.name, now, app.session_s)
    response = RedirectResponse(_local(_one(form, "next") or "/"), status_code=303)
    _cookie(response, request, SESSION_COOKIE, value, int(app.session_s))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    app: ReviewApp = request.app.state.review
    try:
        app.same_origin(request)
        auth = app.session(request)
        form = await app.form(request)
        if auth is not None and not app.signer.csrf_ok(auth[0].nonce, _one(form, "csrf")):
            raise Refused(403, "the form's CSRF token is missing or stale")
    except Refused as exc:
        return PlainTextResponse(f"{exc.status} {exc}", status_code=exc.status)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- the queue -----------------------------------------------------------------------------------
def _filter(params: Mapping[str, str]) -> queue.Filter:
    try:
        return queue.Filter(
            batch=params.get("batch") or None, stage=params.get("stage") or None, reason=params.get("reason") or None,
            status=params.get("status") or "open",
        )  # fmt: skip
    except ValueError as exc:
        raise Refused(400, str(exc)) from None


def _page_number(params: Mapping[str, str]) -> int:
    try:
        return max(1, int(params.get("page") or 1))
    except ValueError:
        raise Refused(400, f"page {params.get('page')!r} is not a number") from None


def _filter_query(f: queue.Filter, **extra: Any) -> str:
    pairs = {"batch": f.batch or "", "stage": f.stage or "", "reason": f.reason or "", "status": f.status, **extra}
    return urlencode({k: v for k, v in pairs.items() if v not in ("", None)})


@page
async def queue_page(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    f = _filter(request.query_params)
    number = _page_number(request.query_params)
    started = time.perf_counter()
    rows, total = await run_in_threadpool(queue.page, app.lake, f, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    batches = await run_in_threadpool(lambda: [b["batch"] for b in app.lake.batches()])
    pages = max(1, math.ceil(total / PAGE_SIZE))
    context = {
        "f": f, "rows": rows, "total": total, "page": number, "pages": pages, "first": (number - 1) * PAGE_SIZE + 1,
        "batches": batches, "reasons": [r.value for r in Reason], "statuses": queue.STATUSES,
        "query": _filter_query(f), "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "link": lambda p: "/?" + _filter_query(f, page=p), "took_ms": (time.perf_counter() - started) * 1000,
    }  # fmt: skip
    return app.render(request, "queue.html", context, auth=auth)


@api
async def queue_api(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    f = _filter(request.query_params)
    try:
        limit, offset = min(int(request.query_params.get("limit") or PAGE_SIZE), 1000), int(request.query_params.get("offset") or 0)
    except ValueError:
        raise Refused(400, "limit and offset must be numbers") from None
    rows, total = await run_in_threadpool(queue.page, app.lake, f, limit, offset)
    return JSONResponse(_jsonable({"total": total, "offset": offset, "entries": rows}))


# -- one sample ----------------------------------------------------------------------------------
def _resolve(app: ReviewApp, sample_id: str) -> str:
    try:
        return queue.resolve(app.lake, sample_id)
    except ValueError as exc:
        raise Refused(404, str(exc)) from None


@page
async def sample_page(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    sid = await run_in_threadpool(_resolve, app, request.path_params["sample_id"])
    if sid != request.path_params["sample_id"]:
        return RedirectResponse(f"/sample/{sid}" + (f"?{request.url.query}" if request.url.query else ""), status_code=303)
    shown = await run_in_threadpool(view, app.lake, sid, app.params)
    batch = request.query_params.get("batch") or shown["latest"]["batch"]
    stage = request.query_params.get("stage") or ""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context = {"s": shown, "batch": batch, "stage": stage, "here": here, "back": _local(request.query_params.get("back") or "/")}
    return app.render(request, "sample.html", context, auth=auth)


@api
async def sample_api(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    sid = await run_in_threadpool(_resolve, app, request.path_params["sample_id"])
    return JSONResponse(_jsonable(await run_in_threadpool(view, app.lake, sid, app.params)))


@api
async def media(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    """A stored blob, streamed; a single byte range gets 206 Partial Content."""
    blob = await run_in_threadpool(open_blob, app.lake, request.path_params["sha"])
    if blob is None:
        raise Refused(404, f"no stored media {request.path_params['sha'][:12]}")
    etag = f'"{blob.sha256}"'
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, max-age=31536000, immutable", "Content-Type": blob.mime}
    if not blob.mime.startswith(("image/", "audio/", "video/", "text/")):
        headers["Content-Disposition"] = f'attachment; filename="{blob.sha256[:12]}"'
    if_range = request.headers.get("if-range")
    try:
        wanted = byte_range(request.headers.get("range"), blob.size) if if_range in (None, etag) else None
    except RangeNotSatisfiable:
        blob.stream.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{blob.size}"})
    start, end = wanted if wanted is not None else (0, blob.size - 1)
    headers["Content-Length"] = str(max(0, end - start + 1))
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    if request.method == "HEAD" or blob.size == 0:
        blob.stream.close()
        return Response(status_code=206 if wanted else 200, headers=headers)
    return StreamingResponse(blob.chunks(start, end), status_code=206 if wanted is not None else 200, headers=headers, media_type=blob.mime)


# -- decisions -----------------------------------------------------------------------------------
def _one(form: Mapping[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[0]


def _action(form: Mapping[str, list[str]]) -> Action:
    try:
        return Action(_one(form, "action"))
    except ValueError:
        raise Refused(400, f"unknown action {_one(form, 'action')!r}; one of approve, reject, relabel") from None


def _decide(app: ReviewApp, entries: list[tuple[str, str | None, str | None]], act: Action, who: str, client: str, note: str, text: str | None) -> list[dict[str, Any]]:
    """As `tessera review ACTION SAMPLE --batch B --stage S` for each (sample, batch, stage): one commit."""
    full = [(sid if queue.FULL_ID.match(sid) else queue.resolve(app.lake, sid), batch, stage) for sid, batch, stage in entries]
    targets = queue.targets(app.lake, full, act)
    return queue.decide(app.lake, targets, act, who=who, client=client, note=note, text=text)


def _said(rows: list[dict[str, Any]], act: Action) -> str:
    where = ", ".join(f"{b} from {s}" for b, s in sorted({(r["batch"], r["stage"]) for r in rows}))
    return f"{len(rows)} {act.value} decision(s) recorded; the steward_decisions sensor re-runs {where}"


@action
async def decide(request: Request, app: ReviewApp, auth: tuple[Session, User], form: dict[str, list[str]]) -> Response:
    """Decide on the entries posted: `entry` = stage|batch|sample (queue rows), or `sample_id` (+ batch, stage)."""
    act, back = _action(form), _local(_one(form, "back") or "/")
    entries: list[tuple[str, str | None, str | None]] = []
    for value in form.get("entry", []):
        stage, batch, sid = (value.split("|", 2) + ["", ""])[:3]
        entries.append((sid, batch or None, stage or None))
    if _one(form, "sample_id"):
        entries.append((_one(form, "sample_id"), _one(form, "batch") or None, _one(form, "stage") or None))
    response = RedirectResponse(back, status_code=303)
    if not entries:
        return app.flash(response, request, "nothing selected: tick the entries to decide on", ok=False)
    text = _one(form, "text") if act is Action.RELABEL else None
    try:
        rows = await run_in_threadpool(_decide, app, entries, act, auth[1].name, _client(request), _one(form, "note"), text)
    except ValueError as exc:
        return app.flash(response, request, str(exc), ok=False)
    return app.flash(response, request, _said(rows, act))


@api
async def decide_api(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    """Decisions from a script, with a token: JSON {"action", "samples": [{"sample_id", "batch"?,
    "stage"?}], "note"?, "text"?} (as `tessera review ACTION`); the decisions made, as JSON."""
    if not auth[0].by_token:
        raise Refused(403, "decisions through /api/decide need a token (Authorization: Bearer); the pages decide with their forms")
    if not auth[1].may_decide:
        raise Refused(403, f"{auth[1].name} is a {auth[1].role}: only a steward may decide")
    try:
        body = await request.json()
        act = Action(body["action"])
        entries = [(str(e["sample_id"]), e.get("batch"), e.get("stage")) for e in body["samples"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(400, f'expected {{"action": "approve|reject|relabel", "samples": [{{"sample_id": ...}}]}}: {exc}') from None
    if not entries:
        raise Refused(400, "no samples given")
    text = body.get("text") if act is Action.RELABEL else None
    if act is Action.RELABEL and not text:
        raise Refused(400, "relabel needs the new text")
    try:
        rows = await run_in_threadpool(_decide, app, entries, act, auth[1].name, _client(request), str(body.get("note") or ""), text)
    except ValueError as exc:
        raise Refused(409, str(exc)) from None
    return JSONResponse(_jsonable({"decided": rows, "said": _said(rows, act)}))


def _bulk_targets(app: ReviewApp, f: queue.Filter, act: Action) -> list[dict[str, Any]]:
    """As `tessera review ACTION --matching` with the same filters: every open entry they match
    (raw's entries left out of an approve: raw has no operator verdict to override)."""
    found = queue.entries(app.lake, queue.Filter(batch=f.batch, stage=f.stage, reason=f.reason, status="open"))
    targets = [{k: e[k] for k in ("sample_id", "batch", "stage", "op", "reason")} for e in found]
    return [t for t in targets if not (act is Action.APPROVE and t["stage"] == "raw")]


@page
async def bulk_page(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    """The confirmation of a bulk decision: how many entries, and the first few."""
    f = _filter(request.query_params)
    act = _action({k: [v] for k, v in request.query_params.items()})
    open_ = queue.Filter(batch=f.batch, stage=f.stage, reason=f.reason, status="open")
    by_stage = await run_in_threadpool(queue.counts, app.lake, open_)
    count = sum(n for stage, n in by_stage.items() if not (act is Action.APPROVE and stage == "raw"))
    first = (await run_in_threadpool(queue.page, app.lake, open_, 20))[0]
    context = {
        "f": f, "act": act.value, "targets": [e for e in first if not (act is Action.APPROVE and e["stage"] == "raw")][:10], "count": count,
        "by_stage": by_stage, "note": request.query_params.get("note", ""),
        "text": request.query_params.get("text", ""), "query": _filter_query(f),
    }  # fmt: skip
    return app.render(request, "bulk.html", context, auth=auth)


@action
async def bulk(request: Request, app: ReviewApp, auth: tuple[Session, User], form: dict[str, list[str]]) -> Response:
    f = _filter({k: _one(form, k) for k in ("batch", "stage", "reason")})
    act = _action(form)
    back = "/?" + _filter_query(f)
    targets = await run_in_threadpool(_bulk_targets, app, f, act)
    if str(len(targets)) != _one(form, "expected"):
        retry = "/bulk?" + urlencode({**{k: _one(form, k) for k in ("batch", "stage", "reason", "note", "text")}, "action": act.value})
        return app.flash(RedirectResponse(retry, status_code=303), request, f"the queue changed: {len(targets)} entries match now, not {_one(form, 'expected')}; confirm again", ok=False)
    if not targets:
        return app.flash(RedirectResponse(back, status_code=303), request, "no open queue entry matches", ok=False)
    text = _one(form, "text") if act is Action.RELABEL else None
    try:
        rows = await run_in_threadpool(partial(queue.decide, app.lake, targets, act, who=auth[1].name, client=_client(request), note=_one(form, "note"), text=text))
    except ValueError as exc:
        return app.flash(RedirectResponse(back, status_code=303), request, str(exc), ok=False)
    return app.flash(RedirectResponse(back, status_code=303), request, _said(rows, act))


@action
async def keep(request: Request, app: ReviewApp, auth: tuple[Session, User], form: dict[str, list[str]]) -> Response:
    """"Keep this one" in a near-duplicate cluster (steward.sample.keep_targets says what it records)."""
    chosen, shown = _one(form, "keep"), _one(form, "sample_id")
    back = f"/sample/{shown}" if shown else "/"

    def run() -> list[dict[str, Any]]:
        sid = queue.resolve(app.lake, chosen)
        found = cluster(app.lake, sid, queue.story(app.lake, sid)["stages"])
        if found is None:
            raise ValueError(f"sample {sid[:12]} is in no near-duplicate cluster")
        return record_keep(app.lake, found, sid, who=auth[1].name, client=_client(request), note=_one(form, "note"))

    response = RedirectResponse(_local(back), status_code=303)
    try:
        rows = await run_in_threadpool(run)
    except ValueError as exc:
        return app.flash(response, request, str(exc), ok=False)
    said = ", ".join(f"{r['action']} {r['sample_id'][:12]} at {r['stage']}" for r in rows)
    return app.flash(response, request, f"kept {chosen[:12]}: {said}; the steward_decisions sensor re-runs batch {rows[0]['batch']}")


# -- helpers -------------------------------------------------------------------------------------
def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _local(path: str) -> str:
    """`path` when it stays on this site (a path, not //host or a scheme), else /."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def clock_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:05.2f}"


def when(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def metric(v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{int(v)}" if v.is_integer() else f"{v:.4g}"
    return str(v)


def sources(value: str | None) -> str:
    """A row's `source` (a JSON list of the files a sample came from, or one name) as text."""
    try:
        found = json.loads(value or "")
    except ValueError:
        return value or ""
    return ", ".join(map(str, found)) if isinstance(found, list) else str(found)


async def not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 Not Found", status_code=404)


def create_app(
    lake: LakeStore,
    folder: Path,
    *,
    params: Mapping[str, Any] | None = None,
    session_s: float = 8 * 3600,
    allowed_hosts: list[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The review app over `lake`; users and the signing secret live in `folder`. `params`: the
    pipeline's params.yaml (the sample page shows each operator's limits from it);
    `allowed_hosts`: Host headers answered (default: loopback names only — DNS rebinding)."""
    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", queue_page, methods=["GET"]),
        Route("/sample/{sample_id}", sample_page, methods=["GET"]),
        Route("/media/{sha}", media, methods=["GET", "HEAD"]),
        Route("/api/queue", queue_api, methods=["GET"]),
        Route("/api/sample/{sample_id}", sample_api, methods=["GET"]),
        Route("/api/decide", decide_api, methods=["POST"]),
        Route("/decide", decide, methods=["POST"]),
        Route("/bulk", bulk_page, methods=["GET"]),
        Route("/bulk", bulk, methods=["POST"]),
        Route("/keep", keep, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or list(LOOPBACK))]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})
    app.state.review = ReviewApp(lake, Path(folder), params or {}, session_s, clock)
    return app


def serve(lake: LakeStore, folder: Path, *, host: str = "127.0.0.1", port: int = 8080, params: Mapping[str, Any] | None = None, session_s: float = 8 * 3600) -> None:
    """Run the app with uvicorn until interrupted (users added meanwhile can log in at once)."""
    import uvicorn

    hosts = list(LOOPBACK) if host in LOOPBACK else ["*"]
    app = create_app(lake, folder, params=params, session_s=session_s, allowed_hosts=hosts)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
