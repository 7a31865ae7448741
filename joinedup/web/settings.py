"""Web settings: built once from a node's settings at the entry point, frozen, passed down.

The web app keeps two files of its own in the node folder: ``web-secret.key`` (32 random bytes,
mode 0600, from which the CSRF key is derived; separate from the node's
pseudonymisation key so that rotating one never touches the other) and ``web.duckdb`` (local
accounts and server-side sessions). Neither holds a child's data.

Invariants: the secret file is created once and never overwritten; its keys are derived with
HMAC-SHA256 under distinct labels, so a key for one use says nothing of another.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from joinedup.config import NodeSettings
from joinedup.errors import ConfigError

WEB_SECRET_FILE = "web-secret.key"
WEB_DATABASE_FILE = "web.duckdb"
SECRET_BYTES = 32
DEFAULT_SESSION_SECONDS = 8 * 3600  # a session ends this long after sign-in, however busy
DEFAULT_IDLE_SECONDS = 30 * 60  # ... or after this long without a request
DEFAULT_SIGNIN_ATTEMPTS = 5
DEFAULT_SIGNIN_WINDOW_SECONDS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """Everything the web app needs to know, decided before it starts."""

    node: NodeSettings
    secret_path: Path
    database_path: Path
    secure_cookies: bool = False
    session_seconds: int = DEFAULT_SESSION_SECONDS
    idle_seconds: int = DEFAULT_IDLE_SECONDS
    signin_attempts: int = DEFAULT_SIGNIN_ATTEMPTS
    signin_window_seconds: int = DEFAULT_SIGNIN_WINDOW_SECONDS
    # every sign-in needs a one-time code too (accounts without a second factor are refused)
    require_mfa: bool = False
    # client networks allowed to reach the app (empty: any); refused before anything else
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


def parse_networks(
    values: tuple[str, ...] | list[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``10.0.0.0/8``, ``192.168.1.7``, ``::1``...; ConfigError naming a value that is not one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"{value!r} is not a network: write an address or a CIDR block, "
                "e.g. 10.20.0.0/16 or 127.0.0.1"
            ) from None
    return tuple(networks)


def web_settings_for(
    node: NodeSettings,
    *,
    secure_cookies: bool = False,
    session_seconds: int = DEFAULT_SESSION_SECONDS,
    idle_seconds: int = DEFAULT_IDLE_SECONDS,
    signin_attempts: int = DEFAULT_SIGNIN_ATTEMPTS,
    signin_window_seconds: int = DEFAULT_SIGNIN_WINDOW_SECONDS,
    allowed_networks: tuple[str, ...] = (),
    require_mfa: bool = False,
) -> WebSettings:
    """The web settings of ``node``; its web files sit in the node folder."""
    return WebSettings(
        node=node,
        secret_path=node.root / WEB_SECRET_FILE,
        database_path=node.root / WEB_DATABASE_FILE,
        secure_cookies=secure_cookies,
        session_seconds=session_seconds,
        idle_seconds=idle_seconds,
        signin_attempts=signin_attempts,
        signin_window_seconds=signin_window_seconds,
        allowed_networks=parse_networks(allowed_networks),
        require_mfa=require_mfa,
    )


def ensure_web_secret(path: Path) -> bytes:
    """The node's web secret, made (0600) on first use; ConfigError if the file is damaged."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
    secret = path.read_bytes()
    if len(secret) != SECRET_BYTES:
        raise ConfigError(
            f"{path} should hold {SECRET_BYTES} bytes; delete it to make a new one "
            "(every form open in a browser must be reloaded)"
        )
    return secret


def derive_key(secret: bytes, label: str) -> bytes:
    """A key for one use of the web secret (``csrf``)."""
    return hmac.new(secret, f"joinedup-web:{label}".encode(), hashlib.sha256).digest()
