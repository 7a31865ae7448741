"""The identifier checks of ``checks.py`` as DuckDB SQL macros, for checking millions of rows.

``register_identity_macros(con)`` creates temporary macros on a connection:

- ``nhs_number_digits(v)``: digits with spaces and dashes dropped, NULL unless ten digits;
- ``is_valid_nhs_number(v)``: ten digits with a right modulus-11 check digit;
- ``normalise_upn(v)`` / ``is_valid_upn(v)``: trimmed upper case; 13 characters whose first is
  the mod-23 check letter of the other 12 (permanent or temporary UPN);
- ``normalise_postcode(v)``: ``"BD7 1AB"`` form, NULL unless a UK postcode shape;
- ``is_valid_uprn(v)``: 1 to 12 digits, not all zero.

Invariant: each macro gives the same answer as its Python twin in ``checks.py`` for ASCII input
(a property test holds them to it). Non-ASCII digits, which Python's ``str.isdigit`` accepts, are
never valid here.
"""

from __future__ import annotations

import duckdb

from joinedup.identity.checks import UPN_CHECK_LETTERS

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def _nhs_sum(d: str) -> str:
    return " + ".join(
        f"CAST(substr({d}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_NHS_WEIGHTS)
    )


def _upn_value(u: str, position: int) -> str:
    char = f"substr({u}, {position}, 1)"
    return (
        f"(CASE WHEN regexp_full_match({char}, '[0-9]') THEN CAST({char} AS INTEGER) "
        f"ELSE instr('{UPN_CHECK_LETTERS}', {char}) - 1 END)"
    )


def _upn_sum(u: str) -> str:
    # body character k (0-based, string position k + 2) has weight k + 2
    return " + ".join(f"{_upn_value(u, k + 2)} * {k + 2}" for k in range(12))


_UPN_SHAPE = "[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]"
_POSTCODE_SHAPE = "[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}"

MACROS: tuple[tuple[str, str], ...] = (
    (
        "nhs_number_digits(v)",
        "CASE WHEN regexp_full_match(regexp_replace(v, '[\\s-]', '', 'g'), '[0-9]{10}') "
        "THEN regexp_replace(v, '[\\s-]', '', 'g') END",
    ),
    (
        "nhs_check_digit_of(d)",
        f"CASE 11 - (({_nhs_sum('d')}) % 11) WHEN 11 THEN 0 WHEN 10 THEN NULL "
        f"ELSE 11 - (({_nhs_sum('d')}) % 11) END",
    ),
    (
        "is_valid_nhs_number(v)",
        "coalesce(nhs_check_digit_of(nhs_number_digits(v)) "
        "= CAST(substr(nhs_number_digits(v), 10, 1) AS INTEGER), false)",
    ),
    ("normalise_upn(v)", "upper(trim(v))"),
    (
        "upn_has_right_check_letter(u)",
        f"substr('{UPN_CHECK_LETTERS}', (({_upn_sum('u')}) % 23) + 1, 1) = substr(u, 1, 1)",
    ),
    (
        "is_valid_upn(v)",
        f"coalesce(regexp_full_match(normalise_upn(v), '{_UPN_SHAPE}') "
        "AND upn_has_right_check_letter(normalise_upn(v)), false)",
    ),
    ("postcode_compact(v)", "upper(regexp_replace(v, '\\s+', '', 'g'))"),
    (
        "postcode_candidate(c)",
        "CASE WHEN length(c) BETWEEN 5 AND 7 THEN left(c, length(c) - 3) || ' ' || right(c, 3) END",
    ),
    (
        "normalise_postcode(v)",
        f"CASE WHEN regexp_full_match(postcode_candidate(postcode_compact(v)), "
        f"'{_POSTCODE_SHAPE}') THEN postcode_candidate(postcode_compact(v)) END",
    ),
    (
        "is_valid_uprn(v)",
        "coalesce(regexp_full_match(trim(v), '[0-9]{1,12}') "
        "AND try_cast(trim(v) AS BIGINT) > 0, false)",
    ),
)


def register_identity_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the identifier macros as temporary macros on ``con``."""
    for signature, body in MACROS:
        con.execute(f"CREATE OR REPLACE TEMP MACRO {signature} AS ({body})")
