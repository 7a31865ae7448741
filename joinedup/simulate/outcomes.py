"""Latent outcomes and planted effects: the causal skeleton under every extract.

Each planted effect is a logistic model whose coefficient is the target log odds ratio and whose
intercept is calibrated so the outcome's prevalence hits its target. ``PLANTED_EFFECTS`` says,
for every effect, the population (a boolean column of the truth people table), outcome, exposure
and covariates, so fitting exactly that model to ``truth/people.csv`` recovers the true value.

Invariants: every truth column added here is a pure function of the people table, the school
effects and the generator; deprivation gradients always run from quintile/decile 1 (most
deprived); no real ASQ-3 cut-off is used anywhere (zones come from our own latent scores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from joinedup.simulate.frames import objects
from joinedup.simulate.geography import District
from joinedup.simulate.logistic import calibrate_intercept, draw_logistic, fit_logistic
from joinedup.simulate.names import SURNAMES

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# Targets (England unless stated; Bradford-like where noted).
TARGET_ASQ_ALL_EXPECTED = 0.80  # ~20% below expected in >=1 domain at 2
TARGET_GLD = 0.66  # England 67.7% (2023/24); a Bradford-like district is a little lower
TARGET_SEN_NEED = 0.165  # with SpLD identification gives SEN ~18.4% (13.6% support + 4.8% EHCP)
TARGET_EHCP_SHARE_OF_SEN = 0.26
TARGET_SPLD = 0.04
TARGET_PA = 0.20
TARGET_FSM = 0.28  # England 24.6% (Jan 2024); Bradford-like higher
TARGET_CIN = 0.0333  # 333 per 10,000 children
TARGET_CLA = 0.0070  # 70 per 10,000 children
TARGET_ADOPTED = 0.003
TARGET_DCD = 0.05
DCD_RECORDED_SHARE = 0.0041  # Connected Bradford: 0.41% recorded vs 5% expected

OR_ASQ_GLD = 3.2
OR_GLD_Q = {1: 0.40, 2: 0.55, 3: 0.70, 4: 0.85, 5: 1.0}
OR_GLD_MALE = 0.55
OR_GLD_EAL = 0.75
OR_NOTGLD_SEN = 8.5
OR_SEN_MALE = 1.6
OR_SEN_Q1 = 1.3
OR_SPLD_EAL = 0.25
OR_SPLD_FEMALE = 0.5
SPLD_PER_SD_ATTAINMENT = -0.9  # log odds per SD of attainment (lower attainment, more SpLD)
OR_NOTGLD_PA = 2.3
OR_FSM_PA = 2.0
OR_PA_Q = {1: 1.5, 2: 1.3, 3: 1.15, 4: 1.05, 5: 1.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlantedEffect:
    """One effect and how to recover it from ``truth/people.csv``."""

    name: str
    description: str
    measure: str  # "odds_ratio", "prevalence", "range"
    true_value: float
    tolerance: float  # relative (|estimate/true - 1|) for odds ratios and prevalences
    population: str | None  # boolean truth column selecting the analysis population
    outcome: str
    exposure: str | None = None  # term whose OR is the effect ("imd_quintile=1" for a level)
    covariates: tuple[str, ...] = ()  # "C(x)" = categorical with the last level as reference
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "measure": self.measure,
            "true_value": self.true_value,
            "tolerance": self.tolerance,
            "population": self.population,
            "outcome": self.outcome,
            "exposure": self.exposure,
            "covariates": list(self.covariates),
            "source": self.source,
        }


_BIB = "https://gist.science/paper/med/10.64898/2026.02.27.26347090"
PLANTED_EFFECTS: tuple[PlantedEffect, ...] = (
    PlantedEffect(
        name="asq_all_expected_to_gld",
        description="ASQ-3 at/above expected in all five domains at 2 -> good level of "
        "development at 5 (adjusted odds ratio)",
        measure="odds_ratio",
        true_value=OR_ASQ_GLD,
        tolerance=0.15,
        population="everyone",
        outcome="gld",
        exposure="asq_all_expected",
        covariates=("C(imd_quintile)", "male", "eal"),
        source=f"Born in Bradford/York, medRxiv 10.64898/2026.02.27.26347090 ({_BIB})",
    ),
    PlantedEffect(
        name="most_vs_least_deprived_gld",
        description="Most vs least deprived IMD quintile -> GLD (adjusted odds ratio)",
        measure="odds_ratio",
        true_value=OR_GLD_Q[1],
        tolerance=0.15,
        population="everyone",
        outcome="gld",
        exposure="imd_quintile=1",
        covariates=("asq_all_expected", "C(imd_quintile)", "male", "eal"),
        source="Child of the North report figure (~60% lower likelihood); consistent with "
        "https://borninbradford.nhs.uk/our-impacts/publications/early-life-exposures-and-"
        "school-readiness-an-observational-cohort-study-using-the-born-in-bradford-"
        "longitudinal-birth-cohort-data",
    ),
    PlantedEffect(
        name="behind_at_two",
        description="Share below expected in at least one ASQ-3 domain at 2",
        measure="prevalence",
        true_value=round(1 - TARGET_ASQ_ALL_EXPECTED, 4),
        tolerance=0.10,
        population="everyone",
        outcome="behind_at_two",
        source="National ASQ-3 'all five domains' indicator, https://www.gov.uk/government/"
        "statistics/child-development-outcomes-data-for-2024-to-2025",
    ),
    PlantedEffect(
        name="not_gld_to_later_sen",
        description="Not GLD at 5 -> later SEN (need other than SpLD identification alone), "
        "pupils in Year 1 and above",
        measure="odds_ratio",
        true_value=OR_NOTGLD_SEN,
        tolerance=0.15,
        population="sen_eligible",
        outcome="sen_need",
        exposure="not_gld",
        covariates=("male", "C(imd_quintile)"),
        source="Connected Bradford, 53,229 children, https://adc.bmj.com/content/109/1/52",
    ),
    PlantedEffect(
        name="spld_eal",
        description="EAL -> SpLD identification at equal attainment (school fixed effects)",
        measure="odds_ratio",
        true_value=OR_SPLD_EAL,
        tolerance=0.35,
        population="spld_eligible",
        outcome="spld",
        exposure="eal",
        covariates=("female", "attainment", "C(spld_school_urn)"),
        source="Durham/Oxford study of 540k Year 6 pupils, https://www.education.ox.ac.uk/news/"
        "major-study-reveals-inequalities-in-spotting-learning-difficulties-in-schoolchildren",
    ),
    PlantedEffect(
        name="spld_girls",
        description="Girls -> SpLD identification at equal attainment (school fixed effects)",
        measure="odds_ratio",
        true_value=OR_SPLD_FEMALE,
        tolerance=0.30,
        population="spld_eligible",
        outcome="spld",
        exposure="female",
        covariates=("eal", "attainment", "C(spld_school_urn)"),
        source="Durham/Oxford study (as above)",
    ),
    PlantedEffect(
        name="spld_school_odds_range",
        description="Ratio of the largest to smallest school SpLD identification odds "
        "multiplier (planted school random effect)",
        measure="range",
        true_value=3.0,
        tolerance=0.05,
        population=None,
        outcome="spld",
        source="Durham/Oxford study (as above)",
    ),
    PlantedEffect(
        name="not_gld_to_persistent_absence",
        description="Not school ready (not GLD) -> persistent absence (>=10% of sessions "
        "missed) in 2025/26, pupils in Years 1-11",
        measure="odds_ratio",
        true_value=OR_NOTGLD_PA,
        tolerance=0.15,
        population="pa_eligible",
        outcome="persistent_absence",
        exposure="not_gld",
        covariates=("fsm", "C(imd_quintile)"),
        source="https://yorkshirehumbersde.nhs.uk/news/case-study-using-education-records-to-"
        "better-support-our-most-vulnerable-children/",
    ),
    PlantedEffect(
        name="dcd_true_prevalence",
        description="True DCD/SDDMF prevalence",
        measure="prevalence",
        true_value=TARGET_DCD,
        tolerance=0.15,
        population="everyone",
        outcome="dcd_true",
        source="https://sciety.org/articles/activity/10.31234/osf.io/e87ft_v1",
    ),
    PlantedEffect(
        name="dcd_recorded_prevalence",
        description="Share of children with a DCD code in their GP record",
        measure="prevalence",
        true_value=DCD_RECORDED_SHARE,
        tolerance=0.40,
        population="everyone",
        outcome="dcd_recorded",
        source="https://sciety.org/articles/activity/10.31234/osf.io/e87ft_v1",
    ),
)


def _draw(linear: FloatArray, target: float, rng: np.random.Generator) -> BoolArray:
    return draw_logistic(linear, target, rng)[0]


def _levels(values: npt.NDArray[np.int64], odds: dict[int, float]) -> FloatArray:
    table = np.zeros(int(max(odds)) + 1)
    for k, v in odds.items():
        table[k] = np.log(v)
    return table[values]


def add_outcomes(
    people: pd.DataFrame, district: District, rng: np.random.Generator
) -> dict[str, Any]:
    """Add the latent truth columns to ``people`` in place; return realised school shares."""
    n = len(people)
    male = (people["sex"] == "M").to_numpy()
    female = ~male
    eal = people["eal"].to_numpy().astype(bool)
    q = people["imd_quintile"].to_numpy().astype(np.int64)
    decile = people["imd_decile"].to_numpy().astype(np.int64)
    group = people["ethnic_group"].to_numpy()
    nc = people["nc_year_number"].to_numpy()
    on_roll = people["school_urn"].notna().to_numpy()
    dep: FloatArray = ((5.5 - decile) / 4.5).astype(np.float64)  # +1 most deprived .. -1 least

    # Health conditions (true and recorded).
    autism = rng.random(n) < np.where(male, 0.040, 0.012)
    adhd = rng.random(n) < np.where(male, 0.070, 0.028)
    dcd = rng.random(n) < np.where(male, 0.066, 0.033)
    asthma = _draw(0.3 * dep + 0.2 * male, 0.10, rng)
    preterm = rng.random(n) < 0.08
    caries = _draw(0.8 * dep + 0.4 * np.isin(group, ["pakistani", "bangladeshi"]), 0.24, rng)

    # ASQ-3 at 2 (latent: all five domains at/above expected).
    asq_linear = (
        0.35 * dep
        - 0.45 * male
        - 0.35 * (group == "black")
        - 1.8 * autism
        - 0.6 * preterm
        - 0.4 * dcd
    )
    asq_all = _draw(asq_linear, TARGET_ASQ_ALL_EXPECTED, rng)
    # GLD at 5.
    gld_linear = (
        np.log(OR_ASQ_GLD) * asq_all
        + _levels(q, OR_GLD_Q)
        + np.log(OR_GLD_MALE) * male
        + np.log(OR_GLD_EAL) * eal
    )
    gld = _draw(gld_linear, TARGET_GLD, rng)
    not_gld = ~gld

    # FSM (current eligibility).
    fsm = _draw(1.9 * dep + 0.2 * eal, TARGET_FSM, rng)

    # Attainment (standardised), with school effects.
    school_eff = district.schools.set_index("urn")["attainment_effect"]
    sch = people["school_urn"].fillna(people["primary_urn"]).fillna(0).astype(np.int64).to_numpy()
    sch_effect = school_eff.reindex(sch).fillna(0.0).to_numpy()
    attainment = 0.9 * gld + 0.25 * (q - 3) / 2 + sch_effect + rng.normal(0, 0.85, n)
    attainment = (attainment - attainment.mean()) / attainment.std()

    # SEN need (the developmental pathway), Year 1 and above on roll.
    sen_eligible = on_roll & (nc >= 1)
    sen_linear = (
        np.log(OR_NOTGLD_SEN) * not_gld + np.log(OR_SEN_MALE) * male + np.log(OR_SEN_Q1) * (q == 1)
    )
    sen_need = np.zeros(n, dtype=bool)
    sen_need[sen_eligible] = _draw(sen_linear[sen_eligible], TARGET_SEN_NEED, rng)
    reception = on_roll & (nc == 0)
    sen_need[reception] = _draw(sen_linear[reception] * 0.5, 0.07, rng)

    # SpLD identification: mainstream pupils in Year 3 and above; school effect, EAL, sex.
    spld_eff = district.schools.set_index("urn")["spld_effect"]
    spld_eligible = on_roll & (nc >= 3)
    spld_school = np.where(spld_eligible, sch, 0)
    spld_linear = (
        spld_eff.reindex(spld_school).fillna(0.0).to_numpy()
        + np.log(OR_SPLD_EAL) * eal
        + np.log(OR_SPLD_FEMALE) * female
        + SPLD_PER_SD_ATTAINMENT * attainment
    )
    spld = np.zeros(n, dtype=bool)
    spld[spld_eligible] = _draw(spld_linear[spld_eligible], TARGET_SPLD, rng)

    sen_any = sen_need | spld
    ehcp_linear = (
        np.log(2.0) * not_gld + np.log(1.4) * male + 1.0 * autism - 1.0 * (spld & ~sen_need)
    )
    ehcp = np.zeros(n, dtype=bool)
    ehcp[sen_any] = _draw(ehcp_linear[sen_any], TARGET_EHCP_SHARE_OF_SEN, rng)
    senprovision = np.where(ehcp, "E", np.where(sen_any, "K", "N"))

    # About a third of EHCP pupils (not SpLD-identified) attend a special school.
    special = district.schools.loc[district.schools["phase"] == "special", "urn"].to_numpy()
    to_special = ehcp & ~spld & (rng.random(n) < 0.35) & on_roll
    if len(special):
        moved = special[rng.integers(0, len(special), size=int(to_special.sum()))]
        urns = objects(people["school_urn"])
        urns[to_special] = moved
        people["school_urn"] = pd.Series(urns, dtype="Int64").to_numpy()
        people["school_urn"] = people["school_urn"].astype("Int64")

    # Persistent absence, Years 1-11.
    pa_eligible = on_roll & (nc >= 1) & (nc <= 11)
    pa_linear = np.log(OR_NOTGLD_PA) * not_gld + np.log(OR_FSM_PA) * fsm + _levels(q, OR_PA_Q)
    pa = np.zeros(n, dtype=bool)
    pa[pa_eligible] = _draw(pa_linear[pa_eligible], TARGET_PA, rng)
    other_pupils = on_roll & ~pa_eligible
    pa[other_pupils] = _draw(pa_linear[other_pupils], 0.15, rng)

    # Post-16 high risk: secondary pupils, at their school's planted share.
    schools = district.schools.set_index("urn")
    cur_school = people["school_urn"].fillna(0).astype(np.int64).to_numpy()
    share = schools["post16_share"].reindex(cur_school).to_numpy()
    in_secondary = on_roll & ~np.isnan(share)
    post16 = np.zeros(n, dtype=bool)
    post16[in_secondary] = rng.random(int(in_secondary.sum())) < share[in_secondary]

    # Children in need and looked after (under 18), with a deprivation gradient.
    under18 = nc <= 13
    cin = np.zeros(n, dtype=bool)
    cin[under18] = _draw(1.4 * dep[under18], TARGET_CIN, rng)
    cla = np.zeros(n, dtype=bool)
    cla_linear: FloatArray = 0.8 * dep
    a_cla = calibrate_intercept(cla_linear[cin], TARGET_CLA / TARGET_CIN)
    cla[cin] = rng.random(int(cin.sum())) < 1 / (1 + np.exp(-(a_cla + cla_linear[cin])))
    adopted = under18 & ~cla & (rng.random(n) < TARGET_ADOPTED)
    # Adopted children carry a former (birth) surname.
    former = people["former_family_name"].to_numpy(dtype=object).copy()
    for g, names in SURNAMES.items():
        rows = np.flatnonzero(adopted & (group == g))
        former[rows] = np.array(names, dtype=object)[rng.integers(0, len(names), size=len(rows))]
    people["former_family_name"] = former

    dcd_recorded = dcd & (rng.random(n) < DCD_RECORDED_SHARE / TARGET_DCD)

    # Difficulty: how hard this child is to link (ECHILD-style bias).
    minority = group != "white_british"
    difficulty = (
        0.08
        + 0.22 * minority
        + 0.08 * np.isin(group, ["black", "other", "eastern_european", "mixed"])
        + 0.18 * np.minimum(people["n_moves"].to_numpy(), 3) / 3
        + 0.15 * (q == 1)
        + 0.25 * (cla | adopted)
    )
    people["is_cin"] = cin
    people["is_cla"] = cla
    people["adopted"] = adopted
    people["difficulty"] = np.clip(difficulty, 0.0, 1.0).round(4)
    people["everyone"] = True
    people["male"] = male
    people["female"] = female
    people["asq_all_expected"] = asq_all
    people["behind_at_two"] = ~asq_all
    people["gld"] = gld
    people["not_gld"] = not_gld
    people["fsm"] = fsm
    people["attainment"] = attainment.round(4)
    people["sen_eligible"] = sen_eligible
    people["sen_need"] = sen_need
    people["spld_eligible"] = spld_eligible
    people["spld_school_urn"] = pd.Series(sch, dtype="Int64").where(spld_eligible, pd.NA).to_numpy()
    people["spld_school_urn"] = people["spld_school_urn"].astype("Int64")
    people["spld"] = spld
    people["sen_any"] = sen_any
    people["ehcp"] = ehcp
    people["senprovision"] = senprovision
    people["pa_eligible"] = pa_eligible
    people["persistent_absence"] = pa
    people["in_secondary"] = in_secondary
    people["post16_high_risk"] = post16
    people["autism"] = autism
    people["adhd"] = adhd
    people["dcd_true"] = dcd
    people["dcd_recorded"] = dcd_recorded
    people["asthma"] = asthma
    people["caries"] = caries
    people["preterm"] = preterm

    realised = (
        pd.DataFrame({"urn": cur_school[in_secondary], "risk": post16[in_secondary]})
        .groupby("urn")["risk"]
        .agg(["mean", "size"])
    )
    planted = schools.loc[schools["phase"] == "secondary", "post16_share"]
    return {
        "post16_school_shares": [
            {
                "urn": int(str(urn)),
                "planted_share": round(float(share_), 4),
                "realised_share": round(float(realised["mean"].get(urn, np.nan)), 4),
                "pupils": int(realised["size"].get(urn, 0)),
            }
            for urn, share_ in planted.items()
        ],
        "spld_school_effects": {
            int(str(u)): round(float(np.exp(v)), 4) for u, v in spld_eff.items()
        },
    }


def _design(
    frame: pd.DataFrame, terms: tuple[str, ...]
) -> tuple[npt.NDArray[np.float64], list[str]]:
    """Intercept plus one column per term; ``C(x)`` expands to dummies (last level reference)."""
    columns: list[npt.NDArray[np.float64]] = [np.ones(len(frame))]
    names = ["intercept"]
    for term in terms:
        if term.startswith("C(") and term.endswith(")"):
            col = term[2:-1]
            values = frame[col].to_numpy()
            levels = sorted(pd.unique(values).tolist())
            for level in levels[:-1]:
                columns.append((values == level).astype(np.float64))
                names.append(f"{col}={level}")
        else:
            columns.append(frame[term].to_numpy(dtype=np.float64))
            names.append(term)
    return np.column_stack(columns), names


def estimate_effect(effect: PlantedEffect, people: pd.DataFrame) -> float:
    """Estimate one planted effect from the truth people table, as ``effect`` specifies it.

    Odds ratios come from a logistic regression of the outcome on the exposure and covariates
    within the population; prevalences are the outcome's mean. Ranges are planted constants
    (read them from ``effects.json``) and raise ``ValueError``.
    """
    pop = people if effect.population is None else people[people[effect.population].astype(bool)]
    y = pop[effect.outcome].astype(bool).to_numpy()
    if effect.measure == "prevalence":
        return float(y.mean())
    if effect.measure != "odds_ratio" or effect.exposure is None:
        raise ValueError(f"effect {effect.name} cannot be estimated from the people table")
    terms = effect.covariates
    if "=" not in effect.exposure:
        terms = (effect.exposure, *terms)
    x, names = _design(pop, terms)
    beta, _ = fit_logistic(x, y)
    return float(np.exp(beta[names.index(effect.exposure)]))
