"""The twin's quality report: fidelity, planted effects, timelines, privacy and bias.

Every number is computed here from the real secondary views and the twin's views, with the same
SQL on both (the twin has the store's shape), so the report also shows that research code runs
unchanged on either. The hold-out persons (never used to fit) give the baselines: how far the
real training data is from fresh real data of the same district, column by column and row by
row.

Invariants: the report holds aggregates and model estimates only, never a row or a person id;
every measure names what it compares.
"""

# SQL here is assembled from this module's own constants, never from values.
# ruff: noqa: S608

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from joinedup.synth.tables import EVENT_TABLES, PERSON_TABLE
from joinedup.synth.twin import (
    FLAG_ORDER,
    PRIVACY_CATEGORICAL,
    PRIVACY_NUMERIC,
    RealData,
    ethnic_group,
    replicated_uniques,
)

OR_TOLERANCE = 0.15
MIA_AUC_LIMIT = 0.55
PRIVACY_SAMPLE = 5_000  # records attacked / measured (at most; the hold-out may be smaller)
PRIVACY_REFERENCE = 10_000  # most records searched for each nearest neighbour
# attribute-inference targets from each of training and hold-out: every hold-out child up to
# this many (the attack is a hash lookup, about a second at 150,000). A rare fact is missed by
# few hold-out attacks, so its risk interval narrows only with many: at 600k people,
# looked-after's upper bound was 0.22 from 20,000 attacks and 0.13 from 148,000
INFERENCE_ATTACKS = 500_000
SKIP_COLUMNS = {"person_id", "cin_details_id"}
SUBGROUP_MIN = 50  # subgroups smaller than this (real persons) are listed but not scored

