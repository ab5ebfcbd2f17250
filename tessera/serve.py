"""`tessera serve`: one long-lived process holding the query encoders warm and `samples` open,
answering searches in milliseconds.

    POST /api/search   {"query": "a rocket", "k": 10, "modality": null, "like": null,
                        "release": null, "variants": false}      → {"hits": [...], "took_ms": …}
                       or {"image": "<base64>"} / {"audio": "<base64>"} instead of "query"
    GET  /api/preview/{sample_id}                                 → a JPEG of its picture or first keyframe
    GET  /api/status?batch=NAME&release=NAME                      → {"batches": [...]}: `tessera status`
    GET  /api/health                                              → {"ok": true}

Each hit is what `tessera search` prints (`sample_id`, `score`, `by`, `segment` with its times …)
plus `preview`, the URL of its picture when it has one. With `--watch` (`watch=`) the process also
lands each complete drop under the landing root (orchestration/stream.py), and reads what it
landed at once.

Invariants (the rules every listener here keeps):
- Binds 127.0.0.1 unless told otherwise, and answers only requests addressed to the names it
  serves (`allowed_hosts`; loopback names by default): a DNS-rebinding page gets a 400.
- Every route but /api/health needs a user's API token (`Authorization: Bearer`), from the
  steward app's store (`tessera steward token add|revoke`): a revoked token fails on its next use.
- Bodies are read in chunks and refused past `max_body_bytes` (413) before they are kept whole;
  malformed input is a 400 with one line, never a 500.
- Reads see the newest committed `samples` at most `refresh_s` after its commit; a `release` is
  read at its tag.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import threading
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tessera.api import Tessera
from tessera.steward.edge import LOOPBACK, answered_hosts

QUERY_KEYS = {"query", "image", "audio", "k", "modality", "like", "release", "variants"}
MAX_K = 1000


class Refused(Exception):
    """A request answered with `status` and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Searcher:
    """The warm half: params, query encoders and open versions of `samples`, shared by requests."""

    def __init__(self, handle: Tessera, refresh_s: float = 1.0) -> None:
        from tessera.resources.search import QueryModels, SearchParams

        self.handle, self.refresh_s = handle, refresh_s
        params = handle.params()
        self.models, self.params = QueryModels.from_params(params), SearchParams.from_params(params)
        self._all_params = params
        self._lock = threading.Lock()
        self._latest: tuple[float, Any] | None = None
        self._releases: dict[str, Any] = {}
        self._media: dict[str, Any] = {}

    def warm(self) -> dict[str, Any]:
        """Export the text model to ONNX (once per weights revision), load it and open `samples`
        now, not on the first query."""
        from tessera.orchestration.books import warm as warm_books
        from tessera.resources.model_sources import export_text_encoder

        if self.models.sources.get("text"):
            export_text_encoder(self.models.sources["text"])
        enc = self.models.encoder("text")
        if enc is not None:
            enc.encode(["warm"])
        try:
            version: int | None = int(self.samples(None).version)
        except ValueError:  # nothing landed yet (a stream host starting on a new lake): searches say so until then
            version = None
        warm_books()  # GET /api/status reads check verdicts from the Dagster instance
        return {"samples_version": version, "text_model": getattr(enc, "model_id", None), "text_encoder": type(enc).__name__}

    def samples(self, release: str | None) -> Any:
        return self.tables(release)[0]

    def refresh(self) -> None:
        """Read the latest tables at the next query (a batch just landed)."""
        with self._lock:
            self._latest = None

    def tables(self, release: str | None) -> tuple[Any, Any | None]:
        """`samples` and `segments` of `release` (or the latest, re-opened at most every `refresh_s`)."""
        from tessera.resources.search import samples_at, segments_at

        release = release or self.handle.release
        if release:
            if release not in self._releases:  # a tag never moves
                self._releases[release] = (samples_at(self.handle.lake, release), segments_at(self.handle.lake, release))
            return self._releases[release]
        now = time.monotonic()
        with self._lock:
            if self._latest is None or now - self._latest[0] > self.refresh_s:
                self._latest = (now, (samples_at(self.handle.lake, None), segments_at(self.handle.lake, None)))
            return self._latest[1]

    def media_encoder(self, modality: str) -> Any:
        """CLIP's picture tower or CLAP's sound tower, for a query made of media."""
        if modality not in self._media:
            from tessera.resources.models import ModelsResource

            models = ModelsResource.from_params(self._all_params).load((modality,))
            self._media[modality] = models.encoder(modality) or models.why(modality)
        enc = self._media[modality]
        if isinstance(enc, str):
            raise Refused(400, f"this server has no {modality} encoder ({enc}); query with text")
        return enc

    def search(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        from tessera.resources.search import search

        release = body.get("release")
        ds, segments = self.tables(release)
        vectors = None
        for modality in ("image", "audio"):
            if body.get(modality) is not None:
                data = _bytes(body[modality], modality)
                vectors = {modality: self.media_encoder(modality).encode([data])[0]}
        return search(
            self.handle.lake, self.models, body.get("query") or "", k=body.get("k"), modality=body.get("modality"), like=body.get("like"),
            variants=bool(body.get("variants")), release=release, params=self.params, dataset=ds, segments=segments, vectors=vectors,
        )  # fmt: skip


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise Refused(400, f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, f"{what} is not valid base64") from None


def check_query(body: Any) -> dict[str, Any]:
    """The search body, its types checked: a 400 names the first thing wrong."""
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    if unknown := sorted(set(body) - QUERY_KEYS):
        raise Refused(400, f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(QUERY_KEYS))})")
    for key in ("query", "modality", "like", "release"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise Refused(400, f"{key} must be a string")
    k = body.get("k")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
        raise Refused(400, f"k must be a whole number from 1 to {MAX_K}")
    if body.get("variants") is not None and not isinstance(body["variants"], bool):
        raise Refused(400, "variants must be true or false")
    given = [key for key in ("query", "image", "audio", "like") if body.get(key)]
    if len(given) != 1:
        raise Refused(400, "give exactly one of query, image, audio or like")
    return body


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (a declared length above it is
    refused before a byte is read)."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or len(declared) > 18):
        raise Refused(400, "Content-Length is not a number")
    if declared and int(declared) > limit:
        raise Refused(413, f"the body is {int(declared)} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(handle: Tessera, steward_folder: Path, *, allowed_hosts: list[str] | None = None, max_body_bytes: int = 16 << 20,
               refresh_s: float = 1.0, warm: bool = True, watch: tuple[str, str, float] | None = None) -> Starlette:  # fmt: skip
    """The app; with `watch` (landing root, ready marker, seconds between looks) it also runs the
    stream path (orchestration/stream.py) while it serves, and a drop it lands is searchable at once."""
    from starlette.concurrency import run_in_threadpool

    from tessera.steward.users import Users

    users, searcher = Users(steward_folder), Searcher(handle, refresh_s)
    state = searcher.warm() if warm else {}
    stream = None
    if watch is not None:
        from tessera.orchestration.stream import Stream

        stream = Stream(handle.lake, *watch, landed=lambda _: searcher.refresh())

    def authed(request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = users.by_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if user is None:
            raise Refused(401, "send a user's API token: Authorization: Bearer <token> (`tessera steward token add NAME LABEL`)")
        return user.name

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def api_search(request: Request) -> Response:
        authed(request)
        started = time.perf_counter()
        raw = await read_body(request, max_body_bytes)
        try:
            body = check_query(json.loads(raw or b"null"))
        except (ValueError, RecursionError):
            raise Refused(400, "the body is not JSON") from None
        try:
            hits = await run_in_threadpool(searcher.search, body)
        except KeyError as exc:
            raise Refused(404, str(exc.args[0])) from None
        except ValueError as exc:
            raise Refused(400, str(exc).splitlines()[0]) from None
        for h in hits:
            if {"image", "video"} & set(h.get("modalities") or []):
                h["preview"] = f"/api/preview/{h['sample_id']}" + (f"?release={body['release']}" if body.get("release") else "")
        return JSONResponse({"hits": hits, "took_ms": round((time.perf_counter() - started) * 1000, 2), **state})

    async def status(request: Request) -> Response:
        """The books of one batch (or all), as `tessera status` prints them, from this warm process."""
        from tessera.orchestration.books import books
        from tessera.resources.releases import check_name
        from tessera.resources.store import check_batch_name

        authed(request)
        started = time.perf_counter()
        batch, release = request.query_params.get("batch") or None, request.query_params.get("release") or None
        try:
            _ = batch and check_batch_name(batch), release and check_name(release)
            payload = await run_in_threadpool(books, handle.lake, batch, release or handle.release)
        except KeyError as exc:
            raise Refused(404, str(exc.args[0])) from None
        except ValueError as exc:
            raise Refused(400, str(exc).splitlines()[0]) from None
        return JSONResponse({"batches": payload, "took_ms": round((time.perf_counter() - started) * 1000, 2)})

    async def preview(request: Request) -> Response:
        authed(request)
        sid = request.path_params["sample_id"]
        if not (len(sid) == 64 and all(c in "0123456789abcdef" for c in sid)):
            raise Refused(400, "a sample id is 64 hex digits")
        release = request.query_params.get("release")
        data = await run_in_threadpool(_thumbnail, searcher, sid, release)
        if data is None:
            raise Refused(404, f"sample {sid[:12]} has no picture here")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        headers = {"WWW-Authenticate": 'Bearer realm="tessera"'} if exc.status == 401 else None
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)

    routes = [Route("/api/health", health), Route("/api/search", api_search, methods=["POST"]), Route("/api/status", status),
              Route("/api/preview/{sample_id}", preview)]  # fmt: skip
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or list(LOOPBACK))]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if stream is not None:
            stream.start()
        try:
            yield
        finally:
            if stream is not None:
                stream.stop()

    return Starlette(routes=routes, middleware=middleware, exception_handlers={Refused: refused}, lifespan=lifespan)


