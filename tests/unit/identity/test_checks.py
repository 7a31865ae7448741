from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from joinedup.identity import checks


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("9434765919", True),
        ("943 476 5919", True),
        ("9434765918", False),
        ("\u0669" * 10, False),  # Arabic-Indic digits are digits to Python, not to an NHS system
        ("\u00b2" * 10, False),
        (None, False),
    ],
)
def test_nhs_number(value: str | None, valid: bool) -> None:
    assert checks.is_valid_nhs_number(value) is valid


def test_upn_check_letter_round_trips() -> None:
    body = "38020000001A"
    letter = checks.upn_check_letter(body)
    assert letter is not None and checks.is_valid_upn(letter + body)
    assert checks.upn_check_letter("\u00b2" * 12) is None


@pytest.mark.parametrize(
    ("value", "valid"), [("100023336956", True), ("0", False), ("12a", False), ("\u00b2", False)]
)
def test_uprn(value: str, valid: bool) -> None:
    assert checks.is_valid_uprn(value) is valid


@given(st.text(max_size=20))
def test_every_check_is_total(value: str) -> None:
    checks.is_valid_nhs_number(value)
    checks.normalise_nhs_number(value)
    checks.nhs_check_digit(value[:9])
    checks.is_valid_upn(value)
    checks.is_temporary_upn(value)
    checks.upn_check_letter(value[:12])
    checks.normalise_postcode(value)
    checks.is_valid_uprn(value)
