"""The SQL identifier functions ingest runs give the same answers as joinedup.identity.checks."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.identity import checks
from joinedup.identity.sql_functions import register_identity_functions

ASCII = st.characters(min_codepoint=32, max_codepoint=126)
digits = st.text(alphabet="0123456789", min_size=9, max_size=11)
near_nhs = st.builds(
    lambda d, sep: sep.join([d[:3], d[3:6], d[6:]]), digits, st.sampled_from(["", " ", "-"])
)
near_upn = st.builds(
    lambda first, body, last: first + body + last,
    st.sampled_from([*checks.UPN_CHECK_LETTERS, "I", "O", "S", "a"]),
    st.text(alphabet="0123456789", min_size=10, max_size=12),
    st.sampled_from(["", "A", "Z", "0", "7", "I"]),
)
near_postcode = st.builds(
    lambda a, b, c: f"{a}{b} {c}",
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZbd", min_size=1, max_size=3),
    st.text(alphabet="0123456789A", min_size=1, max_size=2),
    st.text(alphabet="0123456789ABZ", min_size=2, max_size=4),
)
candidates = st.one_of(
    st.none(), st.text(alphabet=ASCII, max_size=16), near_nhs, near_upn, near_postcode, digits
)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    register_identity_functions(connection)
    return connection


@settings(max_examples=300, deadline=None)
@given(value=candidates)
def test_functions_agree_with_python(con: duckdb.DuckDBPyConnection, value: str | None) -> None:
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
