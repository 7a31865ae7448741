"""Check digits and shapes of the identifiers children carry (NHS number, UPN, postcode, UPRN).

Invariants: every function is pure and total (bad input gives False or None, never an exception),
and none of them logs its argument.
"""

from __future__ import annotations

import re

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# UPN check letters: remainder 0..22 mapped to A-Z without I, O and S (DfE UPN 2.0).
UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")
# Full UK postcode shape (outward code, inward code), after normalisation.
_POSTCODE_SHAPE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit() alone accepts other scripts' digits and superscripts, which int() refuses
    return value.isascii() and value.isdigit()


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None where no valid number exists."""
    if len(first_nine) != 9 or not _is_ascii_digits(first_nine):
        return None
    total = sum(int(d) * w for d, w in zip(first_nine, _NHS_WEIGHTS, strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def normalise_nhs_number(value: str | None) -> str | None:
    """Digits only (spaces and dashes dropped), or None if the result is not ten digits."""
    if value is None:
        return None
    digits = re.sub(r"[\s-]", "", value)
    return digits if len(digits) == 10 and _is_ascii_digits(digits) else None


def is_valid_nhs_number(value: str | None) -> bool:
    """True for a ten-digit NHS number whose modulus-11 check digit is right."""
    digits = normalise_nhs_number(value)
    if digits is None:
        return False
    check = nhs_check_digit(digits[:9])
    return check is not None and check == int(digits[9])


def is_test_range_nhs_number(value: str | None) -> bool:
    """True for the 999 000 0000 - 999 999 9999 range NHS England reserves for testing."""
    digits = normalise_nhs_number(value)
    return digits is not None and digits.startswith("999")


def _upn_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return UPN_CHECK_LETTERS.index(char)


def upn_check_letter(body: str) -> str | None:
    """The check letter for the 12 characters after it (the last may be a letter: temporary UPN)."""
    if len(body) != 12 or not _is_ascii_digits(body[:11]):
        return None
    last = body[11]
    if not (_is_ascii_digits(last) or last in UPN_CHECK_LETTERS):
        return None
    total = sum(_upn_value(c) * (k + 2) for k, c in enumerate(body))
    return UPN_CHECK_LETTERS[total % 23]


def is_valid_upn(value: str | None) -> bool:
    """True for a 13-character UPN (permanent or temporary) with a correct check letter."""
    if value is None:
        return False
    upn = value.strip().upper()
    if not _UPN_SHAPE.match(upn):
        return False
    return upn_check_letter(upn[1:]) == upn[0]


def is_temporary_upn(value: str | None) -> bool:
    """True for a valid UPN whose last character is a letter (a temporary UPN)."""
    return is_valid_upn(value) and value is not None and value.strip()[-1].isalpha()


def normalise_postcode(value: str | None) -> str | None:
    """Upper case with one space before the inward code, or None if it is not a UK postcode."""
    if value is None:
        return None
    compact = re.sub(r"\s+", "", value).upper()
    if len(compact) < 5 or len(compact) > 7:
        return None
    candidate = f"{compact[:-3]} {compact[-3:]}"
    return candidate if _POSTCODE_SHAPE.match(candidate) else None


def is_valid_uprn(value: str | None) -> bool:
    """True for a UPRN: 1 to 12 digits, not all zero."""
    if value is None:
        return False
    v = value.strip()
    return 0 < len(v) <= 12 and _is_ascii_digits(v) and int(v) > 0
