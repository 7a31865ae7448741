"""The linked store: child-centric ``store__*`` tables keyed by person_id, and ``store__timeline``.

Each table is one named SQL step over the ``raw__*`` tables ingest wrote and the person index
(``link__record_person`` for identity records, ``link__subject_person`` for event rows). A
refresh builds every table under a suffix (``store__person__next``) and then swaps them all in,
with the index tables, in one transaction (``publish_tables``): readers see the old store or the
new one, never a mix.

Invariants:
- no direct identifier enters a store table: the raw tables carry none (ingest keeps them in the
  vault), and of the coarsened identity columns the store keeps only month of birth, sex and
  LSOA; no store table has a date-of-birth column;
- every row of a store table has a person_id (rows whose subject the index does not know are
  dropped, and counted by the refresh);
- a raw table that has not been ingested yet reads as empty (``RAW_INPUTS`` declares the
  columns each step reads), so a node with only some sources still refreshes;
- this module knows nothing of source contracts (the store sits below them); a unit test holds
  ``RAW_INPUTS`` to the contracts.
"""

# SQL here is assembled from this package's own constants (table names, rule names, code
# sets) and never from row values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from joinedup.store.schema import quote_identifier

_D, _I, _F, _V = "DATE", "BIGINT", "DOUBLE", "VARCHAR"
_ID_COLS = (("birth_month", _V), ("sex", _V))
# EYFSP early learning goals (the first 12 decide a good level of development) and ASQ-3 domains.
GLD_ELGS = (
    "elg_lau",
    "elg_spe",
    "elg_sre",
    "elg_mse",
    "elg_bre",
    "elg_gmo",
    "elg_fmo",
    "elg_com",
    "elg_wre",
    "elg_wri",
    "elg_num",
    "elg_npa",
)
ALL_ELGS = (*GLD_ELGS, "elg_ppr", "elg_pcc", "elg_tnw", "elg_cwm", "elg_bie")
ASQ_DOMAINS = ("communication", "gross_motor", "fine_motor", "problem_solving", "personal_social")

