"""The data steward's review web app: a small ASGI app (Starlette, Jinja2 templates, plain HTML
and CSS, a little vanilla JS) over the same queue, stories and decisions as `tessera review`.

Every route but the app's own CSS/JS needs a session: pages answer an anonymous request with
the login page (303), media and API routes with 401. Sessions live on the server
(`steward.sessions`; the cookie, signed by `steward.auth`, carries only the session's id): logout,
a password change and a user's removal end them at once. Scripts send a user's API token instead
(`Authorization: Bearer`, on /api and /media only; `POST /api/decide` takes decisions as JSON and
only with a token). A state-changing request must come from this app's own pages: a foreign
Origin (or Referer, or a cross-site Sec-Fetch-Site) is refused with 403, and so is a form
without the session's CSRF token; cookies are SameSite=Strict, and Secure over https. Only a
`steward` may decide; each decision records who (the user) and client (the request's address).
The app only records decisions: the `steward_decisions` sensor re-runs the batches they touch.

The edge (`steward.edge`): Host is always checked; X-Forwarded-* count only from a trusted proxy;
bodies are capped while read (MAX_BODY, MAX_API_BODY: 413) and every field at MAX_FIELD
characters; a malformed number, Range, form or JSON body is a 400 with one line, never a 500.
Logins are throttled per account, per account and address, and per address (`steward.sessions`).
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
from urllib.parse import parse_qs, urlencode, urlsplit

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
from tessera.steward.auth import Session, Signer, load_secret, same
from tessera.steward.edge import BodyLimit, ForwardedBy, answered_hosts, networks, parse_json, whole_number
from tessera.steward.media import BadRange, RangeNotSatisfiable, byte_range, open_blob
from tessera.steward.sample import cluster, record_keep, view
from tessera.steward.sessions import Store, Throttled
from tessera.steward.users import User, Users

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
SESSION_COOKIE = "tessera_session"
LOGIN_COOKIE = "tessera_login"
FLASH_COOKIE = "tessera_flash"
MAX_BODY = 64 * 1024  # bytes of any request body but /api/decide's (a page's forms are a few kB)
MAX_API_BODY = 1 << 20  # /api/decide: up to MAX_SAMPLES samples
MAX_FIELD = 2000  # characters of any one form field or JSON string (a note, a relabel's text)
MAX_FIELDS = 500  # form fields in one post (a page ticks at most PAGE_SIZE entries)
MAX_SAMPLES = 1000  # samples in one /api/decide
MAX_PAGE = 1_000_000
DECIDE_KEYS = {"action", "samples", "note", "text"}
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
        self.store = Store(folder)
        self.signer = Signer(load_secret(folder))
        self.params = params
        self.session_s = session_s
        self.clock = clock
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters.update(short=lambda s: (s or "")[:12], clock=clock_time, when=when, num=lambda n: f"{n:,}", metric=metric, sources=sources)

    # -- sessions ---------------------------------------------------------------------------
    def session(self, request: Request) -> tuple[Session, User] | None:
        """The request's session and user, while the session is open and the user unchanged since login."""
        now = self.clock()
        sid = self.signer.session_id(request.cookies.get(SESSION_COOKIE), now)
        opened = self.store.get(sid, now) if sid is not None else None
        user = self.users.get(opened.user) if opened is not None else None
        if sid is None or opened is None or user is None or user.generation != opened.generation:
            return None
        return Session(user.name, opened.expires, sid), user

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
        """Refuse (403) a state-changing request sent from another site. This site is the scheme and
        Host the request came in on (a trusted proxy's X-Forwarded-Proto/-Host, steward.edge)."""
        own = _origin(f"{request.url.scheme}://{request.url.netloc}")
        origin = request.headers.get("origin")
        if origin is not None and _origin(origin) != own:
            raise Refused(403, f"cross-site request refused: Origin {origin[:200]} is not {own}")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise Refused(403, f"cross-site request refused (Sec-Fetch-Site: {site[:40]})")
        referer = request.headers.get("referer")
        if origin is None and referer is not None and _origin(referer) != own:
            raise Refused(403, "cross-site request refused: the Referer is another site")

    async def form(self, request: Request) -> dict[str, list[str]]:
        """The posted form (its size capped while read: steward.edge.BodyLimit), each field at most MAX_FIELD characters."""
        try:
            form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            raise Refused(413, f"the form has more than {MAX_FIELDS} fields") from None
        for key, values in form.items():
            if len(key) > MAX_FIELD or any(len(v) > MAX_FIELD for v in values):
                raise Refused(413, f"form field {key[:40]!r} is over {MAX_FIELD} characters")
        return form


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
        if cookie is None or not same(_one(form, "csrf"), app.signer.mac("login", str(cookie["n"]))):
            raise Refused(403, "the login form is missing its token or has expired; reload the page")
    except Refused as exc:
        return PlainTextResponse(f"{exc.status} {exc}", status_code=exc.status)
    client, now = _client(request), app.clock()
    name, password = _one(form, "user").strip(), _one(form, "password")
    try:  # counted before the password is checked: parallel guesses cannot outrun the count
        attempt = await run_in_threadpool(app.store.attempt, name, client, now)
    except Throttled as exc:
        refused = _login_form(request, app, str(exc), 429, _one(form, "next"))
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    user = await run_in_threadpool(app.users.check, name, password)
    if user is None:
        return _login_form(request, app, "wrong user name or password", 401, _one(form, "next"))
    await run_in_threadpool(app.store.succeeded, attempt, name, client)
    sid = await run_in_threadpool(app.store.open, user.name, user.generation, now, app.session_s)
    response = RedirectResponse(_local(_one(form, "next") or "/"), status_code=303)
    _cookie(response, request, SESSION_COOKIE, app.signer.session_cookie(sid, now + app.session_s), int(app.session_s))
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
    if auth is not None:  # the session ends on the server: a copy of the cookie opens nothing
        await run_in_threadpool(app.store.end, auth[0].nonce)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- the queue -----------------------------------------------------------------------------------
