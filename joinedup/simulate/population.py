"""The true population: households of children and young people aged 0-19 on ``as_of``.

Makes the ``people`` table (interface A in the project's agreements), the dated ``addresses``
history and the ``adults`` (mothers and partners, who appear in housing records only).

Invariants:
- one row per person, ``person_id`` unique ("P0000001"...), ages 0-19 on ``as_of``;
- siblings share ``household_id``, ``mother_id`` and the household's address history;
- every person has exactly one current address (``end_date`` NaT) and address periods do not
  overlap; ``n_moves`` = number of address periods - 1 since birth;
- NHS numbers are valid and in the 999 test range; UPNs (for children who have been at school)
  are valid, with LA code 380;
- everything is drawn from the one ``numpy.random.Generator`` passed in, in a fixed order.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from joinedup.simulate.geography import District
from joinedup.simulate.identifiers import make_nhs_numbers, make_upns
from joinedup.simulate.names import (
    BOY_SURNAME_ELEMENTS,
    ETHNIC_GROUPS,
    GIRL_SURNAME_ELEMENTS,
    GIVEN_NAMES,
    SURNAMES,
)

# Share of the child population by ethnic group (Bradford-like: ~40% South Asian heritage).
CHILD_ETHNIC_SHARES: dict[str, float] = {
    "white_british": 0.40,
    "pakistani": 0.30,
    "bangladeshi": 0.05,
    "indian": 0.05,
    "black": 0.04,
    "mixed": 0.06,
    "eastern_european": 0.06,
    "other": 0.04,
}
# Mean number of children per household, by group (drives household sizes).
_CHILDREN_PER_HOUSEHOLD = {
    "white_british": 1.8,
    "pakistani": 2.6,
    "bangladeshi": 2.6,
    "indian": 2.0,
    "black": 2.2,
    "mixed": 1.7,
    "eastern_european": 1.8,
    "other": 2.3,
}
# How strongly each group's households concentrate in deprived LSOAs (log-odds per decile span).
_DEPRIVATION_AFFINITY = {
    "white_british": -0.3,
    "pakistani": 1.3,
    "bangladeshi": 1.5,
    "indian": 0.3,
    "black": 1.0,
    "mixed": 0.6,
    "eastern_european": 1.1,
    "other": 1.1,
}
# Share with English as an additional language, by group (gives ~38% EAL overall).
_EAL_SHARE = {
    "white_british": 0.005,
    "pakistani": 0.72,
    "bangladeshi": 0.80,
    "indian": 0.70,
    "black": 0.35,
    "mixed": 0.10,
    "eastern_european": 0.85,
    "other": 0.60,
}
_ETHNICITY_CODES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "white_british": (("WBRI", "WIRI", "WIRT"), (0.97, 0.02, 0.01)),
    "pakistani": (("APKN", "AMPK", "AKPA", "AOPK"), (0.70, 0.15, 0.10, 0.05)),
    "bangladeshi": (("ABAN",), (1.0,)),
    "indian": (("AIND",), (1.0,)),
    "black": (("BAFR", "BCRB", "BOTH"), (0.60, 0.25, 0.15)),
    "mixed": (("MWBC", "MWAS", "MWBA", "MOTH"), (0.30, 0.30, 0.10, 0.30)),
    "eastern_european": (("WOTH", "WROM"), (0.85, 0.15)),
    "other": (("OOTH", "AOTH", "CHNE"), (0.55, 0.30, 0.15)),
}
_EAL_LANGUAGES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "white_british": (("OTH", "ROM"), (0.5, 0.5)),
    "pakistani": (("URD", "PNJ", "PHR", "PNJM"), (0.45, 0.30, 0.15, 0.10)),
    "bangladeshi": (("BNG",), (1.0,)),
    "indian": (("PNJ", "GUJ", "PNJP"), (0.55, 0.35, 0.10)),
    "black": (("SOM", "TIG", "FRN", "ARA"), (0.40, 0.30, 0.20, 0.10)),
    "mixed": (("OTH", "URD"), (0.7, 0.3)),
    "eastern_european": (("POL", "SLO", "CZE", "ROM"), (0.50, 0.25, 0.15, 0.10)),
    "other": (("ARA", "KUR", "PRS", "PAS"), (0.40, 0.30, 0.15, 0.15)),
}
# Household moves per year by IMD decile 1 (most deprived) .. 10.
_MOVE_RATE_MOST, _MOVE_RATE_LEAST = 0.14, 0.05
_UPRN_BASE = 100051000000


def academic_year_start(d: date) -> int:
    """The calendar year in which the academic year containing ``d`` began (September)."""
    return d.year if d.month >= 9 else d.year - 1


def _zipf_choice(
    options: tuple[str, ...], size: int, rng: np.random.Generator
) -> npt.NDArray[np.object_]:
    ranks = np.arange(len(options))
    weights = 1.0 / (ranks + 4.0)
    return np.array(options, dtype=object)[
        rng.choice(len(options), size=size, p=weights / weights.sum())
    ]


def _coded(
    table: dict[str, tuple[tuple[str, ...], tuple[float, ...]]],
    groups: npt.NDArray[np.object_],
    rng: np.random.Generator,
) -> npt.NDArray[np.object_]:
    out = np.empty(len(groups), dtype=object)
    for g in ETHNIC_GROUPS:
        rows = np.flatnonzero(groups == g)
        codes, probs = table[g]
        out[rows] = np.array(codes, dtype=object)[rng.choice(len(codes), size=len(rows), p=probs)]
    return out


def _households(
    n_people: int, district: District, as_of: date, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households (group, LSOA, size) and their children's ages, exactly ``n_people`` children."""
    groups = np.array(ETHNIC_GROUPS, dtype=object)
    child_share = np.array([CHILD_ETHNIC_SHARES[g] for g in ETHNIC_GROUPS])
    mean_k = np.array([_CHILDREN_PER_HOUSEHOLD[g] for g in ETHNIC_GROUPS])
    hh_share = child_share / mean_k
    hh_share /= hh_share.sum()
    n_h = int(n_people / float((hh_share * mean_k).sum()) * 1.3) + 10
    g_idx = rng.choice(len(groups), size=n_h, p=hh_share)
    k = 1 + rng.poisson(mean_k[g_idx] - 1)
    keep = int(np.searchsorted(np.cumsum(k), n_people)) + 1
    if keep > n_h:  # pragma: no cover - the 1.3 margin makes this unreachable
        raise RuntimeError("household draw fell short")
    g_idx, k = g_idx[:keep], k[:keep].copy()
    k[-1] -= int(k.sum() - n_people)
    n_h = keep
    # Ages: sibling gaps of 1.2 + Gamma(2, 0.8) years; the eldest uniform in what fits in 0-19.
    hh_of_child = np.repeat(np.arange(n_h), k)
    pos = np.arange(n_people) - np.repeat(np.cumsum(k) - k, k)
    gaps = np.where(pos == 0, 0.0, 1.2 + rng.gamma(2.0, 0.8, size=n_people))
    cum_gap = pd.Series(gaps).groupby(hh_of_child).cumsum().to_numpy()
    span = pd.Series(cum_gap).groupby(hh_of_child).max().to_numpy()
    span = np.minimum(span, 19.5)
    eldest = span + rng.random(n_h) * (19.99 - span)
    age = np.clip(eldest[hh_of_child] - cum_gap, 0.01, 19.99)
    # LSOA by the group's affinity for deprived areas.
    lsoa = district.lsoa
    decile = lsoa["imd_decile"].to_numpy()
    lsoa_idx = np.empty(n_h, dtype=np.int64)
    for gi, g in enumerate(ETHNIC_GROUPS):
        rows = np.flatnonzero(g_idx == gi)
        w = np.exp(_DEPRIVATION_AFFINITY[g] * (5.5 - decile) / 4.5)
        lsoa_idx[rows] = rng.choice(len(lsoa), size=len(rows), p=w / w.sum())
    households = pd.DataFrame(
        {
            "household_id": [f"H{i + 1:07d}" for i in range(n_h)],
            "ethnic_group": groups[g_idx],
            "n_children": k,
            "lsoa_idx": lsoa_idx,
            "span_years": eldest,
        }
    )
    ref = np.datetime64(as_of, "D")
    dob = ref - np.floor(age * 365.25).astype("timedelta64[D]")
    children = pd.DataFrame(
        {"hh": hh_of_child, "position": pos, "dob": dob.astype("datetime64[ns]")}
    )
    return households, children


