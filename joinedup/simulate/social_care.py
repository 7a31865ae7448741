"""Children's social care in the simulated district: CIN census, SSDA903 and case-system persons.

Job: from the true population (``people``, interface A) and the case system's recorded view of
each child (``recorded``, the noise module's output for source ``csc``), invent the children in
need of the census year, their referrals, assessments, section 47 enquiries, child protection
plans and closures; the looked-after children's SSDA903 episodes and missing spells (with the
planted missing-from-care effect); and the case system's person table. Then write the three
extracts exactly as ``joinedup.sources.social_care`` declares them, with one truth row per
written row.

Invariants:
- every identity value written (LA child id aside) comes from ``recorded``, never from
  ``people``; where a statutory return requires a value the recorded view lacks (CIN and 903
  date of birth, 903 sex), the true value stands in, as the LA would hold it;
- the census year ends on the 31 March before ``as_of`` and starts the 1 April a year earlier;
- every child in need (``is_cin`` or ``is_cla``) under 18 at the start of the census year has one
  ``<Child>``; every looked-after child has one 903 header row; every ``<Child>`` has a
  ``csc_persons`` row, as do the siblings and early-help contacts the case system also knows;
- ``LAchildID`` is a keyed function of ``person_id`` (stable across runs and population sizes);
- ``write_social_care`` returns exactly one truth row per written row, numbered as BRIEF's row
  numbering says (1-based; XML rows by element type in document order);
- all randomness comes from the ``rng`` passed in, so a seed fixes every byte written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from joinedup.simulate.cin_xml import CinReturn, write_cin_xml
from joinedup.simulate.ssda903 import (
    CareYear,
    MissingKnobs,
    estimate_missing_hazard_ratio,
    provider_urns,
    simulate_missing_spells,
    simulate_periods_of_care,
)
from joinedup.sources.social_care import CIN, CSC_PERSONS, SSDA903

__all__ = [
    "SocialCareKnobs",
    "SocialCareResult",
    "census_year_for",
    "la_child_id",
    "simulate_social_care",
    "write_social_care",
]

D903 = "%d/%m/%Y"
ISO = "%Y-%m-%d"

# Referral sources, weighted after the national CIN statistics (police, schools, health, LA).
REFERRAL_SOURCE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("6", 0.29),
    ("2A", 0.20),
    ("3A", 0.04),
    ("3B", 0.03),
    ("3C", 0.01),
    ("3D", 0.02),
    ("3E", 0.04),
    ("3F", 0.04),
    ("5A", 0.05),
    ("5B", 0.01),
    ("5C", 0.02),
    ("5D", 0.04),
    ("1A", 0.02),
    ("1B", 0.03),
    ("1C", 0.01),
    ("1D", 0.01),
    ("2B", 0.01),
    ("4", 0.02),
    ("7", 0.02),
    ("8", 0.02),
    ("9", 0.02),
    ("10", 0.05),
)
PRIMARY_NEED_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("N1", 0.57),
    ("N2", 0.10),
    ("N3", 0.03),
    ("N4", 0.06),
    ("N5", 0.13),
    ("N6", 0.02),
    ("N7", 0.01),
    ("N8", 0.03),
    ("N0", 0.05),
)
# Factors identified at assessment (a child has one to four; "21" means none and stands alone).
ASSESSMENT_FACTOR_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("4B", 0.18),
    ("3B", 0.16),
    ("3A", 0.14),
    ("16A", 0.10),
    ("17A", 0.08),
    ("2B", 0.08),
    ("1B", 0.07),
    ("4A", 0.07),
    ("20", 0.05),
    ("5B", 0.03),
    ("6B", 0.03),
    ("14A", 0.03),
    ("15A", 0.02),
    ("11A", 0.02),
    ("24A", 0.02),
    ("10A", 0.02),
    ("18C", 0.02),
    ("19C", 0.01),
    ("7A", 0.01),
    ("13A", 0.01),
)
ABUSE_CATEGORY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("NEG", 0.51),
    ("EMO", 0.36),
    ("PHY", 0.06),
    ("SAB", 0.04),
    ("MUL", 0.03),
)
DISABILITY_CODES = ("MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT")
# Extended (school census) ethnicity codes map to the main code in the statutory returns.
_MAIN_ETHNICITY = {"AMPK": "APKN", "AKPA": "APKN", "AOPK": "APKN"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SocialCareKnobs:
    """Every tunable of the social care simulation; the defaults give national-like rates."""

    # DfE local authority number (Bradford) for the CIN header
    la_number: str = "380"
    # key for LAchildID: ids differ between districts built with different keys
    la_child_id_key: str = "joinedup-district"
    # share of CIN episodes open on 1 April (referred in an earlier year)
    carried_over_share: float = 0.42
    # share of children in need (not looked after) with a child protection plan in the year
    cpp_share: float = 0.24
    # share of those plans still open on the reference date
    cpp_open_share: float = 0.65
    # share of in-year referrals (not on a plan) going to a section 47 enquiry anyway
    s47_without_plan_share: float = 0.12
    # share of in-year episodes closed by the reference date
    closed_share: float = 0.45
    # share of children whose first episode closed who are re-referred with no further action
    nfa_rereferral_share: float = 0.25
    # share of children in need (not on a plan, not looked after) with a CIN plan
    cin_plan_share: float = 0.45
    # share of children with a recorded disability code
    disability_share: float = 0.12
    # share of carried-over children with a former UPN recorded
    former_upn_share: float = 0.0
    # NHS number recorded in the case system (else blank)
    nhs_recorded_share: float = 0.82
    nhs_recorded_share_new_referral: float = 0.62
    nhs_recorded_share_unborn: float = 0.30
    nhs_recorded_share_contact: float = 0.70
    # case-system persons who are not children in need
    sibling_share: float = 0.40  # of the non-CIN siblings (same household) of children in need
    early_help_per_10k: float = 120.0
    missing: MissingKnobs = field(default_factory=MissingKnobs)


@dataclass(frozen=True, slots=True, kw_only=True)
class SocialCareResult:
    """The simulated social care records, ready to write; every frame carries ``person_id``."""

    year: CareYear
    cin: CinReturn
    header: pd.DataFrame  # SSDA903 header rows
    episodes: pd.DataFrame  # SSDA903 episodes
    missing: pd.DataFrame  # SSDA903 missing spells
    persons: pd.DataFrame  # csc_persons rows
    effects: dict[str, Any]


def census_year_for(as_of: date) -> CareYear:
    """The census year ending on the last 31 March on or before ``as_of``."""
    end_year = as_of.year if (as_of.month, as_of.day) >= (3, 31) else as_of.year - 1
    return CareYear(start=date(end_year - 1, 4, 1), end=date(end_year, 3, 31))


def la_child_id(person_id: str, key: str) -> str:
    """A stable, LA-style numeric child id (seven digits) keyed on the person id."""
    digest = hashlib.sha256(f"{key}:{person_id}".encode()).digest()
    return str(1_000_000 + int.from_bytes(digest[:8], "big") % 9_000_000)


def _assign_child_ids(person_ids: list[str], key: str) -> dict[str, str]:
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for pid in sorted(person_ids):
        value = int(la_child_id(pid, key))
        while str(value) in taken:
            value = 1_000_000 + (value - 1_000_000 + 1) % 9_000_000
        taken.add(str(value))
        ids[pid] = str(value)
    return ids


def _pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    codes = [c for c, _ in options]
    weights = np.array([w for _, w in options], dtype=float)
    return str(rng.choice(codes, p=weights / weights.sum()))


def _to_date(value: Any) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def _days(rng: np.random.Generator, lo: int, hi: int) -> timedelta:
    return timedelta(days=int(rng.integers(lo, hi + 1)))


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _add_working_days(day: date, n: int) -> date:
    return pd.Timestamp(np.busday_offset(np.datetime64(day), n, roll="forward")).date()


def _age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _district(postcode: Any) -> str | None:
    if postcode is None or pd.isna(postcode):
        return None
    text = str(postcode).strip().upper().replace(" ", "")
    return text[:-3] if len(text) >= 5 else None


def _valid_upn(value: Any) -> str | None:
    if value is None or pd.isna(value) or not str(value).strip():
        return None
    return str(value).strip()


# ---------------------------------------------------------------------------------------------
# Children in need


def _simulate_child_in_need(
    *,
    dob: date,
    year: CareYear,
    care: list[dict[str, object]],
    rng: np.random.Generator,
    knobs: SocialCareKnobs,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One child's CIN episodes (with nested modules) and facts the case system needs."""
    unborn = dob > year.end
    looked_after = bool(care)
    episodes: list[dict[str, Any]] = []
    earliest_referral = max(dob - timedelta(days=270), year.start - timedelta(days=365 * 4))
    first_care_start = min((e["DECOM"] for e in care), default=None)  # type: ignore[type-var]
    if looked_after:
        assert isinstance(first_care_start, date)
        referral = first_care_start - _days(rng, 3, 120)
        referral = max(referral, earliest_referral)
        carried = referral < year.start
    else:
        carried = (not unborn) and dob < year.start and rng.random() < knobs.carried_over_share
        if carried:
            lo = max(earliest_referral, year.start - timedelta(days=730))
            span = (year.start - timedelta(days=1) - lo).days
            referral = lo + _days(rng, 0, max(span, 0))
        else:
            lo = max(year.start, earliest_referral)
            hi = year.end - timedelta(days=1)
            referral = lo + _days(rng, 0, max((hi - lo).days, 0))
    if referral > year.end:
        referral = year.end
    main: dict[str, Any] = {
        "CINreferralDate": referral,
        "ReferralSource": _pick(rng, REFERRAL_SOURCE_WEIGHTS),
        "PrimaryNeedCode": _pick(rng, PRIMARY_NEED_WEIGHTS),
        "CINclosureDate": None,
        "ReasonForClosure": None,
        "DateOfInitialCPC": None,
        "ReferralNFA": "false",
        "assessments": [],
        "plans": [],
        "s47": [],
        "cpp": [],
    }
    on_plan = (not looked_after) and rng.random() < knobs.cpp_share
    plan_before_year = on_plan and carried and rng.random() < 0.55
    last_activity = referral
    # assessment: in-year referrals, enquiries in the year, some re-assessments of older cases
    if not carried or (on_plan and not plan_before_year) or rng.random() < 0.25:
        a_start = max(referral, year.start) + _days(rng, 0, 6)
        a_start = min(a_start, year.end)
        a_end: date | None = a_start + _days(rng, 8, 45)
        assert a_end is not None
        if a_end > year.end:
            a_end = None
        factors = _assessment_factors(rng) if a_end else []
        main["assessments"].append({"start": a_start, "end": a_end, "factors": factors})
        last_activity = a_end or a_start
    assessed = main["assessments"][0] if main["assessments"] else None
    # section 47 and child protection plan
    if on_plan:
        if plan_before_year:
            # plan started before the census year: no s47 in this return
            cpp_start = max(referral + _days(rng, 10, 60), year.start - timedelta(days=400))
            cpp_start = min(cpp_start, year.start - timedelta(days=1))
            cpp_start = _weekday_on_or_after(cpp_start)
            if cpp_start >= year.start:
                cpp_start = year.start - timedelta(days=3)
        else:
            base = assessed["start"] if assessed else max(referral, year.start)
            s47_start = min(base + _days(rng, 0, 5), year.end)
            target = _add_working_days(s47_start, 15)
            icpc = _add_working_days(s47_start, int(rng.integers(5, 16)))
            if icpc > year.end:
                main["s47"].append(
                    {"start": s47_start, "target": target, "icpc": None, "not_required": None}
                )
                cpp_start = None
            else:
                main["s47"].append(
                    {"start": s47_start, "target": target, "icpc": icpc, "not_required": "false"}
                )
                cpp_start = icpc
            last_activity = max(last_activity, s47_start)
        if cpp_start is not None:
            initial = _pick(rng, ABUSE_CATEGORY_WEIGHTS)
            latest = initial if rng.random() < 0.9 else _pick(rng, ABUSE_CATEGORY_WEIGHTS)
            cpp_end: date | None = None
            if rng.random() > knobs.cpp_open_share:
                end = cpp_start + _days(rng, 60, 500)
                if end < year.start:
                    end = year.start + _days(rng, 0, 90)
                cpp_end = end if end <= year.end - timedelta(days=1) else None
            reviews: list[date] = []
            review = cpp_start + timedelta(days=90)
            while review <= (cpp_end or year.end) and review <= year.end:
                if review >= year.start and (cpp_end is None or review < cpp_end):
                    reviews.append(_weekday_on_or_after(review))
                review += timedelta(days=182)
            reviews = [r for r in reviews if r <= year.end and (cpp_end is None or r < cpp_end)]
            main["cpp"].append(
                {
                    "start": cpp_start,
                    "end": cpp_end,
                    "initial": initial,
                    "latest": latest,
                    "previous": int(rng.choice([0, 0, 0, 0, 1, 1, 2])),
                    "reviews": reviews,
                }
            )
            last_activity = max(last_activity, cpp_end or cpp_start, *reviews)
    elif (
        not carried
        and not looked_after
        and assessed is not None
        and rng.random() < knobs.s47_without_plan_share
    ):
        s47_start = min(assessed["start"] + _days(rng, 0, 3), year.end)
        main["s47"].append(
            {
                "start": s47_start,
                "target": _add_working_days(s47_start, 15),
                "icpc": None,
                "not_required": "true",
            }
        )
        last_activity = max(last_activity, s47_start)
    # CIN plan for children in need not on a plan and not looked after
    if not on_plan and not looked_after and rng.random() < knobs.cin_plan_share:
        if assessed is not None and assessed["end"] is not None:
            plan_start = assessed["end"] + _days(rng, 0, 10)
        elif carried:
            plan_start = max(referral + _days(rng, 20, 60), year.start - timedelta(days=300))
        else:
            plan_start = None
        if plan_start is not None and plan_start <= year.end:
            plan_end: date | None = plan_start + _days(rng, 60, 400)
            assert plan_end is not None
            if plan_end > year.end - timedelta(days=1) or plan_end < year.start:
                plan_end = None
            main["plans"].append({"start": plan_start, "end": plan_end})
            last_activity = max(last_activity, plan_end or plan_start)
    # closure
    everything_ended = (
        all(a["end"] is not None for a in main["assessments"])
        and all(s["icpc"] is not None or s["not_required"] == "true" for s in main["s47"])
        and all(c["end"] is not None for c in main["cpp"])
        and all(p["end"] is not None for p in main["plans"])
    )
    if looked_after:
        last = care[-1]
        rec = last["REC"]
        if rec is not None and rec != "X1" and everything_ended:
            closure = last["DEC"]
            assert isinstance(closure, date)
            if closure >= last_activity and year.start <= closure <= year.end:
                main["CINclosureDate"] = closure
                main["ReasonForClosure"] = {"E11": "RC1", "E12": "RC1", "E43": "RC4"}.get(
                    str(rec), "RC7" if str(rec) not in ("E41",) else "RC3"
                )
    elif everything_ended and rng.random() < knobs.closed_share / max(1e-9, 1.0):
        closure = max(last_activity, year.start) + _days(rng, 1, 60)
        if closure <= year.end:
            main["CINclosureDate"] = closure
            if main["plans"] or main["cpp"] or main["s47"]:
                main["ReasonForClosure"] = "RC7"
            elif assessed is not None:
                main["ReasonForClosure"] = "RC8" if rng.random() < 0.6 else "RC9"
                if assessed["factors"] == ["21"] or rng.random() < 0.0:
                    main["ReasonForClosure"] = "RC8"
            else:
                main["ReasonForClosure"] = "RC7"
    if (
        main["ReasonForClosure"] not in ("RC8", "RC9")
        and assessed
        and assessed["factors"] == ["21"]
    ):
        assessed["factors"] = ["20"]
    if main["ReasonForClosure"] in ("RC8", "RC9") and not main["assessments"]:
        main["ReasonForClosure"] = "RC7"
    # primary need is required where the referral led to further action
    episodes.append(main)
    closed_on = main["CINclosureDate"]
    if (
        closed_on is not None
        and closed_on <= year.end - timedelta(days=20)
        and rng.random() < knobs.nfa_rereferral_share
    ):
        again = closed_on + _days(rng, 1, (year.end - closed_on).days - 1)
        episodes.append(
            {
                "CINreferralDate": again,
                "ReferralSource": _pick(rng, REFERRAL_SOURCE_WEIGHTS),
                "PrimaryNeedCode": "N9",
                "CINclosureDate": again,
                "ReasonForClosure": "RC7",
                "DateOfInitialCPC": None,
                "ReferralNFA": "true",
                "assessments": [],
                "plans": [],
                "s47": [],
                "cpp": [],
            }
        )
    facts = {
        "referral": max(e["CINreferralDate"] for e in episodes),
        "first_referral": referral,
        "carried": carried,
        "unborn": unborn,
        "cpp_open_at_census": any(c["end"] is None for c in main["cpp"]),
        "cpp_in_year": bool(main["cpp"]),
    }
    return episodes, facts


