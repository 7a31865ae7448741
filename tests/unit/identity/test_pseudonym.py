from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest

from joinedup.identity.pseudonym import (
    PSEUDONYM_HEX_CHARS,
    pseudonym,
    pseudonymise_values,
    register_pseudonym_function,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_pseudonym_is_truncated_hmac_sha256_of_kind_and_value() -> None:
    expected = hmac.new(KEY, b"upn:A123456789012", hashlib.sha256).hexdigest()[:32]
    assert pseudonym(KEY, "upn", "A123456789012") == expected
    assert len(expected) == PSEUDONYM_HEX_CHARS


def test_kind_separates_namespaces_and_key_separates_nodes() -> None:
    assert pseudonym(KEY, "upn", "X") != pseudonym(KEY, "nhs_number", "X")
    assert pseudonym(KEY, "upn", "X") != pseudonym(OTHER_KEY, "upn", "X")


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        pseudonym(b"short", "upn", "X")


def test_vectorised_forms_match_the_scalar_one() -> None:
    values = ["a", None, "b|c|1", "Zoë", ""]
    expected = [None if v is None else pseudonym(KEY, "record", v) for v in values]
    assert pseudonymise_values(KEY, "record", values) == expected
    con = duckdb.connect()
    register_pseudonym_function(con, KEY)
    rows = con.execute(
        "SELECT pseudonym('record', v) FROM unnest(?) WITH ORDINALITY t(v, i) ORDER BY i",
        [values],
    ).fetchall()
    assert [r[0] for r in rows] == expected
    assert con.execute("SELECT pseudonym(NULL, 'x')").fetchone() == (None,)


def test_sql_function_handles_more_rows_than_one_vector() -> None:
    con = duckdb.connect()
    register_pseudonym_function(con, KEY)
    n = 5000
    got = con.execute(
        "SELECT count(DISTINCT pseudonym('record', CAST(i AS VARCHAR))) FROM range(?) r(i)", [n]
    ).fetchone()
    assert got == (n,)
    sample = con.execute("SELECT pseudonym('record', '4321')").fetchone()
    assert sample == (pseudonym(KEY, "record", "4321"),)
