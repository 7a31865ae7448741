"""Education extracts: spring school census, attendance, exclusions, EYFSP and KS2.

Invariants: rows are built from the true people table and each source's recorded identity
(``record_identities``), never the other way round; attendance reproduces each pupil's planted
persistent-absence flag exactly (>=10% of possible sessions missed over the year); EYFSP GLD
equals the planted ``gld`` (expected in all 12 GLD goals); ASQ and EYFSP cohorts are those whose
Reception year lies in ``EYFSP_YEARS`` (no EYFSP in 2019/20 and 2020/21, as in England).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from joinedup.simulate.extract_files import BuiltTable
from joinedup.simulate.frames import objects
from joinedup.simulate.geography import District
from joinedup.simulate.population import academic_year_start
from joinedup.sources.education import ELG_CODES

# Academic years (start year) whose Reception cohort has an EYFSP record.
EYFSP_YEARS = (2017, 2018, 2021, 2022, 2023, 2024)
# Academic years (start year) whose Year 6 cohort has KS2 results.
KS2_YEARS = (2022, 2023, 2024)
TERM_SESSIONS = (("AUT", 140), ("SPR", 116), ("SUM", 124))
# Absence reasons and their shares of absent sessions (2024 codes).
ABSENCE_REASONS = ("I", "M", "R", "C", "G", "N", "O", "U", "E", "T")
_ABSENCE_SHARES = np.array([0.55, 0.08, 0.03, 0.03, 0.09, 0.05, 0.12, 0.03, 0.01, 0.01])
_EXCLUSION_REASONS = ("DB", "PA", "PP", "VA", "VP", "DM", "DA", "BU", "OW", "TH", "MT", "RA")
_EXCLUSION_SHARES = np.array(
    [0.36, 0.10, 0.16, 0.12, 0.08, 0.04, 0.04, 0.03, 0.02, 0.02, 0.02, 0.01]
)


def _ay(start: int) -> str:
    return f"{start}/{(start + 1) % 100:02d}"


def _identity(rec: pd.DataFrame, ids: npt.NDArray[np.object_]) -> pd.DataFrame:
    return rec.loc[pd.Index(ids)]


def _pupil_block(rec: pd.DataFrame) -> dict[str, object]:
    return {
        "upn": rec["upn"].to_numpy(),
        "surname": rec["family_name"].to_numpy(),
        "forename": rec["given_name"].to_numpy(),
        "dob": rec["dob"].to_numpy(),
        "sex": rec["sex"].to_numpy(),
    }


def census_day(as_of: date) -> date:
    return date(academic_year_start(as_of) + 1, 1, 15)


def build_school_census(
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    addresses: pd.DataFrame,
    district: District,
    as_of: date,
    rng: np.random.Generator,
) -> dict[str, BuiltTable]:
    pupils = people[people["school_urn"].notna()].reset_index(drop=True)
    n = len(pupils)
    ids = pupils["person_id"].to_numpy(dtype=object)
    rec = _identity(recorded, ids)
    year_start = academic_year_start(as_of)
    nc = pupils["nc_year_number"].to_numpy()
    phase_start = np.where(nc <= 6, year_start - nc, year_start - (nc - 7))
    entry = pd.to_datetime(
        pd.DataFrame({"year": phase_start, "month": 9, "day": 3 + rng.integers(0, 4, n)})
    ).to_numpy()
    late = rng.random(n) < 0.10 + 0.05 * np.minimum(pupils["n_moves"].to_numpy(), 3)
    cday = np.datetime64(census_day(as_of), "D")
    span = (cday - entry.astype("datetime64[D]")).astype(np.int64)
    late_entry = entry.astype("datetime64[D]") + (rng.random(n) * np.maximum(span, 1)).astype(
        "timedelta64[D]"
    )
    entry = np.where(late, late_entry.astype("datetime64[ns]"), entry)
    ethnicity = pupils["ethnicity"].to_numpy(dtype=object).copy()
    ethnicity[rng.random(n) < 0.02] = "NOBT"
    ethnicity[rng.random(n) < 0.01] = "REFU"
    true_family = pupils["family_name"].to_numpy(dtype=object)
    rec_family = rec["family_name"].to_numpy(dtype=object)
    former = objects(rec["former_family_name"])
    formersurname = former.copy()
    formersurname[~(pd.notna(former) & (former != rec_family))] = None
    preferred = true_family.copy()
    preferred[~(pd.notna(former) & (rec_family == former) & (true_family != rec_family))] = None
    formerupn = np.full(n, None, dtype=object)
    dual = rng.random(n) < 0.004
    enrol = np.where(dual, "M", "C").astype(object)
    roll = pd.DataFrame(
        {
            "censusdate": np.datetime64(census_day(as_of), "ns"),
            "urn": pupils["school_urn"].to_numpy(),
            **_pupil_block(rec),
            "formerupn": formerupn,
            "middlenames": rec["middle_names"].to_numpy(),
            "preferredsurname": preferred,
            "formersurname": formersurname,
            "ethnicity": ethnicity,
            "language": pupils["language"].to_numpy(),
            "entrydate": entry,
            "ncyearactual": pupils["ncyear"].to_numpy(),
            "enrolstatus": enrol,
            "senprovision": pupils["senprovision"].to_numpy(),
            "adoptedfromcare": np.where(pupils["adopted"].to_numpy(), "A", "N"),
        }
    )
    # Dual registrations: a subsidiary row at another school of the district.
    sub = np.flatnonzero(dual)
    urns = district.schools["urn"].to_numpy()
    extra = roll.iloc[sub].copy()
    extra["urn"] = urns[rng.integers(0, len(urns), len(sub))]
    extra["enrolstatus"] = "S"
    roll = pd.concat([roll, extra], ignore_index=True)
    roll_ids = np.concatenate([ids, ids[sub]])
    # Addresses: the recorded UPRN/postcode with the property's number and street.
    props = addresses.drop_duplicates("uprn").set_index("uprn")
    uprn = objects(rec["uprn"])
    known = props.reindex(uprn)
    addr = pd.DataFrame(
        {
            "upn": rec["upn"].to_numpy(),
            "uniquepropertyreferencenumber": uprn,
            "paon": objects(known["paon"]),
            "street": objects(known["street"]),
            "town": objects(known["town"]),
            "postcode": rec["postcode"].to_numpy(),
        }
    )
    # FSM periods: an open period for the eligible, earlier closed periods for some.
    fsm = pupils["fsm"].to_numpy()
    open_start = cday - (rng.random(n) * 1400).astype("timedelta64[D]")
    earliest = entry.astype("datetime64[D]")
    open_start = np.maximum(open_start, earliest)
    has_closed = rng.random(n) < np.where(fsm, 0.25, 0.08)
    closed_end = np.where(fsm, open_start, cday) - (30 + rng.random(n) * 300).astype(
        "timedelta64[D]"
    )
    closed_start = closed_end - (60 + rng.random(n) * 500).astype("timedelta64[D]")
    has_closed &= closed_start > earliest
    o = np.flatnonzero(fsm)
    c = np.flatnonzero(has_closed)
    fsm_rows = pd.DataFrame(
        {
            "row": np.concatenate([c, o]),
            "order": np.concatenate([np.zeros(len(c)), np.ones(len(o))]),
            "fsmstartdate": np.concatenate([closed_start[c], open_start[o]]).astype(
                "datetime64[ns]"
            ),
            "fsmenddate": np.concatenate(
                [closed_end[c], np.full(len(o), np.datetime64("NaT"), dtype="datetime64[D]")]
            ).astype("datetime64[ns]"),
        }
    ).sort_values(["row", "order"], kind="stable")
    fsm_table = pd.DataFrame(
        {
            "upn": rec["upn"].to_numpy()[fsm_rows["row"].to_numpy()],
            "fsmstartdate": fsm_rows["fsmstartdate"].to_numpy(),
            "fsmenddate": fsm_rows["fsmenddate"].to_numpy(),
            "ukcountry": "ENG",
        }
    )
    # SEN needs: primary and (for some) secondary need.
    sen_rows, sen_types, ranks = _sen_needs(pupils, rng)
    senneeds = pd.DataFrame(
        {
            "upn": rec["upn"].to_numpy()[sen_rows],
            "sentype": sen_types,
            "sentyperank": ranks,
        }
    )
    return {
        "pupilonroll": BuiltTable(frame=roll, person_ids=roll_ids),
        "addressesonroll": BuiltTable(frame=addr, person_ids=ids),
        "fsmperiodsonroll": BuiltTable(frame=fsm_table, person_ids=ids[fsm_rows["row"].to_numpy()]),
        "senneeds": BuiltTable(frame=senneeds, person_ids=ids[sen_rows]),
    }


_SUPPORT_TYPES = ("SLCN", "SEMH", "MLD", "NSA", "OTH", "PD", "HI", "VI", "SLD", "ASD")
_SUPPORT_SHARES = np.array([0.30, 0.22, 0.20, 0.06, 0.05, 0.04, 0.02, 0.01, 0.01, 0.09])
_EHCP_TYPES = ("ASD", "SLCN", "SEMH", "SLD", "MLD", "PD", "PMLD", "HI", "VI", "MSI")
_EHCP_SHARES = np.array([0.30, 0.21, 0.17, 0.10, 0.08, 0.06, 0.03, 0.03, 0.015, 0.005])


def _sen_needs(
    pupils: pd.DataFrame, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    n = len(pupils)
    sen_need = pupils["sen_need"].to_numpy()
    spld = pupils["spld"].to_numpy()
    ehcp = pupils["ehcp"].to_numpy()
    autism = pupils["autism"].to_numpy()
    first = np.full(n, None, dtype=object)
    sup = np.array(_SUPPORT_TYPES, dtype=object)[
        rng.choice(len(_SUPPORT_TYPES), n, p=_SUPPORT_SHARES)
    ]
    eh = np.array(_EHCP_TYPES, dtype=object)[rng.choice(len(_EHCP_TYPES), n, p=_EHCP_SHARES)]
    first[sen_need] = np.where(ehcp, eh, sup)[sen_need]
    first[sen_need & autism & (rng.random(n) < 0.85)] = "ASD"
    first[spld & ~sen_need] = "SPLD"
    second = np.full(n, None, dtype=object)
    second[spld & sen_need] = "SPLD"
    more = sen_need & ~spld & (rng.random(n) < 0.2)
    alt = np.array(("SLCN", "SEMH", "MLD", "PD"), dtype=object)[rng.integers(0, 4, n)]
    second[more] = np.where(alt[more] == first[more], "OTH", alt[more])
    r1 = np.flatnonzero(pd.notna(first))
    r2 = np.flatnonzero(pd.notna(second))
    rows = np.concatenate([r1, r2])
    types = np.concatenate([first[r1], second[r2]])
    ranks = np.concatenate([np.ones(len(r1), np.int64), np.full(len(r2), 2, np.int64)])
    order = np.lexsort((ranks, rows))
    return rows[order], types[order], ranks[order]


def build_attendance(
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    district: District,
    as_of: date,
    rng: np.random.Generator,
) -> BuiltTable:
    """Termly sessions by reason for 2025/26, consistent with ``persistent_absence``."""
    pupils = people[people["school_urn"].notna()].reset_index(drop=True)
    n = len(pupils)
    ids = pupils["person_id"].to_numpy(dtype=object)
    rec = recorded.loc[ids]
    possible = np.array([s for _, s in TERM_SESSIONS], dtype=np.int64)
    # Mid-year joiners have fewer possible sessions in autumn.
    possible_pt = np.tile(possible, (n, 1))
    joiner = rng.random(n) < 0.03
    possible_pt[joiner, 0] = (possible_pt[joiner, 0] * rng.random(int(joiner.sum()))).astype(
        np.int64
    )
    total = possible_pt.sum(axis=1)
    pa = pupils["persistent_absence"].to_numpy()
    eff = district.schools.set_index("urn")["attendance_effect"]
    school_eff = eff.reindex(pupils["school_urn"].astype(np.int64).to_numpy()).to_numpy()
    frac_pa = np.clip(0.10 + rng.gamma(1.3, 0.07, n) + 0.03 * school_eff, 0.10, 0.95)
    frac_ok = np.clip(rng.beta(1.6, 30.0, n) * np.exp(school_eff), 0.0, 0.2)
    threshold = np.ceil(0.10 * total).astype(np.int64)
    absent = np.where(
        pa,
        np.maximum(threshold, np.round(frac_pa * total).astype(np.int64)),
        np.minimum(threshold - 1, np.round(frac_ok * total).astype(np.int64)),
    )
    absent = np.minimum(absent, total)
    # Split the year's absences across terms (spring a little heavier), capped by possible.
    weights = possible_pt * np.array([1.0, 1.15, 1.0])
    weights = weights / weights.sum(axis=1, keepdims=True)
    by_term = rng.multinomial(absent, weights)
    by_term = np.minimum(by_term, possible_pt)
    deficit = absent - by_term.sum(axis=1)
    for t in range(3):
        add = np.minimum(deficit, possible_pt[:, t] - by_term[:, t])
        by_term[:, t] += add
        deficit -= add
    reasons = ("/", "\\", "L", "B", *ABSENCE_REASONS)
    counts = np.zeros((n, 3, len(reasons)), dtype=np.int64)
    shares = _ABSENCE_SHARES / _ABSENCE_SHARES.sum()
    for t in range(3):
        counts[:, t, 4:] = rng.multinomial(by_term[:, t], shares)
        present = possible_pt[:, t] - by_term[:, t]
        elsewhere = np.minimum(rng.binomial(present, 0.01), present)
        late = rng.binomial(present - elsewhere, 0.015)
        rest = present - elsewhere - late
        counts[:, t, 0] = (rest + 1) // 2
        counts[:, t, 1] = rest // 2
        counts[:, t, 2] = late
        counts[:, t, 3] = elsewhere
    pupil_i, term_i, reason_i = np.nonzero(counts)
    year = _ay(academic_year_start(as_of))
    frame = pd.DataFrame(
        {
            "upn": rec["upn"].to_numpy()[pupil_i],
            "urn": pupils["school_urn"].to_numpy()[pupil_i],
            "academicyear": year,
            "term": np.array([t for t, _ in TERM_SESSIONS], dtype=object)[term_i],
            "sessionspossible": possible_pt[pupil_i, term_i],
            "attendancereason": np.array(reasons, dtype=object)[reason_i],
            "sessions": counts[pupil_i, term_i, reason_i],
        }
    )
    return BuiltTable(frame=frame, person_ids=ids[pupil_i])


def build_exclusions(
    people: pd.DataFrame, recorded: pd.DataFrame, as_of: date, rng: np.random.Generator
) -> BuiltTable:
    pupils = people[people["school_urn"].notna() & (people["nc_year_number"] >= 1)]
    pupils = pupils.reset_index(drop=True)
    n = len(pupils)
    nc = pupils["nc_year_number"].to_numpy()
    rate = (
        np.where(nc >= 7, 0.09, 0.015)
        * np.where(pupils["male"].to_numpy(), 1.6, 0.6)
        * np.where(pupils["sen_any"].to_numpy(), 2.2, 1.0)
        * np.where(pupils["fsm"].to_numpy(), 1.8, 1.0)
        * np.where(pupils["persistent_absence"].to_numpy(), 1.6, 1.0)
    )
    k = rng.poisson(rate)
    rows = np.repeat(np.arange(n), k)
    m = len(rows)
    category = np.where(rng.random(m) < 0.04, "LNCH", "SUSP").astype(object)
    first_of_many = np.r_[True, rows[1:] != rows[:-1]]
    perm = (~first_of_many) & (nc[rows] >= 7) & (rng.random(m) < 0.04)
    category[perm] = "PERM"
    start_year = academic_year_start(as_of)
    day0 = np.datetime64(date(start_year, 9, 4), "D")
    offsets = (rng.random(m) * 300).astype(np.int64)
    starts = np.busday_offset(day0, offsets // 7 * 5 + offsets % 5, roll="forward")
    sessions = np.where(category == "LNCH", 1, 2 * (1 + rng.poisson(1.2, m)))
    sessions = np.where(category == "PERM", 2 * rng.integers(5, 30, m), sessions)
    reason = np.array(_EXCLUSION_REASONS, dtype=object)[
        rng.choice(len(_EXCLUSION_REASONS), m, p=_EXCLUSION_SHARES / _EXCLUSION_SHARES.sum())
    ]
    ids = pupils["person_id"].to_numpy(dtype=object)[rows]
    frame = pd.DataFrame(
        {
            "upn": recorded.loc[ids, "upn"].to_numpy(),
            "urn": pupils["school_urn"].to_numpy()[rows],
            "category": category,
            "reason": reason,
            "startdate": starts.astype("datetime64[ns]"),
            "sessions": sessions,
        }
    ).sort_values("startdate", kind="stable")
    order = frame.index.to_numpy()
    return BuiltTable(frame=frame.reset_index(drop=True), person_ids=ids[order])


def build_eyfsp(
    people: pd.DataFrame, recorded: pd.DataFrame, as_of: date, rng: np.random.Generator
) -> BuiltTable:
    year_start = academic_year_start(as_of)
    reception_start = year_start - people["nc_year_number"].to_numpy()
    cohort = (
        np.isin(reception_start, EYFSP_YEARS)
        & people["primary_urn"].notna().to_numpy()
        & (rng.random(len(people)) < 0.96)
    )
    kids = people[cohort].reset_index(drop=True)
    n = len(kids)
    ids = kids["person_id"].to_numpy(dtype=object)
    rec = recorded.loc[ids]
    gld = kids["gld"].to_numpy()
    att = kids["attainment"].to_numpy()
    scores = np.full((n, 17), "2", dtype=object)
    # Not GLD: at least one of the 12 GLD goals emerging; weaker children more.
    k_emerging = 1 + rng.binomial(11, np.clip(0.25 - 0.1 * att, 0.02, 0.8))
    ranks = np.argsort(rng.random((n, 12)), axis=1)
    emerging = (ranks < k_emerging[:, None]) & ~gld[:, None]
    scores[:, :12][emerging] = "1"
    other = rng.random((n, 5)) < np.where(gld, 0.05, 0.45)[:, None]
    scores[:, 12:][other] = "1"
    not_assessed = ~gld & (rng.random(n) < 0.004)
    scores[not_assessed, :] = "A"
    frame = pd.DataFrame(
        {
            **_pupil_block(rec),
            "urn": kids["primary_urn"].to_numpy(),
            "academicyear": [_ay(int(y)) for y in reception_start[cohort]],
        }
    )
    for j, (code, _) in enumerate(ELG_CODES):
        frame[code] = scores[:, j]
    frame = frame.assign(_y=frame["academicyear"]).sort_values("_y", kind="stable")
    order = frame.index.to_numpy()
    frame = frame.drop(columns="_y").reset_index(drop=True)
    return BuiltTable(frame=frame, person_ids=ids[order])


def build_ks2(
    people: pd.DataFrame, recorded: pd.DataFrame, as_of: date, rng: np.random.Generator
) -> BuiltTable:
    year_start = academic_year_start(as_of)
    y6_start = year_start - (people["nc_year_number"].to_numpy() - 6)
    cohort = (
        np.isin(y6_start, KS2_YEARS)
        & people["primary_urn"].notna().to_numpy()
        & (rng.random(len(people)) < 0.97)
    )
    kids = people[cohort].reset_index(drop=True)
    n = len(kids)
    ids = kids["person_id"].to_numpy(dtype=object)
    rec = recorded.loc[ids]
    att = kids["attainment"].to_numpy()
    eal = kids["eal"].to_numpy()
    ehcp = kids["ehcp"].to_numpy()

    def scaled(mean: float, shift: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.clip(np.round(mean + 6.5 * att + shift + rng.normal(0, 3.5, n)), 80, 120).astype(
            np.int64
        )

    below = ehcp & (att < -1.0) & (rng.random(n) < 0.6)
    frame = pd.DataFrame(
        {
            **_pupil_block(rec),
            "urn": kids["primary_urn"].to_numpy(),
            "academicyear": [_ay(int(y)) for y in y6_start[cohort]],
        }
    )
    for subject, mean, shift in (
        ("read", 104.0, -1.5 * eal),
        ("mat", 104.0, 0.0 * eal),
        ("gps", 105.0, 0.0 * eal),
    ):
        score = pd.array(scaled(mean, np.asarray(shift, dtype=np.float64)), dtype="Int64")
        status = np.full(n, None, dtype=object)
        absent = rng.random(n) < 0.012
        status[absent] = "A"
        status[below] = "B"
        score[absent | below] = pd.NA
        frame[f"{subject}_scaled"] = score
        frame[f"{subject}_status"] = status
    writing = np.where(att > 1.1, "GDS", np.where(att > -0.55, "EXS", "WTS")).astype(object)
    writing[below] = np.array(["PK4", "PK5", "PK6", "BLW"], dtype=object)[
        rng.integers(0, 4, int(below.sum()))
    ]
    writing[(rng.random(n) < 0.005)] = "A"
    frame["writ_ta"] = writing
    frame["sci_ta"] = np.where(att > -0.7, "EXS", "HNM")
    frame = frame.assign(_y=frame["academicyear"]).sort_values("_y", kind="stable")
    order = frame.index.to_numpy()
    frame = frame.drop(columns="_y").reset_index(drop=True)
    return BuiltTable(frame=frame, person_ids=ids[order])
