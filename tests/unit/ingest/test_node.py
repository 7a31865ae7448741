from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest
from ingest_extracts import TODAY, write_extract

from joinedup.config import NODE_FORMAT_VERSION, load_node
from joinedup.errors import ConfigError
from joinedup.ingest import ingest_file, init_node, node_status
from joinedup.sources import CONTRACTS, get_contract


def test_init_makes_a_complete_private_node(tmp_path: Path) -> None:
    settings = init_node(tmp_path / "bradford", name="Bradford district")
    assert settings.name == "Bradford district"
    assert settings.format_version == NODE_FORMAT_VERSION
    for path in (settings.key_path, settings.vault_path, settings.store_path):
        assert path.parent == settings.root and path.is_file()
    assert stat.S_IMODE(settings.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.vault_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.root.stat().st_mode) == 0o700
    assert load_node(settings.root) == settings
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"ingest__batches", "ingest__file_counts", "ingest__quarantine_reasons"} <= tables
    assert {"ref__lsoa", "ref__schools", "ref__gp_practices"} <= tables
    for contract in CONTRACTS[1:]:
        for table in contract.tables:
            assert f"raw__{contract.name}__{table.name}" in tables
    with duckdb.connect(str(settings.vault_path), read_only=True) as con:
        vault = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert not any("key" in str(v).lower() and "secret" in str(v).lower() for v in vault)
    assert {"vault__identities", "vault__keys", "quarantine__cin"} <= vault


def test_init_refuses_to_overwrite_a_node(tmp_path: Path) -> None:
    settings = init_node(tmp_path / "node")
    key = settings.key_path.read_bytes()
    with pytest.raises(ConfigError, match="never overwritten"):
        init_node(tmp_path / "node")
    assert settings.key_path.read_bytes() == key


def test_init_in_an_existing_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "existing"
    folder.mkdir()
    assert init_node(folder).name == "existing"


def test_load_node_explains_a_folder_that_is_not_a_node(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not a joinedup node .*joinedup node init"):
        load_node(tmp_path)
    with pytest.raises(ConfigError, match="not a folder"):
        load_node(tmp_path / "absent")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "not valid TOML"),
        ('name = "x"\n', "malformed"),
        ('name = "x"\ncreated = 2026-01-01T00:00:00\nformat_version = 99\n', "format version 99"),
        (
            'name = "x"\ncreated = 2026-01-01T00:00:00\nformat_version = 1\n'
            '[paths]\nvault = "../elsewhere.duckdb"\n',
            "inside the node folder",
        ),
        ('name = "x"\ncreated = 2026-01-01T00:00:00\nformat_version = 1\nextra = 1\n', "extra"),
    ],
)
def test_load_node_rejects_bad_settings(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "node.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_node(tmp_path)


def test_missing_database_is_a_config_error(tmp_path: Path) -> None:
    settings = init_node(tmp_path / "node")
    settings.store_path.unlink()
    with pytest.raises(ConfigError, match=r"store database .* is missing"):
        node_status(settings)


def test_status_lists_batches_and_counts(tmp_path: Path) -> None:
    settings = init_node(tmp_path / "node")
    ingest_file(
        settings, "reference", write_extract(get_contract("reference"), tmp_path), today=TODAY
    )
    ingest_file(
        settings, "ncmp", write_extract(get_contract("ncmp"), tmp_path, rows=4), today=TODAY
    )
    status = node_status(settings)
    assert [b.source for b in status.batches] == ["ncmp", "reference"]
    assert status.batches[0].read == 4 and status.batches[0].status == "complete"
    assert status.identity_records == 4
    assert status.keys == 4  # one NHS number each
    assert status.postcodes == 3