def _assessment_factors(rng: np.random.Generator) -> list[str]:
    if rng.random() < 0.06:
        return ["21"]
    n = int(rng.choice([1, 2, 2, 3, 3, 4]))
    chosen: list[str] = []
    while len(chosen) < n:
        code = _pick(rng, ASSESSMENT_FACTOR_WEIGHTS)
        if code not in chosen:
            chosen.append(code)
    return chosen


def _upn_unknown_code(dob: date, year: CareYear, *, unborn: bool, nfa_only: bool) -> str:
    if nfa_only:
        return "UN7"
    if unborn or _age_on(dob, year.end) < 5:
        return "UN1"
    return "UN2"


# ---------------------------------------------------------------------------------------------
# The whole district


def simulate_social_care(
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    *,
    as_of: date,
    rng: np.random.Generator,
    knobs: SocialCareKnobs,
) -> SocialCareResult:
    """Simulate the district's social care records (see the module docstring for invariants)."""
    year = census_year_for(as_of)
    people = people.sort_values("person_id").reset_index(drop=True)
    dobs = {
        pid: pd.Timestamp(d).date()
        for pid, d in zip(people["person_id"], people["dob"], strict=True)
    }
    flagged = people[people["is_cin"].astype(bool) | people["is_cla"].astype(bool)]
    eligible = [pid for pid in flagged["person_id"] if _age_on(dobs[pid], year.start) < 18]
    looked_after_ids = set(people.loc[people["is_cla"].astype(bool), "person_id"]) & set(eligible)
    child_ids = _assign_child_ids(list(people["person_id"]), knobs.la_child_id_key)
    by_pid = people.set_index("person_id")
    rec = recorded
    districts = tuple(
        sorted({d for d in (_district(p) for p in people["postcode"]) if d is not None})
    ) or ("BD1",)

    # looked-after children: 903 episodes and missing spells
    header_rows: list[dict[str, Any]] = []
    episode_rows: list[dict[str, Any]] = []
    missing_rows: list[dict[str, Any]] = []
    care_by_pid: dict[str, list[dict[str, object]]] = {}
    urns = provider_urns(rng)
    for pid in eligible:
        if pid not in looked_after_ids:
            continue
        dob = dobs[pid]
        if dob >= year.end - timedelta(days=10):
            continue  # not born in time to be looked after in the year
        home = _district(by_pid.at[pid, "postcode"]) or districts[0]
        child = child_ids[pid]
        care = simulate_periods_of_care(child, dob, home, districts, year=year, urns=urns, rng=rng)
        care_by_pid[pid] = care
        for e in care:
            episode_rows.append({**e, "person_id": pid})
        for spell in simulate_missing_spells(child, care, year=year, knobs=knobs.missing, rng=rng):
            missing_rows.append({**spell, "DOB": None, "person_id": pid})
        r = rec.loc[pid]
        sex = r["sex"] if r["sex"] in ("M", "F") else by_pid.at[pid, "sex"]
        recorded_dob = _to_date(r["dob"]) or dob
        upn = _valid_upn(r["upn"])
        age_end = _age_on(dob, year.end)
        mother = None
        mc_dob = None
        if sex == "F":
            mother = "0"
            if age_end >= 15 and rng.random() < 0.03:
                mother = "1"
                mc_dob = year.start + _days(rng, 0, 300)
        header_rows.append(
            {
                "person_id": pid,
                "CHILD": child,
                "SEX": sex,
                "DOB": recorded_dob,
                "ETHNIC": _MAIN_ETHNICITY.get(
                    str(by_pid.at[pid, "ethnicity"]), by_pid.at[pid, "ethnicity"]
                ),
                "UPN": upn or ("UN1" if age_end < 5 else "UN2"),
                "MOTHER": mother,
                "MC_DOB": mc_dob,
            }
        )
    dob_written = {h["person_id"]: h["DOB"] for h in header_rows}
    for row in missing_rows:
        row["DOB"] = dob_written[row["person_id"]]

    # children in need: the CIN census
    cin_children: list[dict[str, Any]] = []
    facts_by_pid: dict[str, dict[str, Any]] = {}
    for pid in eligible:
        dob = dobs[pid]
        episodes, facts = _simulate_child_in_need(
            dob=dob, year=year, care=care_by_pid.get(pid, []), rng=rng, knobs=knobs
        )
        facts_by_pid[pid] = facts
        r = rec.loc[pid]
        unborn = facts["unborn"]
        upn = None if unborn else _valid_upn(r["upn"])
        nfa_only = all(e["ReferralNFA"] == "true" for e in episodes)
        disabilities: list[str]
        if rng.random() < knobs.disability_share:
            k = int(rng.choice([1, 1, 2, 3]))
            disabilities = [str(x) for x in rng.choice(DISABILITY_CODES, size=k, replace=False)]
        else:
            disabilities = ["NONE"]
        recorded_sex = str(r["sex"]) if r["sex"] in ("M", "F", "U") else "U"
        cin_children.append(
            {
                "person_id": pid,
                "LAchildID": child_ids[pid],
                "UPN": upn,
                "FormerUPN": None,
                "UPNunknown": None
                if upn
                else _upn_unknown_code(dob, year, unborn=unborn, nfa_only=nfa_only),
                "PersonBirthDate": None if unborn else (_to_date(r["dob"]) or dob),
                "ExpectedPersonBirthDate": (dob + _days(rng, -10, 10)) if unborn else None,
                "Sex": "U" if unborn else recorded_sex,
                "PersonDeathDate": None,
                "Ethnicity": _MAIN_ETHNICITY.get(
                    str(by_pid.at[pid, "ethnicity"]), str(by_pid.at[pid, "ethnicity"])
                )
                if not unborn
                else "NOBT",
                "Disabilities": disabilities,
                "episodes": episodes,
            }
        )
    cin = CinReturn(
        la_number=knobs.la_number, reference_date=year.end, children=tuple(cin_children)
    )

    persons = _simulate_persons(
        people=people,
        recorded=rec,
        eligible=eligible,
        facts_by_pid=facts_by_pid,
        child_ids=child_ids,
        year=year,
        rng=rng,
        knobs=knobs,
    )
    header = pd.DataFrame(header_rows, columns=["person_id", *SSDA903.table("header").column_names])
    episodes_903 = pd.DataFrame(
        episode_rows, columns=["person_id", *SSDA903.table("episodes").column_names]
    )
    missing = pd.DataFrame(
        missing_rows, columns=["person_id", *SSDA903.table("missing").column_names]
    )
    if len(missing):
        missing = missing.sort_values(["CHILD", "MIS_START"], kind="stable").reset_index(drop=True)
    effects = _missing_effects(episodes_903, missing, header, year=year, knobs=knobs)
    n_people = len(people)
    effects["social_care_prevalence"] = {
        "cin_per_10k": len(cin_children) / n_people * 1e4 if n_people else 0.0,
        "cla_per_10k": len(header) / n_people * 1e4 if n_people else 0.0,
        "cpp_open_at_census_per_10k": sum(f["cpp_open_at_census"] for f in facts_by_pid.values())
        / max(n_people, 1)
        * 1e4,
        "source": "simulate.social_care: realised counts in the written CIN and 903 returns",
    }
    return SocialCareResult(
        year=year,
        cin=cin,
        header=header,
        episodes=episodes_903,
        missing=missing,
        persons=persons,
        effects=effects,
    )


