"""Education extracts: school census, attendance, suspensions and exclusions, EYFSP, Key Stage 2.

Column names follow the DfE Common Basic Data Set as local authority extracts spell them
(liia-tools school census schemas). None carries an NHS number: education links to health by
name, date of birth, sex and postcode, and within education by UPN.
"""

from __future__ import annotations

from joinedup.model import Agency, IdentityRole
from joinedup.sources import codesets
from joinedup.sources.contract import (
    SEX_MF,
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

_UPN_SUBJECT = SubjectRef(namespace=KeyNamespace.UPN, column="upn")

_URN = C(
    name="urn",
    kind=K.INTEGER,
    required=True,
    minimum=100000,
    maximum=999999,
    description="School unique reference number (GIAS)",
)


def _upn(required: bool = True) -> ColumnSpec:
    return C(
        name="upn",
        kind=K.UPN,
        required=required,
        identity=R.UPN,
        description="Unique pupil number (13 characters, mod-23 check letter)",
    )


def _pupil_identity() -> tuple[ColumnSpec, ...]:
    return (
        _upn(),
        C(name="surname", kind=K.TEXT, required=True, identity=R.FAMILY_NAME),
        C(name="forename", kind=K.TEXT, required=True, identity=R.GIVEN_NAME),
        C(name="dob", kind=K.DATE, required=True, identity=R.DATE_OF_BIRTH),
        C(
            name="sex",
            kind=K.CODE,
            required=True,
            codes=codes("M", "F"),
            identity=R.SEX,
            sex_map=SEX_MF,
        ),
    )


SCHOOL_CENSUS = SourceContract(
    name="school_census",
    title="School census (spring)",
    agency=Agency.EDUCATION,
    format=SourceFormat.CSV_FOLDER,
    standard="DfE Common Basic Data Set, school census pupil-level return",
    spine=True,
    description="Pupils on roll on census day, with their addresses, free school meal "
    "periods and ranked special educational needs.",
    tables=(
        TableSpec(
            name="pupilonroll",
            file="pupilonroll.csv",
            identity_records=True,
            keys=(_UPN_SUBJECT, SubjectRef(namespace=KeyNamespace.UPN, column="formerupn")),
            description="One row per pupil on roll.",
            columns=(
                C(name="censusdate", kind=K.DATE, required=True),
                _URN,
                *_pupil_identity(),
                C(name="formerupn", kind=K.UPN, identity=R.FORMER_UPN, on_invalid=OnInvalid.FLAG),
                C(name="middlenames", kind=K.TEXT, identity=R.MIDDLE_NAMES),
                C(name="preferredsurname", kind=K.TEXT, identity=R.PREFERRED_FAMILY_NAME),
                C(name="formersurname", kind=K.TEXT, identity=R.FORMER_FAMILY_NAME),
                C(
                    name="ethnicity",
                    kind=K.CODE,
                    codes=codesets.DFE_ETHNICITY,
                    on_invalid=OnInvalid.FLAG,
                ),
                C(
                    name="language",
                    kind=K.CODE,
                    codes=codesets.DFE_LANGUAGE,
                    on_invalid=OnInvalid.FLAG,
                    description="First language (EAL = not ENG/ENB)",
                ),
                C(name="entrydate", kind=K.DATE, required=True),
                C(name="ncyearactual", kind=K.CODE, required=True, codes=codesets.NC_YEARS),
                C(name="enrolstatus", kind=K.CODE, required=True, codes=codesets.ENROL_STATUS),
                C(name="senprovision", kind=K.CODE, required=True, codes=codesets.SEN_PROVISION),
                C(name="adoptedfromcare", kind=K.CODE, codes=codes("N", "A", "G", "R", "C")),
            ),
        ),
        TableSpec(
            name="addressesonroll",
            file="addressesonroll.csv",
            identity_records=True,
            keys=(_UPN_SUBJECT,),
            description="Each pupil's address on census day.",
            columns=(
                _upn(),
                C(
                    name="uniquepropertyreferencenumber",
                    kind=K.UPRN,
                    identity=R.UPRN,
                    on_invalid=OnInvalid.FLAG,
                ),
                C(name="paon", kind=K.TEXT, identity=R.ADDRESS),
                C(name="street", kind=K.TEXT, identity=R.ADDRESS),
                C(name="town", kind=K.TEXT),
                C(name="postcode", kind=K.POSTCODE, identity=R.POSTCODE, on_invalid=OnInvalid.FLAG),
            ),
        ),
        TableSpec(
            name="fsmperiodsonroll",
            file="fsmperiodsonroll.csv",
            subject=_UPN_SUBJECT,
            description="Free school meal eligibility periods.",
            columns=(
                _upn(),
                C(name="fsmstartdate", kind=K.DATE, required=True),
                C(name="fsmenddate", kind=K.DATE),
                C(name="ukcountry", kind=K.CODE, codes=codes("ENG", "WLS", "SCT", "NIR")),
            ),
        ),
        TableSpec(
            name="senneeds",
            file="senneeds.csv",
            subject=_UPN_SUBJECT,
            description="Ranked SEN need types (rank 1 primary, 2 secondary).",
            columns=(
                _upn(),
                C(name="sentype", kind=K.CODE, required=True, codes=codesets.SEN_TYPE),
                C(name="sentyperank", kind=K.INTEGER, required=True, minimum=1, maximum=2),
            ),
        ),
    ),
)

ATTENDANCE = SourceContract(
    name="attendance",
    title="Attendance (termly sessions by reason)",
    agency=Agency.EDUCATION,
    format=SourceFormat.CSV,
    standard="School census termly session details with the August 2024 register codes",
    description="Sessions possible and sessions recorded under each attendance code, per pupil "
    "and term.",
    tables=(
        TableSpec(
            name="attendance",
            file="attendance.csv",
            subject=_UPN_SUBJECT,
            columns=(
                _upn(),
                _URN,
                C(name="academicyear", kind=K.TEXT, required=True, description="e.g. 2025/26"),
                C(name="term", kind=K.CODE, required=True, codes=codesets.TERMS),
                C(name="sessionspossible", kind=K.INTEGER, required=True, minimum=0, maximum=200),
                C(
                    name="attendancereason",
                    kind=K.CODE,
                    required=True,
                    codes=codesets.ATTENDANCE_CODES_2024,
                ),
                C(name="sessions", kind=K.INTEGER, required=True, minimum=0, maximum=200),
            ),
        ),
    ),
)

EXCLUSIONS = SourceContract(
    name="exclusions",
    title="Suspensions and permanent exclusions",
    agency=Agency.EDUCATION,
    format=SourceFormat.CSV,
    standard="School census termly exclusions (category and reason codes, 2020/21 onwards)",
    tables=(
        TableSpec(
            name="exclusions",
            file="exclusions.csv",
            subject=_UPN_SUBJECT,
            columns=(
                _upn(),
                _URN,
                C(name="category", kind=K.CODE, required=True, codes=codesets.EXCLUSION_CATEGORY),
                C(name="reason", kind=K.CODE, required=True, codes=codesets.EXCLUSION_REASON),
                C(name="startdate", kind=K.DATE, required=True),
                C(name="sessions", kind=K.INTEGER, required=True, minimum=0, maximum=400),
            ),
        ),
    ),
)

# The 17 early learning goals (2021 framework); the first 12 decide a good level of development.
ELG_CODES: tuple[tuple[str, str], ...] = (
    ("elg_lau", "Listening, attention and understanding"),
    ("elg_spe", "Speaking"),
    ("elg_sre", "Self-regulation"),
    ("elg_mse", "Managing self"),
    ("elg_bre", "Building relationships"),
    ("elg_gmo", "Gross motor skills"),
    ("elg_fmo", "Fine motor skills"),
    ("elg_com", "Comprehension"),
    ("elg_wre", "Word reading"),
    ("elg_wri", "Writing"),
    ("elg_num", "Number"),
    ("elg_npa", "Numerical patterns"),
    ("elg_ppr", "Past and present"),
    ("elg_pcc", "People, culture and communities"),
    ("elg_tnw", "The natural world"),
    ("elg_cwm", "Creating with materials"),
    ("elg_bie", "Being imaginative and expressive"),
)
GLD_ELGS = tuple(code for code, _ in ELG_CODES[:12])

EYFSP = SourceContract(
    name="eyfsp",
    title="Early Years Foundation Stage Profile",
    agency=Agency.EDUCATION,
    format=SourceFormat.CSV,
    standard="EYFSP return (17 ELGs: 1 emerging, 2 expected, A not assessed)",
    tables=(
        TableSpec(
            name="eyfsp",
            file="eyfsp.csv",
            identity_records=True,
            keys=(_UPN_SUBJECT,),
            columns=(
                *_pupil_identity(),
                _URN,
                C(name="academicyear", kind=K.TEXT, required=True),
                *(
                    C(
                        name=code,
                        kind=K.CODE,
                        required=True,
                        codes=codes("1", "2", "A"),
                        description=label,
                    )
                    for code, label in ELG_CODES
                ),
            ),
        ),
    ),
)

_KS2_TEST_CODES = codes("A", "B", "M", "T", "U", "J", "H")

KS2 = SourceContract(
    name="ks2",
    title="Key Stage 2 results",
    agency=Agency.EDUCATION,
    format=SourceFormat.CSV,
    standard="KS2 tests (scaled scores 80-120) and teacher assessments",
    tables=(
        TableSpec(
            name="ks2",
            file="ks2.csv",
            identity_records=True,
            keys=(_UPN_SUBJECT,),
            columns=(
                *_pupil_identity(),
                _URN,
                C(name="academicyear", kind=K.TEXT, required=True),
                C(name="read_scaled", kind=K.INTEGER, minimum=80, maximum=120),
                C(name="read_status", kind=K.CODE, codes=_KS2_TEST_CODES),
                C(name="mat_scaled", kind=K.INTEGER, minimum=80, maximum=120),
                C(name="mat_status", kind=K.CODE, codes=_KS2_TEST_CODES),
                C(name="gps_scaled", kind=K.INTEGER, minimum=80, maximum=120),
                C(name="gps_status", kind=K.CODE, codes=_KS2_TEST_CODES),
                C(
                    name="writ_ta",
                    kind=K.CODE,
                    required=True,
                    codes=codes(
                        "WTS",
                        "EXS",
                        "GDS",
                        "PK1",
                        "PK2",
                        "PK3",
                        "PK4",
                        "PK5",
                        "PK6",
                        "BLW",
                        "A",
                        "D",
                        "Q",
                    ),
                ),
                C(name="sci_ta", kind=K.CODE, codes=codes("EXS", "HNM", "BLW", "A", "D")),
            ),
        ),
    ),
)
