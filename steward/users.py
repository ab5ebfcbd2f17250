"""The review app's users: a name, a role and a salted scrypt hash of a password, in one JSON file
under the steward's folder (`$TESSERA_HOME/steward/users.json`, mode 0600).

Roles: `steward` may decide (approve, reject, relabel); `viewer` reads only. A user may also hold
API tokens (for scripts: `Authorization: Bearer <token>` on the app's /api and /media routes),
kept as SHA-256 digests under a label; a token is shown once, when made. The file is read
again whenever it changes, so a user added, changed or removed while the app runs counts at
once, on sessions already open too. Writes replace the file atomically.

Each user record holds a random `generation`, drawn anew by every `add` (a new password or role,
or a re-add after a removal): a session opened under another generation no longer counts
(steward/sessions.py), so none of those changes can leave an old cookie working.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROLES = ("steward", "viewer")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
# scrypt at n=2**14, r=8 (16 MiB, ~50 ms here): slow enough to make guessing costly, fast enough to log in
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
TOKEN_PREFIX = "tst_"  # 256 random bits follow: a fast digest is enough to store them


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    generation: str = ""  # the record's generation (sessions opened under another one have ended)

    @property
    def may_decide(self) -> bool:
        return self.role == "steward"


def hash_password(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=32)


class Users:
    """The users of one steward folder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "users.json"
        self._cache: tuple[float, dict[str, Any]] | None = None

    def _read(self) -> dict[str, Any]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache is None or self._cache[0] != mtime:
            self._cache = (mtime, json.loads(self.path.read_text(encoding="utf-8")))
        return self._cache[1]

    def _write(self, users: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(users, fh, indent=1, sort_keys=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache = None

    def add(self, name: str, role: str, password: str) -> User:
        """Add `name` (or replace its role and password)."""
        if not NAME.match(name):
            raise ValueError(f"user name {name!r} must be 1-64 of letters, digits, '.', '_', '@', '-' and start with a letter or digit")
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password of {name} is too short: give at least {MIN_PASSWORD} characters")
        salt = secrets.token_bytes(16)
        users = dict(self._read())
        users[name] = {
            "role": role, "salt": salt.hex(), "scrypt": SCRYPT, "hash": hash_password(password, salt, **SCRYPT).hex(),
            "changed_at": datetime.now(UTC).isoformat(timespec="seconds"), "generation": secrets.token_hex(16),
        }  # fmt: skip
        self._write(users)
        return _user(name, users[name])

    def remove(self, name: str) -> None:
        users = dict(self._read())
        if name not in users:
            raise KeyError(f"no user {name!r}; `tessera steward user list` shows who there is")
        del users[name]
        self._write(users)

    def list(self) -> list[User]:
        return [_user(n, u) for n, u in sorted(self._read().items())]

    def get(self, name: str) -> User | None:
        u = self._read().get(name)
        return None if u is None else _user(name, u)

    def add_token(self, name: str, label: str) -> str:
        """A new API token of `name` under `label` (replacing one of that label); shown only now."""
        users = dict(self._read())
        if name not in users:
            raise KeyError(f"no user {name!r}; add them first with `tessera steward user add {name} --role ...`")
        if not NAME.match(label):
            raise ValueError(f"token label {label!r} must be 1-64 of letters, digits, '.', '_', '@', '-'")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        tokens = {k: v for k, v in users[name].get("tokens", {}).items() if v["label"] != label}
        tokens[_digest(token)] = {"label": label, "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        users[name] = {**users[name], "tokens": tokens}
        self._write(users)
        return token

    def revoke_token(self, name: str, label: str) -> None:
        users = dict(self._read())
        tokens = users.get(name, {}).get("tokens", {})
        kept = {k: v for k, v in tokens.items() if v["label"] != label}
        if len(kept) == len(tokens):
            raise KeyError(f"{name!r} holds no token labelled {label!r}; `tessera steward token list` shows them")
        users[name] = {**users[name], "tokens": kept}
        self._write(users)

    def tokens(self) -> list[tuple[str, str, str]]:
        """(user, label, created_at) of every token."""
        return sorted((n, t["label"], t["created_at"]) for n, u in self._read().items() for t in u.get("tokens", {}).values())

    def by_token(self, token: str) -> User | None:
        """The user holding `token` (looked up by its digest: nothing secret is compared)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = _digest(token)
        return next((_user(n, u) for n, u in self._read().items() if digest in u.get("tokens", {})), None)

    def check(self, name: str, password: str) -> User | None:
        """The user, when `password` is theirs. An unknown name costs the same hash (no timing hint)."""
        u = self._read().get(name)
        salt = bytes.fromhex(u["salt"]) if u else b"\0" * 16
        got = hash_password(password, salt, **(u["scrypt"] if u else SCRYPT))
        if u is None or not hmac.compare_digest(got, bytes.fromhex(u["hash"])):
            return None
        return _user(name, u)


def _user(name: str, record: dict[str, Any]) -> User:
    # a record written before generations existed: its salt, which every add draws anew, serves as one
    return User(name, record["role"], str(record.get("generation") or record["salt"]))


def new_token() -> str:
    """A generated password (shown once), for a user who should not pick one."""
    return secrets.token_urlsafe(24)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
