"""No direct identifier from the extracts reaches ``store.duckdb``: every column of every table.

The needles are read from the simulated extracts themselves (every column whose contract role is
a name, an NHS number, a UPN, a postcode, an address or a date of birth), as written.

Matching rule (whole cells, so a short name cannot hit inside a code):

- names and addresses: the cell, trimmed and upper-cased, equals a recorded name or address
  line. Words the public vocabulary already holds (every contract code value and every cell of
  the public reference extract: ward, school and practice names) are not needles: a ward called
  like a family name is not a leak;
- NHS numbers: the cell with spaces and dashes removed equals a recorded NHS number (numeric
  columns are scanned as text too);
- UPNs: the cell, trimmed and upper-cased, equals a recorded UPN or former UPN;
- postcodes: the cell with white space removed, upper-cased, equals a recorded postcode so
  normalised (a postcode *district* such as ``BD7``, which SSDA903 keeps, is not a postcode);
- dates of birth in text cells: the cell equals a recorded date of birth as the extract wrote it,
  or in ISO or DD/MM/YYYY form;
- dates of birth in date cells: event dates are allowed, and any date in a big district is some
  child's birthday, so a date column is checked against *its own subject's* recorded dates of
  birth: it leaks when more than 5% of its non-null cells (and at least 2) equal the date of birth
  the vault holds for the same person. A date-of-birth column scores near 100%; event columns
  score near 0 (a hospital birth episode is dated on the birth day, and is a rare event).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb
import pytest
from refreshed_district import RefreshedDistrict, refreshed_district

from joinedup.ingest.readers import read_extract
from joinedup.link.refresh import attach_vault
from joinedup.model import IdentityRole as R
from joinedup.sources import CONTRACTS, get_contract

NAME_ROLES = {
    R.GIVEN_NAME,
    R.MIDDLE_NAMES,
    R.FAMILY_NAME,
    R.FORMER_FAMILY_NAME,
    R.PREFERRED_FAMILY_NAME,
    R.ADDRESS,
}
DOB_SHARE_LIMIT = 0.05
DOB_MIN_HITS = 2


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def _digits(value: str) -> str:
    return value.replace(" ", "").replace("-", "").strip()


def _upper(value: str) -> str:
    return value.strip().upper()


def _dob_forms(value: str, fmt: str) -> set[str]:
    forms = {value.strip()}
    try:
        parsed = datetime.strptime(value.strip(), fmt).date()
    except ValueError:
        return forms
    return forms | {parsed.isoformat(), parsed.strftime("%d/%m/%Y")}


class Needles:
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.nhs: set[str] = set()
        self.upn: set[str] = set()
        self.postcodes: set[str] = set()
        self.dobs: set[str] = set()


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> RefreshedDistrict:
    return refreshed_district(tmp_path_factory)


@pytest.fixture(scope="module")
def needles(district: RefreshedDistrict) -> Needles:
    found = Needles()
    public: set[str] = set()
    for contract in CONTRACTS:
        for table in contract.tables:
            for column in table.columns:
                public |= {c.upper() for c in column.codes or ()}
    for staged in read_extract(get_contract("reference"), district.extracts / "reference"):
        for column in staged.data.column_names:
            public |= {str(v).strip().upper() for v in staged.data[column].to_pylist() if v}
    for contract in CONTRACTS:
        path = district.extracts / contract.file_name
        if not path.exists() or contract.name == "reference":
            continue
        for staged in read_extract(contract, path):
            for column in staged.table.columns:
                if column.identity is None:
                    continue
                values = [
                    str(v) for v in staged.data[column.name].to_pylist() if v and str(v).strip()
                ]
                if column.identity in NAME_ROLES:
                    found.names |= {v.strip().upper() for v in values}
                elif column.identity is R.NHS_NUMBER:
                    found.nhs |= {_digits(v) for v in values}
                elif column.identity in (R.UPN, R.FORMER_UPN):
                    found.upn |= {v.strip().upper() for v in values}
                elif column.identity is R.POSTCODE:
                    found.postcodes |= {_compact(v) for v in values}
                elif column.identity is R.DATE_OF_BIRTH:
                    for v in values:
                        found.dobs |= _dob_forms(v, column.date_format)
    for bag in (found.names, found.nhs, found.upn, found.postcodes, found.dobs):
        bag -= public
        bag -= {""}
    # a house number alone (an address's paon) is not an identifier
    found.names = {n for n in found.names if not n.isdigit()}
    assert found.names and found.nhs and found.upn and found.postcodes and found.dobs
    return found


def _store_columns(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, str, str]]:
    yield from con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() ORDER BY table_name, column_index"
    ).fetchall()


@pytest.fixture(scope="module")
def text_hits(district: RefreshedDistrict, needles: Needles) -> list[tuple[str, str]]:
    """(table, finding) for every column holding a needle as a whole cell."""
    con = duckdb.connect(str(district.node.store_path), read_only=True)
    hits: list[tuple[str, str]] = []
    scanned = 0
    try:
        for table, column, data_type in _store_columns(con):
            values = {
                str(r[0])
                for r in con.execute(
                    f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}" '
                    f'WHERE "{column}" IS NOT NULL'
                ).fetchall()
            }
            scanned += 1
            is_date = data_type in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
            for kind, bag, form in (
                ("name", needles.names, _upper),
                ("nhs_number", needles.nhs, _digits),
                ("upn", needles.upn, _upper),
                ("postcode", needles.postcodes, _compact),
                ("dob_text", set() if is_date else needles.dobs, str.strip),
            ):
                n = sum(1 for v in values if form(v) in bag)
                if n:
                    hits.append((table, f"{table}.{column}: {n} distinct {kind} values"))
    finally:
        con.close()
    assert scanned > 300  # every column of every table, raw and store alike
    return hits


@pytest.fixture(scope="module")
def dob_hits(district: RefreshedDistrict) -> list[tuple[str, str]]:
    """(table, finding) for every date column holding its subjects' dates of birth."""
    con = duckdb.connect(str(district.node.store_path), read_only=True)
    attach_vault(con, district.node.vault_path)
    con.execute(
        "CREATE TEMP TABLE person_dob AS SELECT DISTINCT lp.person_id, v.date_of_birth "
        "FROM link__record_person lp JOIN vault.vault__identities v USING (record_key) "
        "WHERE v.date_of_birth IS NOT NULL"
    )
    leaks: list[tuple[str, str]] = []
    checked = 0
    try:
        for table, columns in _columns_by_table(con).items():
            if "person_id" in columns:
                person, join = "t.person_id", ""
            elif "record_key" in columns and "subject_key" in columns:
                person = "coalesce(r.person_id, s.person_id)"
                join = (
                    "LEFT JOIN link__record_person r ON r.record_key = t.record_key "
                    "LEFT JOIN link__subject_person s ON s.subject_key = t.subject_key"
                )
            else:
                continue  # no subject (reference, provenance): nothing to compare with
            for column, data_type in columns.items():
                if data_type != "DATE":
                    continue
                checked += 1
                row = con.execute(
                    f'SELECT count(*) FILTER (WHERE t."{column}" IS NOT NULL), '
                    f"count(*) FILTER (WHERE EXISTS (SELECT 1 FROM person_dob d WHERE "
                    f'd.person_id = {person} AND d.date_of_birth = t."{column}")) '
                    f'FROM "{table}" t {join}'
                ).fetchone()
                assert row is not None
                total, same = int(row[0]), int(row[1])
                if same >= DOB_MIN_HITS and same > DOB_SHARE_LIMIT * total:
                    leaks.append(
                        (table, f"{table}.{column}: {same} of {total} cells are the subject's DOB")
                    )
    finally:
        con.close()
    assert checked > 20
    return leaks


def _is_ours(table: str) -> bool:
    return table.startswith(("store__", "link__"))


def test_store_and_index_tables_hold_no_identifier(
    text_hits: list[tuple[str, str]], dob_hits: list[tuple[str, str]]
) -> None:
    found = [f for t, f in text_hits + dob_hits if _is_ours(t)]
    assert not found, "identifiers found in the linked store: " + "; ".join(found)


def test_ingest_tables_hold_no_identifier(
    text_hits: list[tuple[str, str]], dob_hits: list[tuple[str, str]]
) -> None:
    found = [f for t, f in text_hits + dob_hits if not _is_ours(t)]
    assert not found, "identifiers found in ingest's tables: " + "; ".join(found)


def _columns_by_table(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in _store_columns(con):
        out.setdefault(table, {})[column] = data_type
    return out
