"""The review app's server-side state, in one SQLite file under the steward's folder
(`sessions.sqlite`, mode 0600), shared by every worker process that serves the folder.

Sessions: one row per login, keyed by the SHA-256 of its random id (the cookie carries the id, so
the file alone opens no session), with the user, the user's generation at login and the expiry.
A session counts only while its row exists, has not expired, and its user still has that
generation: logout deletes the row; a password or role change, a removal or a re-add gives the
user a new generation (steward/users.py), which ends every older session of theirs at once.

Login throttle: a row per login attempt that has not succeeded, by account and address. An
attempt is counted before its password is checked, in the same IMMEDIATE transaction that read
the counts, so guesses sent at once (threads or processes) never check more passwords than the
limits allow. Limits per window: PAIR_FAILURES for one account from one address, ACCOUNT_FAILURES
for one account from anywhere, ADDRESS_FAILURES for one address over all accounts. An address's
ceiling is far above PAIR_FAILURES, so one account's failures can never lock out another account
(only failures spread over many accounts — password spraying — reach it).
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

WINDOW_S = 300.0
PAIR_FAILURES = 10
ACCOUNT_FAILURES = 30
ADDRESS_FAILURES = 100
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, generation TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);
CREATE TABLE IF NOT EXISTS login_failures (id INTEGER PRIMARY KEY, account TEXT NOT NULL, address TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_account ON login_failures(account, at);
CREATE INDEX IF NOT EXISTS failures_address ON login_failures(address, at);
"""


class Throttled(Exception):
    """Too many failed logins: try again in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Opened:
    user: str
    generation: str
    expires: float


class Store:
    """Sessions and login failures of one steward folder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "sessions.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._local = threading.local()
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db().executescript(SCHEMA)  # idempotent; executescript commits by itself

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:  # one connection per thread: sqlite3 connections are not shared across threads
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: it holds the write lock from its first read (across processes)."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- sessions ---------------------------------------------------------------------------
    def open(self, user: str, generation: str, now: float, ttl_s: float) -> str:
        """A new session of `user`; its id (for the cookie). Expired sessions are dropped."""
        sid = secrets.token_urlsafe(32)
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (_digest(sid), user, generation, now + ttl_s))
        return sid

    def get(self, sid: str, now: float) -> Opened | None:
        """The session `sid`, while it has not ended or expired."""
        row = self._db().execute("SELECT user, generation, expires FROM sessions WHERE id = ? AND expires > ?", (_digest(sid), now)).fetchone()
        return None if row is None else Opened(*row)

    def end(self, sid: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (_digest(sid),))

    def end_all(self, user: str) -> None:
        """End every session of `user` (their generation changing does too; this also frees the rows)."""
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE user = ?", (user,))

    # -- login throttle ---------------------------------------------------------------------
    def attempt(self, account: str, address: str, now: float) -> int:
        """Count a login attempt of `account` from `address` before its password is checked; its
        id (`succeeded` forgets it). Raises Throttled, counting nothing, when a limit is reached."""
        account, since = account[:128], now - WINDOW_S
        scopes = (
            ("account = ? AND address = ?", (account, address), PAIR_FAILURES, f"too many failed logins for {account!r} from {address}"),
            ("account = ?", (account,), ACCOUNT_FAILURES, f"too many failed logins for {account!r}"),
            ("address = ?", (address,), ADDRESS_FAILURES, f"too many failed logins from {address}"),
        )  # fmt: skip
        with self._tx() as db:
            db.execute("DELETE FROM login_failures WHERE at <= ?", (since,))
            for where, args, limit, said in scopes:
                (count,) = db.execute(f"SELECT count(*) FROM login_failures WHERE {where} AND at > ?", (*args, since)).fetchone()
                if count >= limit:  # one slot frees when the (count - limit + 1)-th oldest leaves the window
                    (oldest,) = db.execute(f"SELECT at FROM login_failures WHERE {where} AND at > ? ORDER BY at LIMIT 1 OFFSET ?", (*args, since, count - limit)).fetchone()
                    wait = max(1, math.ceil(oldest + WINDOW_S - now))
                    raise Throttled(f"{said}: try again in {_minutes(wait)}", wait)
            return int(db.execute("INSERT INTO login_failures (account, address, at) VALUES (?, ?, ?)", (account, address, now)).lastrowid)

    def succeeded(self, attempt: int, account: str, address: str) -> None:
        """The attempt's password was right: it and that account's earlier failures from that address are forgotten."""
        with self._tx() as db:
            db.execute("DELETE FROM login_failures WHERE id = ? OR (account = ? AND address = ?)", (attempt, account[:128], address))


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _minutes(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 90 else f"{math.ceil(seconds / 60)} minutes"
