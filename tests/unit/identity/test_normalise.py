from __future__ import annotations

from datetime import date

import duckdb
import pytest

from joinedup.identity.normalise import (
    month_of_birth,
    name_parts,
    normalise_name,
    parse_date,
    register_normalise_name_function,
)

NAMES = [
    # as recorded          normalised
    ("Zoë", "ZOE"),
    ("  o'brien ", "OBRIEN"),
    ("Smith-Jones", "SMITHJONES"),
    ("Łukasz", "LUKASZ"),
    ("Søren", "SOREN"),
    ("Strauß", "STRAUSS"),
    ("Ægir", "AEGIR"),
    ("Mary Ann", "MARYANN"),
    ("St. John", "STJOHN"),
    ("Nguyễn", "NGUYEN"),
    ("محمد", "محمد"),
    ("--", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("raw", "expected"), NAMES)
def test_normalise_name(raw: str | None, expected: str | None) -> None:
    assert normalise_name(raw) == expected


def test_name_parts_split_at_hyphens_and_spaces() -> None:
    assert name_parts("Smith-Jones") == ["SMITH", "JONES"]
    assert name_parts("  Mary   Ann ") == ["MARY", "ANN"]
    assert name_parts(None) == []


def test_sql_function_agrees_with_python() -> None:
    con = duckdb.connect()
    register_normalise_name_function(con)
    raws = [raw for raw, _ in NAMES] * 3  # repeats exercise the one-per-distinct-value path
    rows = con.execute(
        "SELECT normalise_name(v) FROM unnest(?) WITH ORDINALITY t(v, i) ORDER BY i", [raws]
    ).fetchall()
    assert [r[0] for r in rows] == [normalise_name(r) for r in raws]


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("2015-03-01", "%Y-%m-%d", date(2015, 3, 1)),
        (" 01/03/2015 ", "%d/%m/%Y", date(2015, 3, 1)),
        ("31/02/2015", "%d/%m/%Y", None),
        ("2015-03-01", "%d/%m/%Y", None),
        (None, "%Y-%m-%d", None),
    ],
)
def test_parse_date(raw: str | None, fmt: str, expected: date | None) -> None:
    assert parse_date(raw, fmt) == expected


def test_month_of_birth() -> None:
    assert month_of_birth(date(2015, 3, 9)) == "2015-03"
    assert month_of_birth(None) is None