_PERSON = """
SELECT person_id, sex = 'M' AS male, coalesce(is_eal, false) AS eal,
       CAST(ceil(imd_decile / 2) AS INTEGER) AS imd_q, ethnicity
FROM view__secondary__person WHERE imd_decile IS NOT NULL
"""
_GLD = "SELECT person_id, bool_or(is_gld) AS gld FROM view__secondary__eyfsp GROUP BY 1"
_ASQ = (
    "SELECT person_id, bool_or(is_all_five_expected) AS asq "
    "FROM view__secondary__development_check GROUP BY 1"
)
_PUPIL = (
    "SELECT person_id, bool_or(sen_provision IN ('K', 'E')) AS sen, "
    "bool_or(is_fsm_on_census_day) AS fsm FROM view__secondary__enrolment "
    "WHERE TRY_CAST(ncyear AS INTEGER) BETWEEN 1 AND 11 GROUP BY 1"
)
_PA = (
    "SELECT person_id, sum(authorised_absence + unauthorised_absence) / "
    "nullif(sum(sessions_possible), 0) >= 0.1 AS pa FROM view__secondary__attendance GROUP BY 1"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectSpec:
    name: str
    description: str
    sql: str
    outcome: str
    exposure: str
    covariates: tuple[str, ...]
    planted: float | None  # the simulator's true odds ratio (docs/reference/simulator.md)


EFFECTS: tuple[EffectSpec, ...] = (
    EffectSpec(
        name="asq_all_five_to_gld",
        description="ASQ-3 all five domains expected at 2 -> GLD "
        "(gld ~ asq + C(imd quintile) + male + eal)",
        sql=f"SELECT * FROM ({_PERSON}) JOIN ({_GLD}) USING (person_id) "
        f"JOIN ({_ASQ}) USING (person_id)",
        outcome="gld",
        exposure="asq",
        covariates=("imd_q", "male", "eal"),
        planted=3.2,
    ),
    EffectSpec(
        name="most_deprived_to_gld",
        description="most vs least deprived IMD quintile -> GLD (same model)",
        sql=f"SELECT * FROM ({_PERSON}) JOIN ({_GLD}) USING (person_id) "
        f"JOIN ({_ASQ}) USING (person_id)",
        outcome="gld",
        exposure="imd_q=1",
        covariates=("asq", "imd_q", "male", "eal"),
        planted=0.4,
    ),
    EffectSpec(
        name="not_gld_to_sen",
        description="not GLD -> later SEN (sen ~ not_gld + male + C(imd quintile)), Years 1-11",
        sql=f"SELECT *, NOT gld AS not_gld FROM ({_PERSON}) JOIN ({_GLD}) USING (person_id) "
        f"JOIN ({_PUPIL}) USING (person_id)",
        outcome="sen",
        exposure="not_gld",
        covariates=("male", "imd_q"),
        planted=8.5,
    ),
    EffectSpec(
        name="not_gld_to_persistent_absence",
        description="not GLD -> persistent absence (pa ~ not_gld + fsm + C(imd quintile)), "
        "Years 1-11",
        sql=f"SELECT *, NOT gld AS not_gld FROM ({_PERSON}) JOIN ({_GLD}) USING (person_id) "
        f"JOIN ({_PUPIL}) USING (person_id) JOIN ({_PA}) USING (person_id)",
        outcome="pa",
        exposure="not_gld",
        covariates=("fsm", "imd_q"),
        planted=2.3,
    ),
)


def logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton-Raphson: coefficients, standard errors."""
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        w = p * (1 - p)
        hessian = x.T @ (x * w[:, None]) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, x.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
    cov = np.linalg.pinv(x.T @ (x * (p * (1 - p))[:, None]))
    return beta, np.sqrt(np.clip(np.diag(cov), 0, None))


def _design(frame: pd.DataFrame, spec: EffectSpec) -> tuple[np.ndarray, np.ndarray, int]:
    cols: list[np.ndarray] = [np.ones(len(frame))]
    exposure_col = -1
    terms = [spec.exposure, *spec.covariates]
    for term in terms:
        if term.startswith("imd_q"):
            if term == "imd_q" and spec.exposure == "imd_q=1":
                levels = [2, 3, 4]  # quintile 1 is the exposure column; 5 the reference
            elif term == "imd_q":
                levels = [1, 2, 3, 4]
            else:
                levels = [1]
            for q in levels:
                if term == spec.exposure:
                    exposure_col = len(cols)
                cols.append((frame["imd_q"] == q).to_numpy(dtype=float))
            continue
        if term == spec.exposure:
            exposure_col = len(cols)
        cols.append(frame[term].fillna(False).to_numpy(dtype=float))
    y = frame[spec.outcome].fillna(False).to_numpy(dtype=float)
    return np.column_stack(cols), y, exposure_col


def estimate_effect(con: duckdb.DuckDBPyConnection, spec: EffectSpec) -> dict[str, Any]:
    """The odds ratio of ``spec`` on a store-shaped database (the real store or a twin)."""
    frame = con.execute(spec.sql).df()
    frame = frame[frame[spec.outcome].notna()]
    if len(frame) < 30 or frame[spec.outcome].nunique() < 2:
        return {"n": len(frame), "odds_ratio": None, "ci95": None}
    x, y, j = _design(frame, spec)
    beta, se = logistic_fit(x, y)
    if not (np.isfinite(beta[j]) and np.isfinite(se[j])) or abs(beta[j]) > 15 or se[j] > 15:
        # separation (a cell with no events) in a small population: no finite estimate
        return {"n": len(frame), "odds_ratio": None, "ci95": None, "why": "not estimable"}
    return {
        "n": len(frame),
        "odds_ratio": float(math.exp(beta[j])),
        "ci95": [float(math.exp(beta[j] - 1.96 * se[j])), float(math.exp(beta[j] + 1.96 * se[j]))],
    }


def effects_report(
    real: duckdb.DuckDBPyConnection, twin: duckdb.DuckDBPyConnection
) -> list[dict[str, Any]]:
    out = []
    for spec in EFFECTS:
        r = estimate_effect(real, spec)
        t = estimate_effect(twin, spec)
        error = None
        if r["odds_ratio"] and t["odds_ratio"]:
            error = t["odds_ratio"] / r["odds_ratio"] - 1
        out.append(
            {
                "name": spec.name,
                "description": spec.description,
                "planted": spec.planted,
                "real": r,
                "twin": t,
                "relative_error": error,
                "tolerance": OR_TOLERANCE,
                "within_tolerance": error is not None and abs(error) <= OR_TOLERANCE,
            }
        )
    return out


# ---- column and pair fidelity -------------------------------------------------------------


def _tvd(a: pd.Series, b: pd.Series) -> float:
    pa = a.astype("string").fillna("<NULL>").value_counts(normalize=True)
    pb = b.astype("string").fillna("<NULL>").value_counts(normalize=True)
    both = pa.index.union(pb.index)
    return float(
        0.5 * np.abs(pa.reindex(both, fill_value=0) - pb.reindex(both, fill_value=0)).sum()
    )


def _ks(a: pd.Series, b: pd.Series) -> float:
    an = pd.to_numeric(a, errors="coerce").dropna().to_numpy(dtype=float)
    bn = pd.to_numeric(b, errors="coerce").dropna().to_numpy(dtype=float)
    null_gap = abs(a.isna().mean() - b.isna().mean()) if len(a) and len(b) else 0.0
    if len(an) == 0 or len(bn) == 0:
        return float(max(null_gap, 0.0 if len(an) == len(bn) == 0 else 1.0))
    return float(max(ks_2samp(an, bn, method="asymp").statistic, null_gap))


def column_distance(a: pd.Series, b: pd.Series) -> tuple[str, float]:
    if pd.api.types.is_bool_dtype(a) or a.dtype == object or pd.api.types.is_string_dtype(a):
        return "tvd", _tvd(a, b)
    if pd.api.types.is_datetime64_any_dtype(a) or str(a.dtype) == "dbdate":
        return "ks", _ks(_days(a), _days(b))
    if pd.api.types.is_numeric_dtype(a):
        return "ks", _ks(a, b)
    return "tvd", _tvd(a, b)


def _days(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, errors="coerce")
    return (stamps - pd.Timestamp("1970-01-01")).dt.days.astype("float64")


def _load(con: duckdb.DuckDBPyConnection, view: str) -> pd.DataFrame:
    frame = con.execute(f"SELECT * FROM {view}").df()
    if "sources" in frame.columns:
        frame["sources"] = frame["sources"].map(
            lambda v: None if v is None else "|".join(sorted(v))
        )
    return frame


def column_fidelity(
    real: duckdb.DuckDBPyConnection, twin: duckdb.DuckDBPyConnection, data: RealData
) -> list[dict[str, Any]]:
    """Per table and column: twin vs training rows, and hold-out vs training (the noise floor)."""
    train = set(data.train_ids)
    out: list[dict[str, Any]] = []
    for table in [PERSON_TABLE, *(t.name for t in EVENT_TABLES)]:
        view = "view__secondary__" + table.removeprefix("store__")
        r = _load(real, view)
        t = _load(twin, view)
        in_train = r["person_id"].isin(train)
        for col in r.columns:
            if col in SKIP_COLUMNS:
                continue
            metric, twin_d = column_distance(r.loc[in_train, col], t[col])
            _, hold_d = column_distance(r.loc[in_train, col], r.loc[~in_train, col])
            out.append(
                {
                    "table": table,
                    "column": col,
                    "metric": metric,
                    "twin": round(twin_d, 4),
                    "holdout": round(hold_d, 4),
                }
            )
    return out


def _binned(frame: pd.DataFrame, col: str) -> pd.Series:
    values = frame[col]
    if col.startswith("n_"):
        return values.fillna(0).clip(upper=3).astype(int).astype("string")
    if col == "birth_idx":
        return (values // 24).astype("string").fillna("<NULL>")
    return values.astype("string").fillna("<NULL>")


PAIR_COLUMNS = (
    "sex",
    "ethnicity",
    "is_eal",
    "imd_decile",
    "birth_idx",
    *FLAG_ORDER,
    "n_development_check",
    "n_eyfsp",
    "n_social_care_episode",
    "n_cla_episode",
    "n_admission",
    "n_police_event",
)


def pair_fidelity(real_wide: pd.DataFrame, twin_wide: pd.DataFrame) -> dict[str, Any]:
    """Joint distribution of every pair of person-level columns: TVD of the two-way tables."""
    pairs: list[dict[str, Any]] = []
    cols = [c for c in PAIR_COLUMNS if c in real_wide.columns]
    rb = {c: _binned(real_wide, c) for c in cols}
    tb = {c: _binned(twin_wide, c) for c in cols}
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            d = _tvd(rb[a] + "×" + rb[b], tb[a] + "×" + tb[b])
            pairs.append({"a": a, "b": b, "tvd": round(d, 4)})
    values = [float(p["tvd"]) for p in pairs]
    worst = sorted(pairs, key=lambda p: -p["tvd"])[:10]
    return {
        "mean_tvd": float(np.mean(values)) if values else None,
        "score": 1 - float(np.mean(values)) if values else None,
        "worst": worst,
        "pairs": len(pairs),
    }


# ---- timelines -----------------------------------------------------------------------------

_DATE_PAIRS: dict[str, list[tuple[str, str]]] = {
    "store__admission": [("admidate", "disdate"), ("epistart", "epiend")],
    "store__social_care_episode": [("start_date", "end_date")],
    "store__cla_episode": [("start_date", "end_date")],
    "store__missing_episode": [("start_date", "end_date")],
    "store__gp_registration": [("registration_start", "registration_end")],
    "store__housing": [("ta_start", "ta_end")],
}


def secondary_name(table: str) -> str:
    """``store__eyfsp`` -> ``view__secondary__eyfsp`` (what secondary uses read)."""
    return "view__secondary__" + table.removeprefix("store__")


def timeline_checks(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Keys and timelines of one store-shaped database (counts of rows breaking a rule), read
    through its secondary views."""
    n = secondary_name
    person = n(PERSON_TABLE)
    orphans = 0
    for t in EVENT_TABLES:
        row = con.execute(
            f"SELECT count(*) FROM {n(t.name)} e ANTI JOIN {person} p USING (person_id)"
        ).fetchone()
        orphans += int(row[0]) if row else 0
    before_birth = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE t.event_date < "
        "CAST(p.birth_month || '-01' AS DATE)) "
        f"FROM {n('store__timeline')} t JOIN {person} p USING (person_id)"
    ).fetchone()
    end_before_start = 0
    dated = 0
    for table, pairs in _DATE_PAIRS.items():
        for start, end in pairs:
            row = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {end} < {start}) FROM {n(table)} "
                f"WHERE {start} IS NOT NULL AND {end} IS NOT NULL"
            ).fetchone()
            if row:
                dated += int(row[0])
                end_before_start += int(row[1])
    # year group on census day against the year group the month of birth gives
    school = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE TRY_CAST(e.ncyear AS INTEGER) IS NOT NULL AND "
        "TRY_CAST(e.ncyear AS INTEGER) <> (year(e.census_date) - 1 - "
        "(year(CAST(p.birth_month || '-01' AS DATE)) - "
        "CASE WHEN month(CAST(p.birth_month || '-01' AS DATE)) >= 9 THEN 0 ELSE 1 END) - 5)) "
        f"FROM {n('store__enrolment')} e JOIN {person} p USING (person_id)"
    ).fetchone()
    ages = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE age_months < 18 OR age_months > 42) "
        f"FROM {n('store__development_check')}"
    ).fetchone()
    persons = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE first_seen > last_seen) FROM {person}"
    ).fetchone()
    assert before_birth and school and ages and persons
    return {
        "orphan_event_rows": orphans,
        "timeline_rows": int(before_birth[0]),
        "events_before_birth_month": int(before_birth[1]),
        "dated_pairs": dated,
        "end_before_start": end_before_start,
        "census_rows": int(school[0]),
        "year_group_off_age": int(school[1]),
        "development_checks": int(ages[0]),
        "review_age_outside_18_42_months": int(ages[1]),
        "first_after_last_seen": int(persons[1]),
    }


