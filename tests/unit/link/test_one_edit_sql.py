"""The fast one-edit condition gives exactly what Damerau-Levenshtein <= 1 gives."""

from __future__ import annotations

import random
from datetime import date, timedelta

import duckdb

from joinedup.link.engine import spark_sql
from joinedup.link.settings import one_edit_as_distance, one_edit_sql


def _edits(text: str, rng: random.Random) -> str:
    """``text`` with 0-2 random edits (substitute, insert, delete, swap neighbours)."""
    chars = list(text)
    for _ in range(rng.randint(0, 2)):
        i = rng.randrange(max(1, len(chars)))
        kind = rng.choice("sids" if len(chars) > 1 else "si")
        if kind == "s" and chars:
            chars[i] = rng.choice("0123456789ABNLS -")
        elif kind == "i":
            chars.insert(i, rng.choice("0123456789ABNLS -"))
        elif kind == "d":
            del chars[i]
        elif i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _disagreements(pairs: list[tuple[str, str]], guarded: str) -> tuple[int, int]:
    con = duckdb.connect()
    con.execute("CREATE TABLE p (a VARCHAR, b VARCHAR)")
    con.executemany("INSERT INTO p VALUES (?, ?)", pairs)
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE coalesce(({guarded}), false)"
        " <> coalesce(damerau_levenshtein(a, b) <= 1, false)),"
        " count(*) FILTER (WHERE damerau_levenshtein(a, b) <= 1) FROM p"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_dates_of_birth_agree_with_the_distance() -> None:
    rng = random.Random(5)
    start = date(1990, 1, 1)
    pairs = []
    for _ in range(20_000):
        a = (start + timedelta(days=rng.randrange(15_000))).isoformat()
        b = (
            _edits(a, rng)
            if rng.random() < 0.7
            else (start + timedelta(rng.randrange(15_000))).isoformat()
        )
        pairs.append((a, b))
    pairs += [
        ("2012-03-04", "2012-03-40"),
        ("2012-03-04", "2012-30-04"),
        ("2012-03-04", "2102-03-04"),
    ]
    pairs += [("2012-03-04", None), ("", "2"), ("2012-03-04", "2012-03-4")]  # type: ignore[list-item]
    wrong, ones = _disagreements(pairs, one_edit_sql("a", "b"))
    assert wrong == 0
    assert ones > 5_000  # the sample holds many one-edit pairs, so agreement means something


def test_postcodes_agree_with_the_distance() -> None:
    rng = random.Random(7)
    letters = "ABDEFGHJLNPQRSTUWXYZ"

    def postcode() -> str:
        outward = rng.choice(["LS", "BD", "M", "HX", "WF"]) + str(rng.randint(1, 29))
        return f"{outward} {rng.randint(0, 9)}{rng.choice(letters)}{rng.choice(letters)}"

    pairs = []
    for _ in range(20_000):
        a = postcode()
        pairs.append((a, _edits(a, rng) if rng.random() < 0.7 else postcode()))
    pairs += [
        ("AB", "BA"),
        ("A", ""),
        ("ABCD", "ABDC"),
        ("M1 1AA", "M11 1AA"),
        ("M1 1AA", "1M 1AA"),
    ]
    wrong, ones = _disagreements(pairs, one_edit_sql("a", "b"))
    assert wrong == 0
    assert ones > 5_000


def test_identifiers_and_long_strings_agree_with_the_distance() -> None:
    """NHS numbers (10 digits), and strings longer than the 16 the fast path pads to."""
    rng = random.Random(11)
    pairs = []
    for _ in range(20_000):
        a = "".join(rng.choice("0123456789") for _ in range(rng.choice([10, 10, 10, 17, 20])))
        pairs.append((a, _edits(a, rng)))
    pairs += [("", ""), ("A", "B"), ("AB", "BA"), ("ABC", "ACB"), ("ABC", "CBA")]
    wrong, ones = _disagreements(pairs, one_edit_sql("a", "b"))
    assert wrong == 0
    assert ones > 5_000


def test_spark_gets_the_plain_distance_for_the_fast_form() -> None:
    fast = one_edit_sql("l.dob_str", "r.dob_str")
    assert one_edit_as_distance(fast) == "damerau_levenshtein(l.dob_str, r.dob_str) <= 1"
    assert one_edit_as_distance(f"x = 1 AND {fast}").endswith(
        "damerau_levenshtein(l.dob_str, r.dob_str) <= 1"
    )
    translated = spark_sql(fast).lower()
    assert "hamming" not in translated and "damerau_levenshtein" in translated
    # a form whose columns disagree inside is not this function's, and is left alone
    odd = fast.replace("hamming(l.dob_str, r.dob_str)", "hamming(l.dob_str, r.other)", 1)
    assert one_edit_as_distance(odd) == odd
