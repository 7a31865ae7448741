"""Make the synthetic twin of a node's linked store.

Method (documented in docs/explanation/synthetic-twin.md):

1. read the **secondary** views (``view__secondary__*``: de-identified, opted-out children
   removed), never the vault or ``store__*`` directly;
2. split persons into a training part and a hold-out (the hold-out is never used to fit; the
   quality report measures privacy against it);
3. widen the person table with one count per event table and the per-person flags
   (``tables.FLAG_SQL``), and synthesise it by sequential CART (``cart.py``);
4. for every event table, give each synthetic person as many rows as its synthetic count and
   draw each row by sequential CART conditioned on the person's synthetic row
   (``tables.EventTableSpec`` says how dates, school years and rule-bound blocks stay coherent);
5. derive what is a rule (rates, ages at review, lengths of stay, first and last seen), give
   every person a fresh random 32-hex id, and write a DuckDB file with the same ``store__*``
   tables, ``store__timeline`` and ``view__secondary__*`` views as the store, plus
   ``synth__provenance``.

Invariants: no real person id is written (ids are fresh random draws); every event row belongs
to a synthetic person; no event precedes the month of birth; an end date never precedes its
start; the same store, seed and settings give the same twin.
"""

# SQL here is assembled from this package's own table and column names, never from values.
# ruff: noqa: S608

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from joinedup.errors import ConfigError
from joinedup.store.linked import ASQ_DOMAINS, timeline_sql
from joinedup.store.schema import quote_identifier
from joinedup.store.secondary import secondary_view_name, secondary_views
from joinedup.synth.cart import CartStep, CartSynthesiser
from joinedup.synth.tables import EVENT_TABLES, FLAG_SQL, PERSON_TABLE, EventTableSpec

ENGINE = "joinedup-cart-v1"
TWIN_FILE = "twin.duckdb"
WRITER_MEMORY = "2GB"  # the DuckDB buffer while the twin is written and swept
PROVENANCE_TABLE = "synth__provenance"
EPOCH = pd.Timestamp("1970-01-01")
FLAG_ORDER = ("asq_all_five", "gld", "sen_any", "fsm_any", "pa_year", "ks2_expected")
PERSON_ATTRIBUTES = ("sex", "ethnicity", "ethnicity_source")
CONTEXT = ("birth_idx", "sex", "ethnicity", "is_eal", "imd_decile", *FLAG_ORDER)
ASQ_CUTS = {  # the simulator's own thresholds (docs/reference/simulator.md)
    "communication": 30,
    "gross_motor": 35,
    "fine_motor": 25,
    "problem_solving": 30,
    "personal_social": 30,
}
Progress = Callable[[str, int, int], None]
# the person fields the privacy measures compare (quality.privacy_report) and the replicated-
# uniques rule keys on; event counts (one per event table) are compared too
PRIVACY_NUMERIC = ("birth_idx", "imd_decile", "n_records")
PRIVACY_CATEGORICAL = (
    "sex",
    "ethnicity",
    "first_language",
    "is_eal",
    "lsoa21cd",
    "is_link_conflict",
    *FLAG_ORDER,
    "sources",
)
BIAS_STRATA = ("ethnic_group", "sex")  # the person flags are drawn within these
UNIQUE_REDRAWS = 4  # rounds of redrawing before remaining replicated uniques are dropped


@dataclass(frozen=True, slots=True, kw_only=True)
class TwinSettings:
    seed: int = 0
    holdout: float = 0.2  # share of persons kept out of fitting, for the privacy measures
    min_leaf: int = 10  # fewest real rows in a tree leaf (synthpop's minbucket)
    size: float = 1.0  # synthetic persons as a multiple of the real persons
    # a twin person equal, in every compared field, to a training person who is unique there
    # would disclose that child (synthpop's "replicated uniques"): such rows are drawn again
    drop_replicated_uniques: bool = True
    # stricter: no twin person equal to any training person in every compared field (SDV's
    # NewRowSynthesis = 1), common records included; fresh real children coincide with
    # training ones by chance too, so this makes the twin less like the population
    no_exact_copies: bool = False

    @property
    def removes_copies(self) -> bool:
        return self.drop_replicated_uniques or self.no_exact_copies