def _address_history(
    households: pd.DataFrame,
    district: District,
    as_of: date,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each household's dated addresses; the last is current (``end_date`` NaT)."""
    lsoa = district.lsoa
    decile = lsoa["imd_decile"].to_numpy()[households["lsoa_idx"].to_numpy()]
    rate = _MOVE_RATE_MOST + (decile - 1) / 9 * (_MOVE_RATE_LEAST - _MOVE_RATE_MOST)
    years = households["span_years"].to_numpy()
    n_moves = rng.poisson(rate * years)
    n_addr = n_moves + 1
    n_h = len(households)
    hh = np.repeat(np.arange(n_h), n_addr)
    seq = np.arange(len(hh)) - np.repeat(np.cumsum(n_addr) - n_addr, n_addr)
    ref = np.datetime64(as_of, "D")
    first_start = ref - np.ceil(years * 365.25 + 30).astype("timedelta64[D]")
    # Move dates: uniform over the household's span, sorted within the household.
    frac = rng.random(len(hh))
    frac = np.where(seq == 0, 0.0, frac)
    order = np.lexsort((frac, hh))
    frac = frac[order]
    start = first_start[hh] + np.floor(frac * (ref - first_start[hh]).astype(np.int64)).astype(
        "timedelta64[D]"
    )
    is_last = np.r_[hh[1:] != hh[:-1], True]
    end = np.where(is_last, np.datetime64("NaT"), np.r_[start[1:], start[-1:]])
    # LSOA: current one for the last period; earlier ones within the same ward 60% of the time.
    cur = households["lsoa_idx"].to_numpy()[hh]
    ward = lsoa["ward_index"].to_numpy()
    same_ward = rng.random(len(hh)) < 0.6
    other = rng.integers(0, len(lsoa), size=len(hh))
    ward_order = np.argsort(ward, kind="stable")
    ward_counts = np.bincount(ward)
    ward_offsets = np.r_[0, np.cumsum(ward_counts)[:-1]]
    cur_ward = ward[cur]
    ward_pick = ward_order[
        ward_offsets[cur_ward] + (rng.random(len(hh)) * ward_counts[cur_ward]).astype(np.int64)
    ]
    lsoa_idx = np.where(is_last, cur, np.where(same_ward, ward_pick, other))
    # Postcode: uniform among the LSOA's postcodes.
    pcs = district.postcodes
    pc_lsoa = pd.Categorical(pcs["lsoa21cd"], categories=lsoa["lsoa21cd"]).codes
    pc_order = np.argsort(pc_lsoa, kind="stable")
    counts = np.bincount(pc_lsoa, minlength=len(lsoa))
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    pick = offsets[lsoa_idx] + (rng.random(len(hh)) * counts[lsoa_idx]).astype(np.int64)
    pc_row = pc_order[pick]
    return pd.DataFrame(
        {
            "household_id": households["household_id"].to_numpy()[hh],
            "seq": seq,
            "postcode": pcs["pcds"].to_numpy()[pc_row],
            "street": pcs["street"].to_numpy()[pc_row],
            "town": pcs["town"].to_numpy()[pc_row],
            "paon": rng.integers(1, 240, size=len(hh)).astype(str),
            "uprn": (_UPRN_BASE + np.arange(len(hh)) * 7 + rng.integers(0, 7, size=len(hh))).astype(
                str
            ),
            "lsoa21cd": lsoa["lsoa21cd"].to_numpy()[lsoa_idx],
            "start_date": start.astype("datetime64[ns]"),
            "end_date": end.astype("datetime64[ns]"),
        }
    )


def _names(
    groups: npt.NDArray[np.object_],
    sex: npt.NDArray[np.object_],
    hh_surname: npt.NDArray[np.object_],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    n = len(groups)
    given = np.empty(n, dtype=object)
    middle = np.full(n, None, dtype=object)
    family = hh_surname.copy()
    middle_share = {"white_british": 0.65, "mixed": 0.5, "black": 0.4, "eastern_european": 0.2}
    for g in ETHNIC_GROUPS:
        for s in ("M", "F"):
            rows = np.flatnonzero((groups == g) & (sex == s))
            given[rows] = _zipf_choice(GIVEN_NAMES[g][s], len(rows), rng)
            has_middle = rng.random(len(rows)) < middle_share.get(g, 0.3)
            mids = _zipf_choice(GIVEN_NAMES[g][s], len(rows), rng)
            middle[rows[has_middle]] = mids[has_middle]
        rows_m = np.flatnonzero((groups == g) & (sex == "M"))
        if g in ("pakistani", "bangladeshi"):
            # "Mohammed" as the first element of a compound forename.
            first_mo = rows_m[rng.random(len(rows_m)) < 0.25]
            middle[first_mo] = _zipf_choice(GIVEN_NAMES[g]["M"][2:], len(first_mo), rng)
            given[first_mo] = np.where(rng.random(len(first_mo)) < 0.6, "Mohammed", "Muhammad")
        if g in GIRL_SURNAME_ELEMENTS:
            rows_f = np.flatnonzero((groups == g) & (sex == "F"))
            el = rows_f[rng.random(len(rows_f)) < 0.25]
            family[el] = _zipf_choice(GIRL_SURNAME_ELEMENTS[g], len(el), rng)
            el = rows_m[rng.random(len(rows_m)) < 0.12]
            family[el] = _zipf_choice(BOY_SURNAME_ELEMENTS[g], len(el), rng)
    same = given == middle
    middle[same] = None
    return given, middle, family


def make_population(
    n_people: int, district: District, as_of: date, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The true ``people``, their ``addresses`` and the ``adults`` of their households."""
    households, children = _households(n_people, district, as_of, rng)
    hh_addr = _address_history(households, district, as_of, rng)
    n_h = len(households)
    groups_h = households["ethnic_group"].to_numpy()
    surname_h = np.empty(n_h, dtype=object)
    for g in ETHNIC_GROUPS:
        rows = np.flatnonzero(groups_h == g)
        surname_h[rows] = _zipf_choice(SURNAMES[g], len(rows), rng)
    # 4% of white British and mixed households have a double-barrelled surname.
    dbl = np.flatnonzero(np.isin(groups_h, ["white_british", "mixed"]) & (rng.random(n_h) < 0.04))
    second = _zipf_choice(SURNAMES["white_british"], len(dbl), rng)
    sep = np.where(rng.random(len(dbl)) < 0.7, "-", " ")
    surname_h[dbl] = [f"{a}{s}{b}" for a, s, b in zip(surname_h[dbl], sep, second, strict=True)]

    hh = children["hh"].to_numpy()
    n = len(children)
    groups = groups_h[hh]
    sex = np.where(rng.random(n) < 0.512, "M", "F").astype(object)
    given, middle, family = _names(groups, sex, surname_h[hh], rng)
    eal = rng.random(n) < np.array([_EAL_SHARE[g] for g in groups])
    ethnicity = _coded(_ETHNICITY_CODES, groups, rng)
    language = np.where(eal, _coded(_EAL_LANGUAGES, groups, rng), "ENG").astype(object)
    nhs = make_nhs_numbers(n, rng)
    people = pd.DataFrame(
        {
            "person_id": [f"P{i + 1:07d}" for i in range(n)],
            "household_id": households["household_id"].to_numpy()[hh],
            "mother_id": [f"M{h + 1:07d}" for h in hh],
            "dob": children["dob"].to_numpy(),
            "sex": sex,
            "given_name": given,
            "middle_names": middle,
            "family_name": family,
            "ethnicity": ethnicity,
            "ethnic_group": groups,
            "language": language,
            "eal": eal,
            "nhs_number": nhs.astype(object),
        }
    )
    # Child address histories: the household's periods that overlap the child's life.
    addr = people[["person_id", "household_id", "dob"]].merge(hh_addr, on="household_id")
    addr = addr[addr["end_date"].isna() | (addr["end_date"] > addr["dob"])].copy()
    addr["start_date"] = addr[["start_date", "dob"]].max(axis=1)
    addr = addr.sort_values(["person_id", "start_date"], kind="stable").reset_index(drop=True)
    addresses = addr[
        [
            "person_id",
            "postcode",
            "uprn",
            "lsoa21cd",
            "start_date",
            "end_date",
            "paon",
            "street",
            "town",
        ]
    ]
    n_moves = addresses.groupby("person_id", sort=True).size().to_numpy() - 1
    current = (
        addresses[addresses["end_date"].isna()].set_index("person_id").loc[people["person_id"]]
    )
    people["postcode"] = current["postcode"].to_numpy()
    people["uprn"] = current["uprn"].to_numpy()
    people["lsoa21cd"] = current["lsoa21cd"].to_numpy()
    people["n_moves"] = n_moves.astype(np.int64)
    lsoa = district.lsoa.set_index("lsoa21cd")
    decile = lsoa.loc[people["lsoa21cd"], "imd_decile"].to_numpy().astype(np.int64)
    people["imd_decile"] = decile
    people["imd_quintile"] = (decile + 1) // 2
    people["former_family_name"] = None
    _assign_school_places(people, district, as_of, rng)
    catch = district.catchment.set_index("lsoa21cd")
    # GP practice: the catchment practice of the first address for most, a random one otherwise.
    practices = district.practices["practice_code"].to_numpy()
    home_practice = catch.loc[people["lsoa21cd"], "practice_code"].to_numpy()
    people["practice_code"] = np.where(
        rng.random(n) < 0.85, home_practice, practices[rng.integers(0, len(practices), size=n)]
    )
    adults = _adults(people, households, hh_addr, surname_h, rng)
    return people, addresses.reset_index(drop=True), adults


def _assign_school_places(
    people: pd.DataFrame, district: District, as_of: date, rng: np.random.Generator
) -> None:
    """National curriculum year, mainstream school, primary school attended and UPN."""
    n = len(people)
    year_start = academic_year_start(as_of)
    aug31 = np.datetime64(date(year_start, 8, 31), "D")
    dob = people["dob"].to_numpy().astype("datetime64[D]")
    # age on 31 August before the academic year = whole years
    dob_y = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    dob_md = (dob - dob.astype("datetime64[Y]")).astype(np.int64)
    aug_md = (aug31 - aug31.astype("datetime64[Y]")).astype(np.int64)
    age_aug = year_start - dob_y - (dob_md > aug_md).astype(np.int64)
    nc = age_aug - 4  # 0 = Reception
    catch = district.catchment.set_index("lsoa21cd")
    home_primary = catch.loc[people["lsoa21cd"], "primary_urn"].to_numpy()
    home_secondary = catch.loc[people["lsoa21cd"], "secondary_urn"].to_numpy()
    schools = district.schools
    prim = schools.loc[schools["phase"] == "primary", "urn"].to_numpy()
    sec = schools.loc[schools["phase"] == "secondary", "urn"].to_numpy()
    # 80% attend the catchment school, the rest another school of the phase.
    primary_urn = np.where(rng.random(n) < 0.8, home_primary, prim[rng.integers(0, len(prim), n)])
    secondary_urn = np.where(
        rng.random(n) < 0.75, home_secondary, sec[rng.integers(0, len(sec), n)]
    )
    on_roll_draw = rng.random(n)
    compulsory = (nc >= 0) & (nc <= 11)
    sixth = (nc >= 12) & (nc <= 13)
    on_roll = (compulsory & (on_roll_draw < 0.985)) | (sixth & (on_roll_draw < 0.5))
    school = np.where(nc <= 6, primary_urn, secondary_urn).astype(np.int64)
    people["school_urn"] = pd.array(np.where(on_roll, school, 0), dtype="Int64")
    people.loc[~on_roll, "school_urn"] = pd.NA
    people["ncyear"] = (
        pd.Series(np.where(nc == 0, "R", nc.astype(str)), dtype=object)
        .where(on_roll, None)
        .to_numpy()
    )
    people["nc_year_number"] = nc.astype(np.int64)  # simulator-only: 0 = Reception
    has_been_at_school = nc >= 0
    people["primary_urn"] = (
        pd.Series(primary_urn.astype(np.int64), dtype="Int64")
        .where(has_been_at_school, pd.NA)
        .to_numpy()
    )
    people["primary_urn"] = people["primary_urn"].astype("Int64")
    # UPN: allocated by the first school (the primary) in the Reception year.
    laestab = schools.set_index("urn").loc[primary_urn, "laestab"].to_numpy().astype(np.int64)
    reception_year = (year_start - nc).astype(np.int64)
    temporary = rng.random(n) < 0.004
    upns = make_upns(
        laestab[has_been_at_school],
        reception_year[has_been_at_school],
        temporary=temporary[has_been_at_school],
        rng=rng,
    )
    upn = np.full(n, None, dtype=object)
    upn[has_been_at_school] = upns
    people["upn"] = upn


def _adults(
    people: pd.DataFrame,
    households: pd.DataFrame,
    hh_addr: pd.DataFrame,
    surname_h: npt.NDArray[np.object_],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Mothers (one per household) and partners (60% of households): housing applicants."""
    eldest_dob = people.groupby("household_id", sort=True)["dob"].min()
    n_h = len(households)
    groups = households["ethnic_group"].to_numpy()
    mother_age_at_first = 19 + rng.gamma(4.0, 2.0, size=n_h)
    mother_dob = eldest_dob.to_numpy().astype("datetime64[D]") - np.floor(
        mother_age_at_first * 365.25
    ).astype("timedelta64[D]")
    given = np.empty(n_h, dtype=object)
    pgiven = np.empty(n_h, dtype=object)
    for g in ETHNIC_GROUPS:
        rows = np.flatnonzero(groups == g)
        given[rows] = _zipf_choice(GIVEN_NAMES[g]["F"], len(rows), rng)
        pgiven[rows] = _zipf_choice(GIVEN_NAMES[g]["M"], len(rows), rng)
    mothers = pd.DataFrame(
        {
            "adult_id": [f"M{i + 1:07d}" for i in range(n_h)],
            "household_id": households["household_id"].to_numpy(),
            "role": "mother",
            "given_name": given,
            "family_name": surname_h,
            "dob": mother_dob.astype("datetime64[ns]"),
            "sex": "F",
        }
    )
    has_partner = rng.random(n_h) < 0.6
    partners = pd.DataFrame(
        {
            "adult_id": [f"A{i + 1:07d}" for i in range(n_h)],
            "household_id": households["household_id"].to_numpy(),
            "role": "partner",
            "given_name": pgiven,
            "family_name": surname_h,
            "dob": (
                mother_dob - rng.integers(-700, 2500, size=n_h).astype("timedelta64[D]")
            ).astype("datetime64[ns]"),
            "sex": "M",
        }
    )[has_partner]
    adults = pd.concat([mothers, partners], ignore_index=True)
    current = hh_addr[hh_addr["end_date"].isna()].set_index("household_id")
    adults["postcode"] = current.loc[adults["household_id"], "postcode"].to_numpy()
    adults["uprn"] = current.loc[adults["household_id"], "uprn"].to_numpy()
    return adults