# The raw columns the store reads, by raw table (after batch_id, row_number, record_key,
# subject_key). Types follow ingest: DATE, BIGINT, DOUBLE, else VARCHAR.
RAW_INPUTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "raw__school_census__pupilonroll": (
        ("censusdate", _D),
        ("urn", _I),
        ("ethnicity", _V),
        ("language", _V),
        ("entrydate", _D),
        ("ncyearactual", _V),
        ("enrolstatus", _V),
        ("senprovision", _V),
        ("adoptedfromcare", _V),
        *_ID_COLS,
    ),
    "raw__school_census__addressesonroll": (("lsoa21cd", _V),),
    "raw__school_census__fsmperiodsonroll": (("fsmstartdate", _D), ("fsmenddate", _D)),
    "raw__school_census__senneeds": (("sentype", _V), ("sentyperank", _I)),
    "raw__attendance__attendance": (
        ("urn", _I),
        ("academicyear", _V),
        ("term", _V),
        ("sessionspossible", _I),
        ("attendancereason", _V),
        ("sessions", _I),
    ),
    "raw__exclusions__exclusions": (
        ("urn", _I),
        ("category", _V),
        ("reason", _V),
        ("startdate", _D),
        ("sessions", _I),
    ),
    "raw__eyfsp__eyfsp": (
        ("urn", _I),
        ("academicyear", _V),
        *(
            (f"elg_{c}", _V)
            for c in (
                [
                    "lau",
                    "spe",
                    "sre",
                    "mse",
                    "bre",
                    "gmo",
                    "fmo",
                    "com",
                    "wre",
                    "wri",
                    "num",
                    "npa",
                    "ppr",
                    "pcc",
                    "tnw",
                    "cwm",
                    "bie",
                ]
            )
        ),
        *_ID_COLS,
    ),
    "raw__ks2__ks2": (
        ("urn", _I),
        ("academicyear", _V),
        ("read_scaled", _I),
        ("read_status", _V),
        ("mat_scaled", _I),
        ("mat_status", _V),
        ("gps_scaled", _I),
        ("gps_status", _V),
        ("writ_ta", _V),
        ("sci_ta", _V),
        *_ID_COLS,
    ),
    "raw__hcp_review__hcp_review": (
        ("review_date", _D),
        ("age_months", _I),
        *(
            col
            for d in (
                "communication",
                "gross_motor",
                "fine_motor",
                "problem_solving",
                "personal_social",
            )
            for col in ((f"asq_{d}", _I), (f"zone_{d}", _V))
        ),
        *_ID_COLS,
        ("lsoa21cd", _V),
    ),
    "raw__ncmp__ncmp": (
        ("school_urn", _I),
        ("school_year", _V),
        ("measurement_date", _D),
        ("height_cm", _F),
        ("weight_kg", _F),
        *_ID_COLS,
        ("lsoa21cd", _V),
    ),
    "raw__gp_events__patients": (
        ("practice_code", _V),
        ("registration_start", _D),
        ("registration_end", _D),
        ("ethnic_category", _V),
        *_ID_COLS,
        ("lsoa21cd", _V),
    ),
    "raw__gp_events__events": (
        ("event_date", _D),
        ("snomed_concept_id", _I),
        ("practice_code", _V),
    ),
    "raw__hospital_apc__hospital_apc": (
        ("ethnos", _V),
        ("procode", _V),
        ("admidate", _D),
        ("epistart", _D),
        ("epiend", _D),
        ("disdate", _D),
        ("admimeth", _V),
        ("classpat", _V),
        ("diag_4_01", _V),
        ("diag_4_02", _V),
        ("diag_4_03", _V),
        ("opertn_4_01", _V),
        ("opdate_01", _D),
        ("opertn_4_02", _V),
        *_ID_COLS,
        ("lsoa21cd", _V),
    ),
    "raw__csc_persons__csc_persons": (("pers_ethnicity", _V), *_ID_COLS, ("lsoa21cd", _V)),
    "raw__cin__child": (("Ethnicity", _V), *_ID_COLS),
    "raw__cin__cindetails": (
        ("CINdetailsID", _V),
        ("CINreferralDate", _D),
        ("ReferralSource", _V),
        ("PrimaryNeedCode", _V),
        ("CINclosureDate", _D),
        ("ReasonForClosure", _V),
        ("ReferralNFA", _V),
    ),
    "raw__cin__assessments": (
        ("CINdetailsID", _V),
        ("AssessmentActualStartDate", _D),
        ("AssessmentAuthorisationDate", _D),
        ("AssessmentFactors", _V),
    ),
    "raw__cin__cpp": (
        ("CINdetailsID", _V),
        ("CPPstartDate", _D),
        ("CPPendDate", _D),
        ("InitialCategoryOfAbuse", _V),
        ("LatestCategoryOfAbuse", _V),
        ("NumberOfPreviousCPP", _I),
    ),
    "raw__ssda903__header": (("ETHNIC", _V), *_ID_COLS),
    "raw__ssda903__episodes": (
        ("DECOM", _D),
        ("RNE", _V),
        ("LS", _V),
        ("CIN", _V),
        ("PLACE", _V),
        ("PLACE_PROVIDER", _V),
        ("DEC", _D),
        ("REC", _V),
        ("REASON_PLACE_CHANGE", _V),
        ("HOME_POST", _V),
        ("PL_POST", _V),
        ("URN", _V),
    ),
    "raw__ssda903__missing": (("MISSING", _V), ("MIS_START", _D), ("MIS_END", _D)),
    "raw__police__incidents": (
        ("reported_date", _D),
        ("offence_group", _V),
        ("person_role", _V),
        ("officer_ethnicity", _V),
        ("outcome_type", _I),
        *_ID_COLS,
        ("lsoa21cd", _V),
    ),
    "raw__police__missing_persons": (
        ("missing_from", _D),
        ("found_date", _D),
        ("risk_grade", _V),
        ("from_care", _V),
        ("return_interview", _V),
        *_ID_COLS,
        ("lsoa21cd", _V),
    ),
    "raw__housing__housing": (
        ("relationship", _V),
        ("approach_date", _D),
        ("duty", _V),
        ("ta_start", _D),
        ("ta_end", _D),
        ("ta_type", _V),
        *_ID_COLS,
    ),
}
REF_INPUTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "ref__lsoa": (("lsoa21cd", _V), ("imd_decile", _I)),
}
RAW_KEYS: tuple[tuple[str, str], ...] = (
    ("batch_id", _V),
    ("row_number", _I),
    ("record_key", _V),
    ("subject_key", _V),
)

# Attendance codes (August 2024 register): which count as present, authorised or unauthorised
# absence. Codes outside these (Q, Y1-Y7 unable to attend; Z, # admin; X non-compulsory age)
# count in none, as in the DfE's absence statistics.
PRESENT_CODES = ("/", "\\", "L", "K", "V", "P", "W", "B", "D")
AUTHORISED_CODES = ("C1", "M", "J1", "S", "C2", "C", "T", "R", "I", "E")
UNAUTHORISED_CODES = ("G", "N", "O", "U")
PERSISTENT_ABSENCE_RATE = 0.10
# NHS ethnic category -> DfE main ethnicity code (the 2001-census based categories map 1:1).
NHS_TO_DFE_ETHNICITY: Mapping[str, str] = {
    "A": "WBRI",
    "B": "WIRI",
    "C": "WOTH",
    "D": "MWBC",
    "E": "MWBA",
    "F": "MWAS",
    "G": "MOTH",
    "H": "AIND",
    "J": "APKN",
    "K": "ABAN",
    "L": "AOTH",
    "M": "BCRB",
    "N": "BAFR",
    "P": "BOTH",
    "R": "CHNE",
    "S": "OOTH",
    "Z": "REFU",
    "99": "NOBT",
}
NOT_KNOWN_ETHNICITY = ("REFU", "NOBT")