def _simulate_persons(
    *,
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    eligible: list[str],
    facts_by_pid: dict[str, dict[str, Any]],
    child_ids: dict[str, str],
    year: CareYear,
    rng: np.random.Generator,
    knobs: SocialCareKnobs,
) -> pd.DataFrame:
    """The case system's person table: children in need, some siblings, early-help contacts."""
    in_need = set(eligible)
    households = people.loc[people["person_id"].isin(in_need), "household_id"].unique()
    siblings = people[people["household_id"].isin(households) & ~people["person_id"].isin(in_need)][
        "person_id"
    ].tolist()
    siblings = [p for p in siblings if rng.random() < knobs.sibling_share]
    others = people[~people["person_id"].isin(in_need) & ~people["person_id"].isin(siblings)]
    n_help = round(len(people) * knobs.early_help_per_10k / 1e4)
    if n_help and len(others):
        weights = (11 - others["imd_decile"].astype(float)).to_numpy()
        chosen = rng.choice(
            others["person_id"].to_numpy(),
            size=min(n_help, len(others)),
            replace=False,
            p=weights / weights.sum(),
        )
        early_help = [str(p) for p in chosen]
    else:
        early_help = []
    by_pid = people.set_index("person_id")
    rows: list[dict[str, Any]] = []
    recent = year.end - timedelta(days=90)
    for pid in sorted([*in_need, *siblings, *early_help]):
        r = recorded.loc[pid]
        facts = facts_by_pid.get(pid)
        if facts is None:
            share = knobs.nhs_recorded_share_contact
        elif facts["unborn"]:
            share = knobs.nhs_recorded_share_unborn
        elif facts["referral"] >= recent and not facts["carried"]:
            share = knobs.nhs_recorded_share_new_referral
        else:
            share = knobs.nhs_recorded_share
        nhs = r["nhs_number"] if rng.random() < share else None
        sex = r["sex"] if r["sex"] in ("M", "F", "U") else "U"
        rows.append(
            {
                "person_id": pid,
                "pers_person_id": child_ids[pid],
                "pers_forename": r["given_name"],
                "pers_surname": r["family_name"],
                "pers_sex": sex,
                "pers_dob": _to_date(r["dob"]),
                "pers_expected_dob": None,
                "pers_ethnicity": by_pid.at[pid, "ethnicity"],
                "pers_common_child_id": None if nhs is None or pd.isna(nhs) else str(nhs),
                "pers_upn": _valid_upn(r["upn"]),
                "addr_postcode": None if pd.isna(r["postcode"]) else r["postcode"],
            }
        )
    return pd.DataFrame(rows, columns=["person_id", *CSC_PERSONS.table("csc_persons").column_names])


