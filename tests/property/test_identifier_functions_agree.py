"""The SQL identifier and name functions ingest runs give the same answers as the Python rules
(``joinedup.identity.checks`` and ``normalise_name``), for ASCII values (Arrow kernels) and the
rest (Python), mixed in one batch."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.identity import checks
from joinedup.identity.normalise import normalise_name, register_normalise_name_function
from joinedup.identity.sql_functions import register_identity_functions

# printable ASCII, the ASCII white space Python knows (incl. \x0b and \x1c-\x1f), and a few
# non-ASCII spaces, digits and letters
ODD = "\t\n\r\x0b\x0c\x1c\x1f\u00a0\u2003\u0663\u00b2\u00e9\u00df\u0141\u00d8\u0645"
chars = st.one_of(st.characters(min_codepoint=32, max_codepoint=126), st.sampled_from(ODD))
digits = st.text(alphabet="0123456789", min_size=9, max_size=11)
near_nhs = st.builds(
    lambda d, sep: sep.join([d[:3], d[3:6], d[6:]]),
    digits,
    st.sampled_from(["", " ", "-", "\x0b", "\u00a0"]),
)
near_upn = st.builds(
    lambda pad, first, body, last: pad + first + body + last + pad,
    st.sampled_from(["", " ", "\x1c", "\u2003"]),
    st.sampled_from([*checks.UPN_CHECK_LETTERS, "I", "O", "S", "a", "b"]),
    st.text(alphabet="0123456789", min_size=10, max_size=12),
    st.sampled_from(["", "A", "Z", "0", "7", "I", "\u0663"]),
)
near_postcode = st.builds(
    lambda a, b, sep, c: f"{a}{b}{sep}{c}",
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZbd", min_size=1, max_size=3),
    st.text(alphabet="0123456789A", min_size=1, max_size=2),
    st.sampled_from([" ", "", "  ", "\t", "\x1d", "\u00a0"]),
    st.text(alphabet="0123456789ABZ", min_size=2, max_size=4),
)
candidates = st.one_of(
    st.none(), st.text(alphabet=chars, max_size=16), near_nhs, near_upn, near_postcode, digits
)
names = st.one_of(st.none(), st.text(alphabet=chars, max_size=20))


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    register_identity_functions(connection)
    register_normalise_name_function(connection)
    return connection


def _column(con: duckdb.DuckDBPyConnection, sql: str, values: list[str | None]) -> list[object]:
    rows = con.execute(
        f"SELECT {sql} FROM unnest(CAST($v AS VARCHAR[])) WITH ORDINALITY t(v, i) ORDER BY i",
        {"v": values},
    ).fetchall()
    return [r[0] for r in rows]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(candidates, min_size=1, max_size=12))
def test_identifier_functions_agree_with_python(
    con: duckdb.DuckDBPyConnection, values: list[str | None]
) -> None:
    for sql, rule in (
        ("is_valid_nhs_number(v)", checks.is_valid_nhs_number),
        ("nhs_number_digits(v)", checks.normalise_nhs_number),
        ("is_valid_upn(v)", checks.is_valid_upn),
        ("normalise_postcode(v)", checks.normalise_postcode),
        ("is_valid_uprn(v)", checks.is_valid_uprn),
    ):
        assert _column(con, sql, values) == [rule(v) for v in values], sql


@settings(max_examples=100, deadline=None)
@given(values=st.lists(names, min_size=1, max_size=12))
def test_normalise_name_function_agrees_with_python(
    con: duckdb.DuckDBPyConnection, values: list[str | None]
) -> None:
    assert _column(con, "normalise_name(v)", values) == [normalise_name(v) for v in values]
