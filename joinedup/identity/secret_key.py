"""The node's secret pseudonym key: 32 random bytes, hex encoded, in a file of mode 0600.

Invariants: the key is created once and never overwritten; it is only ever held in memory and in
``secret.key`` (never in a database, a log or an error message).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from joinedup.errors import ConfigError

KEY_BYTES = 32


def create_secret_key(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600); refuses to replace an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists; a node's secret key is never overwritten "
            "(choose a new folder for a new node)"
        ) from None
    try:
        os.write(fd, (os.urandom(KEY_BYTES).hex() + "\n").encode("ascii"))
    finally:
        os.close(fd)


def read_secret_key(path: Path) -> bytes:
    """The key held in ``path``; ConfigError if it is missing, readable by others, or malformed."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(f"the node's secret key {path} is missing") from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"the node's secret key {path} cannot be read") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the node's secret key {path} is open to other users; run: chmod 600 {path}"
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"the node's secret key {path} is not {KEY_BYTES} hex-encoded bytes")
    return key