def _missing_effects(
    episodes: pd.DataFrame,
    missing: pd.DataFrame,
    header: pd.DataFrame,
    *,
    year: CareYear,
    knobs: SocialCareKnobs,
) -> dict[str, Any]:
    """The planted missing-from-care effect: true values, tolerances and realised figures."""
    estimate = estimate_missing_hazard_ratio(
        episodes.assign(
            DECOM=pd.to_datetime(episodes["DECOM"]), DEC=pd.to_datetime(episodes["DEC"])
        ),
        missing.assign(
            MIS_START=pd.to_datetime(missing["MIS_START"]),
            MIS_END=pd.to_datetime(missing["MIS_END"]),
        ),
        year=year,
        window_days=knobs.missing.window_days,
    )
    counts = missing.groupby("CHILD").size().sort_values(ascending=False)
    incidents = int(counts.sum())
    children_missing = len(counts)
    repeats = incidents - children_missing
    top_n = max(1, round(0.06 * children_missing)) if children_missing else 0
    return {
        "missing_from_care_hazard_ratio": {
            "true_value": knobs.missing.hazard_ratio,
            "tolerance": 0.25 * knobs.missing.hazard_ratio,
            "window_days": knobs.missing.window_days,
            "definition": "daily hazard of a missing/away spell starting, on the window_days "
            "days after a return (MIS_END) versus later days in care; Mantel-Haenszel rate "
            "ratio stratified by placement group (joinedup.simulate.ssda903."
            "estimate_missing_hazard_ratio)",
            "realised_stratified_ratio": estimate.stratified_ratio,
            "realised_crude_ratio": estimate.crude_ratio,
            "recover_from": "ssda903/missing.csv + ssda903/episodes.csv",
            "source": "Bradford HDRC/LIDA case study (data-standards.md section 8, effect 6)",
        },
        "missing_from_care_repeat_share": {
            "true_value": 0.65,
            "tolerance": 0.15,
            "realised": repeats / incidents if incidents else float("nan"),
            "definition": "share of missing incidents that are not the child's first in the year",
            "source": "Bradford HDRC/LIDA case study (data-standards.md section 8, effect 6)",
        },
        "missing_from_care_concentration": {
            "true_value": 0.33,
            "tolerance": 0.15,
            "realised": float(counts.iloc[:top_n].sum()) / incidents if incidents else float("nan"),
            "definition": "share of incidents made by the 6% of missing children with most",
            "source": "Bradford HDRC/LIDA case study (data-standards.md section 8, effect 6)",
        },
        "missing_from_care_counts": {
            "looked_after_children": len(header),
            "children_missing": children_missing,
            "incidents": incidents,
        },
    }


