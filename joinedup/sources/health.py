"""Health extracts: Healthy Child Programme 2-year review, NCMP, GP records, hospital admissions.

Health records carry the NHS number (999 test range in simulated data) with demographics.
ASQ-3 appears as domain scores and zones only: item wording and cut-offs are proprietary.
"""

from __future__ import annotations

from joinedup.model import Agency, IdentityRole
from joinedup.sources.codesets import NHS_ETHNIC_CATEGORY
from joinedup.sources.contract import (
    SEX_12_09,
    ColumnKind,
    ColumnSpec,
    KeyNamespace,
    OnInvalid,
    SourceContract,
    SourceFormat,
    SubjectRef,
    TableSpec,
    codes,
)

K = ColumnKind
R = IdentityRole
C = ColumnSpec


def _health_identity(*, given: str = "forename", family: str = "surname") -> tuple[ColumnSpec, ...]:
    return (
        C(
            name="nhs_number",
            kind=K.NHS_NUMBER,
            identity=R.NHS_NUMBER,
            on_invalid=OnInvalid.FLAG,
            description="NHS number (10 digits, modulus-11 check digit)",
        ),
        C(name=family, kind=K.TEXT, required=True, identity=R.FAMILY_NAME),
        C(name=given, kind=K.TEXT, required=True, identity=R.GIVEN_NAME),
        C(name="dob", kind=K.DATE, required=True, identity=R.DATE_OF_BIRTH),
        C(
            name="sex",
            kind=K.CODE,
            required=True,
            codes=codes("1", "2", "0", "9"),
            identity=R.SEX,
            sex_map=SEX_12_09,
            description="NHS person stated gender code",
        ),
        C(name="postcode", kind=K.POSTCODE, identity=R.POSTCODE, on_invalid=OnInvalid.FLAG),
    )


ASQ_DOMAINS: tuple[tuple[str, str], ...] = (
    ("communication", "Communication"),
    ("gross_motor", "Gross motor"),
    ("fine_motor", "Fine motor"),
    ("problem_solving", "Problem solving"),
    ("personal_social", "Personal-social"),
)
ASQ_ZONES = codes("above", "monitoring", "below")

HCP_REVIEW = SourceContract(
    name="hcp_review",
    title="Healthy Child Programme 2-2.5 year review (ASQ-3)",
    agency=Agency.HEALTH,
    format=SourceFormat.CSV,
    standard="Community health services 2-year review; ASQ-3 domain scores 0-60 and zones",
    tables=(
        TableSpec(
            name="hcp_review",
            file="hcp_review.csv",
            identity_records=True,
            keys=(SubjectRef(namespace=KeyNamespace.NHS_NUMBER, column="nhs_number"),),
            columns=(
                *_health_identity(),
                C(name="review_date", kind=K.DATE, required=True),
                C(name="age_months", kind=K.INTEGER, required=True, minimum=20, maximum=36),
                *(
                    col
                    for code, label in ASQ_DOMAINS
                    for col in (
                        C(
                            name=f"asq_{code}",
                            kind=K.INTEGER,
                            required=True,
                            minimum=0,
                            maximum=60,
                            description=f"ASQ-3 {label} domain score",
                        ),
                        C(
                            name=f"zone_{code}",
                            kind=K.CODE,
                            required=True,
                            codes=ASQ_ZONES,
                            description=f"ASQ-3 {label} zone as recorded by the health visitor",
                        ),
                    )
                ),
            ),
        ),
    ),
)

NCMP = SourceContract(
    name="ncmp",
    title="National Child Measurement Programme",
    agency=Agency.HEALTH,
    format=SourceFormat.CSV,
    standard="NCMP Reception and Year 6 measurements",
    tables=(
        TableSpec(
            name="ncmp",
            file="ncmp.csv",
            identity_records=True,
            keys=(SubjectRef(namespace=KeyNamespace.NHS_NUMBER, column="nhs_number"),),
            columns=(
                *_health_identity(),
                C(name="school_urn", kind=K.INTEGER, minimum=100000, maximum=999999),
                C(name="school_year", kind=K.CODE, required=True, codes=codes("R", "6")),
                C(name="measurement_date", kind=K.DATE, required=True),
                C(name="height_cm", kind=K.DECIMAL, required=True, minimum=80, maximum=200),
                C(name="weight_kg", kind=K.DECIMAL, required=True, minimum=8, maximum=150),
            ),
        ),
    ),
)

