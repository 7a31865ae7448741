"""Tiny hand-made nodes for the person index tests: a vault and a store built from ASCII tables.

The vault tables follow interface D (``vault__identities``, ``vault__keys``); event tables are
``raw__<source>__<table>`` with a ``subject_key``. Keys are computed as the vault does:
HMAC-SHA256(secret, "namespace:value") truncated to 32 hex characters.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from joinedup.store.linked import RAW_INPUTS, RAW_KEYS

SECRET = bytes(range(32))

LOCAL_NAMESPACE = {
    "csc_persons": "la_child_id",
    "cin": "la_child_id",
    "ssda903": "la_child_id",
    "gp_events": "gp_patient_id",
}

IDENTITY_DDL = """
CREATE TABLE vault__identities (
  record_key VARCHAR PRIMARY KEY, batch_id VARCHAR, source VARCHAR, table_name VARCHAR,
  row_number BIGINT, local_id VARCHAR, given_name VARCHAR, middle_names VARCHAR,
  family_name VARCHAR, former_family_name VARCHAR, preferred_family_name VARCHAR,
  given_name_norm VARCHAR, family_name_norm VARCHAR, date_of_birth DATE, sex VARCHAR,
  nhs_number VARCHAR, upn VARCHAR, former_upn VARCHAR, postcode VARCHAR, uprn VARCHAR,
  address VARCHAR)
"""


def pseudonym(kind: str, value: str, key: bytes = SECRET) -> str:
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def parse_table(text: str) -> list[dict[str, str | None]]:
    """Rows of a ``| a | b |`` table; an empty cell is None."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append({h: (c or None) for h, c in zip(header, cells, strict=True)})
    return rows


@dataclass(frozen=True, slots=True, kw_only=True)
class FixtureNode:
    root: Path

    @property
    def vault(self) -> Path:
        return self.root / "vault.duckdb"

    @property
    def store(self) -> Path:
        return self.root / "store.duckdb"


def make_node(root: Path, records: str, events: str = "") -> FixtureNode:
    """A node folder whose vault holds ``records`` and whose store holds ``events``.

    records columns: key, source, table, given, family, dob, sex, nhs, upn, former_upn, local_id,
    postcode
    (missing columns are None). events columns: source, table, namespace, subject.
    """
    root.mkdir(parents=True, exist_ok=True)
    node = FixtureNode(root=root)
    (root / "secret.key").write_text(SECRET.hex())
    vault = duckdb.connect(str(node.vault))
    vault.execute(IDENTITY_DDL)
    vault.execute(
        "CREATE TABLE vault__keys (record_key VARCHAR, namespace VARCHAR, subject_key VARCHAR)"
    )
    for n, row in enumerate(parse_table(records), start=1):
        source = row["source"] or ""
        table = row["table"] or source
        dob = date.fromisoformat(row["dob"]) if row.get("dob") else None
        vault.execute(
            "INSERT INTO vault__identities (record_key, batch_id, source, table_name, row_number,"
            " local_id, given_name, family_name, given_name_norm, family_name_norm,"
            " date_of_birth, sex, nhs_number, upn, former_upn, postcode)"
            " VALUES (?, 'b1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["key"],
                source,
                table,
                n,
                row.get("local_id"),
                row.get("given"),
                row.get("family"),
                row.get("given"),
                row.get("family"),
                dob,
                row.get("sex"),
                row.get("nhs"),
                row.get("upn"),
                row.get("former_upn"),
                row.get("postcode"),
            ],
        )
        keys: list[tuple[str, str]] = []
        if row.get("local_id"):
            keys.append((LOCAL_NAMESPACE[source], str(row["local_id"])))
        for col in ("upn", "former_upn"):
            if row.get(col):
                keys.append(("upn", str(row[col])))
        if row.get("nhs"):
            keys.append(("nhs_number", str(row["nhs"])))
        for namespace, value in keys:
            vault.execute(
                "INSERT INTO vault__keys VALUES (?, ?, ?)",
                [row["key"], namespace, pseudonym(namespace, value)],
            )
    vault.close()
    store = duckdb.connect(str(node.store))
    if events.strip():
        for row in parse_table(events):
            name = f"raw__{row['source']}__{row['table']}"
            columns = (*RAW_KEYS, *RAW_INPUTS.get(name, ()))
            body = ", ".join(f'"{c}" {t}' for c, t in columns)
            store.execute(f"CREATE TABLE IF NOT EXISTS {name} ({body})")
            store.execute(
                f"INSERT INTO {name} (batch_id, row_number, subject_key) VALUES ('b1', 1, ?)",
                [pseudonym(str(row["namespace"]), str(row["subject"]))],
            )
    store.close()
    return node
