from __future__ import annotations

import stat
from pathlib import Path

import pytest

from joinedup.errors import ConfigError
from joinedup.identity.secret_key import KEY_BYTES, create_secret_key, read_secret_key


def test_created_key_is_private_random_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    create_secret_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = read_secret_key(path)
    assert len(key) == KEY_BYTES
    other = tmp_path / "other.key"
    create_secret_key(other)
    assert read_secret_key(other) != key


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    create_secret_key(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="never overwritten"):
        create_secret_key(path)
    assert path.read_bytes() == before


def test_key_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    create_secret_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_secret_key(path)


@pytest.mark.parametrize("content", ["not hex", "ab" * 8, ""])
def test_malformed_key_is_refused_without_echoing_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        read_secret_key(path)
    assert content not in str(info.value) or content == ""


def test_missing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        read_secret_key(tmp_path / "nope.key")