def _thumbnail(searcher: Searcher, sid: str, release: str | None, side: int = 256) -> bytes | None:
    from PIL import Image

    from tessera.resources.store import _quote

    ds = searcher.samples(release)
    rows = ds.to_table(columns=["media_image", "keyframes"], filter=f"sample_id = {_quote(sid)} AND status = 'landed'", limit=1).to_pylist()
    ref = (rows[0]["media_image"] or next(iter(rows[0]["keyframes"] or []), None)) if rows else None
    data = searcher.handle.lake.read_blobs([ref]).get(ref) if ref else None
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (side, side))
        im = im.convert("RGB")
        im.thumbnail((side, side))
        out = io.BytesIO()
        im.save(out, format="JPEG", quality=85)
    return out.getvalue()


def serve(handle: Tessera, steward_folder: Path, *, host: str = "127.0.0.1", port: int = 8765, allowed_hosts: list[str] | None = None,
          max_body_bytes: int = 16 << 20, refresh_s: float = 1.0, watch: tuple[str, str, float] | None = None) -> None:  # fmt: skip
    """Run until interrupted. Beyond loopback, `allowed_hosts` must name the host names clients use."""
    import uvicorn

    app = create_app(handle, steward_folder, allowed_hosts=answered_hosts(host, allowed_hosts), max_body_bytes=max_body_bytes, refresh_s=refresh_s,
                     watch=watch)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
