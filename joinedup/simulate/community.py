"""Police and housing extracts, and the reference tables every node loads first.

Invariants: police and housing rows carry the recorded identities of sources "police" and
"housing" (NHS number mostly missing); housing rows list the applicant (the mother), a partner
where there is one, and the household's children born by the approach date; adults appear in the
truth map under their adult ids ("M..."/"A..."), which are not in the people table.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from joinedup.simulate.extract_files import BuiltTable
from joinedup.simulate.frames import objects
from joinedup.simulate.geography import District

POLICE_START = date(2023, 4, 1)
HOUSING_START = date(2022, 4, 1)
OFFENCE_GROUPS = (
    "Violence against the person",
    "Theft offences",
    "Criminal damage and arson",
    "Public order offences",
    "Drug offences",
    "Sexual offences",
    "Robbery",
    "Possession of weapons offences",
    "Miscellaneous crimes against society",
    "Domestic incident",
)
_OFFICER_ETHNICITY = {
    "white_british": "IC1",
    "eastern_european": "IC2",
    "pakistani": "IC4",
    "bangladeshi": "IC4",
    "indian": "IC4",
    "black": "IC3",
    "mixed": "IC9",
    "other": "IC6",
}


def build_reference(district: District) -> dict[str, BuiltTable]:
    def none(n: int) -> npt.NDArray[np.object_]:
        return np.full(n, None, dtype=object)

    lsoa = district.lsoa[
        ["lsoa21cd", "lsoa21nm", "ward", "imd_decile", "idaci_decile", "imd_vintage"]
    ]
    schools = district.schools[["urn", "laestab", "school_name", "phase", "lsoa21cd"]]
    practices = district.practices[["practice_code", "practice_name", "lsoa21cd"]]
    postcodes = district.postcodes[["pcds", "lsoa21cd"]]
    return {
        "postcodes": BuiltTable(
            frame=postcodes.reset_index(drop=True), person_ids=none(len(postcodes))
        ),
        "lsoa": BuiltTable(frame=lsoa.reset_index(drop=True), person_ids=none(len(lsoa))),
        "schools": BuiltTable(frame=schools.reset_index(drop=True), person_ids=none(len(schools))),
        "gp_practices": BuiltTable(
            frame=practices.reset_index(drop=True), person_ids=none(len(practices))
        ),
    }


def _days(a: npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
    return a.astype("datetime64[D]")


def _person_block(rec: pd.DataFrame) -> dict[str, object]:
    return {
        "forename": rec["given_name"].to_numpy(),
        "surname": rec["family_name"].to_numpy(),
        "dob": rec["dob"].to_numpy(),
        "sex": rec["sex"].to_numpy(),
        "nhs_number": rec["nhs_number"].to_numpy(),
        "postcode": rec["postcode"].to_numpy(),
    }


def build_police(
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    as_of: date,
    rng: np.random.Generator,
    care_missing: pd.DataFrame | None = None,
) -> dict[str, BuiltTable]:
    """Incidents (children as victims, suspects, witnesses) and missing-person reports.

    ``care_missing`` (person_id, start, end) are missing-from-care episodes from the social
    care simulation; police reports are raised for most of them. Without it, looked-after
    children's episodes are drawn here.
    """
    n = len(people)
    dob = _days(people["dob"].to_numpy())
    start = np.datetime64(POLICE_START)
    end = np.datetime64(as_of)
    years = (end - start).astype(np.int64) / 365.25
    age_now = (end - dob).astype(np.int64) / 365.25
    dep = (5.5 - people["imd_decile"].to_numpy()) / 4.5
    male = people["male"].to_numpy()
    cla = people["is_cla"].to_numpy()
    teen = age_now >= 11
    victim_rate = 0.02 + 0.03 * teen
    suspect_rate = np.where(teen, 0.025 * np.where(male, 1.8, 0.5), 0.0)
    mult = (1 + 0.5 * dep) * np.where(cla, 3.0, 1.0)
    k_v = rng.poisson(victim_rate * mult * years)
    k_s = rng.poisson(suspect_rate * mult * years)
    idx = np.concatenate([np.repeat(np.arange(n), k_v), np.repeat(np.arange(n), k_s)])
    is_suspect = np.concatenate([np.zeros(int(k_v.sum()), bool), np.ones(int(k_s.sum()), bool)])
    m = len(idx)
    first = np.maximum(start, dob[idx])
    span = np.maximum((end - first).astype(np.int64), 1)
    when = first + (rng.random(m) * span).astype("timedelta64[D]")
    role = np.where(
        is_suspect,
        np.where(rng.random(m) < 0.3, "offender", "suspect"),
        np.where(rng.random(m) < 0.75, "victim", "witness"),
    ).astype(object)
    role[rng.random(m) < 0.02] = "other"
    group = np.array(OFFENCE_GROUPS, dtype=object)[
        rng.choice(
            len(OFFENCE_GROUPS), m, p=[0.3, 0.18, 0.1, 0.12, 0.06, 0.04, 0.04, 0.03, 0.03, 0.1]
        )
    ]
    outcome = np.array([1, 3, 8, 14, 15, 16, 18, 22], dtype=np.int64)[
        rng.choice(8, m, p=[0.12, 0.05, 0.10, 0.25, 0.18, 0.12, 0.13, 0.05])
    ]
    ids = people["person_id"].to_numpy(dtype=object)[idx]
    order = np.argsort(when, kind="stable")
    idx, ids, when, role, group, outcome = (
        idx[order],
        ids[order],
        when[order],
        role[order],
        group[order],
        outcome[order],
    )
    rec = recorded.loc[ids]
    pref = pd.Series(np.arange(1, n + 1), index=people["person_id"]).reindex(ids).to_numpy()
    off_eth = (
        pd.Series(people["ethnic_group"].to_numpy())
        .map(_OFFICER_ETHNICITY)
        .to_numpy(dtype=object)[idx]
    )
    off_eth[rng.random(m) < 0.1] = None
    incidents = pd.DataFrame(
        {
            "occurrence_ref": [
                f"13/{x:07d}/{y % 100:02d}"
                for x, y in zip(
                    rng.permutation(m * 3 + 10)[:m],
                    when.astype("datetime64[Y]").astype(int) + 1970,
                    strict=True,
                )
            ],
            "person_ref": [f"NP{p:08d}" for p in pref * 7 + 1000],
            "reported_date": when.astype("datetime64[ns]"),
            "offence_group": group,
            "person_role": role,
            **_person_block(rec),
            "officer_ethnicity": off_eth,
            "outcome_type": pd.array(
                np.where(
                    np.isin(role, ["suspect", "offender"]) | (rng.random(m) < 0.5), outcome, 0
                ),
                dtype="Int64",
            ),
        }
    )
    incidents.loc[incidents["outcome_type"] == 0, "outcome_type"] = pd.NA

    # Missing-person reports.
    if care_missing is not None and len(care_missing):
        cm = care_missing[pd.to_datetime(care_missing["start"]) >= pd.Timestamp(POLICE_START)]
        cm = cm[rng.random(len(cm)) < 0.9]
        mp_ids = cm["person_id"].to_numpy(dtype=object)
        mp_from = _days(pd.to_datetime(cm["start"]).to_numpy())
        mp_found = pd.to_datetime(cm["end"]).to_numpy().astype("datetime64[D]")
        from_care = np.ones(len(cm), dtype=bool)
    else:
        k_c = rng.poisson(
            np.where(cla & (age_now >= 10), 2.5 * years, 0.0) * rng.gamma(0.5, 2.0, n)
        )
        i_c = np.repeat(np.arange(n), k_c)
        mp_ids = people["person_id"].to_numpy(dtype=object)[i_c]
        mp_from = start + (rng.random(len(i_c)) * (end - start).astype(np.int64)).astype(
            "timedelta64[D]"
        )
        mp_found = mp_from + rng.integers(0, 4, len(i_c)).astype("timedelta64[D]")
        from_care = np.ones(len(i_c), dtype=bool)
    home_rate = np.where((age_now >= 10) & ~cla, 0.006 * (1 + dep), 0.0)
    k_h = rng.poisson(home_rate * years)
    i_h = np.repeat(np.arange(n), k_h)
    h_from = start + (rng.random(len(i_h)) * (end - start).astype(np.int64)).astype(
        "timedelta64[D]"
    )
    h_found = h_from + rng.integers(0, 3, len(i_h)).astype("timedelta64[D]")
    all_ids = np.concatenate([mp_ids, people["person_id"].to_numpy(dtype=object)[i_h]])
    all_from = np.concatenate([mp_from, h_from])
    all_found = np.concatenate([mp_found, h_found]).astype("datetime64[D]")
    all_care = np.concatenate([from_care, np.zeros(len(i_h), dtype=bool)])
    order = np.argsort(all_from, kind="stable")
    all_ids, all_from, all_found, all_care = (
        all_ids[order],
        all_from[order],
        all_found[order],
        all_care[order],
    )
    k = len(all_ids)
    all_found = np.where(all_found > np.datetime64(as_of), np.datetime64("NaT"), all_found)
    all_found[rng.random(k) < 0.01] = np.datetime64("NaT")
    rec_m = recorded.reindex(all_ids)
    missing = pd.DataFrame(
        {
            "report_ref": [f"MP{x:08d}" for x in rng.permutation(k * 3 + 10)[:k]],
            **_person_block(rec_m),
            "missing_from": all_from.astype("datetime64[ns]"),
            "found_date": all_found.astype("datetime64[ns]"),
            "risk_grade": np.array(["no_apparent_risk", "low", "medium", "high"], dtype=object)[
                rng.choice(4, k, p=[0.15, 0.45, 0.33, 0.07])
            ],
            "from_care": np.where(all_care, "Y", "N"),
            "return_interview": np.array(
                ["offered_accepted", "offered_declined", "not_offered"], dtype=object
            )[rng.choice(3, k, p=[0.5, 0.3, 0.2])],
        }
    )
    return {
        "incidents": BuiltTable(frame=incidents, person_ids=ids),
        "missing_persons": BuiltTable(frame=missing, person_ids=all_ids),
    }


def build_housing(
    people: pd.DataFrame,
    recorded: pd.DataFrame,
    adults: pd.DataFrame,
    adults_recorded: pd.DataFrame,
    addresses: pd.DataFrame,
    as_of: date,
    rng: np.random.Generator,
) -> BuiltTable:
    """H-CLIC style approaches: one row per household member, keyed by UPRN."""
    hh = people.groupby("household_id", sort=True).agg(
        decile=("imd_decile", "first"), moves=("n_moves", "max")
    )
    start = np.datetime64(HOUSING_START)
    end = np.datetime64(as_of)
    years = (end - start).astype(np.int64) / 365.25
    rate = (
        0.006
        * (1 + (10 - hh["decile"].to_numpy()) / 4)
        * (1 + 0.3 * np.minimum(hh["moves"].to_numpy(), 4))
    )
    k = rng.poisson(rate * years)
    cases = pd.DataFrame({"household_id": np.repeat(hh.index.to_numpy(), k)})
    c = len(cases)
    cases["case_ref"] = [f"HC{x:07d}" for x in rng.permutation(c * 3 + 10)[:c]]
    cases["approach_date"] = (
        start + (rng.random(c) * (end - start).astype(np.int64)).astype("timedelta64[D]")
    ).astype("datetime64[ns]")
    cases["duty"] = np.array(["prevention", "relief", "main", "none"], dtype=object)[
        rng.choice(4, c, p=[0.45, 0.38, 0.12, 0.05])
    ]
    in_ta = np.isin(cases["duty"], ["relief", "main"]) & (rng.random(c) < 0.5)
    ta_start = _days(cases["approach_date"].to_numpy()) + rng.integers(0, 30, c).astype(
        "timedelta64[D]"
    )
    ta_end = ta_start + rng.integers(14, 400, c).astype("timedelta64[D]")
    cases["ta_start"] = np.where(in_ta & (ta_start <= end), ta_start, np.datetime64("NaT")).astype(
        "datetime64[ns]"
    )
    cases["ta_end"] = np.where(in_ta & (ta_end <= end), ta_end, np.datetime64("NaT")).astype(
        "datetime64[ns]"
    )
    ta_type = np.array(["bnb", "hostel", "private_leased", "la_stock", "other"], dtype=object)[
        rng.choice(5, c, p=[0.15, 0.2, 0.3, 0.3, 0.05])
    ]
    ta_type[cases["ta_start"].isna().to_numpy()] = None
    cases["ta_type"] = ta_type
    cases["case_no"] = np.arange(c)
    kids = people[["person_id", "household_id", "dob"]].merge(cases, on="household_id")
    kids = kids[kids["dob"] <= kids["approach_date"]]
    kids = kids.assign(relationship="child", rank=2)
    grown = (
        adults[["adult_id", "household_id", "role"]]
        .rename(columns={"adult_id": "person_id"})
        .merge(cases, on="household_id")
    )
    grown = grown.assign(
        relationship=np.where(grown["role"] == "mother", "applicant", "partner"),
        rank=np.where(grown["role"] == "mother", 0, 1),
    )
    rows = pd.concat([grown.drop(columns="role"), kids.drop(columns="dob")], ignore_index=True)
    rows = rows.sort_values(
        ["approach_date", "case_no", "rank", "person_id"], kind="stable"
    ).reset_index(drop=True)
    ids = rows["person_id"].to_numpy(dtype=object)
    rec = pd.concat([recorded, adults_recorded]).reindex(ids)
    all_ids = pd.Index(
        np.concatenate(
            [people["person_id"].to_numpy(dtype=object), adults["adult_id"].to_numpy(dtype=object)]
        )
    )
    pref = pd.Series(np.arange(1, len(all_ids) + 1), index=all_ids).reindex(ids).to_numpy()
    # The household's address on the approach date (housing records it at the time).
    hh_addr = (
        addresses.merge(people[["person_id", "household_id"]], on="person_id")
        .drop_duplicates(["household_id", "uprn"])
        .sort_values("start_date", kind="stable")
    )
    at_approach = (
        pd.merge_asof(
            rows[["household_id", "approach_date"]].reset_index().sort_values("approach_date"),
            hh_addr[["household_id", "start_date", "postcode", "uprn"]],
            left_on="approach_date",
            right_on="start_date",
            by="household_id",
            direction="backward",
        )
        .set_index("index")
        .sort_index()
    )
    postcode = objects(at_approach["postcode"])
    uprn = objects(at_approach["uprn"])
    unrecorded = rec["postcode"].isna().to_numpy()
    postcode[unrecorded] = None
    uprn[unrecorded] = None
    block = _person_block(rec)
    block["postcode"] = postcode
    frame = pd.DataFrame(
        {
            "case_ref": rows["case_ref"].to_numpy(),
            "person_ref": [f"HP{p * 3 + 11:08d}" for p in pref],
            "relationship": rows["relationship"].to_numpy(),
            **block,
            "uprn": uprn,
            "approach_date": rows["approach_date"].to_numpy(),
            "duty": rows["duty"].to_numpy(),
            "ta_start": rows["ta_start"].to_numpy(),
            "ta_end": rows["ta_end"].to_numpy(),
            "ta_type": rows["ta_type"].to_numpy(),
        }
    )
    return BuiltTable(frame=frame, person_ids=ids)
