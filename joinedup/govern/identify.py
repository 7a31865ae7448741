"""How a citizen names a child to the dissent and consent registers, without the registers ever
holding an identifier.

A parent or young person gives an NHS number or a UPN, and the date of birth. Both are checked
(NHS number check digit, UPN check letter) and turned at once into the node's keyed pseudonyms,
the same keys the person index uses, so the registers can be matched to persons at refresh:

- NHS number + date of birth -> the ``nhs_dob`` key (``pseudonym(key, "nhs_dob", nhs|dob)``);
- UPN -> the ``upn`` key (the check letter guards against a mistyped UPN; the month of birth is
  kept in the register, and the refresh excludes every person holding the key).

Invariants: the identifiers live only in this function's arguments; the returned ``ChildKey``
holds a pseudonym and a month of birth; errors never repeat a value. This is the only module of
``joinedup.govern`` that imports ``joinedup.identity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from joinedup.config import NodeSettings
from joinedup.errors import UsageError
from joinedup.identity.checks import is_valid_nhs_number, is_valid_upn, normalise_nhs_number
from joinedup.identity.pseudonym import pseudonym
from joinedup.identity.secret_key import read_secret_key


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildKey:
    namespace: str  # nhs_dob or upn (as in link__subject_person)
    subject_key: str  # the keyed pseudonym
    birth_month: str  # YYYY-MM
    identified_by: str  # nhs_number or upn
    age_years: int  # on the day the key was made (for the parent / young person rules)


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def identify_child(
    settings: NodeSettings,
    *,
    date_of_birth: date,
    today: date,
    nhs_number: str | None = None,
    upn: str | None = None,
) -> ChildKey:
    """The child's key from an NHS number or a UPN, with the date of birth."""
    if (nhs_number is None) == (upn is None):
        raise UsageError("identify the child by exactly one of --nhs-number or --upn")
    if date_of_birth > today:
        raise UsageError("the date of birth is in the future")
    key = read_secret_key(settings.key_path)
    age = age_in_years(date_of_birth, today)
    month = f"{date_of_birth:%Y-%m}"
    if nhs_number is not None:
        digits = normalise_nhs_number(nhs_number)
        if digits is None or not is_valid_nhs_number(digits):
            raise UsageError("the NHS number is not valid (10 digits with a correct check digit)")
        value = f"{digits}|{date_of_birth.isoformat()}"
        return ChildKey(
            namespace="nhs_dob",
            subject_key=pseudonym(key, "nhs_dob", value),
            birth_month=month,
            identified_by="nhs_number",
            age_years=age,
        )
    assert upn is not None
    normal = upn.strip().upper()
    if not is_valid_upn(normal):
        raise UsageError("the UPN is not valid (13 characters with a correct check letter)")
    return ChildKey(
        namespace="upn",
        subject_key=pseudonym(key, "upn", normal),
        birth_month=month,
        identified_by="upn",
        age_years=age,
    )
