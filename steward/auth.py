"""Sessions and request forgery protection for the review app.

A session cookie is signed (HMAC-SHA256 with a secret kept under the steward's folder, made on
first run) and holds the session's random id and its expiry; the session itself lives on the
server (steward/sessions.py), so logout, a password change and a user's removal end it at once.
The per-session CSRF token is an HMAC of the session id: every state-changing form carries it.
Cookies are HttpOnly and SameSite=Strict. Every comparison of something a client sent is over
bytes (a non-ASCII value is simply wrong, never an error).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def load_secret(folder: Path) -> bytes:
    """The signing secret under `folder` (32 random bytes, mode 0600), created on first use."""
    path = Path(folder) / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 32:
            raise ValueError(f"{path} holds {len(secret)} bytes, not a 32-byte secret; delete it to make a new one (every session ends)") from None
        return secret
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    expires: float
    nonce: str
    by_token: bool = False  # a script's bearer token: this request only, no cookie, no forms


class Signer:
    """Signs and checks small JSON payloads (`<base64 json>.<base64 mac>`), each under a purpose."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def mac(self, purpose: str, data: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}\0{data}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        data = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{data}.{self.mac(purpose, data)}"

    def unsign(self, purpose: str, value: str | None, now: float) -> dict[str, Any] | None:
        """The payload, when `value` carries a valid signature for `purpose` and has not expired (`exp`)."""
        if not value or value.count(".") != 1:
            return None
        data, mac = value.split(".")
        if not same(mac, self.mac(purpose, data)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        except ValueError:
            return None
        if not isinstance(payload, dict) or float(payload.get("exp", 0)) <= now:
            return None
        return payload

    # sessions
    def session_cookie(self, sid: str, expires: float) -> str:
        return self.sign("session", {"s": sid, "exp": expires})

    def session_id(self, cookie: str | None, now: float) -> str | None:
        """The session id a valid, unexpired cookie carries (the session itself may have ended)."""
        p = self.unsign("session", cookie, now)
        return None if p is None or not isinstance(p.get("s"), str) else p["s"]

    def csrf(self, nonce: str) -> str:
        return self.mac("csrf", nonce)

    def csrf_ok(self, nonce: str, token: str | None) -> bool:
        return bool(token) and same(str(token), self.csrf(nonce))


def same(given: str, expected: str) -> bool:
    """`given` (from a client) equals `expected`, compared in constant time over bytes."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())