@dataclass(slots=True, kw_only=True)
class RealData:
    """The secondary views as frames (categories as text, dates as days since 1970)."""

    schema: dict[str, list[tuple[str, str]]]
    person: pd.DataFrame  # the wide person frame: attributes, counts, flags
    train_ids: np.ndarray
    holdout_ids: np.ndarray
    source_run: str | None
    store_path: Path

    def persons_in(self, ids: np.ndarray) -> pd.DataFrame:
        """The wide person rows of ``ids`` (``train_ids`` or ``holdout_ids``)."""
        return self.person[self.person["person_id"].isin(ids)].reset_index(drop=True)

    def events(self, spec: EventTableSpec) -> pd.DataFrame:
        """One event table's rows, read when needed so only one is held at a time."""
        con = duckdb.connect(str(self.store_path), read_only=True)
        try:
            return _read_events(con, spec, self.schema[spec.name], self.person)
        finally:
            con.close()


@dataclass(slots=True, kw_only=True)
class TwinResult:
    path: Path
    persons: int
    rows: dict[str, int]
    seconds: dict[str, float]
    provenance: dict[str, object]


def _date_days(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    return ((stamps - EPOCH).dt.days).astype("float64")


def _as_text(values: pd.Series) -> pd.Series:
    out = values.astype("object").where(values.notna(), None)
    return out.map(lambda v: None if v is None else str(v)).astype("object")


def birth_start_days(birth_idx: pd.Series) -> pd.Series:
    """Months since 1900-01 -> days since 1970 of the month's first day."""
    idx = birth_idx.astype("Int64")
    years = 1900 + idx // 12
    months = idx % 12 + 1
    text = years.astype("string") + "-" + months.astype("string").str.zfill(2) + "-01"
    return _date_days(text)


ETHNIC_GROUPS = {"W": "White", "M": "Mixed", "A": "Asian", "B": "Black", "C": "Chinese"}
OTHER_ETHNIC_GROUP = "Other/unknown"  # other codes (O, R, N...) and no recorded ethnicity


def ethnic_group(code: pd.Series) -> pd.Series:
    """The broad ethnic group of a DfE ethnicity code (its first letter)."""
    first = code.astype("string").str[0]
    out = first.map(
        lambda c: ETHNIC_GROUPS.get(c, OTHER_ETHNIC_GROUP) if isinstance(c, str) else None
    )
    return out.fillna(OTHER_ETHNIC_GROUP)


def _cohort(birth_idx: pd.Series) -> pd.Series:
    idx = birth_idx.astype("float64")
    year = 1900 + np.floor(idx / 12)
    month = idx % 12 + 1
    return pd.Series(np.where(month >= 9, year, year - 1), index=birth_idx.index)


def read_store(store_path: Path, *, seed: int, holdout: float) -> RealData:
    """The secondary views of ``store_path`` as frames, split into training and hold-out."""
    if not store_path.is_file():
        raise ConfigError(f"no linked store at {store_path}: run `joinedup node refresh` first")
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        views = set(secondary_views())
        present = {
            str(r[0]) for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()
        }
        missing = sorted(v for v in views if v not in present)
        if missing:
            raise ConfigError(
                f"the store has no secondary views ({len(missing)} missing): "
                "run `joinedup node refresh` to build them"
            )
        schema: dict[str, list[tuple[str, str]]] = {}
        for table in [PERSON_TABLE, *(t.name for t in EVENT_TABLES)]:
            view = secondary_view_name(table)
            schema[table] = [
                (str(r[0]), str(r[1]))
                for r in con.execute(f"DESCRIBE {quote_identifier(view)}").fetchall()
            ]
        person = _read_person(con, schema[PERSON_TABLE])
        run = None
        has_runs = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'link__runs'"
        ).fetchone()
        if has_runs and has_runs[0]:
            row = con.execute(
                "SELECT run_id FROM link__runs ORDER BY finished_at DESC LIMIT 1"
            ).fetchone()
            run = None if row is None else str(row[0])
    finally:
        con.close()
    ids = np.sort(person["person_id"].to_numpy().astype(str))
    rng = np.random.default_rng(seed)
    is_holdout = rng.random(len(ids)) < holdout
    return RealData(
        schema=schema,
        person=person,
        store_path=store_path,
        train_ids=ids[~is_holdout],
        holdout_ids=ids[is_holdout],
        source_run=run,
    )


