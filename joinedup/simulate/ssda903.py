"""Looked-after children for the SSDA903 return: periods of care, episodes and missing spells.

Job: given the looked-after children of the district, invent each child's periods of care as
SSDA903 episodes (legal status, placement, provider, reason for new episode, reason episode
ceased, placement-change reason, home and placement postcode districts) and the missing / away
without authorisation spells while in care, with the planted missing-from-care effect.

Invariants:
- every episode lies inside one period of care; episodes of a period are contiguous (an episode
  ends with ``X1`` the day the next begins) and only the last one carries a leaving-care ``REC``;
- a period open on the reference date has an open last episode (no ``DEC``, no ``REC``);
- missing spells start on a day the child is in care and not already missing, inside the
  collection year, and end before the day a period of care ends (or on the year's last day);
- the missing-from-care hazard is a discrete-time daily hazard ``p`` for each day at risk; on the
  ``window_days`` days after a return (``MIS_END``) it is ``hazard_ratio * p``. A day at risk is a
  day in care in the collection year that is not strictly inside a missing spell (the start day
  of a spell is the day its event happens; the days after it up to and including ``MIS_END``
  are not at risk). ``estimate_missing_hazard_ratio`` recovers the ratio from the written tables
  with the same definition, stratified by placement group (Mantel-Haenszel): propensities
  differ by placement group, and that difference must not masquerade as the effect. (Latent
  per-child frailty is deliberately not used: with it no estimator from these tables recovers the
  ratio without bias, since window time is itself an outcome of a child's propensity.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

# Legal statuses (LS) and placements (PLACE) with the weights used when a period starts.
_LS_START = (("C2", 0.34), ("V2", 0.30), ("C1", 0.28), ("L1", 0.05), ("L2", 0.03))
_FOSTER_OTHER = ("U4", "U5", "U6")
_FOSTER_KIN = ("U1", "U2", "U3")
_PLACE_PROVIDER = {
    "U1": ("PR1", "PR1"),
    "U2": ("PR1", "PR1"),
    "U3": ("PR1", "PR1"),
    "U4": ("PR1", "PR4"),
    "U5": ("PR1", "PR4"),
    "U6": ("PR1", "PR4"),
    "K2": ("PR4", "PR4"),
    "R1": ("PR4", "PR5"),
    "K3": ("PR4", "PR5"),
    "P1": ("PR0", "PR0"),
    "A4": ("PR1", "PR1"),
    "A6": ("PR1", "PR1"),
}
PLACE_CHANGE_REASONS = (
    ("CARPL", 0.30),
    ("LAREQ", 0.22),
    ("CREQB", 0.10),
    ("CREQO", 0.08),
    ("PLACE", 0.08),
    ("CHILD", 0.08),
    ("STAND", 0.06),
    ("ALLEG", 0.03),
    ("CLOSE", 0.03),
    ("OTHER", 0.02),
)
CATEGORY_OF_NEED = (
    ("N1", 0.64),
    ("N2", 0.03),
    ("N3", 0.03),
    ("N4", 0.08),
    ("N5", 0.13),
    ("N6", 0.02),
    ("N7", 0.01),
    ("N8", 0.06),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingKnobs:
    """The planted missing-from-care process (see the module docstring for the hazard)."""

    hazard_ratio: float = 4.0
    window_days: int = 28
    # daily hazard outside the window for a child in foster care; the placement group's
    # multiplier scales it (children's homes and supported accommodation far more)
    base_daily_hazard: float = 0.0007
    placement_multipliers: tuple[tuple[str, float], ...] = (
        ("residential", 20.0),
        ("supported", 8.0),
        ("foster", 1.0),
        ("kinship", 0.6),
        ("adoption", 0.1),
        ("other", 1.0),
    )
    max_daily_hazard: float = 0.06
    away_share: float = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class CareYear:
    """The collection year the return covers (1 April to 31 March)."""

    start: date
    end: date


def _pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    codes = [c for c, _ in options]
    weights = np.array([w for _, w in options], dtype=float)
    return str(rng.choice(codes, p=weights / weights.sum()))


def _age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _birthday(dob: date, years: int) -> date:
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:  # 29 February
        return date(dob.year + years, 3, 1)


def _placement_for(rng: np.random.Generator, age: int, legal_status: str) -> str:
    if age >= 16 and rng.random() < 0.35:
        return "K3"
    if age >= 11 and rng.random() < 0.22:
        return str(rng.choice(["K2", "K2", "R1"])) if age >= 12 else "K2"
    if legal_status in ("C1", "C2") and age < 12 and rng.random() < 0.04:
        return "P1"
    if rng.random() < 0.2:
        return str(rng.choice(_FOSTER_KIN))
    return str(rng.choice(_FOSTER_OTHER))


# placements exempt from an Ofsted URN (DfE rule 218); the rest carry their provider's URN
_NO_URN = frozenset({"P1", "P3", "R1", "R2", "R5", "T0", "T1", "T2", "T3", "T4"})


def provider_urns(rng: np.random.Generator) -> dict[str, tuple[str, ...]]:
    """Ofsted URNs of the district's providers, by placement type (fostering, homes, ...)."""

    def urns(n: int) -> tuple[str, ...]:
        return tuple(f"SC{int(x):06d}" for x in rng.choice(10**6, size=n, replace=False))

    fostering = urns(6)
    return {
        **{code: fostering for code in (*_FOSTER_KIN, *_FOSTER_OTHER)},
        "K2": urns(8),
        "K3": urns(4),
        "A5": ("XXXXXXX",),  # regional adoption agency
        "A6": ("XXXXXXX",),
    }


