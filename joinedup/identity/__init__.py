"""The identity vault: the only room that sees direct identifiers.

It validates and normalises identifiers, replaces them with keyed pseudonyms, and keeps them in
a database of their own (``vault.duckdb``), apart from the linked store.
"""

from joinedup.identity.checks import (
    is_temporary_upn,
    is_valid_nhs_number,
    is_valid_upn,
    is_valid_uprn,
    nhs_check_digit,
    normalise_nhs_number,
    normalise_postcode,
    upn_check_letter,
)
from joinedup.identity.normalise import month_of_birth, name_parts, normalise_name, parse_date
from joinedup.identity.pseudonym import pseudonym, pseudonymise_values

__all__ = [
    "is_temporary_upn",
    "is_valid_nhs_number",
    "is_valid_upn",
    "is_valid_uprn",
    "month_of_birth",
    "name_parts",
    "nhs_check_digit",
    "normalise_name",
    "normalise_nhs_number",
    "normalise_postcode",
    "parse_date",
    "pseudonym",
    "pseudonymise_values",
    "upn_check_letter",
]
