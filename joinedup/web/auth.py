"""Local accounts, password checks, server-side sessions, CSRF tokens and sign-in throttling.

Accounts live in the node's ``web.duckdb`` (table ``web__accounts``): a username is the id of an
actor registered in the governance layer (``joinedup govern``), and a password is kept only as an
argon2id hash (argon2-cffi defaults); ``joinedup actor password`` sets or resets one.

Sessions are server-side (``SessionStore``, table ``web__sessions`` in the same file): the
cookie holds only a random id (32 bytes from ``secrets``), HttpOnly, SameSite=Strict, Secure
behind TLS; the table keeps its SHA-256 (never the id itself), the username once signed in, and
the times that end it: ``expires_at`` (``session_seconds`` after the start, however busy) and
``last_seen_at`` (idle for ``idle_seconds`` and it ends). Signing out, or a password reset,
revokes the session on the server (``revoked_at``), so a copied cookie is worthless after it.
The CSRF token of a session is an HMAC of its id under a key derived from the node's web
secret, so a token is worthless in another session; it is checked on every POST by the one
governance dependency (``joinedup.web.governance.require``).

Invariants: ``AccountPublic`` never carries the hash (``*Create`` in, ``*Public`` out); an unknown
username costs the same argon2 verification as a known one; a username or client address with
``signin_attempts`` failures inside ``signin_window_seconds`` is refused before any check; an
expired, idle, revoked or unknown session id is never resumed: the visitor gets a new anonymous
session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field

from joinedup.errors import UsageError
from joinedup.web import mfa
from joinedup.web.settings import WebSettings, derive_key, ensure_web_secret

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"
MIN_PASSWORD_LENGTH = 12
RESERVED_USERNAMES = frozenset({"local-operator", "anonymous-visitor"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web__accounts (
    username VARCHAR PRIMARY KEY,
    password_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
ALTER TABLE web__accounts ADD COLUMN IF NOT EXISTS totp_secret VARCHAR;
ALTER TABLE web__accounts ADD COLUMN IF NOT EXISTS totp_last_step BIGINT;
CREATE TABLE IF NOT EXISTS web__sessions (
    session_hash VARCHAR PRIMARY KEY,
    username VARCHAR,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_why VARCHAR
);
"""
CONNECT_WAIT_SECONDS = 10.0