@dataclass(slots=True, kw_only=True)
class _Placement:
    legal: str
    place: str
    provider: str
    pl_post: str
    urn: str | None


def _new_placement(
    rng: np.random.Generator,
    place: str,
    legal: str,
    home: str,
    districts: tuple[str, ...],
    urns: dict[str, tuple[str, ...]],
) -> _Placement:
    in_own_la = rng.random() < 0.8
    provider = _PLACE_PROVIDER.get(place, ("PR1", "PR4"))[0 if in_own_la else 1]
    if place == "P1":
        provider, pl_post = "PR0", home
    elif in_own_la:
        others = [d for d in districts if d != home] or [home]
        pl_post = str(rng.choice(others))
    else:
        pl_post = str(rng.choice(_OUT_OF_AREA))
    urn = None if place in _NO_URN else str(rng.choice(urns.get(place, urns["K2"])))
    return _Placement(legal=legal, place=place, provider=provider, pl_post=pl_post, urn=urn)


def simulate_periods_of_care(
    child: str,
    dob: date,
    home_district: str,
    districts: tuple[str, ...],
    *,
    year: CareYear,
    urns: dict[str, tuple[str, ...]],
    rng: np.random.Generator,
) -> list[dict[str, object]]:
    """One looked-after child's episodes overlapping the collection year, in date order."""
    eighteen = _birthday(dob, 18)
    latest_start = min(year.end - timedelta(days=10), eighteen - timedelta(days=30))
    continuing = _age_on(dob, year.start) >= 1 and rng.random() < 0.58
    if latest_start < max(year.start, dob + timedelta(days=1)):
        continuing = True
    earliest = max(dob + timedelta(days=1), year.start - timedelta(days=365 * 6))
    if continuing:
        span = (year.start - timedelta(days=1) - earliest).days
        start = earliest + timedelta(days=int(rng.integers(0, max(span, 1))))
    else:
        first = max(year.start, dob + timedelta(days=1))
        span = (latest_start - first).days
        start = first + timedelta(days=int(rng.integers(0, max(span, 1))))
    leaves = eighteen <= year.end or rng.random() < (0.30 if continuing else 0.45)
    period_end: date | None = None
    if leaves:
        lo = max(start + timedelta(days=14), year.start)
        hi = year.end - timedelta(days=1)
        if eighteen <= year.end:
            period_end = max(eighteen, lo)
        elif hi > lo:
            period_end = lo + timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))
    if period_end is not None and period_end > year.end:
        period_end = None
    end_for_layout = period_end or year.end
    age_at_start = _age_on(dob, start)
    leaving = _leaving_reason(rng, dob, period_end) if period_end else None
    adoption = leaving in ("E11", "E12")
    days = (end_for_layout - start).days
    legal = _pick(rng, _LS_START)
    if age_at_start >= 16 and legal != "V2":
        legal = "V2" if rng.random() < 0.7 else "C2"
    # episode boundaries: placement / legal-status changes inside the period
    n_changes = int(rng.choice([0, 1, 2, 3], p=[0.52, 0.28, 0.13, 0.07]))
    cuts = sorted({int(x) for x in rng.integers(7, max(days - 7, 8), size=n_changes)})
    cuts = [c for c in cuts if 7 <= c <= days - 7]
    if legal in ("L1", "L2"):
        # police protection lasts at most 72 hours, an emergency protection order 21 days
        first_cut = int(rng.integers(1, 4)) if legal == "L1" else int(rng.integers(3, 22))
        cuts = sorted({first_cut, *(c for c in cuts if c > first_cut)})
    if adoption and days > 90:
        cuts = sorted({*(c for c in cuts if c < days - 60), days - int(rng.integers(30, 60))})
    elif adoption:
        adoption = False
        leaving = "E4A"
    boundaries = [start, *(start + timedelta(days=c) for c in cuts)]
    current = _new_placement(
        rng, _placement_for(rng, age_at_start, legal), legal, home_district, districts, urns
    )
    if current.place == "P1" and legal == "V2":
        current = _new_placement(rng, "U6", legal, home_district, districts, urns)
    episodes: list[dict[str, object]] = []
    for index, decom in enumerate(boundaries):
        is_last = index == len(boundaries) - 1
        rne = "S"
        if index > 0:
            previous = episodes[-1]
            legal_now = current.legal
            if legal_now in ("L1", "L2"):
                new_legal = "C1" if rng.random() < 0.7 else "V2"
            elif adoption and is_last:
                new_legal = "E1"
            elif legal_now == "C1" and rng.random() < 0.5:
                new_legal = "C2"
            else:
                new_legal = legal_now
            age_now = _age_on(dob, decom)
            if adoption and is_last:
                nxt = _new_placement(
                    rng, str(rng.choice(["A5", "A6"])), new_legal, home_district, districts, urns
                )
            elif new_legal != legal_now and rng.random() < 0.6:
                nxt = _Placement(
                    legal=new_legal,
                    place=current.place,
                    provider=current.provider,
                    pl_post=current.pl_post,
                    urn=current.urn,
                )
            else:
                place = current.place
                for _ in range(6):
                    place = _placement_for(rng, age_now, new_legal)
                    if place != current.place:
                        break
                if place == current.place or (place == "P1" and new_legal == "V2"):
                    place = "U4" if current.place != "U4" else "U6"
                nxt = _new_placement(rng, place, new_legal, home_district, districts, urns)
            if adoption and is_last and not current.place.startswith("U"):
                # a child is placed for adoption from foster care (DfE rule 336)
                leaving, adoption = "E4A", False
                nxt = _new_placement(rng, "U4", current.legal, home_district, districts, urns)
            place_changed = nxt.place != current.place or nxt.pl_post != current.pl_post
            legal_changed = nxt.legal != current.legal
            rne = "T" if (place_changed and legal_changed) else ("P" if place_changed else "L")
            previous["DEC"] = decom
            previous["REC"] = "X1"
            previous["REASON_PLACE_CHANGE"] = (
                _pick(rng, PLACE_CHANGE_REASONS) if place_changed else None
            )
            current = nxt
        episodes.append(
            {
                "CHILD": child,
                "DECOM": decom,
                "RNE": rne,
                "LS": current.legal,
                "CIN": None,
                "PLACE": current.place,
                "PLACE_PROVIDER": current.provider,
                "DEC": None,
                "REC": None,
                "REASON_PLACE_CHANGE": None,
                "HOME_POST": home_district,
                "PL_POST": current.pl_post,
                "URN": current.urn,
            }
        )
    last = episodes[-1]
    if period_end is not None:
        assert leaving is not None
        if leaving in ("E45", "E46") and not str(last["PLACE"]).startswith("U"):
            leaving = "E41"  # special guardianship is from foster care (DfE rule 516)
        if leaving == "E17" and not str(last["PLACE"]).startswith("U"):
            leaving = "E5"  # staying put is with former foster carers
        last["DEC"] = period_end
        last["REC"] = leaving
    need = _pick(rng, CATEGORY_OF_NEED)
    for episode in episodes:
        episode["CIN"] = need  # the category of need belongs to the period
    return [e for e in episodes if e["DEC"] is None or e["DEC"] >= year.start]  # type: ignore[operator]