def _codes(values: Sequence[str]) -> str:
    # code-set constants from this module, never row values
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTables:
    """The index tables a store build reads (the staged ones during a refresh)."""

    record_person: str = "link__record_person"
    subject_person: str = "link__subject_person"
    conflicts: str = "link__conflicts"


def _by_record(raw: str, link: LinkTables) -> str:
    return f"{raw} x JOIN {link.record_person} lp ON lp.record_key = x.record_key"


def _by_subject(raw: str, namespace: str, link: LinkTables) -> str:
    return (
        f"{raw} x JOIN {link.subject_person} lp "
        f"ON lp.namespace = '{namespace}' AND lp.subject_key = x.subject_key"
    )


def _enrolment(link: LinkTables, _: str) -> str:
    fsm = _by_subject("raw__school_census__fsmperiodsonroll", "upn", link)
    sen = _by_subject("raw__school_census__senneeds", "upn", link)
    return (
        "WITH fsm AS (SELECT lp.person_id, x.fsmstartdate, x.fsmenddate FROM " + fsm + "), "
        "sen AS (SELECT lp.person_id, "
        "  arg_min(x.sentype, x.row_number) FILTER (WHERE x.sentyperank = 1) AS primary_need, "
        "  arg_min(x.sentype, x.row_number) FILTER (WHERE x.sentyperank = 2) AS secondary_need "
        "  FROM " + sen + " GROUP BY lp.person_id) "
        "SELECT lp.person_id, x.censusdate AS census_date, x.urn, x.ncyearactual AS ncyear, "
        "x.entrydate AS entry_date, x.enrolstatus AS enrol_status, "
        "x.senprovision AS sen_provision, "
        "EXISTS (SELECT 1 FROM fsm WHERE fsm.person_id = lp.person_id "
        "  AND fsm.fsmstartdate <= x.censusdate "
        "  AND coalesce(fsm.fsmenddate, DATE '9999-12-31') >= x.censusdate) "
        "  AS is_fsm_on_census_day, "
        "sen.primary_need AS sen_primary_need, sen.secondary_need AS sen_secondary_need, "
        "x.adoptedfromcare AS adopted_from_care "
        "FROM " + _by_record("raw__school_census__pupilonroll", link) + " "
        "LEFT JOIN sen ON sen.person_id = lp.person_id"
    )


def _attendance(link: LinkTables, _: str) -> str:
    src = _by_subject("raw__attendance__attendance", "upn", link)
    return (
        "WITH per_school AS ("
        "  SELECT lp.person_id, x.academicyear, x.term, x.urn, "
        "  max(x.sessionspossible) AS possible, "
        f"  coalesce(sum(x.sessions) FILTER (WHERE x.attendancereason IN "
        f"({_codes(PRESENT_CODES)})), 0) AS present, "
        f"  coalesce(sum(x.sessions) FILTER (WHERE x.attendancereason IN "
        f"({_codes(AUTHORISED_CODES)})), 0) AS authorised, "
        f"  coalesce(sum(x.sessions) FILTER (WHERE x.attendancereason IN "
        f"({_codes(UNAUTHORISED_CODES)})), 0) AS unauthorised "
        f"  FROM {src} GROUP BY ALL) "
        "SELECT person_id, academicyear AS academic_year, term, "
        "CASE term WHEN 'AUT' THEN make_date(try_cast(left(academicyear, 4) AS INTEGER), 9, 1) "
        "  WHEN 'SPR' THEN make_date(try_cast(left(academicyear, 4) AS INTEGER) + 1, 1, 1) "
        "  WHEN 'SUM' THEN make_date(try_cast(left(academicyear, 4) AS INTEGER) + 1, 4, 1) "
        "  END AS term_start, "
        "count(DISTINCT urn) AS schools, sum(possible)::BIGINT AS sessions_possible, "
        "sum(present)::BIGINT AS sessions_present, "
        "sum(authorised)::BIGINT AS authorised_absence, "
        "sum(unauthorised)::BIGINT AS unauthorised_absence, "
        "CASE WHEN sum(possible) > 0 THEN (sum(authorised) + sum(unauthorised)) / sum(possible) "
        "  END AS absence_rate, "
        "coalesce(sum(possible) > 0 AND (sum(authorised) + sum(unauthorised)) "
        f"  >= {PERSISTENT_ABSENCE_RATE} * sum(possible), false) AS is_persistent_absence "
        "FROM per_school GROUP BY person_id, academicyear, term"
    )


