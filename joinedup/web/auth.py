"""Local accounts, password checks, signed sessions, CSRF tokens and sign-in throttling.

Accounts live in the node's ``web.duckdb`` (table ``web__accounts``): a username is the id of an
actor registered in the governance layer (``joinedup govern``), and a password is kept only as an
argon2id hash (argon2-cffi defaults). The session is a cookie signed with a key derived from
the node's web secret: it carries a random session id and, once signed in, the username; it is
HttpOnly and SameSite=Strict. The CSRF token of a session is an HMAC of its session id under a
separate derived key, so a token is worthless in another session, and it is checked on every
POST by the one governance dependency (``joinedup.web.governance.require``).

Invariants: ``AccountPublic`` never carries the hash (``*Create`` in, ``*Public`` out); an unknown
username costs the same argon2 verification as a known one; a username or client address with
``signin_attempts`` failures inside ``signin_window_seconds`` is refused before any check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field

from joinedup.errors import UsageError
from joinedup.web.settings import WebSettings, derive_key, ensure_web_secret

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"
MIN_PASSWORD_LENGTH = 12
RESERVED_USERNAMES = frozenset({"local-operator", "anonymous-visitor"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web__accounts (
    username VARCHAR PRIMARY KEY,
    password_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
)
"""


class AccountCreate(BaseModel):
    """What is needed to give a registered actor a web sign-in (input shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


class AccountPublic(BaseModel):
    """An account as the rest of the app sees it: never the password hash (output shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str


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
        return duckdb.connect(str(self._path))

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
                "INSERT INTO web__accounts VALUES (?, ?, ?)",
                [account.username, password_hash, datetime.now(UTC).replace(tzinfo=None)],
            )
        return AccountPublic(username=account.username)

    def usernames(self) -> list[str]:
        with self._lock, self._connect() as con:
            rows = con.execute("SELECT username FROM web__accounts ORDER BY username").fetchall()
        return [str(row[0]) for row in rows]

    def authenticate(self, username: str, password: str) -> AccountPublic | None:
        """The account if the password is right, else None (same cost either way)."""
        with self._lock, self._connect() as con:
            row = con.execute(
                "SELECT password_hash FROM web__accounts WHERE username = ?", [username]
            ).fetchone()
        stored = self._dummy_hash if row is None else str(row[0])
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return None if row is None else AccountPublic(username=username)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One browser's session: a random id, and the username once signed in."""

    session_id: str
    username: str | None = None

    @classmethod
    def new(cls, username: str | None = None) -> Session:
        return cls(session_id=secrets.token_urlsafe(24), username=username)


class SessionCodec:
    """Signs and reads session cookies and computes each session's CSRF token."""

    COOKIE = "joinedup_session"

    def __init__(self, settings: WebSettings) -> None:
        secret = ensure_web_secret(settings.secret_path)
        self._serializer = URLSafeTimedSerializer(
            derive_key(secret, "session"), salt="joinedup-session-v1"
        )
        self._csrf_key = derive_key(secret, "csrf")
        self.max_age = settings.session_seconds
        self.secure = settings.secure_cookies

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps({"sid": session.session_id, "user": session.username})

    def loads(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None if absent, forged or expired."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            return None
        user = data.get("user")
        return Session(session_id=data["sid"], username=user if isinstance(user, str) else None)

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
