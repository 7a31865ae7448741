from __future__ import annotations

import duckdb
import pytest

from joinedup.identity import checks
from joinedup.identity.sql_functions import register_identity_functions

VALUES = [
    "9434765919",
    "943 476 5919",
    "943-476-5919",
    "9434765918",
    "9999999999",
    "123456789",
    "A123456789012",
    "",
    None,
    "BD71AB",
    " bd7  1ab ",
    "SW1A 1AA",
    "BD7",
    "0",
    "000000000000",
    "100023336956",
    "1000233369561",
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    register_identity_functions(connection)
    return connection


def _valid_upn(i: int) -> str:
    body = f"38020{i:07d}"
    letter = checks.upn_check_letter(body)
    assert letter is not None
    return letter + body


@pytest.mark.parametrize(
    "value", [*VALUES, _valid_upn(1), _valid_upn(2).lower(), _valid_upn(3)[:-1] + "A"]
)
def test_functions_agree_with_python_checks(
    con: duckdb.DuckDBPyConnection, value: str | None
) -> None:
    got = con.execute(
        "SELECT is_valid_nhs_number($v), nhs_number_digits($v), is_valid_upn($v), "
        "normalise_postcode($v), is_valid_uprn($v)",
        {"v": value},
    ).fetchone()
    assert got == (
        checks.is_valid_nhs_number(value),
        checks.normalise_nhs_number(value),
        checks.is_valid_upn(value),
        checks.normalise_postcode(value),
        checks.is_valid_uprn(value),
    )


def test_temporary_upn_is_valid(con: duckdb.DuckDBPyConnection) -> None:
    body = "38020000001A"
    letter = checks.upn_check_letter(body)
    assert letter is not None
    upn = letter + body
    assert checks.is_temporary_upn(upn)
    assert con.execute("SELECT is_valid_upn(?)", [upn]).fetchone() == (True,)