# ---------------------------------------------------------------------------------------------
# Writing


def _format_dates(frame: pd.DataFrame, columns: tuple[str, ...], fmt: str) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[col] = [None if _to_date(v) is None else _to_date(v).strftime(fmt) for v in out[col]]  # type: ignore[union-attr]
    return out


def write_social_care(result: SocialCareResult, out_dir: Path) -> pd.DataFrame:
    """Write cin.xml, ssda903/{header,episodes,missing}.csv, csc_persons.csv; return truth rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    truth: list[pd.DataFrame] = []
    xml_truth = write_cin_xml(result.cin, out_dir / CIN.file_name)
    truth.append(xml_truth.assign(source=CIN.name))
    folder = out_dir / SSDA903.file_name
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"header": result.header, "episodes": result.episodes, "missing": result.missing}
    date_cols = {
        "header": ("DOB", "MC_DOB"),
        "episodes": ("DECOM", "DEC"),
        "missing": ("DOB", "MIS_START", "MIS_END"),
    }
    for name, frame in tables.items():
        spec = SSDA903.table(name)
        written = _format_dates(frame, date_cols[name], D903)
        written[list(spec.column_names)].to_csv(folder / spec.file, index=False)
        truth.append(_truth_rows(SSDA903.name, name, frame))
    spec = CSC_PERSONS.table("csc_persons")
    persons = _format_dates(result.persons, ("pers_dob", "pers_expected_dob"), ISO)
    persons[list(spec.column_names)].to_csv(out_dir / spec.file, index=False)
    truth.append(_truth_rows(CSC_PERSONS.name, "csc_persons", result.persons))
    columns = ["source", "table", "row_number", "person_id"]
    return pd.concat([t[columns] for t in truth], ignore_index=True)


def _truth_rows(source: str, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": source,
            "table": table,
            "row_number": np.arange(1, len(frame) + 1, dtype=np.int64),
            "person_id": frame["person_id"].to_numpy(),
        }
    )
