"""Health extracts: 2-year review (ASQ-3), NCMP, GP registrations and events, hospital episodes.

Invariants: the 2-year review's "all five domains at/above expected" equals the planted
``asq_all_expected``; zones follow from scores through our own invented thresholds (no real
ASQ-3 cut-off is shipped); GP events sit inside one of the person's registrations; DCD is coded
for exactly the planted ``dcd_recorded`` children who are registered (code is a placeholder).
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
from joinedup.sources.health import ASQ_DOMAINS

DATA_START = date(2019, 4, 1)  # start of financial year 2019/20: health data window opens

SNOMED_AUTISM = 35919005
SNOMED_ADHD = 406506008
SNOMED_ASTHMA = 195967001
SNOMED_DENTAL_CARIES = 80967001
# PLACEHOLDER, not a verified SNOMED CT concept: replace with a verified DCD/SDDMF code list
# (e.g. from OpenCodelists) before any real analysis.
SNOMED_DCD_PLACEHOLDER = 9999990001
SNOMED_ATOPIC_DERMATITIS = 24079001
SNOMED_OTITIS_MEDIA = 65363002

# Our own ASQ-style thresholds (invented; NOT the ASQ-3 cut-offs): below < cut <= monitoring
# < cut + 10 <= above.
OWN_ASQ_CUTS = {
    "communication": 30,
    "gross_motor": 35,
    "fine_motor": 25,
    "problem_solving": 30,
    "personal_social": 30,
}
_DFE_TO_NHS_ETHNIC = {
    "WBRI": "A",
    "WIRI": "B",
    "WIRT": "C",
    "WOTH": "C",
    "WROM": "C",
    "MWBC": "D",
    "MWBA": "E",
    "MWAS": "F",
    "MOTH": "G",
    "AIND": "H",
    "APKN": "J",
    "AMPK": "J",
    "AKPA": "J",
    "AOPK": "J",
    "ABAN": "K",
    "AOTH": "L",
    "BCRB": "M",
    "BAFR": "N",
    "BOTH": "P",
    "CHNE": "R",
    "OOTH": "S",
}
PROVIDERS = ("RZB", "RZK", "RZL")


def nhs_sex(sex: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    return np.select([sex == "M", sex == "F"], ["1", "2"], default="0").astype(object)


def nhs_ethnic(
    ethnicity: npt.NDArray[np.object_], rng: np.random.Generator
) -> npt.NDArray[np.object_]:
    out = objects(pd.Series(ethnicity).map(_DFE_TO_NHS_ETHNIC))
    r = rng.random(len(out))
    out[r < 0.06] = "Z"
    out[(r >= 0.06) & (r < 0.12)] = None
    return out


def _health_block(rec: pd.DataFrame) -> dict[str, object]:
    return {
        "nhs_number": rec["nhs_number"].to_numpy(),
        "surname": rec["family_name"].to_numpy(),
        "forename": rec["given_name"].to_numpy(),
        "dob": rec["dob"].to_numpy(),
        "sex": nhs_sex(rec["sex"].to_numpy(dtype=object)),
        "postcode": rec["postcode"].to_numpy(),
    }


def _days(a: npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
    return a.astype("datetime64[D]")


def build_hcp_review(
    people: pd.DataFrame, recorded: pd.DataFrame, as_of: date, rng: np.random.Generator
) -> BuiltTable:
    n_all = len(people)
    age_months = np.clip(np.round(24 + rng.gamma(2.0, 1.6, n_all)), 20, 36).astype(np.int64)
    dob = _days(people["dob"].to_numpy())
    review = dob + np.round(age_months * 30.44 + rng.integers(-10, 10, n_all)).astype(
        "timedelta64[D]"
    )
    decile = people["imd_decile"].to_numpy()
    covered = rng.random(n_all) < 0.72 + 0.015 * decile
    in_window = (review >= np.datetime64(DATA_START)) & (review <= np.datetime64(as_of))
    take = np.flatnonzero(covered & in_window)
    kids = people.iloc[take].reset_index(drop=True)
    n = len(kids)
    ids = kids["person_id"].to_numpy(dtype=object)
    rec = recorded.loc[ids]
    all_expected = kids["asq_all_expected"].to_numpy()
    # Domains below expected: at least one for children not all-expected.
    p_below = np.array([0.45, 0.2, 0.2, 0.25, 0.3])
    below = (rng.random((n, 5)) < p_below * 0.5) & ~all_expected[:, None]
    none = ~all_expected & ~below.any(axis=1)
    forced = rng.choice(5, size=n, p=p_below / p_below.sum())
    below[np.flatnonzero(none), forced[none]] = True
    monitoring = ~below & (rng.random((n, 5)) < 0.10)
    frame = pd.DataFrame(
        {
            **_health_block(rec),
            "review_date": review[take].astype("datetime64[ns]"),
            "age_months": age_months[take],
        }
    )
    for j, (code, _) in enumerate(ASQ_DOMAINS):
        cut = OWN_ASQ_CUTS[code]
        steps_below = rng.integers(0, cut // 5, n)  # 0 .. cut-5
        steps_mon = cut // 5 + rng.integers(0, 2, n)  # cut, cut+5
        top = 12 - (cut // 5 + 2)
        steps_above = cut // 5 + 2 + np.minimum(rng.geometric(0.35, n) - 1, top)
        steps_above = 12 - np.minimum(12 - steps_above, rng.integers(0, top + 1, n))
        score = np.where(
            below[:, j], steps_below, np.where(monitoring[:, j], steps_mon, steps_above)
        )
        score = 5 * score
        zone = np.where(score < cut, "below", np.where(score < cut + 10, "monitoring", "above"))
        frame[f"asq_{code}"] = score.astype(np.int64)
        frame[f"zone_{code}"] = zone
    frame = frame.sort_values("review_date", kind="stable")
    order = frame.index.to_numpy()
    return BuiltTable(frame=frame.reset_index(drop=True), person_ids=ids[order])


def build_ncmp(
    people: pd.DataFrame, recorded: pd.DataFrame, as_of: date, rng: np.random.Generator
) -> BuiltTable:
    year_start = academic_year_start(as_of)
    nc = people["nc_year_number"].to_numpy()
    parts = []
    for y in range(2021, year_start + 1):
        for label, year_nc in (("R", 0), ("6", 6)):
            sel = (nc - (year_start - y) == year_nc) & people["primary_urn"].notna().to_numpy()
            sel &= rng.random(len(people)) < 0.94
            idx = np.flatnonzero(sel)
            parts.append(pd.DataFrame({"i": idx, "year": y, "school_year": label}))
    rows = pd.concat(parts, ignore_index=True)
    kids = people.iloc[rows["i"].to_numpy()].reset_index(drop=True)
    n = len(kids)
    ids = kids["person_id"].to_numpy(dtype=object)
    rec = recorded.loc[ids]
    is_r = (rows["school_year"] == "R").to_numpy()
    dep = (5.5 - kids["imd_decile"].to_numpy()) / 4.5
    z = rng.normal(0, 1, n)
    height = np.where(is_r, 111.0 + 4.8 * z, 145.5 + 7.0 * z)
    bmi_z = rng.normal(0, 1, n) + 0.15 * dep
    bmi = np.where(is_r, 15.9 * np.exp(0.105 * bmi_z), 18.6 * np.exp(0.19 * bmi_z))
    weight = np.clip(bmi * (height / 100) ** 2, 8.5, 140.0)
    start = pd.to_datetime(pd.DataFrame({"year": rows["year"], "month": 10, "day": 1})).to_numpy()
    offsets = (rng.random(n) * 240).astype("timedelta64[D]")
    measured = _days(start) + offsets
    measured = np.minimum(measured, np.datetime64(as_of))
    frame = pd.DataFrame(
        {
            **_health_block(rec),
            "school_urn": kids["primary_urn"].to_numpy(),
            "school_year": rows["school_year"].to_numpy(),
            "measurement_date": measured.astype("datetime64[ns]"),
            "height_cm": np.round(np.clip(height, 85, 190), 1),
            "weight_kg": np.round(weight, 1),
        }
    ).sort_values("measurement_date", kind="stable")
    order = frame.index.to_numpy()
    return BuiltTable(frame=frame.reset_index(drop=True), person_ids=ids[order])


def build_gp(
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    addresses: pd.DataFrame,
    district: District,
    as_of: date,
    rng: np.random.Generator,
) -> dict[str, BuiltTable]:
    """Registrations (a new row per address or practice change) and coded events."""
    registered = people[rng.random(len(people)) < 0.97]
    reg = addresses[addresses["person_id"].isin(registered["person_id"])].copy()
    reg = reg.sort_values(["person_id", "start_date"], kind="stable").reset_index(drop=True)
    pid = reg["person_id"].to_numpy()
    m = len(reg)
    is_last = np.r_[pid[1:] != pid[:-1], True]
    is_first = np.r_[True, pid[1:] != pid[:-1]]
    practices = district.practices["practice_code"].to_numpy()
    current = people.set_index("person_id")["practice_code"]
    practice = objects(current.reindex(pid))
    practice[~is_last] = None
    # Walk backwards: an earlier address kept the later practice 60% of the time.
    seq_from_end = pd.Series(np.arange(m)[::-1]).groupby(pid[::-1]).cumcount().to_numpy()[::-1]
    keep = rng.random(m) < 0.6
    random_practice = practices[rng.integers(0, len(practices), m)]
    for k in range(1, int(seq_from_end.max()) + 1 if m else 1):
        rows = np.flatnonzero(seq_from_end == k)
        nxt = practice[rows + 1]
        practice[rows] = np.where(keep[rows], nxt, random_practice[rows])
    changed = is_first | np.r_[True, practice[1:] != practice[:-1]]
    spell = np.cumsum(changed)
    patient_id = np.array([f"G{s:08d}" for s in spell], dtype=object)
    pdob = _days(people.set_index("person_id")["dob"].reindex(pid).to_numpy())
    start = _days(reg["start_date"].to_numpy())
    start = np.where(
        is_first,
        np.maximum(start, pdob + (7 + rng.integers(0, 50, m)).astype("timedelta64[D]")),
        start,
    )
    start = np.minimum(start, np.datetime64(as_of))
    end = np.where(
        is_last, np.datetime64("NaT"), np.r_[start[1:], start[-1:]] - np.timedelta64(1, "D")
    )
    end = np.where(~is_last & (end < start), start, end)
    rec = recorded.loc[pid]
    postcode = np.where(
        is_last, rec["postcode"].to_numpy(dtype=object), reg["postcode"].to_numpy(dtype=object)
    )
    ethnic = nhs_ethnic(
        people.set_index("person_id")["ethnicity"].reindex(pid).to_numpy(dtype=object), rng
    )
    person_ethnic = pd.Series(ethnic, index=pid).groupby(level=0).first()
    patients = pd.DataFrame(
        {
            "patient_id": patient_id,
            "nhs_number": rec["nhs_number"].to_numpy(),
            "surname": rec["family_name"].to_numpy(),
            "forename": rec["given_name"].to_numpy(),
            "dob": rec["dob"].to_numpy(),
            "sex": nhs_sex(rec["sex"].to_numpy(dtype=object)),
            "postcode": postcode,
            "practice_code": practice,
            "registration_start": start.astype("datetime64[ns]"),
            "registration_end": end.astype("datetime64[ns]"),
            "ethnic_category": objects(person_ethnic.reindex(pid)),
        }
    )
    events = _gp_events(registered, patients, pid, as_of, rng)
    return {
        "patients": BuiltTable(frame=patients, person_ids=pid.astype(object)),
        "events": events,
    }


def _gp_events(
    people: pd.DataFrame,
    patients: pd.DataFrame,
    reg_pid: npt.NDArray[np.object_],
    as_of: date,
    rng: np.random.Generator,
) -> BuiltTable:
    n = len(people)
    dob = _days(people["dob"].to_numpy())
    specs: list[tuple[npt.NDArray[np.bool_], int, float, float]] = [
        (people["autism"].to_numpy() & (rng.random(n) < 0.75), SNOMED_AUTISM, 3.0, 9.0),
        (people["adhd"].to_numpy() & (rng.random(n) < 0.45), SNOMED_ADHD, 6.0, 14.0),
        (people["asthma"].to_numpy() & (rng.random(n) < 0.9), SNOMED_ASTHMA, 2.0, 9.0),
        (people["caries"].to_numpy() & (rng.random(n) < 0.12), SNOMED_DENTAL_CARIES, 3.0, 9.0),
        (people["dcd_recorded"].to_numpy(), SNOMED_DCD_PLACEHOLDER, 5.0, 11.0),
        (rng.random(n) < 0.12, SNOMED_ATOPIC_DERMATITIS, 0.2, 5.0),
        (rng.random(n) < 0.25, SNOMED_OTITIS_MEDIA, 0.5, 6.0),
    ]
    who, code, when = [], [], []
    for mask, snomed, lo, hi in specs:
        idx = np.flatnonzero(mask)
        age = lo + rng.random(len(idx)) * (hi - lo)
        date_ = dob[idx] + np.floor(age * 365.25).astype("timedelta64[D]")
        ok = date_ <= np.datetime64(as_of)
        # Dental caries and asthma recur (reviews, repeat attendances).
        who.append(idx[ok])
        code.append(np.full(int(ok.sum()), snomed, dtype=np.int64))
        when.append(date_[ok])
        if snomed == SNOMED_ASTHMA:
            again = idx[ok][rng.random(int(ok.sum())) < 0.6]
            later = dob[again] + np.floor((hi + rng.random(len(again)) * 6) * 365.25).astype(
                "timedelta64[D]"
            )
            keep = later <= np.datetime64(as_of)
            who.append(again[keep])
            code.append(np.full(int(keep.sum()), snomed, dtype=np.int64))
            when.append(later[keep])
    ev = pd.DataFrame(
        {
            "person_id": people["person_id"].to_numpy(dtype=object)[np.concatenate(who)],
            "event_date": np.concatenate(when).astype("datetime64[ns]"),
            "snomed_concept_id": np.concatenate(code),
        }
    )
    regs = pd.DataFrame(
        {
            "person_id": reg_pid,
            "registration_start": patients["registration_start"].to_numpy(),
            "patient_id": patients["patient_id"].to_numpy(),
            "practice_code": patients["practice_code"].to_numpy(),
        }
    )
    # An event before the first registration is dated at registration.
    first = regs.groupby("person_id")["registration_start"].min()
    ev["event_date"] = np.maximum(
        ev["event_date"].to_numpy(), first.reindex(ev["person_id"]).to_numpy()
    )
    ev = ev.sort_values("event_date", kind="stable")
    regs = regs.sort_values("registration_start", kind="stable")
    joined = pd.merge_asof(
        ev,
        regs,
        left_on="event_date",
        right_on="registration_start",
        by="person_id",
        direction="backward",
    )
    frame = pd.DataFrame(
        {
            "patient_id": joined["patient_id"].to_numpy(),
            "event_date": joined["event_date"].to_numpy(),
            "snomed_concept_id": joined["snomed_concept_id"].to_numpy(),
            "practice_code": joined["practice_code"].to_numpy(),
        }
    )
    return BuiltTable(frame=frame, person_ids=joined["person_id"].to_numpy(dtype=object))


# (diag_4_01, diag_4_02, opertn, admimeth options, classpat, min age, max age, yearly rate)
_EPISODES: tuple[
    tuple[str, str | None, str | None, tuple[str, ...], str, float, float, float], ...
] = (
    ("J459", None, None, ("21", "22"), "1", 2.0, 19.0, 0.0),  # asthma: rate set per child
    ("K021", None, "F109", ("11", "12"), "2", 3.0, 10.0, 0.0),  # caries extraction
    ("S060", "W199", None, ("21",), "1", 0.0, 19.0, 0.004),
    ("S525", "W199", None, ("21",), "1", 3.0, 16.0, 0.003),
    ("J219", None, None, ("21", "22"), "1", 0.0, 1.0, 0.03),
    ("A099", None, None, ("21", "22"), "1", 0.0, 5.0, 0.008),
    ("J039", None, "F341", ("11",), "1", 3.0, 12.0, 0.003),
    ("K359", None, "H019", ("21",), "1", 5.0, 19.0, 0.001),
    ("G409", None, None, ("21",), "1", 0.0, 19.0, 0.002),
    ("T391", "X600", None, ("21",), "1", 12.0, 19.0, 0.004),
)


def build_hospital_apc(
    people: pd.DataFrame, recorded: pd.DataFrame, as_of: date, rng: np.random.Generator
) -> BuiltTable:
    n = len(people)
    dob = _days(people["dob"].to_numpy())
    w_start = np.datetime64(DATA_START)
    w_end = np.datetime64(as_of)
    dep = (5.5 - people["imd_decile"].to_numpy()) / 4.5
    rows: list[pd.DataFrame] = []
    for k, (d1, _d2, _op, meths, classpat, lo, hi, rate) in enumerate(_EPISODES):
        a = np.maximum(dob + np.floor(lo * 365.25).astype("timedelta64[D]"), w_start)
        b = np.minimum(dob + np.floor(hi * 365.25).astype("timedelta64[D]"), w_end)
        years = np.maximum((b - a).astype(np.int64), 0) / 365.25
        if d1 == "J459":
            per_year = np.where(people["asthma"].to_numpy(), 0.05, 0.0)
        elif d1 == "K021":
            per_year = np.where(people["caries"].to_numpy(), 0.02 * (1 + 0.5 * dep), 0.0)
        else:
            per_year = np.full(n, rate) * (1 + 0.3 * dep)
        count = rng.poisson(per_year * years)
        idx = np.repeat(np.arange(n), count)
        span = (b - a).astype(np.int64)[idx]
        admit = a[idx] + (rng.random(len(idx)) * np.maximum(span, 1)).astype("timedelta64[D]")
        stay = np.where(classpat == "2", 0, rng.integers(0, 4, len(idx)))
        rows.append(
            pd.DataFrame(
                {
                    "i": idx,
                    "kind": k,
                    "admidate": admit,
                    "disdate": admit + stay.astype("timedelta64[D]"),
                    "admimeth": np.array(meths, dtype=object)[
                        rng.integers(0, len(meths), len(idx))
                    ],
                }
            )
        )
    # Births in the window: a baby episode (preterm babies coded P073).
    born = np.flatnonzero((dob >= w_start) & (dob <= w_end) & (rng.random(n) < 0.98))
    births = pd.DataFrame(
        {
            "i": born,
            "kind": -1,
            "admidate": dob[born],
            "disdate": dob[born]
            + np.where(people["preterm"].to_numpy()[born], 14, 1).astype("timedelta64[D]"),
            "admimeth": "82",
        }
    )
    eps = pd.concat([births, *rows], ignore_index=True).sort_values(
        ["admidate", "i"], kind="stable"
    )
    eps = eps.reset_index(drop=True)
    m = len(eps)
    kind = eps["kind"].to_numpy()
    i = eps["i"].to_numpy()
    ids = people["person_id"].to_numpy(dtype=object)[i]
    rec = recorded.loc[ids]
    d1_codes = np.array([e[0] for e in _EPISODES], dtype=object)
    d2_codes = np.array([e[1] for e in _EPISODES], dtype=object)
    op_codes = np.array([e[2] for e in _EPISODES], dtype=object)
    cls_codes = np.array([e[4] for e in _EPISODES], dtype=object)
    is_birth = kind < 0
    kk = np.where(is_birth, 0, kind)
    preterm = people["preterm"].to_numpy()[i]
    diag1 = np.where(is_birth, np.where(preterm, "P073", "Z380"), d1_codes[kk]).astype(object)
    diag2 = d2_codes[kk].copy()
    diag2[is_birth] = None
    op1 = op_codes[kk].copy()
    op1[is_birth] = None
    # Surgical rather than simple extraction for a fifth of dental extractions.
    dental = ~is_birth & (d1_codes[kk] == "K021")
    op1[dental & (rng.random(m) < 0.2)] = "F099"
    admidate = eps["admidate"].to_numpy()
    disdate = eps["disdate"].to_numpy()
    disdate = np.where(disdate > np.datetime64(as_of), np.datetime64("NaT"), disdate)
    frame = pd.DataFrame(
        {
            "epikey": [f"E{x:010d}" for x in rng.permutation(10 * m + 10)[:m]],
            **_health_block(rec),
            "ethnos": nhs_ethnic(people["ethnicity"].to_numpy(dtype=object)[i], rng),
            "procode": np.array(PROVIDERS, dtype=object)[rng.integers(0, len(PROVIDERS), m)],
            "admidate": admidate.astype("datetime64[ns]"),
            "epistart": admidate.astype("datetime64[ns]"),
            "epiend": disdate.astype("datetime64[ns]"),
            "disdate": disdate.astype("datetime64[ns]"),
            "admimeth": eps["admimeth"].to_numpy(),
            "classpat": np.where(is_birth, "1", cls_codes[kk]),
            "diag_4_01": diag1,
            "diag_4_02": diag2,
            "diag_4_03": None,
            "opertn_4_01": op1,
            "opdate_01": np.where(pd.notna(op1), admidate, np.datetime64("NaT")).astype(
                "datetime64[ns]"
            ),
            "opertn_4_02": None,
        }
    )
    return BuiltTable(frame=frame, person_ids=ids)