def _exclusion(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.urn, x.category, x.reason, x.startdate AS start_date, "
        "x.sessions FROM " + _by_subject("raw__exclusions__exclusions", "upn", link)
    )


def _eyfsp(link: LinkTables, _: str) -> str:
    elgs = ", ".join(f"x.{e}" for e in ALL_ELGS)
    gld = " AND ".join(f"coalesce(x.{e} = '2', false)" for e in GLD_ELGS)
    expected = " + ".join(f"(coalesce(x.{e} = '2', false))::INTEGER" for e in ALL_ELGS)
    return (
        "SELECT lp.person_id, x.urn, x.academicyear AS academic_year, "
        "make_date(try_cast(left(x.academicyear, 4) AS INTEGER) + 1, 6, 30) AS assessed_by, "
        f"{elgs}, ({gld}) AS is_gld, ({expected}) AS elgs_expected "
        "FROM " + _by_record("raw__eyfsp__eyfsp", link)
    )


def _ks2(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.urn, x.academicyear AS academic_year, "
        "make_date(try_cast(left(x.academicyear, 4) AS INTEGER) + 1, 5, 31) AS assessed_by, "
        "x.read_scaled, x.read_status, x.mat_scaled, x.mat_status, x.gps_scaled, x.gps_status, "
        "x.writ_ta, x.sci_ta, "
        "coalesce(x.read_scaled >= 100 AND x.mat_scaled >= 100 AND x.writ_ta IN ('EXS', 'GDS'), "
        "false) AS is_expected_rwm "
        "FROM " + _by_record("raw__ks2__ks2", link)
    )


def _development_check(link: LinkTables, _: str) -> str:
    cols = ", ".join(f"x.asq_{d}, x.zone_{d}" for d in ASQ_DOMAINS)
    expected = " AND ".join(f"coalesce(x.zone_{d} <> 'below', false)" for d in ASQ_DOMAINS)
    below = " + ".join(f"(coalesce(x.zone_{d} = 'below', false))::INTEGER" for d in ASQ_DOMAINS)
    return (
        f"SELECT lp.person_id, x.review_date, x.age_months, {cols}, "
        f"({expected}) AS is_all_five_expected, ({below}) AS domains_below, x.lsoa21cd "
        "FROM " + _by_record("raw__hcp_review__hcp_review", link)
    )


def _ncmp(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.school_urn, x.school_year, x.measurement_date, x.height_cm, "
        "x.weight_kg, CASE WHEN x.height_cm > 0 THEN "
        "round(x.weight_kg / ((x.height_cm / 100.0) * (x.height_cm / 100.0)), 2) END AS bmi, "
        "x.lsoa21cd FROM " + _by_record("raw__ncmp__ncmp", link)
    )


def _gp_registration(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.practice_code, x.registration_start, x.registration_end, "
        "x.ethnic_category, x.lsoa21cd FROM " + _by_record("raw__gp_events__patients", link)
    )


def _gp_event(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.event_date, x.snomed_concept_id, x.practice_code FROM "
        + _by_subject("raw__gp_events__events", "gp_patient_id", link)
    )


# Birth episodes (admission method 82: born in this hospital; 83: born outside it) are dated on
# the day of birth, so their dates would put the date of birth back into the store: they keep
# only the month (the first of it) and the length of stay.
BIRTH_ADMISSION_METHODS = ("82", "83")


def _admission(link: LinkTables, _: str) -> str:
    birth = f"x.admimeth IN ({_codes(BIRTH_ADMISSION_METHODS)})"

    def dated(column: str) -> str:
        return (
            f"CASE WHEN {birth} THEN date_trunc('month', x.{column})::DATE "
            f"ELSE x.{column} END AS {column}"
        )

    return (
        "SELECT lp.person_id, x.procode, "
        f"{dated('admidate')}, {dated('epistart')}, {dated('epiend')}, {dated('disdate')}, "
        "(x.disdate - x.admidate)::BIGINT AS length_of_stay_days, "
        f"coalesce({birth}, false) AS is_birth_episode, "
        "x.admimeth, x.classpat, x.diag_4_01, x.diag_4_02, x.diag_4_03, x.opertn_4_01, "
        f"{dated('opdate_01')}, x.opertn_4_02, x.lsoa21cd "
        "FROM " + _by_record("raw__hospital_apc__hospital_apc", link)
    )