def rows_per_person(
    real: duckdb.DuckDBPyConnection, twin: duckdb.DuckDBPyConnection
) -> dict[str, Any]:
    """KS distance of the rows-per-person distribution (persons with none count as 0)."""
    out = {}
    for t in EVENT_TABLES:
        q = (
            f"SELECT count(e.person_id) AS n FROM {secondary_name(PERSON_TABLE)} p "
            f"LEFT JOIN {secondary_name(t.name)} e USING (person_id) GROUP BY p.person_id"
        )
        r = real.execute(q).df()["n"]
        s = twin.execute(q).df()["n"]
        out[t.short] = {
            "ks": round(float(ks_2samp(r, s, method="asymp").statistic), 4),
            "real_mean": round(float(r.mean()), 4),
            "twin_mean": round(float(s.mean()), 4),
        }
    return out


# ---- privacy ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Records:
    """Person records for distances: numerics scaled to [0, 1] (NULL as -1) and category codes
    (NULL a code of its own). The Gower-style L1 distance adds |difference| per numeric and 1 per
    differing category."""

    numeric: np.ndarray
    codes: np.ndarray

    def take(self, rows: np.ndarray) -> _Records:
        return _Records(self.numeric[rows], self.codes[rows])

    def __len__(self) -> int:
        return len(self.numeric)


