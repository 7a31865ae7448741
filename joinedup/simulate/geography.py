"""The invented district's places: LSOAs with IMD deciles, wards, postcodes, schools, practices.

Sizes scale with the number of children simulated (about 330 children per LSOA, as in a real
district). Invariants: LSOA codes, postcodes, URNs, LAESTABs and practice codes are unique; every
postcode belongs to exactly one LSOA; every school and practice sits in an LSOA of the district;
about 40% of LSOAs are in IMD deciles 1-2 (a Bradford-like skew). Nothing here is a real place:
codes have real shapes (E01..., BD outward codes, 380xxxx) but are invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from joinedup.simulate.names import STREET_STEMS, STREET_SUFFIXES, TOWNS, WARD_STEMS

DISTRICT_NAME = "Brackendale"
LA_CODE = 380
IMD_VINTAGE = "IoD2025"
# Share of LSOAs in each IMD decile (1 = most deprived): 40% in deciles 1-2.
IMD_DECILE_SHARES = np.array([0.25, 0.15, 0.10, 0.09, 0.08, 0.07, 0.07, 0.06, 0.07, 0.06])
CHILDREN_PER_LSOA = 330
_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
_DIRECTIONS = ("", " North", " South", " East", " West", " Central", " Upper", " Lower")


@dataclass(frozen=True, slots=True, kw_only=True)
class District:
    """The district's reference tables, with the simulator-only columns (school effects)."""

    lsoa: pd.DataFrame  # lsoa21cd, lsoa21nm, ward, ward_index, imd_decile, idaci_decile, outward
    postcodes: pd.DataFrame  # pcds, lsoa21cd, street, town
    schools: pd.DataFrame  # urn, laestab, school_name, phase, lsoa21cd + effects
    practices: pd.DataFrame  # practice_code, practice_name, lsoa21cd, ward_index
    catchment: pd.DataFrame  # per LSOA: primary_urn, secondary_urn, practice_code


def _ward_names(n: int) -> list[str]:
    names = [f"{stem}{d}" for d in _DIRECTIONS for stem in WARD_STEMS]
    out = names[:n]
    k = 2
    while len(out) < n:
        out += [f"{stem} {k}" for stem in WARD_STEMS][: n - len(out)]
        k += 1
    return out