def _social_care_episode(link: LinkTables, _: str) -> str:
    nfa = "CASE WHEN x.ReferralNFA IN ('1', 'true') THEN true " + (
        "WHEN x.ReferralNFA IN ('0', 'false') THEN false END"
    )
    return (
        "SELECT lp.person_id, 'cin_referral' AS episode_type, x.CINdetailsID AS cin_details_id, "
        "x.CINreferralDate AS start_date, x.CINclosureDate AS end_date, "
        "x.ReferralSource AS referral_source, x.PrimaryNeedCode AS primary_need, "
        f"x.ReasonForClosure AS closure_reason, {nfa} AS is_referral_nfa, "
        "NULL::VARCHAR AS assessment_factors, NULL::VARCHAR AS initial_category_of_abuse, "
        "NULL::VARCHAR AS latest_category_of_abuse, NULL::BIGINT AS previous_cpps "
        "FROM " + _by_subject("raw__cin__cindetails", "la_child_id", link) + " "
        "UNION ALL "
        "SELECT lp.person_id, 'assessment', x.CINdetailsID, x.AssessmentActualStartDate, "
        "x.AssessmentAuthorisationDate, NULL, NULL, NULL, NULL, x.AssessmentFactors, NULL, NULL, "
        "NULL FROM " + _by_subject("raw__cin__assessments", "la_child_id", link) + " "
        "UNION ALL "
        "SELECT lp.person_id, 'child_protection_plan', x.CINdetailsID, x.CPPstartDate, "
        "x.CPPendDate, NULL, NULL, NULL, NULL, NULL, x.InitialCategoryOfAbuse, "
        "x.LatestCategoryOfAbuse, x.NumberOfPreviousCPP "
        "FROM " + _by_subject("raw__cin__cpp", "la_child_id", link)
    )


def _cla_episode(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.DECOM AS start_date, x.DEC AS end_date, "
        "x.RNE AS reason_new_episode, x.LS AS legal_status, x.CIN AS category_of_need, "
        "x.PLACE AS placement_type, x.PLACE_PROVIDER AS placement_provider, "
        "x.REC AS reason_episode_ceased, x.REASON_PLACE_CHANGE AS reason_place_change, "
        "x.HOME_POST AS home_postcode_district, x.PL_POST AS placement_postcode_district, "
        "x.URN AS placement_urn "
        "FROM " + _by_subject("raw__ssda903__episodes", "la_child_id", link)
    )


def _missing_episode(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, 'ssda903' AS source, "
        "CASE x.MISSING WHEN 'M' THEN 'missing' WHEN 'A' THEN 'away' END AS missing_type, "
        "x.MIS_START AS start_date, x.MIS_END AS end_date, NULL::VARCHAR AS risk_grade, "
        "true AS is_from_care, NULL::VARCHAR AS return_interview "
        "FROM " + _by_subject("raw__ssda903__missing", "la_child_id", link) + " "
        "UNION ALL "
        "SELECT lp.person_id, 'police', 'missing', x.missing_from, x.found_date, x.risk_grade, "
        "x.from_care = 'Y', x.return_interview "
        "FROM " + _by_record("raw__police__missing_persons", link)
    )


def _police_event(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.reported_date, x.offence_group, x.person_role, x.outcome_type, "
        "x.officer_ethnicity, x.lsoa21cd FROM " + _by_record("raw__police__incidents", link)
    )


def _housing(link: LinkTables, _: str) -> str:
    return (
        "SELECT lp.person_id, x.relationship, x.approach_date, x.duty, x.ta_start, x.ta_end, "
        "x.ta_type FROM " + _by_record("raw__housing__housing", link)
    )


# (raw table, has birth month/sex, seen-date expression, DfE ethnicity, NHS ethnicity, language)
_DEMOGRAPHIC_SOURCES: tuple[tuple[str, str | None, str | None, str | None, str | None], ...] = (
    ("raw__school_census__pupilonroll", "x.censusdate", "x.ethnicity", None, "x.language"),
    ("raw__eyfsp__eyfsp", None, None, None, None),
    ("raw__ks2__ks2", None, None, None, None),
    ("raw__hcp_review__hcp_review", "x.review_date", None, None, None),
    ("raw__ncmp__ncmp", "x.measurement_date", None, None, None),
    ("raw__gp_events__patients", "x.registration_start", None, "x.ethnic_category", None),
    ("raw__hospital_apc__hospital_apc", "x.admidate", None, "x.ethnos", None),
    ("raw__csc_persons__csc_persons", None, "x.pers_ethnicity", None, None),
    ("raw__cin__child", None, "x.Ethnicity", None, None),
    ("raw__ssda903__header", None, "x.ETHNIC", None, None),
    ("raw__police__incidents", "x.reported_date", None, None, None),
    ("raw__police__missing_persons", "x.missing_from", None, None, None),
    ("raw__housing__housing", "x.approach_date", None, None, None),
)
_LSOA_SOURCES = frozenset(
    t for t, cols in RAW_INPUTS.items() if any(c == "lsoa21cd" for c, _ in cols)
)


