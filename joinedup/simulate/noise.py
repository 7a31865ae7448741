"""Linkage noise: how each source records a child's identity, errors and all.

``record_identities`` gives a source's *recorded identity* of each person (interface A): names
with nicknames, transliteration variants, swaps, split or merged double-barrelled surnames and
former surnames; dates of birth with day/month swaps, single-digit typos and 01-01 defaults;
lagging, missing or unformatted postcodes; missing and invalid NHS numbers and UPNs.

Invariants:
- noise is per (person, source): every table of one source shows the same recorded identity;
- every rate is a field of ``NoiseKnobs`` and is multiplied by the person's ``difficulty``
  through ``difficulty_multiplier`` (so noise is worse for minorities, movers, the most deprived
  and looked-after or adopted children), then by the source's ``source_error_scale``;
- ``NoiseKnobs.clean()`` gives recorded identities equal to the truth (valid identifiers, current
  postcode, well formatted);
- a source never records an identifier it does not carry (no NHS number in education, no UPN in
  health) and never records sex "U" where its code set has no unknown code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from joinedup.simulate.frames import objects
from joinedup.simulate.identifiers import break_nhs_numbers, break_upns, upn_check_letters
from joinedup.simulate.names import GIVEN_NAMES, SURNAMES, TRANSLITERATIONS

# Which identifiers each source carries at all (by design of the real extract).
SOURCES_WITH_NHS = frozenset(
    {"hcp_review", "ncmp", "gp_events", "hospital_apc", "csc", "police", "housing"}
)
SOURCES_WITH_UPN = frozenset({"school_census", "eyfsp", "ks2", "csc"})
SOURCES_WITH_UNKNOWN_SEX = frozenset(
    {"hcp_review", "ncmp", "gp_events", "hospital_apc", "police", "housing", "csc"}
)
SOURCES_WITH_OPTIONAL_DOB = frozenset({"police", "housing", "csc"})
SOURCES_WITH_OPTIONAL_UPN = frozenset({"csc"})

_DEFAULT_SCALE: tuple[tuple[str, float], ...] = (
    ("gp_events", 0.7),
    ("hcp_review", 1.0),
    ("ncmp", 1.0),
    ("hospital_apc", 1.0),
    ("school_census", 0.7),
    ("eyfsp", 0.8),
    ("ks2", 0.8),
    ("csc", 1.3),
    ("police", 2.0),
    ("housing", 1.5),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseKnobs:
    """Rates of each kind of recording error (before the difficulty and source multipliers).

    A rate is the probability that one person's recorded identity in one source shows that
    error, for a person of average difficulty in a source of scale 1.
    """

    nickname: float = 0.05  # English given name recorded as a diminutive (William -> Bill)
    transliteration: float = 0.20  # name with known variants recorded in another spelling
    name_swap: float = 0.01  # given and family name recorded the wrong way round
    hyphen_change: float = 0.30  # double-barrelled surname split (one part) or merged
    former_surname: float = 0.40  # adopted child recorded under the former (birth) surname
    separation_surname: float = 0.01  # a different surname (separation, step-family)
    name_typo: float = 0.01  # one letter dropped, doubled or replaced
    middle_name_dropped: float = 0.30  # middle names not recorded
    dob_day_month_swap: float = 0.004  # day and month transposed (only when day <= 12)
    dob_digit_typo: float = 0.004  # one digit of the day or year wrong
    dob_default_jan1: float = 0.002  # placeholder 01-01 of the birth year
    dob_missing: float = 0.02  # no DOB (only sources where DOB is optional)
    sex_discordant: float = 0.001  # the other sex recorded
    sex_unknown: float = 0.003  # not recorded (only sources with an unknown code)
    postcode_lagging: float = 0.15  # of movers: the previous address's postcode kept
    postcode_missing: float = 0.02  # no postcode recorded
    postcode_unformatted: float = 0.06  # no space and/or lower case
    nhs_invalid: float = 0.003  # NHS number failing the modulus-11 check
    nhs_missing_health: float = 0.01  # health sources: NHS number missing
    # case system: NHS number missing before SocialCareKnobs' own recording shares (which already
    # give the assumed 10-40%), so 0 by default
    nhs_missing_csc: float = 0.0
    nhs_missing_police: float = 0.75  # police: NHS number missing (assumed 60-90%)
    nhs_missing_housing: float = 0.85  # housing: NHS number missing
    upn_invalid: float = 0.003  # UPN with a wrong check letter
    upn_temporary: float = 0.004  # a temporary UPN recorded instead of the permanent one
    upn_missing_csc: float = 0.10  # case system: UPN not recorded (under-fives have none anyway)
    difficulty_weight: float = 2.0  # slope of the difficulty multiplier (0 = no differential)
    source_error_scale: tuple[tuple[str, float], ...] = _DEFAULT_SCALE

    @classmethod
    def clean(cls) -> NoiseKnobs:
        """Knobs with every error and missingness rate zero (recorded identity = truth)."""
        zeros = {
            f.name: 0.0
            for f in fields(cls)
            if f.name not in ("difficulty_weight", "source_error_scale")
        }
        return replace(cls(), **zeros)  # type: ignore[arg-type]

    def scale_for(self, source: str) -> float:
        return dict(self.source_error_scale).get(source, 1.0)


def difficulty_multiplier(
    difficulty: npt.NDArray[np.float64], weight: float
) -> npt.NDArray[np.float64]:
    """Rate multiplier for each person: 1 at difficulty 0.3, rising with difficulty."""
    return np.clip(1.0 + weight * (difficulty - 0.3), 0.2, 4.0)


@lru_cache(maxsize=1)
def _diminutives() -> dict[str, tuple[str, ...]]:
    """English given names in our lists mapped to their diminutives (``nicknames`` package)."""
    from nicknames import NickNamer

    namer = NickNamer()
    english = set(GIVEN_NAMES["white_british"]["M"]) | set(GIVEN_NAMES["white_british"]["F"])
    english |= set(GIVEN_NAMES["mixed"]["M"]) | set(GIVEN_NAMES["mixed"]["F"])
    english |= {"Daniel", "David", "Joshua", "Samuel", "Joseph", "Michael", "Nathaniel", "Abigail"}
    out: dict[str, tuple[str, ...]] = {}
    for name in sorted(english):
        nicks = sorted(n.title() for n in namer.nicknames_of(name.lower()) if len(n) >= 2)
        if nicks:
            out[name] = tuple(nicks)
    return out


def _pick(options: tuple[str, ...], r: float) -> str:
    return options[int(r * len(options)) % len(options)]


def _typo(name: str, r1: float, r2: float) -> str:
    if len(name) < 3:
        return name
    i = 1 + int(r1 * (len(name) - 1))
    kind = int(r2 * 3)
    if kind == 0:
        return name[:i] + name[i + 1 :]
    if kind == 1:
        return name[:i] + name[i] + name[i:]
    letter = "aeiouy"[int(r2 * 60) % 6]
    return name[:i] + letter + name[i + 1 :]


def _split_or_merge(surname: str, r: float) -> str:
    parts = surname.replace("-", " ").split()
    if len(parts) < 2:
        return surname
    if r < 0.35:
        return parts[0]
    if r < 0.7:
        return parts[-1]
    if r < 0.85:
        return "".join(parts)
    return " ".join(parts) if "-" in surname else "-".join(parts)


def _format_postcode(pc: str, r: float) -> str:
    if r < 0.5:
        return pc.replace(" ", "")
    if r < 0.8:
        return pc.lower()
    return pc.replace(" ", "").lower()


def record_identities(
    people: pd.DataFrame,
    addresses: pd.DataFrame,
    *,
    source: str,
    knobs: NoiseKnobs,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The identity of each person as ``source`` records it, indexed by ``person_id``.

    Columns: given_name, middle_names, family_name, former_family_name, dob, sex, postcode,
    uprn, nhs_number, upn (and ``postcode_lagging``: True where an old address was kept).
    """
    n = len(people)
    scale = knobs.scale_for(source)
    mult = difficulty_multiplier(
        people["difficulty"].to_numpy(dtype=np.float64), knobs.difficulty_weight
    )

    def hit(rate: float) -> npt.NDArray[np.bool_]:
        return rng.random(n) < np.clip(rate * scale * mult, 0.0, 0.95)

    given = people["given_name"].to_numpy(dtype=object).copy()
    middle = objects(people["middle_names"]).copy()
    family = people["family_name"].to_numpy(dtype=object).copy()
    former = objects(people["former_family_name"]).copy()
    r = rng.random((n, 4))

    # Names.
    dims = _diminutives()
    has_nick = pd.Series(given).isin(list(dims)).to_numpy()
    for i in np.flatnonzero(hit(knobs.nickname) & has_nick):
        given[i] = _pick(dims[given[i]], r[i, 0])
    variant_names = list(TRANSLITERATIONS)
    for arr, col in ((given, 1), (family, 2)):
        has_variant = pd.Series(arr).isin(variant_names).to_numpy()
        for i in np.flatnonzero(hit(knobs.transliteration) & has_variant):
            arr[i] = _pick(TRANSLITERATIONS[arr[i]], r[i, col])
    compound = pd.Series(family).str.contains(r"[- ]", regex=True).to_numpy(dtype=bool)
    for i in np.flatnonzero(hit(knobs.hyphen_change) & compound):
        family[i] = _split_or_merge(family[i], r[i, 3])
    adopted = people["adopted"].to_numpy(dtype=bool) & pd.notna(former)
    use_former = adopted & hit(knobs.former_surname)
    family[use_former] = former[use_former]
    groups = people["ethnic_group"].to_numpy(dtype=object)
    for i in np.flatnonzero(hit(knobs.separation_surname)):
        family[i] = _pick(SURNAMES[groups[i]], r[i, 0])
    swap = hit(knobs.name_swap)
    given[swap], family[swap] = family[swap], given[swap].copy()
    for arr in (given, family):
        for i in np.flatnonzero(hit(knobs.name_typo)):
            arr[i] = _typo(arr[i], r[i, 1], r[i, 2])
    middle[hit(knobs.middle_name_dropped)] = None

    # Date of birth.
    dob = pd.to_datetime(people["dob"]).to_numpy().astype("datetime64[D]")
    year = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (dob.astype("datetime64[M]").astype(np.int64) % 12) + 1
    day = (dob - dob.astype("datetime64[M]")).astype(np.int64) + 1
    y2, m2, d2 = year.copy(), month.copy(), day.copy()
    swap_dm = hit(knobs.dob_day_month_swap) & (day <= 12) & (day != month)
    m2[swap_dm], d2[swap_dm] = day[swap_dm], month[swap_dm]
    typo = hit(knobs.dob_digit_typo) & ~swap_dm
    typo_year = typo & (r[:, 0] < 0.4)
    y2[typo_year] += np.where(r[typo_year, 1] < 0.5, -1, 1)
    typo_day = typo & ~typo_year
    new_unit = (day[typo_day] % 10 + 1 + (r[typo_day, 1] * 8).astype(np.int64)) % 10
    d2[typo_day] = np.clip((day[typo_day] // 10) * 10 + new_unit, 1, 28)
    jan1 = hit(knobs.dob_default_jan1)
    m2[jan1], d2[jan1] = 1, 1
    # 29 February moved to a non-leap year rolls on to 1 March.
    months = ((y2 - 1970) * 12 + (m2 - 1)).astype("datetime64[M]")
    recorded_dob = (months.astype("datetime64[D]") + (d2 - 1).astype("timedelta64[D]")).astype(
        "datetime64[ns]"
    )
    if source in SOURCES_WITH_OPTIONAL_DOB:
        recorded_dob[hit(knobs.dob_missing)] = np.datetime64("NaT")

    # Sex.
    sex = people["sex"].to_numpy(dtype=object).copy()
    flip = hit(knobs.sex_discordant)
    sex[flip] = np.where(sex[flip] == "M", "F", "M")
    if source in SOURCES_WITH_UNKNOWN_SEX:
        sex[hit(knobs.sex_unknown)] = "U"

    # Postcode and UPRN: lagging (previous address), missing, unformatted.
    postcode = people["postcode"].to_numpy(dtype=object).copy()
    uprn = people["uprn"].to_numpy(dtype=object).copy()
    lag = hit(knobs.postcode_lagging) & (people["n_moves"].to_numpy() > 0)
    if lag.any():
        lag_ids = people["person_id"].to_numpy()[lag]
        prev = (
            addresses[addresses["end_date"].notna() & addresses["person_id"].isin(lag_ids)]
            .sort_values(["person_id", "end_date"])
            .groupby("person_id", sort=False)
            .tail(1)
            .set_index("person_id")
        )
        found = prev.reindex(lag_ids)
        ok = found["postcode"].notna().to_numpy()
        rows = np.flatnonzero(lag)[ok]
        postcode[rows] = found["postcode"].to_numpy()[ok]
        uprn[rows] = found["uprn"].to_numpy()[ok]
        lag = np.zeros(n, dtype=bool)
        lag[rows] = True
    for i in np.flatnonzero(hit(knobs.postcode_unformatted)):
        postcode[i] = _format_postcode(postcode[i], r[i, 3])
    missing_pc = hit(knobs.postcode_missing)
    postcode[missing_pc] = None
    uprn[missing_pc] = None

    # NHS number.
    nhs = np.full(n, None, dtype=object)
    if source in SOURCES_WITH_NHS:
        nhs = people["nhs_number"].to_numpy(dtype=object).copy()
        missing_rate = {
            "csc": knobs.nhs_missing_csc,
            "police": knobs.nhs_missing_police,
            "housing": knobs.nhs_missing_housing,
        }.get(source, knobs.nhs_missing_health)
        # Missingness is a property of the source's process: scaled by difficulty only.
        missing = rng.random(n) < np.clip(missing_rate * mult, 0.0, 0.98)
        bad = hit(knobs.nhs_invalid) & ~missing & pd.notna(nhs)
        nhs[bad] = break_nhs_numbers(nhs[bad].astype(str)).astype(object)
        nhs[missing] = None

    # UPN.
    upn = np.full(n, None, dtype=object)
    if source in SOURCES_WITH_UPN:
        upn = objects(people["upn"]).copy()
        has = pd.notna(upn)
        temp = hit(knobs.upn_temporary) & has
        if temp.any():
            bodies = np.array([u[1:12] for u in upn[temp]])
            letters = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"))[
                rng.integers(0, 23, int(temp.sum()))
            ]
            bodies = np.char.add(bodies, letters)
            upn[temp] = np.char.add(upn_check_letters(bodies), bodies).astype(object)
        bad = hit(knobs.upn_invalid) & has & ~temp
        upn[bad] = break_upns(upn[bad].astype(str)).astype(object)
        if source in SOURCES_WITH_OPTIONAL_UPN:
            gone = rng.random(n) < np.clip(knobs.upn_missing_csc * mult, 0.0, 0.98)
            upn[gone] = None

    out = pd.DataFrame(
        {
            "given_name": given,
            "middle_names": middle,
            "family_name": family,
            "former_family_name": former,
            "dob": recorded_dob,
            "sex": sex,
            "postcode": postcode,
            "uprn": uprn,
            "nhs_number": nhs,
            "upn": upn,
            "postcode_lagging": lag,
        },
        index=pd.Index(people["person_id"].to_numpy(), name="person_id"),
    )
    return out
