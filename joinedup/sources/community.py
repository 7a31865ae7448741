"""Police and housing extracts.

Police person records rarely carry an NHS number; housing records are keyed by property (UPRN).
"""

from __future__ import annotations

from joinedup.model import Agency, IdentityRole
from joinedup.sources.contract import (
    SEX_MF,
    ColumnKind,
    ColumnSpec,
    OnInvalid,
    SourceContract,
    SourceFormat,
    TableSpec,
    codes,
)

K = ColumnKind
R = IdentityRole
C = ColumnSpec


def _person(prefix: str = "") -> tuple[ColumnSpec, ...]:
    return (
        C(name="forename", kind=K.TEXT, required=True, identity=R.GIVEN_NAME),
        C(name="surname", kind=K.TEXT, required=True, identity=R.FAMILY_NAME),
        C(name="dob", kind=K.DATE, identity=R.DATE_OF_BIRTH),
        C(
            name="sex",
            kind=K.CODE,
            required=True,
            codes=codes("M", "F", "U"),
            identity=R.SEX,
            sex_map=(*SEX_MF, ("U", "U")),
        ),
        C(name="nhs_number", kind=K.NHS_NUMBER, identity=R.NHS_NUMBER, on_invalid=OnInvalid.FLAG),
        C(name="postcode", kind=K.POSTCODE, identity=R.POSTCODE, on_invalid=OnInvalid.FLAG),
    )


PERSON_ROLES = codes("victim", "suspect", "offender", "witness", "missing_person", "other")
OFFICER_ETHNICITY = codes("IC1", "IC2", "IC3", "IC4", "IC5", "IC6", "IC9")

POLICE = SourceContract(
    name="police",
    title="Police incidents and missing-person reports",
    agency=Agency.POLICE,
    format=SourceFormat.CSV_FOLDER,
    standard="Force records management extract: occurrences with person roles; missing persons",
    tables=(
        TableSpec(
            name="incidents",
            file="incidents.csv",
            identity_records=True,
            columns=(
                C(name="occurrence_ref", kind=K.TEXT, required=True),
                C(name="person_ref", kind=K.TEXT, required=True),
                C(name="reported_date", kind=K.DATE, required=True),
                C(
                    name="offence_group",
                    kind=K.TEXT,
                    required=True,
                    description="Home Office offence group",
                ),
                C(name="person_role", kind=K.CODE, required=True, codes=PERSON_ROLES),
                *_person(),
                C(
                    name="officer_ethnicity",
                    kind=K.CODE,
                    codes=OFFICER_ETHNICITY,
                    on_invalid=OnInvalid.FLAG,
                ),
                C(name="outcome_type", kind=K.INTEGER, minimum=1, maximum=22),
            ),
        ),
        TableSpec(
            name="missing_persons",
            file="missing_persons.csv",
            identity_records=True,
            columns=(
                C(name="report_ref", kind=K.TEXT, required=True),
                *_person(),
                C(name="missing_from", kind=K.DATE, required=True),
                C(name="found_date", kind=K.DATE),
                C(
                    name="risk_grade",
                    kind=K.CODE,
                    required=True,
                    codes=codes("no_apparent_risk", "low", "medium", "high"),
                ),
                C(name="from_care", kind=K.CODE, required=True, codes=codes("Y", "N")),
                C(
                    name="return_interview",
                    kind=K.CODE,
                    codes=codes("offered_accepted", "offered_declined", "not_offered"),
                ),
            ),
        ),
    ),
)

HOUSING = SourceContract(
    name="housing",
    title="Homelessness and temporary accommodation",
    agency=Agency.HOUSING,
    format=SourceFormat.CSV,
    standard="H-CLIC style case records, one row per household member, keyed by UPRN",
    tables=(
        TableSpec(
            name="housing",
            file="housing.csv",
            identity_records=True,
            columns=(
                C(name="case_ref", kind=K.TEXT, required=True),
                C(name="person_ref", kind=K.TEXT, required=True),
                C(
                    name="relationship",
                    kind=K.CODE,
                    required=True,
                    codes=codes("applicant", "partner", "child", "other"),
                ),
                *_person(),
                C(name="uprn", kind=K.UPRN, identity=R.UPRN, on_invalid=OnInvalid.FLAG),
                C(name="approach_date", kind=K.DATE, required=True),
                C(
                    name="duty",
                    kind=K.CODE,
                    required=True,
                    codes=codes("prevention", "relief", "main", "none"),
                ),
                C(name="ta_start", kind=K.DATE),
                C(name="ta_end", kind=K.DATE),
                C(
                    name="ta_type",
                    kind=K.CODE,
                    codes=codes("bnb", "hostel", "private_leased", "la_stock", "other"),
                ),
            ),
        ),
    ),
)

# Public reference data the node needs (in reality ONS NSPL, IoD 2025, GIAS and ODS extracts).
REFERENCE = SourceContract(
    name="reference",
    title="Reference geography and organisations",
    agency=Agency.REFERENCE,
    format=SourceFormat.CSV_FOLDER,
    standard="ONS postcode to LSOA 2021 lookup, IoD 2025 deciles, GIAS schools, ODS practices",
    tables=(
        TableSpec(
            name="postcodes",
            file="postcodes.csv",
            columns=(
                C(name="pcds", kind=K.POSTCODE, required=True),
                C(name="lsoa21cd", kind=K.TEXT, required=True),
            ),
        ),
        TableSpec(
            name="lsoa",
            file="lsoa.csv",
            columns=(
                C(name="lsoa21cd", kind=K.TEXT, required=True),
                C(name="lsoa21nm", kind=K.TEXT, required=True),
                C(name="ward", kind=K.TEXT, required=True),
                C(name="imd_decile", kind=K.INTEGER, required=True, minimum=1, maximum=10),
                C(name="idaci_decile", kind=K.INTEGER, required=True, minimum=1, maximum=10),
                C(name="imd_vintage", kind=K.TEXT, required=True),
            ),
        ),
        TableSpec(
            name="schools",
            file="schools.csv",
            columns=(
                C(name="urn", kind=K.INTEGER, required=True, minimum=100000, maximum=999999),
                C(name="laestab", kind=K.INTEGER, required=True),
                C(name="school_name", kind=K.TEXT, required=True),
                C(
                    name="phase",
                    kind=K.CODE,
                    required=True,
                    codes=codes("primary", "secondary", "special", "all_through"),
                ),
                C(name="lsoa21cd", kind=K.TEXT, required=True),
            ),
        ),
        TableSpec(
            name="gp_practices",
            file="gp_practices.csv",
            columns=(
                C(name="practice_code", kind=K.TEXT, required=True),
                C(name="practice_name", kind=K.TEXT, required=True),
                C(name="lsoa21cd", kind=K.TEXT, required=True),
            ),
        ),
    ),
)