def _person(link: LinkTables, suffix: str) -> str:
    parts = []
    for raw, seen, dfe, nhs, language in _DEMOGRAPHIC_SOURCES:
        lsoa = "x.lsoa21cd" if raw in _LSOA_SOURCES else "NULL::VARCHAR"
        parts.append(
            f"SELECT lp.person_id, x.birth_month, x.sex, {lsoa} AS lsoa21cd, "
            f"{seen or 'NULL::DATE'} AS seen, {dfe or 'NULL::VARCHAR'} AS dfe, "
            f"{nhs or 'NULL::VARCHAR'} AS nhs, {language or 'NULL::VARCHAR'} AS language "
            f"FROM {_by_record(raw, link)}"
        )
    parts.append(
        "SELECT lp.person_id, NULL, NULL, x.lsoa21cd, NULL, NULL, NULL, NULL "
        f"FROM {_by_record('raw__school_census__addressesonroll', link)}"
    )
    mapping = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in NHS_TO_DFE_ETHNICITY.items())
    known = _codes(NOT_KNOWN_ETHNICITY)
    timeline = timeline_sql(suffix)
    return (
        "WITH demo AS (" + " UNION ALL ".join(parts) + "), "
        "people AS (SELECT person_id FROM " + link.record_person + " UNION "
        "  SELECT person_id FROM " + link.subject_person + "), "
        "agg AS (SELECT person_id, "
        "  mode(birth_month) AS birth_month, "
        "  mode(sex) FILTER (WHERE sex IN ('M', 'F')) AS sex_mf, "
        "  mode(dfe) FILTER (WHERE dfe NOT IN (" + known + ")) AS dfe_known, "
        "  mode(dfe) AS dfe_any, "
        "  mode(CASE nhs " + mapping + " END) FILTER (WHERE nhs NOT IN ('Z', '99')) AS nhs_known, "
        "  mode(CASE nhs " + mapping + " END) AS nhs_any, "
        "  mode(language) AS language, "
        "  arg_max(lsoa21cd, coalesce(seen, DATE '1900-01-01')) FILTER (WHERE lsoa21cd IS NOT "
        "  NULL) AS lsoa21cd "
        "  FROM demo GROUP BY person_id), "
        "sources AS (SELECT person_id, list(DISTINCT source ORDER BY source) AS sources FROM ("
        "  SELECT person_id, source FROM " + link.record_person + " UNION "
        "  SELECT person_id, source FROM (" + timeline + ")) GROUP BY person_id), "
        "seen AS (SELECT person_id, min(event_date) AS first_seen, max(event_date) AS last_seen "
        "  FROM (" + timeline + ") GROUP BY person_id), "
        "records AS (SELECT person_id, count(*) AS n_records FROM " + link.record_person + " "
        "  GROUP BY person_id), "
        "conflicts AS (SELECT DISTINCT person_id FROM " + link.conflicts + ") "
        "SELECT p.person_id, a.birth_month, coalesce(a.sex_mf, 'U') AS sex, "
        "coalesce(a.dfe_known, a.nhs_known, a.dfe_any, a.nhs_any) AS ethnicity, "
        "CASE WHEN a.dfe_known IS NOT NULL THEN 'education_social_care' "
        "  WHEN a.nhs_known IS NOT NULL THEN 'nhs' WHEN a.dfe_any IS NOT NULL "
        "  THEN 'education_social_care' WHEN a.nhs_any IS NOT NULL THEN 'nhs' END "
        "  AS ethnicity_source, "
        "a.language AS first_language, "
        "CASE WHEN a.language IN ('ENG', 'ENB') THEN false "
        "  WHEN a.language IN ('NOT', 'REF') OR a.language IS NULL THEN NULL ELSE true END "
        "  AS is_eal, "
        "a.lsoa21cd, l.imd_decile, "
        "coalesce(s.sources, []::VARCHAR[]) AS sources, "
        "coalesce(r.n_records, 0) AS n_records, "
        "se.first_seen, se.last_seen, "
        "c.person_id IS NOT NULL AS is_link_conflict "
        "FROM people p LEFT JOIN agg a USING (person_id) "
        "LEFT JOIN (SELECT lsoa21cd, any_value(imd_decile) AS imd_decile FROM ref__lsoa "
        "  GROUP BY lsoa21cd) l ON l.lsoa21cd = a.lsoa21cd "
        "LEFT JOIN sources s USING (person_id) LEFT JOIN seen se USING (person_id) "
        "LEFT JOIN records r USING (person_id) LEFT JOIN conflicts c USING (person_id)"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreTableSpec:
    name: str
    description: str
    build: Callable[[LinkTables, str], str]  # (index tables, suffix) -> SELECT


STORE_TABLES: tuple[StoreTableSpec, ...] = (
    StoreTableSpec(
        name="store__enrolment",
        description="School census rows: school, year group, SEN, FSM on census day.",
        build=_enrolment,
    ),
    StoreTableSpec(
        name="store__attendance",
        description="Sessions per person and term, with the persistent-absence flag.",
        build=_attendance,
    ),
    StoreTableSpec(
        name="store__exclusion", description="Suspensions and exclusions.", build=_exclusion
    ),
    StoreTableSpec(
        name="store__eyfsp", description="EYFSP: 17 ELGs and the GLD flag.", build=_eyfsp
    ),
    StoreTableSpec(name="store__ks2", description="Key Stage 2 results.", build=_ks2),
    StoreTableSpec(
        name="store__development_check",
        description="2-2.5 year review: ASQ-3 domain scores, zones, all-five flag.",
        build=_development_check,
    ),
    StoreTableSpec(name="store__ncmp", description="NCMP measurements with BMI.", build=_ncmp),
    StoreTableSpec(
        name="store__gp_registration",
        description="GP registrations.",
        build=_gp_registration,
    ),
    StoreTableSpec(name="store__gp_event", description="GP coded events.", build=_gp_event),
    StoreTableSpec(
        name="store__admission", description="Hospital admitted care episodes.", build=_admission
    ),
    StoreTableSpec(
        name="store__social_care_episode",
        description="CIN referrals, assessments and child protection plans.",
        build=_social_care_episode,
    ),
    StoreTableSpec(
        name="store__cla_episode",
        description="Looked-after episodes (SSDA903).",
        build=_cla_episode,
    ),
    StoreTableSpec(
        name="store__missing_episode",
        description="Missing episodes from SSDA903 and police reports.",
        build=_missing_episode,
    ),
    StoreTableSpec(
        name="store__police_event", description="Police incidents.", build=_police_event
    ),
    StoreTableSpec(name="store__housing", description="Housing approaches.", build=_housing),
    # last: it reads the other tables through the timeline
    StoreTableSpec(
        name="store__person",
        description="One row per person: month of birth, sex, ethnicity, language, area.",
        build=_person,
    ),
)
TIMELINE_VIEW = "store__timeline"

# (table, date column, source, event type expression, detail code expression)
_TIMELINE_PARTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("store__enrolment", "census_date", "'school_census'", "'on_roll'", "ncyear"),
    (
        "store__attendance",
        "term_start",
        "'attendance'",
        "'attendance_term'",
        "CASE WHEN is_persistent_absence THEN 'persistent_absence' ELSE 'not_persistent' END",
    ),
    ("store__exclusion", "start_date", "'exclusions'", "'exclusion'", "category"),
    (
        "store__eyfsp",
        "assessed_by",
        "'eyfsp'",
        "'eyfsp'",
        "CASE WHEN is_gld THEN 'gld' ELSE 'not_gld' END",
    ),
    (
        "store__ks2",
        "assessed_by",
        "'ks2'",
        "'ks2'",
        "CASE WHEN is_expected_rwm THEN 'expected_rwm' ELSE 'not_expected_rwm' END",
    ),
    (
        "store__development_check",
        "review_date",
        "'hcp_review'",
        "'development_check'",
        "CASE WHEN is_all_five_expected THEN 'all_five' ELSE 'below_in_' || domains_below END",
    ),
    ("store__ncmp", "measurement_date", "'ncmp'", "'ncmp'", "school_year"),
    (
        "store__gp_registration",
        "registration_start",
        "'gp_events'",
        "'gp_registration'",
        "practice_code",
    ),
    ("store__gp_event", "event_date", "'gp_events'", "'gp_event'", "snomed_concept_id::VARCHAR"),
    ("store__admission", "admidate", "'hospital_apc'", "'admission'", "diag_4_01"),
    (
        "store__social_care_episode",
        "start_date",
        "'cin'",
        "episode_type",
        "coalesce(primary_need, initial_category_of_abuse)",
    ),
    ("store__cla_episode", "start_date", "'ssda903'", "'cla_episode'", "legal_status"),
    ("store__missing_episode", "start_date", "source", "'missing_episode'", "missing_type"),
    (
        "store__police_event",
        "reported_date",
        "'police'",
        "'police_' || person_role",
        "offence_group",
    ),
    ("store__housing", "approach_date", "'housing'", "'housing_approach'", "duty"),
    ("store__housing", "ta_start", "'housing'", "'temporary_accommodation'", "ta_type"),
)