def _read_person(
    con: duckdb.DuckDBPyConnection,
    schema: list[tuple[str, str]],
    view_of: Callable[[str], str] = secondary_view_name,
) -> pd.DataFrame:
    view = quote_identifier(view_of(PERSON_TABLE))
    # one query: each event table and flag aggregated once by person and joined, so DuckDB
    # neither runs a subquery per person nor pandas copies the frame once per flag
    selects = ["p.*", "array_to_string(list_sort(p.sources), '|') AS sources_text"]
    joins = []
    for i, t in enumerate(EVENT_TABLES):
        selects.append(f"coalesce(c{i}.n, 0) AS {t.count_column}")
        joins.append(
            f"LEFT JOIN (SELECT person_id, count(*) AS n FROM {quote_identifier(view_of(t.name))}"
            f" GROUP BY person_id) c{i} ON c{i}.person_id = p.person_id"
        )
    for i, (flag, (expr, table)) in enumerate(FLAG_SQL.items()):
        selects.append(f"f{i}.v AS {flag}")
        joins.append(
            f"LEFT JOIN (SELECT person_id, ({expr})::VARCHAR AS v FROM"
            f" {quote_identifier(view_of(table))} GROUP BY person_id) f{i}"
            f" ON f{i}.person_id = p.person_id"
        )
    frame = con.execute(
        f"SELECT {', '.join(selects)} FROM {view} p {' '.join(joins)} ORDER BY p.person_id"
    ).df()
    out = pd.DataFrame({"person_id": frame["person_id"].astype(str)})
    month = pd.to_datetime(frame["birth_month"] + "-01", errors="coerce")
    out["birth_idx"] = ((month.dt.year - 1900) * 12 + month.dt.month - 1).astype("float64")
    out["cohort"] = _cohort(out["birth_idx"])
    for name, kind in schema:
        if name in {"person_id", "birth_month", "sources", "first_seen", "last_seen"}:
            continue
        out[name] = _column(frame[name], kind)
    out["sources"] = _as_text(frame["sources_text"])
    out["ethnic_group"] = ethnic_group(out["ethnicity"])
    for t in EVENT_TABLES:
        out[t.count_column] = frame[t.count_column].astype("float64")
    for flag in FLAG_ORDER:
        out[flag] = _as_text(frame[flag].str.lower())
    return out


def _column(values: pd.Series, kind: str) -> pd.Series:
    if kind == "DATE" or kind.startswith("TIMESTAMP"):
        return _date_days(values)
    if kind in {"BIGINT", "INTEGER", "DOUBLE", "FLOAT", "HUGEINT", "SMALLINT"}:
        return pd.to_numeric(values).astype("float64")
    if kind == "BOOLEAN":
        return _as_text(values.map(lambda v: None if pd.isna(v) else str(bool(v)).lower()))
    return _as_text(values)


