"""Vectorised makers of simulated identifiers: NHS numbers (999 test range), UPNs, UPRNs.

Invariants: every NHS number made here is ten digits, starts 999 and passes the modulus-11
check of ``joinedup.identity.nhs_check_digit``; every UPN made here passes
``joinedup.identity.is_valid_upn``; all of them are unique within one call. The vectorised
arithmetic mirrors the scalar checks in ``joinedup.identity.checks`` (tests compare them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from joinedup.identity import nhs_check_digit, upn_check_letter
from joinedup.identity.checks import UPN_CHECK_LETTERS

_NHS_WEIGHTS = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_UPN_ALPHABET = np.array(list(UPN_CHECK_LETTERS))


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.int64]:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def nhs_check_digits(first_nine: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Check digits for nine-digit bodies; -1 where no valid number exists (remainder 10)."""
    total = (_digits(first_nine, 9) * _NHS_WEIGHTS).sum(axis=1)
    check = 11 - (total % 11)
    check = np.where(check == 11, 0, check)
    return np.where(check == 10, -1, check)


def make_nhs_numbers(n: int, rng: np.random.Generator) -> npt.NDArray[np.str_]:
    """``n`` distinct valid NHS numbers in the 999 test range (at most ~909,000 exist)."""
    bodies = 999_000_000 + rng.permutation(1_000_000).astype(np.int64)
    checks = nhs_check_digits(bodies)
    valid = checks >= 0
    bodies, checks = bodies[valid], checks[valid]
    if n > len(bodies):
        raise ValueError(f"at most {len(bodies)} test-range NHS numbers exist; asked for {n}")
    numbers = bodies[:n] * 10 + checks[:n]
    out = numbers.astype(str)
    # Guard the vectorised arithmetic against the reference implementation on a sample.
    for value in out[:5]:
        assert nhs_check_digit(value[:9]) == int(value[9])
    return out


def break_nhs_numbers(numbers: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """The same numbers with the last digit changed so that the modulus-11 check fails."""
    if len(numbers) == 0:
        return numbers
    body = np.array([int(v[:9]) for v in numbers], dtype=np.int64)
    last = np.array([int(v[9]) for v in numbers], dtype=np.int64)
    good = nhs_check_digits(body)
    bad = (np.where(good >= 0, good, last) + 1 + (last % 7)) % 10
    bad = np.where(bad == good, (bad + 1) % 10, bad)
    return np.array([f"{b}{d}" for b, d in zip(body, bad, strict=True)])


def _upn_values(bodies: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
    """Per-character values of 12-character UPN bodies (digits as themselves, letters by index)."""
    chars = bodies.astype("U12").view("U1").reshape(len(bodies), 12)
    values = np.zeros(chars.shape, dtype=np.int64)
    is_digit = np.char.isdigit(chars)
    values[is_digit] = chars[is_digit].astype(np.int64)
    if (~is_digit).any():
        lookup = {c: i for i, c in enumerate(UPN_CHECK_LETTERS)}
        letters = chars[~is_digit]
        values[~is_digit] = np.array([lookup[c] for c in letters], dtype=np.int64)
    return values


def upn_check_letters(bodies: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """Check letters for 12-character UPN bodies (vectorised ``upn_check_letter``)."""
    if len(bodies) == 0:
        return np.array([], dtype="U1")
    total = (_upn_values(bodies) * np.arange(2, 14, dtype=np.int64)).sum(axis=1)
    letters: npt.NDArray[np.str_] = _UPN_ALPHABET[total % 23]
    return letters


def make_upns(
    laestab: npt.NDArray[np.int64],
    year_allocated: npt.NDArray[np.int64],
    *,
    temporary: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> npt.NDArray[np.str_]:
    """UPNs: check letter, LA code + establishment (``laestab``), 2-digit year, 3-digit serial.

    Serials are unique within (establishment, year); temporary UPNs end in a letter.
    """
    n = len(laestab)
    if n == 0:
        return np.array([], dtype="U13")
    key = (laestab.astype(np.int64) * 100 + (year_allocated % 100)) * 2 + temporary
    order = np.lexsort((rng.random(n), key))
    sorted_key = key[order]
    new_run = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    starts = np.flatnonzero(new_run)
    run_id = np.cumsum(new_run) - 1
    serial = np.empty(n, dtype=np.int64)
    serial[order] = np.arange(n) - starts[run_id]
    # More than 1,000 pupils in one (school, year) spill into the year digits' neighbour.
    year2 = (year_allocated + serial // np.where(temporary, 2300, 1000)) % 100
    head = np.char.add(laestab.astype(str), np.char.zfill(year2.astype(str), 2))
    permanent_tail = np.char.zfill((serial % 1000).astype(str), 3)
    # Temporary UPNs: two digits and a letter, numbered apart from the permanent ones.
    temp_tail = np.char.add(
        np.char.zfill((serial % 100).astype(str), 2), _UPN_ALPHABET[(serial // 100) % 23]
    )
    bodies = np.char.add(head, np.where(temporary, temp_tail, permanent_tail))
    upns = np.char.add(upn_check_letters(bodies), bodies)
    for value in upns[:5]:
        assert upn_check_letter(value[1:]) == value[0]
    return upns


def break_upns(upns: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """The same UPNs with a wrong check letter."""
    if len(upns) == 0:
        return upns
    bodies = np.array([u[1:] for u in upns])
    good = upn_check_letters(bodies)
    idx = np.searchsorted(_UPN_ALPHABET, good)
    wrong = _UPN_ALPHABET[(idx + 7) % len(_UPN_ALPHABET)]
    return np.char.add(wrong, bodies)