def _privacy_records(frames: list[pd.DataFrame]) -> list[_Records]:
    counts = [t.count_column for t in EVENT_TABLES]
    allf = pd.concat(frames, ignore_index=True)
    numeric = []
    for col in [*PRIVACY_NUMERIC, *counts]:
        v = allf[col].astype("float64")
        span = float(v.max() - v.min()) or 1.0
        numeric.append(((v - v.min()) / span).fillna(-1.0).to_numpy())
    codes = [
        pd.factorize(allf[col].astype("string").fillna("<NULL>"))[0] for col in PRIVACY_CATEGORICAL
    ]
    num = np.column_stack(numeric).astype(np.float32)
    cat = np.column_stack(codes).astype(np.int32)
    out = []
    start = 0
    for f in frames:
        out.append(_Records(num[start : start + len(f)], cat[start : start + len(f)]))
        start += len(f)
    return out


def _exact_share(queries: _Records, reference: _Records) -> float:
    """Share of query records equal, in every compared field, to some reference record."""

    def keys(r: _Records) -> pd.Series:
        frame = pd.DataFrame(np.column_stack([r.numeric, r.codes.astype(np.float32)]))
        return pd.util.hash_pandas_object(frame, index=False)

    if len(queries) == 0:
        return 0.0
    return float(keys(queries).isin(set(keys(reference))).mean())


def _nearest(reference: _Records, queries: _Records, chunk: int = 128) -> np.ndarray:
    """Distance from each query record to its closest reference record (exact, chunked)."""
    out = np.empty(len(queries))
    for lo in range(0, len(queries), chunk):
        q_num = queries.numeric[lo : lo + chunk]
        q_cat = queries.codes[lo : lo + chunk]
        d = np.abs(q_num[:, None, :] - reference.numeric[None, :, :]).sum(axis=2)
        d += (q_cat[:, None, :] != reference.codes[None, :, :]).sum(axis=2)
        out[lo : lo + chunk] = d.min(axis=1)
    return out