_OUT_OF_AREA = ("LS6", "LS11", "HX1", "HD1", "WF1", "WF13", "BB1", "OL1", "M8", "S2")


def _leaving_reason(rng: np.random.Generator, dob: date, end: date) -> str:
    age = _age_on(dob, end)
    if age >= 18:
        return _pick(rng, (("E17", 0.25), ("E5", 0.45), ("E6", 0.2), ("E8", 0.1)))
    if age < 5:
        return _pick(
            rng,
            (("E11", 0.15), ("E12", 0.15), ("E4A", 0.30), ("E45", 0.2), ("E41", 0.1), ("E13", 0.1)),
        )
    return _pick(
        rng,
        (
            ("E4A", 0.45),
            ("E4B", 0.12),
            ("E41", 0.08),
            ("E45", 0.07),
            ("E46", 0.05),
            ("E13", 0.08),
            ("E8", 0.15),
        ),
    )


def placement_group(place: str) -> str:
    """The placement group that sets a child's missing-from-care propensity."""
    if place in ("K1", "K2", "R1", "S1"):
        return "residential"
    if place == "K3":
        return "supported"
    if place in ("U1", "U2", "U3"):
        return "kinship"
    if place.startswith("U"):
        return "foster"
    if place.startswith("A"):
        return "adoption"
    return "other"