def _filter(params: Mapping[str, str]) -> queue.Filter:
    if any(len(params.get(k) or "") > MAX_FIELD for k in ("batch", "stage", "reason", "status")):
        raise Refused(400, f"a filter (batch, stage, reason, status) is over {MAX_FIELD} characters")
    try:
        return queue.Filter(
            batch=params.get("batch") or None, stage=params.get("stage") or None, reason=params.get("reason") or None,
            status=params.get("status") or "open",
        )  # fmt: skip
    except ValueError as exc:
        raise Refused(400, str(exc)) from None


def _number(params: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    try:
        return whole_number(params.get(key), key, default, lo, hi)
    except ValueError as exc:
        raise Refused(400, str(exc)) from None


def _filter_query(f: queue.Filter, **extra: Any) -> str:
    pairs = {"batch": f.batch or "", "stage": f.stage or "", "reason": f.reason or "", "status": f.status, **extra}
    return urlencode({k: v for k, v in pairs.items() if v not in ("", None)})


@page
async def queue_page(request: Request, app: ReviewApp, auth: tuple[Session, User]) -> Response:
    f = _filter(request.query_params)
    number = _number(request.query_params, "page", 1, 1, MAX_PAGE)
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
    limit = min(_number(request.query_params, "limit", PAGE_SIZE, 1, 10**9), 1000)
    offset = _number(request.query_params, "offset", 0, 0, 10**9)
    rows, total = await run_in_threadpool(queue.page, app.lake, f, limit, offset)
    return JSONResponse(_jsonable({"total": total, "offset": offset, "entries": rows}))


# -- one sample ----------------------------------------------------------------------------------
def _resolve(app: ReviewApp, sample_id: str) -> str:
    if len(sample_id) > 64:
        raise Refused(404, f"no sample {sample_id[:12]}…: a sample id is at most 64 hex digits")
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
    except BadRange as exc:
        blob.stream.close()
        raise Refused(400, str(exc)) from None
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
        body = parse_json(await request.body())
    except ValueError as exc:
        raise Refused(400, str(exc)) from None
    act, entries, note, text = _decision(body)
    try:
        rows = await run_in_threadpool(_decide, app, entries, act, auth[1].name, _client(request), note, text)
    except ValueError as exc:
        raise Refused(409, str(exc)) from None
    return JSONResponse(_jsonable({"decided": rows, "said": _said(rows, act)}))


def _decision(body: Any) -> tuple[Action, list[tuple[str, str | None, str | None]], str, str | None]:
    """(action, [(sample_id, batch, stage)], note, text) of an /api/decide body, every type and size checked."""
    shape = '{"action": "approve|reject|relabel", "samples": [{"sample_id": "…", "batch"?: "…", "stage"?: "…"}], "note"?: "…", "text"?: "…"}'
    if not isinstance(body, dict):
        raise Refused(400, f"the body must be a JSON object: {shape}")
    if unknown := sorted(set(body) - DECIDE_KEYS):
        raise Refused(400, f"unknown field {unknown[0][:40]!r}: {shape}")
    if body.get("action") not in [a.value for a in Action]:
        raise Refused(400, f"action must be one of {', '.join(a.value for a in Action)}")
    samples = body.get("samples")
    if not isinstance(samples, list) or not 1 <= len(samples) <= MAX_SAMPLES:
        raise Refused(400, f"samples must be a list of 1 to {MAX_SAMPLES} objects: {shape}")
    entries = []
    for i, e in enumerate(samples):
        if not isinstance(e, dict) or not isinstance(e.get("sample_id"), str) or not 8 <= len(e["sample_id"]) <= 64:
            raise Refused(400, f"samples[{i}] must be an object whose sample_id is a string of 8 to 64 characters")
        if any(e.get(k) is not None and (not isinstance(e[k], str) or len(e[k]) > MAX_FIELD) for k in ("batch", "stage")):
            raise Refused(400, f"samples[{i}]: batch and stage must be strings (of at most {MAX_FIELD} characters) when given")
        entries.append((e["sample_id"], e.get("batch") or None, e.get("stage") or None))
    for key in ("note", "text"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise Refused(400, f"{key} must be a string")
        if len(body.get(key) or "") > MAX_FIELD:
            raise Refused(413, f"{key} is {len(body[key])} characters; at most {MAX_FIELD}")
    act = Action(body["action"])
    text = body.get("text") if act is Action.RELABEL else None
    if act is Action.RELABEL and not (text or "").strip():
        raise Refused(400, "relabel needs the new text")
    return act, entries, body.get("note") or "", text


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
    """The client's address (a trusted proxy's X-Forwarded-For, steward.edge)."""
    return request.client.host if request.client else ""


def _origin(url: str) -> str:
    """scheme://host[:port] of `url`, lower-cased, a default port dropped (https://a:443 is https://a)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "invalid:"
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None and port != default else "")


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
    trusted_proxies: list[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The review app over `lake`; users, sessions and the signing secret live in `folder`.
    `params`: the pipeline's params.yaml (the sample page shows each operator's limits from it);
    `allowed_hosts`: Host headers answered (default: loopback names only — DNS rebinding);
    `trusted_proxies`: IPs or CIDRs of the proxies whose X-Forwarded-Proto/-For/-Host count."""
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
    middleware = [
        Middleware(SecurityHeaders), Middleware(ForwardedBy, trusted=networks(trusted_proxies)),
        Middleware(TrustedHostMiddleware, allowed_hosts=answered_hosts("127.0.0.1", allowed_hosts)),
        Middleware(BodyLimit, default=MAX_BODY, limits={"/api/decide": MAX_API_BODY}),
    ]  # fmt: skip
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})
    app.state.review = ReviewApp(lake, Path(folder), params or {}, session_s, clock)
    return app


def serve(
    lake: LakeStore, folder: Path, *, host: str = "127.0.0.1", port: int = 8080, params: Mapping[str, Any] | None = None, session_s: float = 8 * 3600,
    allowed_hosts: list[str] | None = None, trusted_proxies: list[str] | None = None,
) -> None:  # fmt: skip
    """Run the app with uvicorn until interrupted (users added meanwhile can log in at once).
    Beyond loopback, `allowed_hosts` must name the host names clients use (ValueError before
    anything starts otherwise, as for a malformed `trusted_proxies`)."""
    import uvicorn

    hosts = answered_hosts(host, allowed_hosts)
    app = create_app(lake, folder, params=params, session_s=session_s, allowed_hosts=hosts, trusted_proxies=trusted_proxies)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
