"""Pseudonyms are stable per key, unlinkable across keys, and the SQL form agrees with Python."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.identity.pseudonym import pseudonym, register_pseudonym_function

keys = st.binary(min_size=32, max_size=64)
kinds = st.sampled_from(["upn", "nhs_number", "la_child_id", "gp_patient_id", "record"])
values = st.text(max_size=40)


@given(key=keys, kind=kinds, value=values)
def test_stable_per_key(key: bytes, kind: str, value: str) -> None:
    assert pseudonym(key, kind, value) == pseudonym(bytes(key), kind, str(value))


@given(a=keys, b=keys, kind=kinds, value=values)
def test_different_keys_give_different_pseudonyms(
    a: bytes, b: bytes, kind: str, value: str
) -> None:
    if a != b:
        assert pseudonym(a, kind, value) != pseudonym(b, kind, value)


@given(key=keys, kind=kinds, x=values, y=values)
def test_different_values_give_different_pseudonyms(key: bytes, kind: str, x: str, y: str) -> None:
    if x != y:
        assert pseudonym(key, kind, x) != pseudonym(key, kind, y)


@settings(max_examples=30, deadline=None)
@given(key=keys, kind=kinds, batch=st.lists(st.one_of(st.none(), values), max_size=30))
def test_sql_function_agrees(key: bytes, kind: str, batch: list[str | None]) -> None:
    con = duckdb.connect()
    register_pseudonym_function(con, key)
    rows = con.execute(
        "SELECT pseudonym(?, v) FROM unnest(CAST(? AS VARCHAR[])) WITH ORDINALITY t(v, i) "
        "ORDER BY i",
        [kind, batch],
    ).fetchall()
    assert [r[0] for r in rows] == [None if v is None else pseudonym(key, kind, v) for v in batch]