def _day_groups(episodes: pd.DataFrame, year: CareYear) -> np.ndarray:
    """Per day of the year: the placement group in force, or "" when not in care."""
    year_start = pd.Timestamp(year.start)
    n_days = (pd.Timestamp(year.end) - year_start).days + 1
    groups = np.full(n_days, "", dtype=object)
    for decom, dec, place in zip(
        episodes["DECOM"], episodes["DEC"], episodes["PLACE"], strict=True
    ):
        lo = max(pd.Timestamp(decom), year_start)
        hi = (
            pd.Timestamp(year.end)
            if pd.isna(dec)
            else min(pd.Timestamp(dec), pd.Timestamp(year.end))
        )
        if hi >= lo:
            groups[(lo - year_start).days : (hi - year_start).days + 1] = placement_group(
                str(place)
            )
    return groups


def simulate_missing_spells(
    child: str,
    episodes: list[dict[str, object]],
    *,
    year: CareYear,
    knobs: MissingKnobs,
    rng: np.random.Generator,
) -> list[dict[str, object]]:
    """Missing / away spells of one child over the days it is in care in the collection year."""
    frame = pd.DataFrame(episodes, columns=["DECOM", "DEC", "PLACE"])
    groups = _day_groups(frame, year)
    multipliers = dict(knobs.placement_multipliers)
    spells: list[dict[str, object]] = []
    last_return: int | None = None
    day = 0
    n_days = len(groups)
    # the day a period of care ends: a child missing then would need REC E8 (DfE rule 580),
    # so spells neither start nor run on it
    leaving = np.zeros(n_days, dtype=bool)
    leaving[:-1] = (groups[:-1] != "") & (groups[1:] == "")
    while day < n_days:
        group = groups[day]
        if group == "" or leaving[day]:
            day += 1
            continue
        p_out = min(knobs.base_daily_hazard * multipliers.get(group, 1.0), knobs.max_daily_hazard)
        in_window = last_return is not None and 1 <= day - last_return <= knobs.window_days
        if rng.random() < (p_out * knobs.hazard_ratio if in_window else p_out):
            duration = int(rng.choice([0, 1, 1, 1, 2, 2, 3, 4, 6, 9]))
            # a spell ends by the day care (or the collection year) ends
            back = day
            while (
                back < min(day + duration, n_days - 1)
                and groups[back + 1] != ""
                and not leaving[back + 1]
            ):
                back += 1
            spells.append(
                {
                    "CHILD": child,
                    "MISSING": "A" if rng.random() < knobs.away_share else "M",
                    "MIS_START": year.start + timedelta(days=day),
                    "MIS_END": year.start + timedelta(days=back),
                }
            )
            last_return = back
            day = back + 1
            continue
        day += 1
    return spells


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardEstimate:
    """Events and days at risk in and after the post-return window, and the two ratios."""

    events_in_window: int
    days_in_window: int
    events_later: int
    days_later: int
    crude_ratio: float
    stratified_ratio: float