PERSON_TABLE = "store__person"


def event_date_columns() -> dict[str, tuple[str, ...]]:
    """Every event table of the store and its dated columns (those the timeline reads), the
    first being the event's own date: ``{"store__admission": ("admidate",), ...}``."""
    found: dict[str, tuple[str, ...]] = {}
    for table, column, *_ in _TIMELINE_PARTS:
        found[table] = (*found.get(table, ()), column)
    return found


def timeline_sql(suffix: str = "") -> str:
    """``person_id, event_date, source, event_type, detail_code`` over the store tables."""
    return " UNION ALL ".join(
        f"SELECT person_id, {date}::DATE AS event_date, {source}::VARCHAR AS source, "
        f"{event}::VARCHAR AS event_type, ({detail})::VARCHAR AS detail_code "
        f"FROM {table}{suffix} WHERE {date} IS NOT NULL"
        for table, date, source, event, detail in _TIMELINE_PARTS
    )


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        ).fetchall()
    }


def current_batches(con: duckdb.DuckDBPyConnection) -> tuple[str, ...] | None:
    """The latest complete batch of each source (an extract is a full snapshot, so a newer one
    replaces the older), or None when the store has no ``ingest__batches`` (read every row)."""
    if "ingest__batches" not in _existing_tables(con):
        return None
    rows = con.execute(
        "SELECT arg_max(batch_id, started_at) FROM ingest__batches WHERE status = 'complete' "
        "GROUP BY source ORDER BY 1"
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


def read_current_batches(con: duckdb.DuckDBPyConnection, batch_ids: Sequence[str] | None) -> None:
    """Make the unqualified name of every ``raw__*`` table read only ``batch_ids``' rows.

    Temporary views of the same names shadow the tables for this connection only; the tables
    themselves are untouched. With ``batch_ids`` None nothing is shadowed.
    """
    if batch_ids is None:
        return
    row = con.execute("SELECT current_database()").fetchone()
    database = quote_identifier(str(row[0])) if row else "main"
    con.execute("CREATE OR REPLACE TEMP TABLE store_current_batches (batch_id VARCHAR)")
    con.executemany("INSERT INTO store_current_batches VALUES (?)", [[b] for b in batch_ids])
    for name in sorted(_existing_tables(con)):
        if not name.startswith("raw__"):
            continue
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_identifier(name)} AS SELECT * FROM "
            f"{database}.main.{quote_identifier(name)} "
            "WHERE batch_id IN (SELECT batch_id FROM store_current_batches)"
        )