def _read_events(
    con: duckdb.DuckDBPyConnection,
    spec: EventTableSpec,
    schema: list[tuple[str, str]],
    person: pd.DataFrame,
) -> pd.DataFrame:
    view = quote_identifier(secondary_view_name(spec.name))
    # a fixed row order: the same store and seed give the same twin
    raw = con.execute(f"SELECT * FROM {view} ORDER BY ALL").df()
    frame = pd.DataFrame({"person_id": raw["person_id"].astype(str)})
    for name, kind in schema:
        if name == "person_id":
            continue
        frame[name] = _column(raw[name], kind)
    dates = [n for n, k in schema if k == "DATE" and n != spec.anchor]
    for name in dates:
        frame[name] = frame[name] - frame[spec.anchor]  # offsets from the anchor, in days
    if spec.group_id is not None:
        frame[spec.group_id] = (
            frame.groupby("person_id")[spec.group_id].rank(method="dense").astype("float64")
        )
    return _with_context(frame, spec, person)


def _with_context(frame: pd.DataFrame, spec: EventTableSpec, person: pd.DataFrame) -> pd.DataFrame:
    ctx = person[["person_id", "cohort", *CONTEXT, spec.count_column]]
    frame = frame.merge(ctx, on="person_id", how="left")
    frame = frame.sort_values(["person_id", spec.anchor], kind="stable").reset_index(drop=True)
    frame["_rank"] = frame.groupby("person_id").cumcount().astype("float64")
    frame["_age_days"] = frame[spec.anchor] - birth_start_days(frame["birth_idx"])
    return frame


def _has_rows(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: f[column].fillna(0) > 0


def _person_steps() -> list[CartStep]:
    flag_table = {flag: table for flag, (_, table) in FLAG_SQL.items()}
    steps = [
        CartStep(block=("lsoa21cd",)),
        CartStep(block=("imd_decile",), strata="lsoa21cd", predictors=("lsoa21cd",)),
        CartStep(block=("birth_idx", "cohort")),
        # the broad group comes with the code, from the same donor
        *(
            CartStep(block=(a, "ethnic_group") if a == "ethnicity" else (a,))
            for a in PERSON_ATTRIBUTES
        ),
        CartStep(block=("first_language", "is_eal")),
        CartStep(block=("n_records",)),
        CartStep(block=("is_link_conflict",)),
        *(CartStep(block=(t.count_column,)) for t in EVENT_TABLES),
    ]
    # a flag is drawn from the person's attributes, area deprivation and the flags before it
    # only: fewer, meaningful predictors keep the planted effects and add less noise. Donors
    # come from the person's own ethnic group and sex: a tree splits ethnicity codes in sorted
    # order and may not single out a small group, whose rates would then drift towards the
    # district's (the quality report's bias measures are by ethnic group x sex)
    base = ("birth_idx", "sex", "ethnicity", "is_eal", "imd_decile")
    for i, flag in enumerate(FLAG_ORDER):
        count = f"n_{flag_table[flag].removeprefix('store__')}"
        steps.append(
            CartStep(
                block=(flag,),
                when=_has_rows(count),
                strata=BIAS_STRATA,
                categorical=True,
                predictors=(*base, *FLAG_ORDER[:i]),
            )
        )
    steps.append(CartStep(block=("sources",)))
    return steps


def _event_steps(spec: EventTableSpec, columns: list[str]) -> list[CartStep]:
    context = ("birth_idx", "_rank", spec.count_column, "sex", "imd_decile")
    flags = (spec.flag,) if spec.flag else ()
    steps = [
        CartStep(
            block=(spec.anchor, "_age_days", *spec.school),
            strata="cohort",
            predictors=(*context, *flags),
            # no real row of this table in the child's birth cohort: the row is implausible
            # (a school record for a baby) and is dropped
            orphans_from_all=False,
        )
    ]
    if spec.block:
        steps.append(CartStep(block=spec.block, key=spec.block_key, strata=spec.flag))
    if spec.name == "store__enrolment":
        steps.append(CartStep(block=("is_fsm_on_census_day",), strata="fsm_any"))
    taken = {spec.anchor, *spec.school, *spec.block, *spec.derived, "is_fsm_on_census_day"}
    steps.extend(CartStep(block=(c,)) for c in columns if c not in taken)
    return steps


def synthesise_events(
    real: RealData, person: pd.DataFrame, spec: EventTableSpec, settings: TwinSettings, step: int
) -> pd.DataFrame:
    """One event table's synthetic rows for ``person`` (internal encodings, ``_owner`` = the
    person's position)."""
    real_rows = real.events(spec)
    real_rows = real_rows[real_rows["person_id"].isin(real.train_ids)].reset_index(drop=True)
    columns = [n for n, _ in real.schema[spec.name] if n != "person_id"]
    counts = person[spec.count_column].astype(int).to_numpy()
    owner = np.repeat(np.arange(len(person)), counts)
    frame = person.iloc[owner][["cohort", *CONTEXT, spec.count_column]].reset_index(drop=True)
    frame.insert(0, "_owner", owner)
    frame["_rank"] = frame.groupby("_owner").cumcount().astype("float64")
    if len(real_rows) and len(frame):
        cart = CartSynthesiser(min_leaf=settings.min_leaf, seed=settings.seed + step)
        frame = cart.run(real_rows, frame, _event_steps(spec, columns))
    else:
        for c in [*columns, "_age_days"]:
            frame[c] = pd.Series(dtype=real_rows[c].dtype if c in real_rows else "float64")
    frame["_horizon"] = real_rows[spec.anchor].max() if len(real_rows) else np.nan
    return frame


def privacy_keys(frame: pd.DataFrame) -> pd.Series:
    """One hash per person over the compared fields (an event count of NULL is 0)."""
    counts = [t.count_column for t in EVENT_TABLES]
    parts: dict[str, pd.Series] = {c: frame[c].astype("float64") for c in PRIVACY_NUMERIC}
    parts.update({c: frame[c].astype("float64").fillna(0.0) for c in counts})
    parts.update({c: frame[c].astype("string").fillna("<NULL>") for c in PRIVACY_CATEGORICAL})
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False)