def estimate_missing_hazard_ratio(
    episodes: pd.DataFrame,
    missing: pd.DataFrame,
    *,
    year: CareYear,
    window_days: int = 28,
) -> HazardEstimate:
    """Recover the post-return hazard ratio from SSDA903 episodes and missing tables.

    Both frames hold the written columns with dates parsed to ``datetime64``. Days at risk are
    counted per child as the module docstring defines them, and classed by placement group;
    the stratified ratio is the Mantel-Haenszel rate ratio over placement groups.
    """
    year_start = pd.Timestamp(year.start)
    totals: dict[str, list[int]] = {}
    spells_by_child = {c: g for c, g in missing.groupby("CHILD")}
    for child, eps in episodes.groupby("CHILD"):
        groups = _day_groups(eps, year)
        at_risk = groups != ""
        window = np.zeros(len(groups), dtype=bool)
        event = np.zeros(len(groups), dtype=bool)
        spells = spells_by_child.get(child)
        if spells is not None:
            for start, end in zip(spells["MIS_START"], spells["MIS_END"], strict=True):
                s = (start - year_start).days
                e = len(groups) - 1 if pd.isna(end) else (end - year_start).days
                if 0 <= s < len(event):
                    event[s] = True
                    at_risk[s + 1 : e + 1] = False
                    window[e + 1 : e + 1 + window_days] = True
        window &= at_risk
        later = at_risk & ~window
        for group in set(groups[at_risk]):
            in_group = groups == group
            row = totals.setdefault(str(group), [0, 0, 0, 0])
            row[0] += int((event & window & in_group).sum())
            row[1] += int((window & in_group).sum())
            row[2] += int((event & later & in_group).sum())
            row[3] += int((later & in_group).sum())
    d_in = sum(r[0] for r in totals.values())
    t_in = sum(r[1] for r in totals.values())
    d_out = sum(r[2] for r in totals.values())
    t_out = sum(r[3] for r in totals.values())
    numerator = sum(r[0] * r[3] / (r[1] + r[3]) for r in totals.values() if r[1] + r[3])
    denominator = sum(r[2] * r[1] / (r[1] + r[3]) for r in totals.values() if r[1] + r[3])
    crude = (d_in / t_in) / (d_out / t_out) if t_in and t_out and d_out else float("nan")
    stratified = numerator / denominator if denominator else float("nan")
    return HazardEstimate(
        events_in_window=d_in,
        days_in_window=t_in,
        events_later=d_out,
        days_later=t_out,
        crude_ratio=crude,
        stratified_ratio=stratified,
    )