def connect_web_database(path: Path) -> duckdb.DuckDBPyConnection:
    """``web.duckdb``, waiting a moment if another process (the CLI, the server) holds it."""
    deadline = time.monotonic() + CONNECT_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class AccountCreate(BaseModel):
    """What is needed to give a registered actor a web sign-in (input shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


class AccountPublic(BaseModel):
    """An account as the rest of the app sees it: never the password hash (output shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    has_second_factor: bool = False


class AccountStore:
    """The ``web__accounts`` table of one node's ``web.duckdb``: usernames are actor ids.

    Who an account is (name, role, organisation) is the governance register's business
    (``govern__actors``); this table holds only the credential.
    """

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self._path = path
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(_SCHEMA)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return connect_web_database(self._path)

    def create(self, account: AccountCreate) -> AccountPublic:
        """Add a sign-in; UsageError if the username is taken or reserved."""
        if account.username in RESERVED_USERNAMES:
            raise UsageError(f"{account.username!r} cannot sign in on the web; choose another")
        password_hash = self._hasher.hash(account.password)
        with self._lock, self._connect() as con:
            taken = con.execute(
                "SELECT count(*) FROM web__accounts WHERE username = ?", [account.username]
            ).fetchone()
            if taken is not None and taken[0]:
                raise UsageError(f"an account named {account.username!r} exists already")
            con.execute(
                "INSERT INTO web__accounts (username, password_hash, created_at) VALUES (?, ?, ?)",
                [account.username, password_hash, datetime.now(UTC).replace(tzinfo=None)],
            )
        return AccountPublic(username=account.username)

    def set_password(self, account: AccountCreate) -> bool:
        """Set the account's password, creating the account if need be; True if it was new.
        The caller revokes the account's sessions (``SessionStore.revoke_user``)."""
        if account.username in RESERVED_USERNAMES:
            raise UsageError(f"{account.username!r} cannot sign in on the web; choose another")
        password_hash = self._hasher.hash(account.password)
        with self._lock, self._connect() as con:
            updated = con.execute(
                "UPDATE web__accounts SET password_hash = ? WHERE username = ? RETURNING username",
                [password_hash, account.username],
            ).fetchall()
            if updated:
                return False
            con.execute(
                "INSERT INTO web__accounts (username, password_hash, created_at) VALUES (?, ?, ?)",
                [account.username, password_hash, _utcnow()],
            )
        return True

    def usernames(self) -> list[str]:
        with self._lock, self._connect() as con:
            rows = con.execute("SELECT username FROM web__accounts ORDER BY username").fetchall()
        return [str(row[0]) for row in rows]

    def authenticate(self, username: str, password: str) -> AccountPublic | None:
        """The account if the password is right, else None (same cost either way)."""
        with self._lock, self._connect() as con:
            row = con.execute(
                "SELECT password_hash, totp_secret IS NOT NULL FROM web__accounts "
                "WHERE username = ?",
                [username],
            ).fetchone()
        stored = self._dummy_hash if row is None else str(row[0])
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        return AccountPublic(username=username, has_second_factor=bool(row[1]))

    def enrol_second_factor(self, username: str) -> str:
        """A new TOTP secret for the account (replacing any before); UsageError if no account."""
        secret = mfa.new_secret()
        with self._lock, self._connect() as con:
            updated = con.execute(
                "UPDATE web__accounts SET totp_secret = ?, totp_last_step = NULL "
                "WHERE username = ? RETURNING username",
                [secret, username],
            ).fetchall()
        if not updated:
            raise UsageError(
                f"{username} has no web sign-in yet: set a password first (joinedup actor password)"
            )
        return secret

    def check_second_factor(self, username: str, code: str, now: datetime) -> bool:
        """Whether ``code`` is the account's current one-time code (never the same one twice)."""
        with self._lock, self._connect() as con:
            row = con.execute(
                "SELECT totp_secret, totp_last_step FROM web__accounts WHERE username = ?",
                [username],
            ).fetchone()
            if row is None or row[0] is None:
                return False
            last = None if row[1] is None else int(row[1])
            step = mfa.matching_step(str(row[0]), code, now, last)
            if step is None:
                return False
            con.execute(
                "UPDATE web__accounts SET totp_last_step = ? WHERE username = ?", [step, username]
            )
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One browser's session: its random id (the cookie's value), and the username once
    signed in. Made and resumed only by ``SessionStore``."""

    session_id: str
    username: str | None = None


def _hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """The ``web__sessions`` table of one node's ``web.duckdb``: server-side sessions.

    ``clock`` gives the time (naive UTC); tests pass their own to step past an idle timeout
    without waiting.
    """

    def __init__(
        self,
        path: Path,
        *,
        lifetime_seconds: int,
        idle_seconds: int,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._path = path
        self.lifetime = timedelta(seconds=lifetime_seconds)
        self.idle = timedelta(seconds=idle_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._purged_at: datetime | None = None
        with self._connect() as con:
            con.execute(_SCHEMA)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return connect_web_database(self._path)

    def start(self, username: str | None = None) -> Session:
        """A new session (anonymous, or signed in as ``username``)."""
        session = Session(session_id=secrets.token_urlsafe(32), username=username)
        now = self._clock()
        with self._lock, self._connect() as con:
            con.execute(
                "INSERT INTO web__sessions VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                [_hash_id(session.session_id), username, now, now, now + self.lifetime],
            )
            if self._purged_at is None or now - self._purged_at > timedelta(minutes=1):
                # ended sessions are kept a day (for a look at what happened), then dropped
                con.execute(
                    "DELETE FROM web__sessions WHERE expires_at < ? OR last_seen_at < ? "
                    "OR revoked_at < ?",
                    [
                        now - timedelta(days=1),
                        now - self.idle - timedelta(days=1),
                        now - timedelta(days=1),
                    ],
                )
                self._purged_at = now
        return session

    def resume(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle clock restarted), else None."""
        if not session_id or len(session_id) > 200:
            return None
        now = self._clock()
        with self._lock, self._connect() as con:
            row = con.execute(
                "UPDATE web__sessions SET last_seen_at = ? WHERE session_hash = ? "
                "AND revoked_at IS NULL AND expires_at > ? AND last_seen_at > ? "
                "RETURNING username",
                [now, _hash_id(session_id), now, now - self.idle],
            ).fetchone()
        if row is None:
            return None
        return Session(session_id=session_id, username=None if row[0] is None else str(row[0]))

    def revoke(self, session: Session, why: str) -> None:
        with self._lock, self._connect() as con:
            con.execute(
                "UPDATE web__sessions SET revoked_at = ?, revoked_why = ? "
                "WHERE session_hash = ? AND revoked_at IS NULL",
                [self._clock(), why, _hash_id(session.session_id)],
            )

    def revoke_user(self, username: str, why: str) -> int:
        """End every live session of ``username``; how many there were."""
        with self._lock, self._connect() as con:
            rows = con.execute(
                "UPDATE web__sessions SET revoked_at = ?, revoked_why = ? "
                "WHERE username = ? AND revoked_at IS NULL RETURNING session_hash",
                [self._clock(), why, username],
            ).fetchall()
        return len(rows)


class SessionCodec:
    """The session cookie's attributes and each session's CSRF token."""

    COOKIE = "joinedup_session"

    def __init__(self, settings: WebSettings) -> None:
        secret = ensure_web_secret(settings.secret_path)
        self._csrf_key = derive_key(secret, "csrf")
        self.max_age = settings.session_seconds
        self.secure = settings.secure_cookies

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.session_id.encode(), hashlib.sha256).hexdigest()

    def is_valid_csrf(self, session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf_token(session), token)


class SigninThrottle:
    """Counts failed sign-ins per key (username, client address) in a sliding window."""

    def __init__(self, *, attempts: int, window_seconds: int) -> None:
        self._attempts = attempts
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self._window:
            failures.popleft()
        return failures

    def is_blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= self._attempts for key in keys)

    def record_failure(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def clear(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