def _make_lsoas(n_lsoa: int, rng: np.random.Generator) -> pd.DataFrame:
    deciles = rng.choice(np.arange(1, 11), size=n_lsoa, p=IMD_DECILE_SHARES)
    ward_index = np.sort(rng.integers(0, max(2, n_lsoa // 8), size=n_lsoa))
    # keep ward indices dense 0..k-1
    _, ward_index = np.unique(ward_index, return_inverse=True)
    n_wards = int(ward_index.max()) + 1
    wards = np.array(_ward_names(n_wards))
    msoa = np.arange(n_lsoa) // 5
    letter = np.array(list("ABCDE"))[np.arange(n_lsoa) % 5]
    idaci = np.clip(deciles + rng.integers(-1, 2, size=n_lsoa), 1, 10)
    outward_number = 1 + (ward_index % 24)
    return pd.DataFrame(
        {
            "lsoa21cd": [f"E01{99001 + i:06d}" for i in range(n_lsoa)],
            "lsoa21nm": [
                f"{DISTRICT_NAME} {m + 1:03d}{c}" for m, c in zip(msoa, letter, strict=True)
            ],
            "ward": wards[ward_index],
            "ward_index": ward_index.astype(np.int64),
            "imd_decile": deciles.astype(np.int64),
            "idaci_decile": idaci.astype(np.int64),
            "imd_vintage": IMD_VINTAGE,
            "outward": [f"BD{k}" for k in outward_number],
        }
    )


def _make_postcodes(lsoa: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    per_lsoa = 6 + rng.poisson(6, size=len(lsoa))
    lsoa_idx = np.repeat(np.arange(len(lsoa)), per_lsoa)
    n = len(lsoa_idx)
    outward = lsoa["outward"].to_numpy()[lsoa_idx]
    seen: set[str] = set()
    codes = np.empty(n, dtype=object)
    # Draw inward codes; redraw the few collisions (a loop only over the postcodes themselves).
    digits = rng.integers(0, 10, size=n)
    l1 = _INWARD_LETTERS[rng.integers(0, 20, size=n)]
    l2 = _INWARD_LETTERS[rng.integers(0, 20, size=n)]
    for i in range(n):
        code = f"{outward[i]} {digits[i]}{l1[i]}{l2[i]}"
        while code in seen:
            code = (
                f"{outward[i]} {rng.integers(0, 10)}"
                f"{_INWARD_LETTERS[rng.integers(0, 20)]}{_INWARD_LETTERS[rng.integers(0, 20)]}"
            )
        seen.add(code)
        codes[i] = code
    stems = np.array(STREET_STEMS)[rng.integers(0, len(STREET_STEMS), size=n)]
    suffixes = np.array(STREET_SUFFIXES)[rng.integers(0, len(STREET_SUFFIXES), size=n)]
    towns = np.array(TOWNS)[
        np.minimum(lsoa["ward_index"].to_numpy()[lsoa_idx] // 6, len(TOWNS) - 1)
    ]
    return pd.DataFrame(
        {
            "pcds": codes.astype(str),
            "lsoa21cd": lsoa["lsoa21cd"].to_numpy()[lsoa_idx],
            "street": np.char.add(np.char.add(stems.astype(str), " "), suffixes.astype(str)),
            "town": towns,
        }
    )


def _make_schools(lsoa: pd.DataFrame, n_children: int, rng: np.random.Generator) -> pd.DataFrame:
    n_primary = max(3, round(n_children * 7 / 20 / 300))
    n_secondary = max(2, round(n_children * 5 / 20 / 1000))
    n_special = max(1, round(n_primary / 14))
    phases = ["primary"] * n_primary + ["secondary"] * n_secondary + ["special"] * n_special
    n = len(phases)
    urns = rng.choice(np.arange(100000, 150000), size=n, replace=False)
    estab = np.concatenate(
        [
            2000 + rng.choice(1000, size=n_primary, replace=False),
            4000 + rng.choice(1000, size=n_secondary, replace=False),
            7000 + rng.choice(1000, size=n_special, replace=False),
        ]
    )
    at = rng.integers(0, len(lsoa), size=n)
    stems = np.array(STREET_STEMS)[rng.integers(0, len(STREET_STEMS), size=n)]
    kinds = {
        "primary": ("Primary School", "Primary Academy", "Community Primary School"),
        "secondary": ("Academy", "High School", "Community College"),
        "special": ("School", "Academy"),
    }
    names = []
    seen: set[str] = set()
    for i, phase in enumerate(phases):
        base = f"{stems[i]} {kinds[phase][i % len(kinds[phase])]}"
        name, k = base, 2
        while name in seen:
            name, k = f"{base} {k}", k + 1
        seen.add(name)
        names.append(name)
    phase_arr = np.array(phases)
    # School effects (log-odds), drawn once per school:
    # SpLD identification: uniform on [-ln3/2, ln3/2] so the most and least identifying schools'
    # odds differ about 3-fold.
    spld_effect = rng.uniform(-np.log(3) / 2, np.log(3) / 2, size=n)
    mainstream = np.flatnonzero(np.array(phases) != "special")
    spld_effect[mainstream[np.argmin(spld_effect[mainstream])]] = -np.log(3) / 2
    spld_effect[mainstream[np.argmax(spld_effect[mainstream])]] = np.log(3) / 2
    attainment_effect = rng.normal(0.0, 0.2, size=n)
    attendance_effect = rng.normal(0.0, 0.15, size=n)
    deprivation = lsoa["imd_decile"].to_numpy()[at]
    # Post-16 high-risk share: 8%..29% across secondary schools, higher in deprived areas.
    post16 = np.full(n, np.nan)
    sec = np.flatnonzero(phase_arr == "secondary")
    order = sec[np.argsort(deprivation[sec] + rng.random(len(sec)))]  # most deprived first
    post16[order] = np.linspace(0.29, 0.08, num=len(sec)) if len(sec) > 1 else 0.18
    return pd.DataFrame(
        {
            "urn": urns.astype(np.int64),
            "laestab": (LA_CODE * 10000 + estab).astype(np.int64),
            "school_name": names,
            "phase": phase_arr,
            "lsoa21cd": lsoa["lsoa21cd"].to_numpy()[at],
            "ward_index": lsoa["ward_index"].to_numpy()[at],
            "spld_effect": spld_effect,
            "attainment_effect": attainment_effect,
            "attendance_effect": attendance_effect,
            "post16_share": post16,
        }
    )


def _make_practices(lsoa: pd.DataFrame, n_children: int, rng: np.random.Generator) -> pd.DataFrame:
    n = max(3, round(n_children / 1500))
    codes = rng.choice(np.arange(1000, 10000), size=n, replace=False)
    at = rng.integers(0, len(lsoa), size=n)
    stems = np.array(STREET_STEMS)[rng.integers(0, len(STREET_STEMS), size=n)]
    kinds = ("Medical Practice", "Health Centre", "Surgery", "Medical Centre")
    names = [f"{stems[i]} {kinds[i % len(kinds)]}" for i in range(n)]
    return pd.DataFrame(
        {
            "practice_code": [f"B8{c:04d}" for c in codes],
            "practice_name": names,
            "lsoa21cd": lsoa["lsoa21cd"].to_numpy()[at],
            "ward_index": lsoa["ward_index"].to_numpy()[at],
        }
    )


def _nearby(
    lsoa: pd.DataFrame, places: pd.DataFrame, key: str, rng: np.random.Generator
) -> np.ndarray:
    """For each LSOA, one place in the same ward if there is one, else a random place."""
    out = places[key].to_numpy()[rng.integers(0, len(places), size=len(lsoa))]
    by_ward: dict[int, np.ndarray] = {
        int(str(w)): g[key].to_numpy() for w, g in places.groupby("ward_index", sort=True)
    }
    wards = lsoa["ward_index"].to_numpy()
    for w, options in by_ward.items():
        rows = np.flatnonzero(wards == w)
        out[rows] = options[rng.integers(0, len(options), size=len(rows))]
    return out


def make_district(n_children: int, rng: np.random.Generator) -> District:
    """Invent the district's places for about ``n_children`` children and young people."""
    n_lsoa = max(12, round(n_children / CHILDREN_PER_LSOA))
    lsoa = _make_lsoas(n_lsoa, rng)
    postcodes = _make_postcodes(lsoa, rng)
    schools = _make_schools(lsoa, n_children, rng)
    practices = _make_practices(lsoa, n_children, rng)
    primaries = schools[schools["phase"] == "primary"]
    secondaries = schools[schools["phase"] == "secondary"]
    catchment = pd.DataFrame(
        {
            "lsoa21cd": lsoa["lsoa21cd"],
            "primary_urn": _nearby(lsoa, primaries, "urn", rng),
            "secondary_urn": _nearby(lsoa, secondaries, "urn", rng),
            "practice_code": _nearby(lsoa, practices, "practice_code", rng),
        }
    )
    return District(
        lsoa=lsoa, postcodes=postcodes, schools=schools, practices=practices, catchment=catchment
    )