# ---- attribute inference (anonymeter's inference attack, on exact quasi-identifier matches) --

# what a neighbour could know of a child, and the sensitive facts an attacker would want
INFERENCE_KNOWN = ("birth_idx", "sex", "ethnicity", "lsoa21cd")
INFERENCE_SECRETS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "looked_after": lambda f: f["n_cla_episode"].fillna(0).to_numpy() > 0,
    "social_care": lambda f: f["n_social_care_episode"].fillna(0).to_numpy() > 0,
    "missing_episode": lambda f: f["n_missing_episode"].fillna(0).to_numpy() > 0,
    "police_event": lambda f: f["n_police_event"].fillna(0).to_numpy() > 0,
    "sen": lambda f: (f["sen_any"].astype("string") == "true").fillna(False).to_numpy(bool),
}
INFERENCE_RISK_LIMIT = 0.05  # the research note's goal for each anonymeter-style risk
# the risk divides by the control's failure rate; with fewer failures than this among the
# hold-out attacks (a rare fact in a small district) one guess more or less swings it between
# 0 and 1, so it is reported as not estimable instead
INFERENCE_MIN_CONTROL_FAILURES = 10


def _wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _donor_rows(targets: pd.DataFrame, twin: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """For each target, a random twin record sharing its known fields, or, where none does,
    fewer of them (area, then ethnicity dropped; at last any record): the attacker's pick."""
    chosen = np.full(len(targets), -1, dtype=np.int64)
    levels = [INFERENCE_KNOWN, ("birth_idx", "sex", "lsoa21cd"), ("birth_idx", "sex"), ()]
    for known in levels:
        todo = np.flatnonzero(chosen < 0)
        if len(todo) == 0:
            break
        if not known:
            chosen[todo] = rng.integers(0, len(twin), len(todo))
            break
        twin_key = pd.util.hash_pandas_object(
            twin[list(known)].astype("string").fillna("<NULL>"), index=False
        ).to_numpy()
        target_key = pd.util.hash_pandas_object(
            targets.iloc[todo][list(known)].astype("string").fillna("<NULL>"), index=False
        ).to_numpy()
        order = np.argsort(twin_key, kind="stable")
        sorted_keys = twin_key[order]
        lo = np.searchsorted(sorted_keys, target_key, side="left")
        hi = np.searchsorted(sorted_keys, target_key, side="right")
        found = hi > lo
        pick = lo + np.floor(rng.random(len(todo)) * np.maximum(hi - lo, 1)).astype(np.int64)
        chosen[todo[found]] = order[np.minimum(pick, len(order) - 1)][found]
    return chosen


def inference_report(
    train: pd.DataFrame,
    hold: pd.DataFrame,
    twin: pd.DataFrame,
    rng: np.random.Generator,
    attacks: int,
) -> list[dict[str, Any]]:
    """Per sensitive fact: how often an attacker who knows a child's month of birth, sex,
    ethnicity and area guesses it right from the twin, for children used to fit the twin
    (main) and for hold-out children (control); risk = (main - control) / (1 - control), as
    in anonymeter (Giomi et al. 2023), with a 95% interval from the two Wilson intervals."""
    n = min(attacks, len(train), len(hold))
    if n < 20 or len(twin) == 0:
        return []
    main_targets = train.iloc[rng.choice(len(train), n, replace=False)].reset_index(drop=True)
    control_targets = hold.iloc[rng.choice(len(hold), n, replace=False)].reset_index(drop=True)
    main_pick = _donor_rows(main_targets, twin, rng)
    control_pick = _donor_rows(control_targets, twin, rng)
    out = []
    for name, fact in INFERENCE_SECRETS.items():
        secret = fact(twin)
        main_ok = int((secret[main_pick] == fact(main_targets)).sum())
        control_ok = int((secret[control_pick] == fact(control_targets)).sum())
        baseline_ok = int((secret[rng.integers(0, len(twin), n)] == fact(main_targets)).sum())
        main, control = main_ok / n, control_ok / n
        m_lo, m_hi = _wilson(main_ok, n)
        c_lo, c_hi = _wilson(control_ok, n)

        def risk(m: float, c: float) -> float:
            return 0.0 if c >= 1 else max(0.0, (m - c) / (1 - c))

        estimable = n - control_ok >= INFERENCE_MIN_CONTROL_FAILURES
        value = risk(main, control)
        high = risk(m_hi, c_lo)
        out.append(
            {
                "secret": name,
                "attacks": n,
                "prevalence_train": round(float(fact(train).mean()), 4),
                "main_success": round(main, 4),
                "control_success": round(control, 4),
                "baseline_success": round(baseline_ok / n, 4),
                "estimable": estimable,
                "risk": round(value, 4) if estimable else None,
                "risk_ci95": [round(risk(m_lo, c_hi), 4), round(high, 4)],
                "within_limit": value <= INFERENCE_RISK_LIMIT if estimable else None,
            }
        )
    return out


def dcr_tail(syn_to_train: np.ndarray, hold_to_train: np.ndarray) -> dict[str, Any]:
    """The lower tail of the distances to the closest training record, twin against hold-out.

    Distances take discrete steps (one day of birth, one record more, one category), so the
    5th percentile of a sample can jump a whole step when the share of records at one step is
    near 5%. This compares the shares instead: the share of twin records at or below the
    hold-out's 5th percentile against the hold-out's own share there, with a 95% interval for
    the difference (Newcombe's hybrid score interval from two Wilson intervals). The twin's
    tail is heavier only when the whole interval is above 0.
    """
    cut = float(np.percentile(hold_to_train, 5))
    # the same six-decimal rounding as the reported percentiles, so a tie stays a tie
    syn_n, hold_n = len(syn_to_train), len(hold_to_train)
    syn_k = int(np.sum(np.round(syn_to_train, 6) <= round(cut, 6)))
    hold_k = int(np.sum(np.round(hold_to_train, 6) <= round(cut, 6)))
    p1, p2 = syn_k / syn_n, hold_k / hold_n
    l1, u1 = _wilson(syn_k, syn_n)
    l2, u2 = _wilson(hold_k, hold_n)
    diff = p1 - p2
    low = diff - float(np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    high = diff + float(np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    return {
        "dcr_tail_cut": round(cut, 6),
        "dcr_tail_share_synthetic": round(p1, 5),
        "dcr_tail_share_holdout": round(p2, 5),
        "dcr_tail_excess_points": round(100 * diff, 2),
        "dcr_tail_excess_ci95_points": [round(100 * low, 2), round(100 * high, 2)],
        "dcr_tail_not_heavier": low <= 0.0,
    }


def privacy_report(
    data: RealData, twin_wide: pd.DataFrame, seed: int, sample: int = PRIVACY_SAMPLE
) -> dict[str, Any]:
    """Exact copies, distance to closest record against a hold-out, membership inference."""
    rng = np.random.default_rng(seed)
    train = data.persons_in(data.train_ids)
    hold = data.persons_in(data.holdout_ids)
    m = min(sample, len(hold), len(train), len(twin_wide))
    if m < 20:
        return {"evaluated": False, "reason": f"hold-out too small ({len(hold)} persons)"}
    t_all, h_all, s_all = _privacy_records([train, hold, twin_wide])
    exact = _exact_share(s_all, t_all)
    unique_copies = float(replicated_uniques(twin_wide, train).mean()) if len(twin_wide) else 0.0
    exact_holdout = _exact_share(h_all, t_all)
    s = s_all.take(rng.choice(len(s_all), m, replace=False))
    h = h_all.take(rng.choice(len(h_all), m, replace=False))
    members = t_all.take(rng.choice(len(t_all), m, replace=False))
    t_ref = t_all.take(rng.choice(len(t_all), min(len(t_all), PRIVACY_REFERENCE), replace=False))
    s_ref = s_all.take(rng.choice(len(s_all), min(len(s_all), PRIVACY_REFERENCE), replace=False))
    syn_to_train = _nearest(t_ref, s)
    hold_to_train = _nearest(t_ref, h)
    tail = dcr_tail(syn_to_train, hold_to_train)
    # equal-size comparison: is a synthetic row nearer the training rows than fresh real rows?
    syn_to_members = _nearest(members, s)
    syn_to_hold = _nearest(h, s)
    closer = float(
        np.mean(syn_to_members < syn_to_hold) + 0.5 * np.mean(syn_to_members == syn_to_hold)
    )
    # membership inference: a record nearer a synthetic row is guessed to be a member
    member_score = -_nearest(s_ref, members)
    outsider_score = -_nearest(s_ref, h)
    labels = np.r_[np.ones(m), np.zeros(m)]
    auc = float(roc_auc_score(labels, np.r_[member_score, outsider_score]))
    inference = inference_report(train, hold, twin_wide, rng, INFERENCE_ATTACKS)
    return {
        "evaluated": True,
        "sample": m,
        "reference": len(t_ref),
        "exact_copy_share": exact,
        "holdout_exact_match_share": exact_holdout,
        "replicated_unique_share": unique_copies,
        # distances are float32 sums: six decimals, so equal distances compare equal
        "dcr_p5_synthetic_to_train": round(float(np.percentile(syn_to_train, 5)), 6),
        "dcr_p5_holdout_to_train": round(float(np.percentile(hold_to_train, 5)), 6),
        "dcr_median_synthetic_to_train": round(float(np.median(syn_to_train)), 6),
        "dcr_median_holdout_to_train": round(float(np.median(hold_to_train)), 6),
        **tail,
        "share_closer_to_train_than_holdout": closer,
        "mia_auc": auc,
        "mia_auc_limit": MIA_AUC_LIMIT,
        "mia_within_limit": auc <= MIA_AUC_LIMIT,
        "attribute_inference": inference,
        "inference_risk_max": max(
            (r["risk"] for r in inference if r["risk"] is not None), default=None
        ),
        "distances": {
            "synthetic_to_train": syn_to_train.round(4).tolist(),
            "holdout_to_train": hold_to_train.round(4).tolist(),
        },
    }


# ---- bias ---------------------------------------------------------------------------------


def _subgroups(wide: pd.DataFrame) -> dict[str, pd.Series]:
    ethnic = ethnic_group(wide["ethnicity"])
    return {
        "ethnicity": ethnic,
        "ethnicity_sex": ethnic + " " + wide["sex"].astype("string").fillna("unknown"),
        "eal": wide["is_eal"].astype("string").fillna("unknown"),
        "imd_quintile": np.ceil(wide["imd_decile"] / 2)
        .astype("Int64")
        .astype("string")
        .fillna("unknown"),
    }


def _rate(values: pd.Series) -> float | None:
    known = values.dropna()
    return None if len(known) == 0 else float((known == "true").mean())


BIAS_GOAL_MIN_N = 500  # the research note's bias goal judges groups of this many real persons
BIAS_GOAL_POINTS = 2.0  # ... within this many percentage points of the real rates
BIAS_RATES = ("gld", "sen_any", "asq_all_five")  # the prevalences compared by subgroup
BIAS_COLUMNS = ("sex", "birth_idx", "n_eyfsp", "n_development_check", "n_admission", *FLAG_ORDER)


def _max_gap(a: dict[str, float | None], b: dict[str, float | None]) -> float | None:
    gaps = [abs(a[f] - b[f]) for f in a if a[f] is not None and b.get(f) is not None]  # type: ignore[operator]
    return round(100 * max(gaps), 2) if gaps else None


def bias_report(
    real_wide: pd.DataFrame, twin_wide: pd.DataFrame, hold_wide: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Per subgroup: its share, GLD and SEN rates, and mean column TVD, twin against real; with
    ``hold_wide``, the hold-out's own largest rate gap too (fresh real children of the group
    differ from the training ones by chance: the noise floor for the twin's gap)."""
    out = []
    rg = _subgroups(real_wide)
    tg = _subgroups(twin_wide)
    hg = None if hold_wide is None else _subgroups(hold_wide)
    for axis in rg:
        for level in sorted(set(rg[axis].dropna())):
            r = real_wide[(rg[axis] == level).to_numpy()]
            t = twin_wide[(tg[axis] == level).to_numpy()]
            row: dict[str, Any] = {
                "axis": axis,
                "group": level,
                "real_n": len(r),
                "twin_n": len(t),
                "real_share": len(r) / max(len(real_wide), 1),
                "twin_share": len(t) / max(len(twin_wide), 1),
                "scored": len(r) >= SUBGROUP_MIN and len(t) > 0,
            }
            if row["scored"]:
                for flag in BIAS_RATES:
                    row[f"real_{flag}"] = _rate(r[flag])
                    row[f"twin_{flag}"] = _rate(t[flag])
                    # the children the real rate is measured on (those old enough to have it)
                    row[f"real_{flag}_n"] = int(r[flag].notna().sum())
                row["mean_column_tvd"] = float(
                    np.mean([_tvd(_binned(r, c), _binned(t, c)) for c in BIAS_COLUMNS])
                )
                flags = BIAS_RATES
                real_rates = {f: row[f"real_{f}"] for f in flags}
                row["max_rate_gap_points"] = _max_gap(
                    real_rates, {f: row[f"twin_{f}"] for f in flags}
                )
                if row["max_rate_gap_points"] is None:
                    # no rate known on both sides (a group of children too young for all three)
                    row["scored"] = False
                if hold_wide is not None and hg is not None:
                    h = hold_wide[(hg[axis] == level).to_numpy()]
                    row["holdout_n"] = len(h)
                    row["holdout_max_rate_gap_points"] = (
                        _max_gap(real_rates, {f: _rate(h[f]) for f in flags}) if len(h) else None
                    )
            out.append(row)
    return out


def _rate_gaps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each ethnicity x sex group's rates measured on at least ``BIAS_GOAL_MIN_N`` real
    children, with the twin's gap from the real rate."""
    out = []
    for r in rows:
        if r["axis"] != "ethnicity_sex":
            continue
        for flag in BIAS_RATES:
            real, twin = r.get(f"real_{flag}"), r.get(f"twin_{flag}")
            measured = (r.get(f"real_{flag}_n") or 0) >= BIAS_GOAL_MIN_N
            if measured and real is not None and twin is not None:
                out.append(
                    {
                        "group": r["group"],
                        "rate": flag,
                        "real_n": r[f"real_{flag}_n"],
                        "gap_points": round(100 * abs(twin - real), 2),
                    }
                )
    return out


def bias_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The research note's bias goal: every ethnicity x sex group of at least 500 real persons
    within 2 percentage points of the real GLD, SEN and ASQ rates.

    A group of 500 persons may hold far fewer children with a rate known (a GLD result needs
    a child who has finished reception and has an education record), and a rate measured on a
    few hundred children moves by more than 2 points between two samples by chance; so the
    same goal is also judged on the rates measured on at least 500 real children
    (``rates_*``)."""
    judged = [
        r
        for r in rows
        if r["axis"] == "ethnicity_sex"
        and r["real_n"] >= BIAS_GOAL_MIN_N
        and r.get("max_rate_gap_points") is not None
    ]
    worst = max(judged, key=lambda r: r["max_rate_gap_points"], default=None)
    rates = _rate_gaps(rows)
    worst_rate = max(rates, key=lambda g: g["gap_points"], default=None)
    return {
        "groups_judged": len(judged),
        "max_rate_gap_points": None if worst is None else worst["max_rate_gap_points"],
        "worst_group": None if worst is None else worst["group"],
        "worst_group_holdout_gap_points": None
        if worst is None
        else worst.get("holdout_max_rate_gap_points"),
        "within_2_points": all(r["max_rate_gap_points"] <= BIAS_GOAL_POINTS for r in judged),
        "worst_groups": [
            {
                "group": r["group"],
                "real_n": r["real_n"],
                "gap_points": r["max_rate_gap_points"],
                "holdout_gap_points": r.get("holdout_max_rate_gap_points"),
            }
            for r in sorted(judged, key=lambda r: -r["max_rate_gap_points"])[:3]
        ],
        "rates_judged": len(rates),
        "rates_max_gap_points": None if worst_rate is None else worst_rate["gap_points"],
        "rates_worst": None
        if worst_rate is None
        else f"{worst_rate['group']} {worst_rate['rate']}",
        "rates_within_2_points": all(g["gap_points"] <= BIAS_GOAL_POINTS for g in rates),
        # groups whose twin gap is larger than the hold-out's own (chance) gap
        "over_holdout": sorted(
            r["group"]
            for r in judged
            if r.get("holdout_max_rate_gap_points") is not None
            and r["max_rate_gap_points"] > r["holdout_max_rate_gap_points"]
        ),
    }


def build_quality_report(
    real_con: duckdb.DuckDBPyConnection,
    twin_con: duckdb.DuckDBPyConnection,
    data: RealData,
    twin_wide: pd.DataFrame,
    *,
    seed: int,
) -> dict[str, Any]:
    """Every measure of the report, as a JSON-ready dict."""
    train_wide = data.persons_in(data.train_ids)
    columns = column_fidelity(real_con, twin_con, data)
    twin_mean = float(np.mean([c["twin"] for c in columns]))
    hold_mean = float(np.mean([c["holdout"] for c in columns]))
    effects = effects_report(real_con, twin_con)
    privacy = privacy_report(data, twin_wide, seed)
    pairs = pair_fidelity(train_wide, twin_wide)
    hold_wide = data.persons_in(data.holdout_ids)
    bias = bias_report(train_wide, twin_wide, hold_wide)
    bias_goal = bias_summary(bias)
    return {
        "summary": {
            "column_fidelity": round(1 - twin_mean, 4),
            "column_fidelity_holdout": round(1 - hold_mean, 4),
            "pair_fidelity": None if pairs["score"] is None else round(pairs["score"], 4),
            "effects_within_tolerance": sum(bool(e["within_tolerance"]) for e in effects),
            "effects": len(effects),
            "mia_auc": privacy.get("mia_auc"),
            "exact_copy_share": privacy.get("exact_copy_share"),
            "replicated_unique_share": privacy.get("replicated_unique_share"),
            "inference_risk_max": privacy.get("inference_risk_max"),
            "bias_max_rate_gap_points": bias_goal["max_rate_gap_points"],
        },
        "column_fidelity": columns,
        "pair_fidelity": pairs,
        "effects": effects,
        "timelines": {"real": timeline_checks(real_con), "twin": timeline_checks(twin_con)},
        "rows_per_person": rows_per_person(real_con, twin_con),
        "privacy": privacy,
        "bias": bias,
        "bias_goal": bias_goal,
    }
