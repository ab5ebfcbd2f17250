"""The HTTP edge the listeners here share (the review app, `tessera serve`): which Host names a
listener answers, which TCP peers may speak for a client through X-Forwarded-*, request bodies
capped while they are read, and numbers and JSON from a request parsed into a one-line 400.

Invariants:
- A listener always checks Host (DNS rebinding): loopback names when it binds loopback, and
  beyond loopback only the names it was given; it refuses to start without them.
- X-Forwarded-Proto, -For and -Host count only when the TCP peer is a trusted proxy; from any
  other peer they are ignored (a client cannot claim https, another address or another name).
- No body is kept past its limit: a declared Content-Length over it is refused before a byte is
  read, a streamed body at the first chunk that passes it (413 either way).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
HOST_NAME = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$")
DIGITS_MAX = 18  # any count, offset or byte position here fits in 18 digits (< 2**63)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps a listener on this machine."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def answered_hosts(bind: str, allowed: Sequence[str] | None) -> list[str]:
    """The Host names a listener bound to `bind` answers: `allowed`, else the loopback names; a
    listener beyond loopback needs them named (any web page can point a name at this address)."""
    named = [h.strip() for h in allowed or [] if h.strip()]
    if "*" in named:
        raise ValueError("--allowed-host '*' answers any name (DNS rebinding): name the host names clients use")
    if not named and not is_loopback(bind):
        raise ValueError(f"--host {bind} listens beyond this machine: name the host names clients use with --allowed-host (e.g. --allowed-host review.example.org)")
    return named or list(LOOPBACK)


def networks(addresses: Sequence[str] | None) -> list[Network]:
    """`--trusted-proxy` values (IP addresses or CIDRs) as networks."""
    out = []
    for a in addresses or []:
        try:
            out.append(ipaddress.ip_network(a.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {a!r} is not an IP address or CIDR (e.g. 10.0.0.5 or 10.0.0.0/8)") from None
    return out


def _within(address: str, nets: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in n for n in nets)


def forwarded_client(chain: str, nets: Sequence[Network]) -> str | None:
    """The client an X-Forwarded-For chain names: the rightmost address that is not a trusted proxy
    (the ones left of it were written by the client itself), or the leftmost when all are; None
    when an entry is not an IP address."""
    hops = [h.strip() for h in chain.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, nets):
            try:
                return str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError:
                return None
    return hops[0] if hops else None


def _last(value: str | None) -> str:
    return (value or "").split(",")[-1].strip()


class ForwardedBy:
    """Takes the scheme, client address and Host from X-Forwarded-Proto/-For/-Host when, and only
    when, the TCP peer is one of the trusted proxies (a proxy appends: the last value is its own)."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app, self.trusted = app, list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = (scope.get("client") or ("", 0))[0]
        if scope["type"] == "http" and self.trusted and _within(peer, self.trusted):
            scope = dict(scope)
            headers = Headers(scope=scope)
            proto = _last(headers.get("x-forwarded-proto")).lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            client = forwarded_client(headers.get("x-forwarded-for", ""), self.trusted) if "x-forwarded-for" in headers else None
            if client:
                scope["client"] = (client, 0)
            host = _last(headers.get("x-forwarded-host"))
            if host and HOST_NAME.match(host):
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host.encode("latin-1"))]
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    """A request body passed its limit while being read."""


class BodyLimit:
    """Caps every request body while it is read: `limits` maps a path to its cap, any other path
    gets `default` bytes. Past the cap: 413, and nothing more of the body is read."""

    def __init__(self, app: ASGIApp, default: int, limits: Mapping[str, int] | None = None) -> None:
        self.app, self.default, self.limits = app, default, dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit() and len(declared) <= DIGITS_MAX):
            await PlainTextResponse("400 Content-Length is not a number", status_code=400)(scope, receive, send)
            return
        if declared is not None and int(declared) > limit:
            await _too_large(int(declared), limit)(scope, receive, send)
            return
        seen, started = 0, False

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped, watched)
        except BodyTooLarge:
            if started:  # too late for a status: the connection just ends
                return
            await _too_large(None, limit)(scope, receive, send)


def _too_large(size: int | None, limit: int) -> PlainTextResponse:
    said = f"the body is {size} bytes" if size is not None else "the body passed"
    return PlainTextResponse(f"413 {said}; this route takes at most {limit} bytes", status_code=413, headers={"Connection": "close"})


def whole_number(text: str | None, what: str, default: int, lo: int, hi: int) -> int:
    """`text` as a whole number from `lo` to `hi` (`default` when absent); ValueError with one line
    otherwise (never the digits themselves: a request may send thousands)."""
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(hi)) and lo <= int(text) <= hi):
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}")
    return int(text)


def parse_json(raw: bytes) -> Any:
    """A request's JSON body; ValueError with one line when it is not UTF-8 JSON or nests too deep."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    except RecursionError:
        raise ValueError("the JSON nests too deep") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON ({exc.msg} at character {exc.pos})") from None
