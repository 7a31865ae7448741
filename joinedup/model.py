"""Domain value types shared by every room: agencies, identifier roles, data levels, purposes."""

from __future__ import annotations

from enum import StrEnum


class Agency(StrEnum):
    EDUCATION = "education"
    HEALTH = "health"
    SOCIAL_CARE = "social_care"
    POLICE = "police"
    HOUSING = "housing"
    REFERENCE = "reference"


class IdentityRole(StrEnum):
    """What a source column tells about who a record is about. Only the vault keeps these values."""

    LOCAL_ID = "local_id"
    GIVEN_NAME = "given_name"
    MIDDLE_NAMES = "middle_names"
    FAMILY_NAME = "family_name"
    FORMER_FAMILY_NAME = "former_family_name"
    PREFERRED_FAMILY_NAME = "preferred_family_name"
    DATE_OF_BIRTH = "date_of_birth"
    SEX = "sex"
    NHS_NUMBER = "nhs_number"
    UPN = "upn"
    FORMER_UPN = "former_upn"
    POSTCODE = "postcode"
    UPRN = "uprn"
    ADDRESS = "address"


class DataLevel(StrEnum):
    L0_IDENTIFIABLE = "L0"
    L1_PSEUDONYMISED = "L1"
    L2_AGGREGATE = "L2"
    L3_SYNTHETIC = "L3"
    L4_PUBLIC = "L4"


class Purpose(StrEnum):
    DIRECT_CARE = "direct_care"
    PLANNING = "planning"
    POPULATION_HEALTH = "population_health"
    RESEARCH = "research"
    EVALUATION = "evaluation"

    @property
    def opt_out_applies(self) -> bool:
        return self is not Purpose.DIRECT_CARE


class Sex(StrEnum):
    """The store's one sex encoding; each source's own codes map onto it in its contract."""

    MALE = "M"
    FEMALE = "F"
    INDETERMINATE = "I"
    UNKNOWN = "U"