_GP_PATIENT = SubjectRef(namespace=KeyNamespace.GP_PATIENT_ID, column="patient_id")

GP_EVENTS = SourceContract(
    name="gp_events",
    title="GP registrations and coded events",
    agency=Agency.HEALTH,
    format=SourceFormat.CSV_FOLDER,
    standard="GP system extract: patient registrations and SNOMED CT coded events",
    spine=True,
    tables=(
        TableSpec(
            name="patients",
            file="patients.csv",
            identity_records=True,
            keys=(_GP_PATIENT, SubjectRef(namespace=KeyNamespace.NHS_NUMBER, column="nhs_number")),
            description="One row per registration (a move of practice or address is a new row).",
            columns=(
                C(name="patient_id", kind=K.TEXT, required=True, identity=R.LOCAL_ID),
                *_health_identity(),
                C(name="practice_code", kind=K.TEXT, required=True),
                C(name="registration_start", kind=K.DATE, required=True),
                C(name="registration_end", kind=K.DATE),
                C(
                    name="ethnic_category",
                    kind=K.CODE,
                    codes=NHS_ETHNIC_CATEGORY,
                    on_invalid=OnInvalid.FLAG,
                ),
            ),
        ),
        TableSpec(
            name="events",
            file="events.csv",
            subject=_GP_PATIENT,
            columns=(
                C(name="patient_id", kind=K.TEXT, required=True, identity=R.LOCAL_ID),
                C(name="event_date", kind=K.DATE, required=True),
                C(name="snomed_concept_id", kind=K.INTEGER, required=True, minimum=100000),
                C(name="practice_code", kind=K.TEXT, required=True),
            ),
        ),
    ),
)

HOSPITAL_APC = SourceContract(
    name="hospital_apc",
    title="Hospital admitted patient care episodes",
    agency=Agency.HEALTH,
    format=SourceFormat.CSV,
    standard="HES/SUS admitted patient care (ICD-10 diagnoses, OPCS-4 procedures)",
    tables=(
        TableSpec(
            name="hospital_apc",
            file="hospital_apc.csv",
            identity_records=True,
            keys=(SubjectRef(namespace=KeyNamespace.NHS_NUMBER, column="nhs_number"),),
            columns=(
                C(name="epikey", kind=K.TEXT, required=True, description="Episode key"),
                *_health_identity(),
                C(name="ethnos", kind=K.CODE, codes=NHS_ETHNIC_CATEGORY, on_invalid=OnInvalid.FLAG),
                C(name="procode", kind=K.TEXT, required=True, description="Provider code"),
                C(name="admidate", kind=K.DATE, required=True),
                C(name="epistart", kind=K.DATE, required=True),
                C(name="epiend", kind=K.DATE),
                C(name="disdate", kind=K.DATE),
                C(
                    name="admimeth",
                    kind=K.CODE,
                    codes=codes(
                        "11",
                        "12",
                        "13",
                        "21",
                        "22",
                        "23",
                        "24",
                        "25",
                        "28",
                        "31",
                        "82",
                        "83",
                        "2A",
                        "2B",
                        "2C",
                        "2D",
                    ),
                ),
                C(
                    name="classpat",
                    kind=K.CODE,
                    required=True,
                    codes=codes("1", "2", "3", "4", "5"),
                ),
                C(name="diag_4_01", kind=K.TEXT, required=True, description="Primary ICD-10"),
                C(name="diag_4_02", kind=K.TEXT),
                C(name="diag_4_03", kind=K.TEXT),
                C(name="opertn_4_01", kind=K.TEXT, description="Main OPCS-4 procedure"),
                C(name="opdate_01", kind=K.DATE),
                C(name="opertn_4_02", kind=K.TEXT),
            ),
        ),
    ),
)
