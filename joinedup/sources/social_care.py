"""Children's social care extracts: CIN census (XML), SSDA903 (CSV tables), case-system persons.

The statutory returns carry no names and no NHS number: they name the child by the local
authority's child id (``LAchildID`` / ``CHILD``), UPN, date of birth and sex. Names and the NHS
number (``pers_common_child_id``) come from the local case system's person table, shaped after
the Standard Safeguarding Dataset's ``ssd_person``.
"""

from __future__ import annotations

from joinedup.model import Agency, IdentityRole
from joinedup.sources.codesets import DFE_ETHNICITY
from joinedup.sources.contract import (
    SEX_12,
    SEX_12_09,
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

_LA_CHILD = SubjectRef(namespace=KeyNamespace.LA_CHILD_ID, column="LAchildID")
_LA_ID = C(name="LAchildID", kind=K.TEXT, required=True, identity=R.LOCAL_ID)

REFERRAL_SOURCES = codes(
    "1A",
    "1B",
    "1C",
    "1D",
    "2A",
    "2B",
    "3A",
    "3B",
    "3C",
    "3D",
    "3E",
    "3F",
    "4",
    "5A",
    "5B",
    "5C",
    "5D",
    "6",
    "7",
    "8",
    "9",
    "10",
)
PRIMARY_NEED = codes("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9", "N0")
CLOSURE_REASONS = codes("RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9")
ABUSE_CATEGORY = codes("NEG", "PHY", "SAB", "EMO", "MUL")

CIN = SourceContract(
    name="cin",
    title="Children in Need census",
    agency=Agency.SOCIAL_CARE,
    format=SourceFormat.CIN_XML,
    standard="DfE CIN census XML return (one Child element with CINdetails children)",
    description="Read from the XML into one table per element group; a row number is the "
    "element's position in the document.",
    tables=(
        TableSpec(
            name="child",
            file="Child",
            identity_records=True,
            keys=(_LA_CHILD, SubjectRef(namespace=KeyNamespace.UPN, column="UPN")),
            columns=(
                _LA_ID,
                C(name="UPN", kind=K.UPN, identity=R.UPN, on_invalid=OnInvalid.FLAG),
                C(name="FormerUPN", kind=K.UPN, identity=R.FORMER_UPN, on_invalid=OnInvalid.FLAG),
                C(
                    name="UPNunknown",
                    kind=K.CODE,
                    codes=codes("UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7"),
                ),
                C(name="PersonBirthDate", kind=K.DATE, identity=R.DATE_OF_BIRTH),
                C(name="ExpectedPersonBirthDate", kind=K.DATE, store_as_month=True),
                C(
                    name="Sex",
                    kind=K.CODE,
                    required=True,
                    # M/F/U since the 2024/25 census (DfE rule 4180); legacy 1/2/0/9 still read
                    codes=codes("M", "F", "U", "1", "2", "0", "9"),
                    identity=R.SEX,
                    sex_map=(*SEX_MF, ("U", "U"), *SEX_12_09),
                ),
                C(name="PersonDeathDate", kind=K.DATE, store_as_month=True),
                C(name="Ethnicity", kind=K.CODE, codes=DFE_ETHNICITY, on_invalid=OnInvalid.FLAG),
            ),
        ),
        TableSpec(
            name="cindetails",
            file="CINdetails",
            subject=_LA_CHILD,
            columns=(
                _LA_ID,
                C(name="CINdetailsID", kind=K.TEXT, required=True),
                C(name="CINreferralDate", kind=K.DATE, required=True),
                C(name="ReferralSource", kind=K.CODE, required=True, codes=REFERRAL_SOURCES),
                C(name="PrimaryNeedCode", kind=K.CODE, codes=PRIMARY_NEED),
                C(name="CINclosureDate", kind=K.DATE),
                C(name="ReasonForClosure", kind=K.CODE, codes=CLOSURE_REASONS),
                C(
                    name="ReferralNFA",
                    kind=K.CODE,
                    required=True,
                    codes=codes("0", "1", "true", "false"),
                ),
            ),
        ),
        TableSpec(
            name="assessments",
            file="Assessments",
            subject=_LA_CHILD,
            columns=(
                _LA_ID,
                C(name="CINdetailsID", kind=K.TEXT, required=True),
                C(name="AssessmentActualStartDate", kind=K.DATE, required=True),
                C(name="AssessmentAuthorisationDate", kind=K.DATE),
                C(
                    name="AssessmentFactors",
                    kind=K.TEXT,
                    description="Factors identified at assessment, comma-separated codes",
                ),
            ),
        ),
        TableSpec(
            name="cpp",
            file="ChildProtectionPlans",
            subject=_LA_CHILD,
            columns=(
                _LA_ID,
                C(name="CINdetailsID", kind=K.TEXT, required=True),
                C(name="CPPstartDate", kind=K.DATE, required=True),
                C(name="CPPendDate", kind=K.DATE),
                C(name="InitialCategoryOfAbuse", kind=K.CODE, required=True, codes=ABUSE_CATEGORY),
                C(name="LatestCategoryOfAbuse", kind=K.CODE, required=True, codes=ABUSE_CATEGORY),
                C(name="NumberOfPreviousCPP", kind=K.INTEGER, required=True, minimum=0, maximum=50),
            ),
        ),
    ),
)

_CHILD = SubjectRef(namespace=KeyNamespace.LA_CHILD_ID, column="CHILD")
_CHILD_ID = C(name="CHILD", kind=K.TEXT, required=True, identity=R.LOCAL_ID)
_D903 = "%d/%m/%Y"

SSDA903 = SourceContract(
    name="ssda903",
    title="Children looked after (SSDA903)",
    agency=Agency.SOCIAL_CARE,
    format=SourceFormat.CSV_FOLDER,
    standard="DfE SSDA903 return: header, episodes and missing tables (dates DD/MM/YYYY)",
    tables=(
        TableSpec(
            name="header",
            file="header.csv",
            identity_records=True,
            keys=(_CHILD, SubjectRef(namespace=KeyNamespace.UPN, column="UPN")),
            columns=(
                _CHILD_ID,
                C(
                    name="SEX",
                    kind=K.CODE,
                    required=True,
                    # M/F/U since the 2024/25 return (DfE rule 101); legacy 1/2 still read
                    codes=codes("M", "F", "U", "1", "2"),
                    identity=R.SEX,
                    sex_map=(*SEX_MF, ("U", "U"), *SEX_12),
                ),
                C(
                    name="DOB",
                    kind=K.DATE,
                    required=True,
                    date_format=_D903,
                    identity=R.DATE_OF_BIRTH,
                ),
                C(name="ETHNIC", kind=K.CODE, codes=DFE_ETHNICITY, on_invalid=OnInvalid.FLAG),
                C(
                    name="UPN",
                    kind=K.TEXT,
                    identity=R.UPN,
                    description="UPN, or UN1-UN5 where unknown",
                ),
                C(name="MOTHER", kind=K.CODE, codes=codes("0", "1")),
                C(name="MC_DOB", kind=K.DATE, date_format=_D903, store_as_month=True),
            ),
        ),
        TableSpec(
            name="episodes",
            file="episodes.csv",
            subject=_CHILD,
            columns=(
                _CHILD_ID,
                C(name="DECOM", kind=K.DATE, required=True, date_format=_D903),
                C(
                    name="RNE",
                    kind=K.CODE,
                    required=True,
                    codes=codes("S", "L", "P", "T", "U", "B"),
                ),
                C(name="LS", kind=K.TEXT, required=True),
                C(name="CIN", kind=K.TEXT, required=True),
                C(name="PLACE", kind=K.TEXT, required=True),
                C(name="PLACE_PROVIDER", kind=K.TEXT),
                C(name="DEC", kind=K.DATE, date_format=_D903),
                C(name="REC", kind=K.TEXT),
                C(name="REASON_PLACE_CHANGE", kind=K.TEXT),
                C(name="HOME_POST", kind=K.TEXT, description="Home postcode district (outward)"),
                C(name="PL_POST", kind=K.TEXT, description="Placement postcode district"),
                C(name="URN", kind=K.TEXT),
            ),
        ),
        TableSpec(
            name="missing",
            file="missing.csv",
            subject=_CHILD,
            columns=(
                _CHILD_ID,
                C(name="DOB", kind=K.DATE, date_format=_D903, store_as_month=True),
                C(name="MISSING", kind=K.CODE, required=True, codes=codes("M", "A")),
                C(name="MIS_START", kind=K.DATE, required=True, date_format=_D903),
                C(name="MIS_END", kind=K.DATE, date_format=_D903),
            ),
        ),
    ),
)

CSC_PERSONS = SourceContract(
    name="csc_persons",
    title="Children's social care case-system persons",
    agency=Agency.SOCIAL_CARE,
    format=SourceFormat.CSV,
    standard="Standard Safeguarding Dataset ssd_person with the current address postcode",
    spine=True,
    tables=(
        TableSpec(
            name="csc_persons",
            file="csc_persons.csv",
            identity_records=True,
            keys=(
                SubjectRef(namespace=KeyNamespace.LA_CHILD_ID, column="pers_person_id"),
                SubjectRef(namespace=KeyNamespace.UPN, column="pers_upn"),
                SubjectRef(namespace=KeyNamespace.NHS_NUMBER, column="pers_common_child_id"),
            ),
            columns=(
                C(name="pers_person_id", kind=K.TEXT, required=True, identity=R.LOCAL_ID),
                C(name="pers_forename", kind=K.TEXT, required=True, identity=R.GIVEN_NAME),
                C(name="pers_surname", kind=K.TEXT, required=True, identity=R.FAMILY_NAME),
                C(
                    name="pers_sex",
                    kind=K.CODE,
                    required=True,
                    codes=codes("M", "F", "U"),
                    identity=R.SEX,
                    sex_map=(*SEX_MF, ("U", "U")),
                ),
                C(name="pers_dob", kind=K.DATE, identity=R.DATE_OF_BIRTH),
                C(name="pers_expected_dob", kind=K.DATE, store_as_month=True),
                C(
                    name="pers_ethnicity",
                    kind=K.CODE,
                    codes=DFE_ETHNICITY,
                    on_invalid=OnInvalid.FLAG,
                ),
                C(
                    name="pers_common_child_id",
                    kind=K.NHS_NUMBER,
                    identity=R.NHS_NUMBER,
                    on_invalid=OnInvalid.FLAG,
                    description="NHS number where known",
                ),
                C(name="pers_upn", kind=K.UPN, identity=R.UPN, on_invalid=OnInvalid.FLAG),
                C(
                    name="addr_postcode",
                    kind=K.POSTCODE,
                    identity=R.POSTCODE,
                    on_invalid=OnInvalid.FLAG,
                ),
            ),
        ),
    ),
)
