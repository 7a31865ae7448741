"""Source contracts: the declared shape of every agency extract a node ingests.

``CONTRACTS`` lists them in ingest order (reference data first, so postcodes can be coarsened
to LSOA as person records arrive).
"""

from __future__ import annotations

from joinedup.sources.community import HOUSING, POLICE, REFERENCE
from joinedup.sources.contract import (
    ColumnKind,
    ColumnSpec,
    KeyNamespace,
    OnInvalid,
    SourceContract,
    SourceFormat,
    SubjectRef,
    TableSpec,
)
from joinedup.sources.education import ATTENDANCE, EXCLUSIONS, EYFSP, KS2, SCHOOL_CENSUS
from joinedup.sources.health import GP_EVENTS, HCP_REVIEW, HOSPITAL_APC, NCMP
from joinedup.sources.social_care import CIN, CSC_PERSONS, SSDA903

CONTRACTS: tuple[SourceContract, ...] = (
    REFERENCE,
    SCHOOL_CENSUS,
    ATTENDANCE,
    EXCLUSIONS,
    EYFSP,
    KS2,
    HCP_REVIEW,
    NCMP,
    GP_EVENTS,
    HOSPITAL_APC,
    CSC_PERSONS,
    CIN,
    SSDA903,
    POLICE,
    HOUSING,
)

_BY_NAME = {c.name: c for c in CONTRACTS}


def get_contract(name: str) -> SourceContract:
    """The contract for a source name; raises KeyError listing the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(_BY_NAME)}") from None


__all__ = [
    "CONTRACTS",
    "ColumnKind",
    "ColumnSpec",
    "KeyNamespace",
    "OnInvalid",
    "SourceContract",
    "SourceFormat",
    "SubjectRef",
    "TableSpec",
    "get_contract",
]