def unique_keys(train: pd.DataFrame) -> set[int]:
    """The privacy keys that exactly one training person has."""
    counts = privacy_keys(train).value_counts()
    return set(counts.index[counts.to_numpy() == 1])


def replicated_uniques(
    synthetic: pd.DataFrame, train: pd.DataFrame, unique: set[int] | None = None
) -> np.ndarray:
    """Mask of synthetic persons equal to a training person no other training person equals
    (``unique``: ``unique_keys(train)``, when already computed)."""
    keys = unique_keys(train) if unique is None else unique
    return privacy_keys(synthetic).isin(keys).to_numpy()


def removed_keys(train: pd.DataFrame, settings: TwinSettings) -> set[int]:
    """The privacy keys a twin person may not have: every training person's with
    ``no_exact_copies``, the unique ones' with ``drop_replicated_uniques``, else none."""
    if settings.no_exact_copies:
        return set(privacy_keys(train))
    return unique_keys(train) if settings.drop_replicated_uniques else set()


def _synthesise_persons(
    train: pd.DataFrame, n_synth: int, settings: TwinSettings
) -> tuple[pd.DataFrame, int]:
    """``n_synth`` synthetic persons and how many replicated uniques were drawn again.

    Persons are drawn with a margin; replicated uniques are set aside and the first ``n_synth``
    of the rest kept, so the twin's size does not change. A short fall is drawn again (fresh
    seed) up to ``UNIQUE_REDRAWS`` times; after that the twin is smaller, never disclosive."""
    kept: list[pd.DataFrame] = []
    have = 0
    removed = 0
    removed_set = removed_keys(train, settings)
    # the margin drawn beyond the size: replicated uniques are under 1% of draws, exact copies
    # of any training person about 8% on a district (docs/explanation/synthetic-twin.md)
    margin = 8 if settings.no_exact_copies else 20
    for attempt in range(UNIQUE_REDRAWS + 1):
        need = n_synth - have
        if need <= 0:
            break
        draw = need if not settings.removes_copies else need + max(10, need // margin)
        cart = CartSynthesiser(min_leaf=settings.min_leaf, seed=settings.seed + 7919 * attempt)
        batch = cart.run(train, pd.DataFrame(index=pd.RangeIndex(draw)), _person_steps())
        for t in EVENT_TABLES:  # a NULL count is a person without rows
            batch[t.count_column] = batch[t.count_column].fillna(0).astype("float64")
        if settings.removes_copies:
            copies = replicated_uniques(batch, train, removed_set)
            removed += int(copies.sum())
            batch = batch[~copies]
        batch = batch.iloc[:need]
        kept.append(batch)
        have += len(batch)
    person = pd.concat(kept, ignore_index=True)
    return person, removed


def _fresh_ids(n: int, rng: np.random.Generator) -> list[str]:
    raw = rng.integers(0, 2**32, size=(n, 4), dtype=np.uint64)
    return ["".join(f"{int(w):08x}" for w in row) for row in raw]


def _finish_events(
    spec: EventTableSpec,
    frame: pd.DataFrame,
    person: pd.DataFrame,
    rng: np.random.Generator,
    schema: list[tuple[str, str]],
) -> pd.DataFrame:
    """Apply the rules: anchor not before birth, dates from offsets, derived columns, ids."""
    out = frame[frame[spec.anchor].notna()].copy()
    birth = birth_start_days(person["birth_idx"]).to_numpy()[out["_owner"].to_numpy()]
    anchor = out[spec.anchor].to_numpy(dtype="float64")
    age = out["_age_days"].fillna(0).clip(lower=0).to_numpy(dtype="float64")
    early = anchor < birth
    anchor = np.where(early | spec.by_age, birth + age, anchor)
    out[spec.anchor] = anchor
    if spec.by_age:  # an age-timed event past the data's last date has not happened yet
        out = out[out[spec.anchor] <= out["_horizon"]]
        birth = birth_start_days(person["birth_idx"]).to_numpy()[out["_owner"].to_numpy()]
    for name, kind in schema:
        if kind == "DATE" and name != spec.anchor:
            out[name] = out[spec.anchor] + out[name]
    if spec.name == "store__attendance":
        absent = out["authorised_absence"] + out["unauthorised_absence"]
        rate = absent / out["sessions_possible"].where(out["sessions_possible"] > 0)
        out["absence_rate"] = rate
        out["is_persistent_absence"] = _as_text(
            (rate >= 0.1).where(rate.notna()).map(lambda v: None if pd.isna(v) else str(v).lower())
        )
    if spec.name == "store__development_check":
        for d in ASQ_DOMAINS:
            score = out[f"asq_{d}"]
            cut = ASQ_CUTS[d]
            zone = np.where(score < cut, "below", np.where(score < cut + 5, "monitoring", "above"))
            out[f"zone_{d}"] = pd.Series(zone, index=out.index, dtype="object").where(
                score.notna(), None
            )
    if spec.name == "store__ncmp":
        height_m = out["height_cm"] / 100.0
        out["bmi"] = (out["weight_kg"] / (height_m * height_m)).round(2)
    if spec.group_id is not None:
        keys = out["_owner"].astype(str) + ":" + out[spec.group_id].astype(str)
        unique = pd.unique(keys)
        fresh = dict(zip(unique, _fresh_ids(len(unique), rng), strict=True))
        out[spec.group_id] = keys.map(fresh)
    out["person_id"] = person["person_id"].to_numpy()[out["_owner"].to_numpy()]
    out = out.sort_values(["person_id", spec.anchor], kind="stable")
    return out[[n for n, _ in schema]].reset_index(drop=True)


def _finish_person(person: pd.DataFrame, schema: list[tuple[str, str]]) -> pd.DataFrame:
    out = person.copy()
    idx = out["birth_idx"].astype("Int64")
    out["birth_month"] = (
        (1900 + idx // 12).astype("string") + "-" + (idx % 12 + 1).astype("string").str.zfill(2)
    )
    out["first_seen"] = np.nan
    out["last_seen"] = np.nan
    return out[[n for n, _ in schema]]


def _to_sql_value(kind: str, column: str) -> str:
    q = quote_identifier(column)
    if kind == "DATE":
        return f"CAST(DATE '1970-01-01' + CAST({q} AS INTEGER) AS DATE) AS {q}"
    if kind == "VARCHAR[]":
        return f"CASE WHEN {q} IS NULL THEN NULL ELSE string_split({q}, '|') END AS {q}"
    if kind == "BOOLEAN":
        return f"CAST({q} AS BOOLEAN) AS {q}"
    if kind in {"BIGINT", "INTEGER", "SMALLINT", "HUGEINT"}:
        return f"CAST(round({q}) AS {kind}) AS {q}"
    return f"CAST({q} AS {kind}) AS {q}"


class TwinWriter:
    """Writes the twin as a DuckDB file shaped like the store (tables, timeline, views), one
    table at a time, into a temporary file that replaces ``path`` only when ``finish`` ran."""

    def __init__(self, path: Path, schema: dict[str, list[tuple[str, str]]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = schema
        self.tmp = path.with_suffix(".tmp.duckdb")
        self.tmp.unlink(missing_ok=True)
        # a bounded buffer: DuckDB spills to disk rather than hold every table in memory
        self.con = duckdb.connect(str(self.tmp), config={"memory_limit": WRITER_MEMORY})
        self.finished = False

    def __enter__(self) -> TwinWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()
        if self.finished:
            self.tmp.replace(self.path)
        else:  # a failed twin leaves no half-written file behind
            self.tmp.unlink(missing_ok=True)

    def add(self, table: str, frame: pd.DataFrame) -> None:
        cols = self.schema[table]
        # NULL-only object columns need a type DuckDB can cast from
        staged = pd.DataFrame(index=frame.index)
        for name, kind in cols:
            if kind in {"DATE", "BIGINT", "INTEGER", "DOUBLE", "SMALLINT", "HUGEINT"}:
                staged[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
            else:
                staged[name] = frame[name].astype("string")
        self.con.register("staged", staged)
        select = ", ".join(_to_sql_value(kind, name) for name, kind in cols)
        self.con.execute(f"CREATE TABLE {quote_identifier(table)} AS SELECT {select} FROM staged")
        self.con.unregister("staged")

    def drop_replicated_uniques(self, train: pd.DataFrame, keys: set[int] | None = None) -> int:
        """Remove persons (and their rows) whose finished record, with counts and flags as the
        written tables give them, copies a person unique in ``train`` (or has one of ``keys``:
        ``removed_keys``); how many were removed.

        The person step already redraws such rows, but a flag or count read back from the
        synthetic event rows can differ from the drawn one, so the written twin is swept."""
        con = self.con
        # the twin's secondary views are its tables as they are: read the tables directly
        wide = _read_person(con, self.schema[PERSON_TABLE], view_of=lambda table: table)
        copies = wide.loc[replicated_uniques(wide, train, keys), "person_id"].astype(str)
        if len(copies):
            con.register("swept", pd.DataFrame({"person_id": copies.to_numpy()}))
            for table in [*self._tables(), PERSON_TABLE]:
                con.execute(
                    f"DELETE FROM {quote_identifier(table)} "
                    "WHERE person_id IN (SELECT person_id FROM swept)"
                )
            con.unregister("swept")
        return len(copies)

    def _tables(self) -> list[str]:
        return [t.name for t in EVENT_TABLES]

    def rows(self) -> dict[str, int]:
        out = {}
        for table in [PERSON_TABLE, *self._tables()]:
            got = self.con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()
            out[table] = int(got[0]) if got else 0
        return out

    def finish(self, provenance: dict[str, object]) -> None:
        con = self.con
        con.execute(f"CREATE VIEW store__timeline AS {timeline_sql()}")
        # first and last seen are the timeline's, as in the store
        con.execute(
            "UPDATE store__person p SET first_seen = t.first_seen, last_seen = t.last_seen "
            "FROM (SELECT person_id, min(event_date) AS first_seen, max(event_date) AS last_seen "
            "FROM store__timeline GROUP BY person_id) t WHERE t.person_id = p.person_id"
        )
        for view, source in secondary_views().items():
            con.execute(
                f"CREATE VIEW {quote_identifier(view)} AS SELECT * FROM {quote_identifier(source)}"
            )
        con.execute(
            f"CREATE TABLE {PROVENANCE_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
        )
        con.executemany(
            f"INSERT INTO {PROVENANCE_TABLE} VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in provenance.items()],
        )
        self.finished = True


def make_twin(
    store_path: Path,
    out_dir: Path,
    settings: TwinSettings | None = None,
    progress: Progress | None = None,
) -> TwinResult:
    """Synthesise the twin of ``store_path`` into ``out_dir/twin.duckdb``."""
    settings = settings or TwinSettings()
    started = datetime.now(UTC)
    seconds: dict[str, float] = {}
    total = 1 + len(EVENT_TABLES)
    tick = time.perf_counter()
    real = read_store(store_path, seed=settings.seed, holdout=settings.holdout)
    seconds["read"] = time.perf_counter() - tick
    if progress:
        progress("persons", 0, total)
    tick = time.perf_counter()
    train = real.persons_in(real.train_ids)
    n_synth = max(1, round(len(real.person) * settings.size))
    person, redrawn = _synthesise_persons(train, n_synth, settings)
    seconds["persons"] = time.perf_counter() - tick
    rng = np.random.default_rng(settings.seed + 10_000)
    person["person_id"] = _fresh_ids(len(person), rng)
    path = out_dir / TWIN_FILE
    write_s = 0.0
    # each event table is synthesised, finished and written in turn: one is held at a time
    with TwinWriter(path, real.schema) as writer:
        tick = time.perf_counter()
        finished_person = _finish_person(person, real.schema[PERSON_TABLE])
        writer.add(PERSON_TABLE, finished_person)
        del finished_person
        write_s += time.perf_counter() - tick
        for i, spec in enumerate(EVENT_TABLES, start=1):
            if progress:
                progress(spec.short, i, total)
            tick = time.perf_counter()
            frame = synthesise_events(real, person, spec, settings, i)
            seconds[spec.short] = time.perf_counter() - tick
            tick = time.perf_counter()
            finished = _finish_events(spec, frame, person, rng, real.schema[spec.name])
            del frame
            writer.add(spec.name, finished)
            del finished
            write_s += time.perf_counter() - tick
        swept = 0
        if settings.removes_copies:
            tick = time.perf_counter()
            swept = writer.drop_replicated_uniques(train, removed_keys(train, settings))
            seconds["sweep"] = time.perf_counter() - tick
        rows = writer.rows()
        if progress:
            progress("done", total, total)
        provenance: dict[str, object] = {
            "label": "SYNTHETIC: invented records, no real child",
            "engine": ENGINE,
            "method": "sequential CART (scikit-learn decision trees, leaf donors), per-person "
            "event rows conditioned on the synthetic person",
            "tier": "T2",
            "seed": settings.seed,
            "holdout": settings.holdout,
            "min_leaf": settings.min_leaf,
            "size": settings.size,
            "drop_replicated_uniques": settings.drop_replicated_uniques,
            "no_exact_copies": settings.no_exact_copies,
            "replicated_uniques_redrawn": redrawn,
            "replicated_uniques_swept": swept,
            "source_run": real.source_run,
            "real_persons": len(real.person),
            "training_persons": len(real.train_ids),
            "created_at": started.isoformat(timespec="seconds"),
            "as_of": date.today().isoformat(),
        }
        tick = time.perf_counter()
        writer.finish(provenance)
        write_s += time.perf_counter() - tick
    seconds["write"] = write_s
    return TwinResult(
        path=path,
        persons=rows[PERSON_TABLE],
        rows=rows,
        seconds=seconds,
        provenance=provenance,
    )