def provide_missing_inputs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create an empty temporary stand-in for every raw or ref table not yet ingested.

    Returns the names stood in for (tables the store will read as empty).
    """
    existing = _existing_tables(con)
    missing: list[str] = []
    inputs = {**{k: (*RAW_KEYS, *v) for k, v in RAW_INPUTS.items()}, **REF_INPUTS}
    for name, columns in inputs.items():
        if name in existing:
            continue
        body = ", ".join(f"{quote_identifier(c)} {t}" for c, t in columns)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_identifier(name)} ({body})")
        missing.append(name)
    return missing


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreBuildResult:
    table_counts: Mapping[str, int]  # rows by final table name
    empty_inputs: tuple[str, ...]  # raw/ref tables not ingested yet, read as empty


def build_store_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    link: LinkTables,
    suffix: str,
    on_table: Callable[[str], None] | None = None,
) -> StoreBuildResult:
    """Build every ``store__*`` table as ``<name><suffix>`` (``con``'s current database)."""
    empty_inputs = tuple(provide_missing_inputs(con))
    counts: dict[str, int] = {}
    for spec in STORE_TABLES:
        if on_table is not None:
            on_table(spec.name)
        target = quote_identifier(spec.name + suffix)
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {spec.build(link, suffix)}")
        row = con.execute(f"SELECT count(*) FROM {target}").fetchone()
        counts[spec.name] = 0 if row is None else int(row[0])
    return StoreBuildResult(table_counts=counts, empty_inputs=empty_inputs)


def publish_tables(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    suffix: str,
    *,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Swap ``<name><suffix>`` in for every ``name`` and recreate ``store__timeline``, in one
    transaction (``also`` runs inside it too); on any error nothing changes."""
    if not suffix:
        raise ValueError("publish needs the suffix the new tables were built under")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DROP VIEW IF EXISTS {quote_identifier(TIMELINE_VIEW)}")
        for name in names:
            con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
            con.execute(
                f"ALTER TABLE {quote_identifier(name + suffix)} RENAME TO {quote_identifier(name)}"
            )
        con.execute(f"CREATE VIEW {quote_identifier(TIMELINE_VIEW)} AS {timeline_sql()}")
        if also is not None:
            also(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
