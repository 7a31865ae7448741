"""Link any files: one file de-duplicated, or two files linked, on standard column names.

``link_files(spec)`` reads CSV or Parquet files whose columns use the standard names of
``joinedup.link.settings.STANDARD_COLUMNS`` (any subset; ``column_map`` renames others, and
``compare`` adds non-standard columns to the model), standardises them, trains a Splink 5 model
built by ``joinedup.link.settings``, scores candidate pairs and clusters them. It writes to
``spec.out``:

- ``clusters.csv``: record_id, source, cluster_id (every input record, one row each);
- ``pairs.csv``: record_id_l, source_l, record_id_r, source_r, match_probability, match_weight
  for pairs at or above ``pair_threshold``;
- ``report.json``: counts, columns, blocking rules with their pair counts, training, timings and
  label-free quality estimates (no row values);
- ``model.json``: the trained Splink model;
- ``scored_pairs.parquet`` (only with ``write_scored_pairs``): every scored candidate pair.

``spec.engine`` says where Splink runs: DuckDB (in this process, the default) or Spark
(``joinedup.link.engine``): reading, standardising and blocking-rule counts stay in DuckDB, the
standardised inputs go to Spark through Arrow, and the scored pairs and clusters come back to
DuckDB the same way for the outputs, which are the same files on both engines.

Invariants: errors and the report name files, columns and counts, never values; the input
files are never modified; a record id is unique within its file; the outputs are written only
after linkage succeeded.
"""

# SQL in this module is assembled from column names that were validated against the standard
# names or a strict identifier pattern, and from this package's own constants; values are
# never formatted into SQL. Hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from joinedup.errors import LinkageError, UsageError
from joinedup.link.blocking import PairLimits, choose_blocking_rules
from joinedup.link.engine import (
    DUCKDB,
    EngineSpec,
    is_spark_error,
    spark_api,
    spark_failure,
    spark_session,
    to_arrow,
    to_spark,
    with_sql_of,
)
from joinedup.link.settings import (
    COMPARED_STANDARD_COLUMNS,
    DERIVED_COLUMNS,
    STANDARD_COLUMNS,
    BlockingRuleSpec,
    LinkageModelSpec,
    model_spec,
    splink_rule,
)

Progress = Callable[[str, int, int], None]
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
READABLE_SUFFIXES = (".csv", ".parquet", ".pq")
STEPS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLinkSpec:
    """What to link and how. ``files``: one (de-duplicate) or two (link) paths."""

    files: tuple[Path, ...]
    out: Path
    threshold: float = 0.9
    pair_threshold: float = 0.5
    column_map: tuple[tuple[str, str], ...] = ()
    compare: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    within: bool = False
    one_to_one: bool = False
    write_scored_pairs: bool = False
    seed: int = 1
    max_pairs_per_rule: int | None = None  # default: 4 per input record, at least 2M
    max_pairs: int | None = None  # all rules together; default: 20 per record, at least 10M
    engine: EngineSpec = DUCKDB
    model: Path | None = None  # a model.json of an earlier run: reuse it instead of training
    # the whole run's memory, e.g. "3GB": DuckDB gets what the process does not already use,
    # less a share for what DuckDB allocates outside its buffer pool; it spills above that
    memory_limit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEstimates:
    """Label-free estimates from the model's own probabilities (optimistic, see docs)."""

    accepted_pairs: int
    estimated_precision: float | None
    estimated_recall_within_blocking: float | None
    expected_matches_within_blocking: float
    expected_matches_from_lambda: float
    # the same two estimates for the links the clusters made (scored pairs in one cluster)
    estimated_cluster_precision: float | None = None
    estimated_cluster_recall_within_blocking: float | None = None
    # link_only --one-to-one: expected true matches when each record matches at most one record
    # of the other file (``one_to_one_expected_matches``), and cluster recall against that
    expected_matches_one_to_one: float | None = None
    estimated_cluster_recall_one_to_one: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLinkResult:
    out: Path
    link_type: str
    records: dict[str, int]
    columns_compared: tuple[str, ...]
    blocking_rules: tuple[dict[str, Any], ...]
    scored_pairs: int
    pairs_written: int
    clusters: int
    records_in_multi_record_clusters: int
    largest_cluster: int
    estimates: QualityEstimates
    seconds: dict[str, float] = field(default_factory=dict)
    unreadable_values: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class _Input:
    source: str
    table: str
    records: int
    standard: tuple[str, ...]
    other: tuple[str, ...]
    unreadable: dict[str, int]


# ---------------------------------------------------------------------------------------------
# Reading and standardising


def _read_raw(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in READABLE_SUFFIXES:
        raise UsageError(f"{path.name}: only CSV (.csv) and Parquet (.parquet) files can be linked")
    try:
        if suffix == ".csv":
            return con.read_csv(str(path), all_varchar=True, header=True)
        return con.read_parquet(str(path))
    except duckdb.Error as exc:
        raise LinkageError(
            f"{path.name}: could not be read as {suffix[1:]} ({type(exc).__name__})"
        ) from None


def resolve_columns(
    file_name: str,
    columns: Sequence[str],
    column_map: Sequence[tuple[str, str]],
    compare: Sequence[str],
    ignore: Sequence[str],
) -> dict[str, str]:
    """Map a file's column names to the names linkage uses: {their column: our column}.

    Raises UsageError naming every unknown, missing or clashing column (names only).
    """
    lowered = {c.strip().lower(): c for c in columns}
    mapping = {their.strip().lower(): ours.strip().lower() for their, ours in column_map}
    problems: list[str] = []
    for their, ours in mapping.items():
        if ours not in STANDARD_COLUMNS:
            problems.append(
                f"--map {their}={ours}: '{ours}' is not a standard column"
                f" (standard: {', '.join(STANDARD_COLUMNS)})"
            )
    compare_l = [c.strip().lower() for c in compare]
    ignore_l = {c.strip().lower() for c in ignore}
    for c in compare_l:
        if not IDENTIFIER.match(c):
            problems.append(f"--compare {c}: use letters, digits and underscores only")
        if c in STANDARD_COLUMNS or c in DERIVED_COLUMNS:
            problems.append(f"--compare {c}: standard columns are compared already")
    result: dict[str, str] = {}
    unknown: list[str] = []
    for low, original in lowered.items():
        if low in ignore_l:
            continue
        target = mapping.get(low, low)
        if target in STANDARD_COLUMNS or target in compare_l:
            if target in result.values():
                problems.append(f"two columns would both be '{target}'")
            result[original] = target
        else:
            unknown.append(original)
    if unknown:
        problems.append(
            f"unknown columns: {', '.join(sorted(unknown))}. Rename them to a standard column"
            " with --map THEIR_COLUMN=STANDARD_COLUMN, compare them as they are with"
            " --compare COLUMN, or leave them out with --ignore COLUMN"
        )
    if not set(result.values()) & {
        "given_name",
        "family_name",
        "date_of_birth",
        "nhs_number",
        "upn",
    }:
        problems.append(
            "no identifying column: at least one of given_name, family_name, date_of_birth,"
            " nhs_number or upn is needed"
        )
    if problems:
        raise UsageError(f"{file_name}: " + "; ".join(problems))
    return result


def _check_options_name_real_columns(con: duckdb.DuckDBPyConnection, spec: FileLinkSpec) -> None:
    """Every --map and --compare column must be in at least one of the files."""
    seen: set[str] = set()
    for path in spec.files:
        seen |= {c.strip().lower() for c in _read_raw(con, path).columns}
    named = [t.strip().lower() for t, _ in spec.column_map]
    named += [c.strip().lower() for c in spec.compare]
    absent = sorted(set(named) - seen)
    if absent:
        raise UsageError(f"--map or --compare names columns no file has: {', '.join(absent)}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def standardise_sql(column: str, raw: str) -> str:
    """The SQL expression that standardises one column (``raw`` is a quoted VARCHAR input).

    Kept deliberately small: ``joinedup.link.standardise`` holds the richer standardisation
    (name variants, phonetic codes) the person index uses.
    """
    t = f"nullif(trim({raw}), '')"
    if column in ("given_name", "family_name"):
        # fold accents, drop apostrophes, every other non-letter run becomes one space
        return (
            "nullif(trim(regexp_replace(regexp_replace(lower(strip_accents("
            f"{t})), '[''’`]', '', 'g'), '[^a-z]+', ' ', 'g')), '')"
        )
    if column == "date_of_birth":
        formats = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%Y/%m/%d", "%d-%m-%Y", "%d.%m.%Y")
        attempts = ", ".join(
            f"try_strptime({'left(' + t + ', 10)' if f == '%Y-%m-%d' else t}, '{f}')"
            for f in formats
        )
        return f"strftime(coalesce({attempts}), '%Y-%m-%d')"
    if column == "sex":
        return (
            f"CASE WHEN lower({t}) IN ('m', 'male', 'man', 'boy', '1') THEN 'M'"
            f" WHEN lower({t}) IN ('f', 'female', 'woman', 'girl', '2') THEN 'F' END"
        )
    if column == "postcode":
        p = f"upper(regexp_replace({t}, '[^A-Za-z0-9]', '', 'g'))"
        return (
            f"CASE WHEN regexp_full_match({p}, '[A-Z]{{1,2}}[0-9][A-Z0-9]?[0-9][A-Z]{{2}}')"
            f" THEN left({p}, length({p}) - 3) || ' ' || right({p}, 3) ELSE nullif({p}, '') END"
        )
    if column == "nhs_number":
        d = f"regexp_replace({t}, '[^0-9]', '', 'g')"
        return f"CASE WHEN length({d}) = 10 THEN {d} END"
    if column == "upn":
        u = f"upper(regexp_replace({t}, '[^A-Za-z0-9]', '', 'g'))"
        return f"CASE WHEN length({u}) = 13 THEN {u} END"
    if column == "record_id":
        return t
    return f"lower({t})"


def _load(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: str,
    table: str,
    spec: FileLinkSpec,
) -> _Input:
    rel = _read_raw(con, path)
    mapping = resolve_columns(path.name, rel.columns, spec.column_map, spec.compare, spec.ignore)
    targets = set(mapping.values())
    selects = []
    for original, target in mapping.items():
        raw = f"CAST({_quote(original)} AS VARCHAR)"
        selects.append(f"{raw} AS {_quote('raw__' + target)}")
    con.register("jd_raw_view", rel)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE jd_raw AS SELECT row_number() OVER () AS jd_row, "
        f"{', '.join(selects)} FROM jd_raw_view"
    )
    con.unregister("jd_raw_view")
    cols = [
        "CAST("
        + (standardise_sql("record_id", '"raw__record_id"') if "record_id" in targets else "jd_row")
        + " AS VARCHAR) AS record_id"
    ]
    standard = tuple(c for c in COMPARED_STANDARD_COLUMNS if c in targets)
    other = tuple(c for c in (x.strip().lower() for x in spec.compare) if c in targets)
    for c in (*standard, *other):
        cols.append(f"{standardise_sql(c, _quote('raw__' + c))} AS {_quote(c)}")
    derived = []  # from the standardised values, in an outer query
    if "postcode" in targets:
        uk = "regexp_full_match(postcode, '[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}')"
        derived.append(
            f"CASE WHEN {uk} THEN left(postcode, length(postcode) - 2) END AS postcode_sector"
        )
        derived.append(f"CASE WHEN {uk} THEN split_part(postcode, ' ', 1) END AS postcode_district")
    if "date_of_birth" in targets:
        derived.append("CAST(date_of_birth AS DATE) - DATE '1970-01-01' AS date_of_birth_days")
        derived.append(
            "substr(date_of_birth, 1, 5) || substr(date_of_birth, 9, 2) || '-'"
            " || substr(date_of_birth, 6, 2) AS date_of_birth_swapped"
        )
    con.execute(
        f"CREATE TABLE {table} AS SELECT {', '.join(['*', *derived])}"
        f" FROM (SELECT {', '.join(cols)} FROM jd_raw)"
    )
    counts = con.execute(
        f"SELECT count(*), count(DISTINCT record_id), count(*) FILTER (WHERE record_id IS NULL)"
        f" FROM {table}"
    ).fetchone()
    assert counts is not None
    records, distinct, null_ids = int(counts[0]), int(counts[1]), int(counts[2])
    if null_ids:
        raise LinkageError(f"{path.name}: {null_ids} rows have an empty record_id")
    if distinct != records:
        raise LinkageError(
            f"{path.name}: record_id is not unique ({records - distinct} repeated ids);"
            " give each row its own id, or leave record_id out to number rows"
        )
    unreadable: dict[str, int] = {}
    for c in standard:
        row = con.execute(
            f"SELECT count(*) FROM jd_raw r JOIN {table} t ON t.record_id = CAST("
            + (
                standardise_sql("record_id", "r.raw__record_id")
                if "record_id" in targets
                else "r.jd_row"
            )
            + f" AS VARCHAR) WHERE nullif(trim(r.{_quote('raw__' + c)}), '') IS NOT NULL"
            f" AND t.{_quote(c)} IS NULL"
        ).fetchone()
        assert row is not None
        if row[0]:
            unreadable[c] = int(row[0])
    con.execute("DROP TABLE jd_raw")
    return _Input(
        source=source,
        table=table,
        records=records,
        standard=standard,
        other=other,
        unreadable=unreadable,
    )


# ---------------------------------------------------------------------------------------------
# The pipeline


MEMORY_LIMIT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
_UNIT_BYTES = {
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
# of the memory left after what the process already holds, the share DuckDB's buffer pool may
# take: hash tables, Arrow buffers and Splink's own work sit outside the pool (on the 1M x 1M
# children benchmark about 0.45 GiB above a 2.4 GB pool)
DUCKDB_POOL_SHARE = 0.8
_MIB = 1024**2


def parse_memory_size(text: str) -> int:
    """Bytes in a size written as ``3GB``, ``2.5GiB`` or ``800MB`` (GB = 10^9, GiB = 2^30)."""
    found = MEMORY_LIMIT.match(text.strip())
    if found is None:
        raise UsageError(f"--memory-limit {text}: write it as a size such as 3GB, 2.5GiB or 800MB")
    return int(float(found.group(1)) * _UNIT_BYTES[found.group(2)])


def _resident_bytes() -> int:
    """The process's resident memory now (Linux ``/proc``; 0 where it cannot be read)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def duckdb_pool_limit(total: int, resident: int) -> int:
    """DuckDB's memory_limit (bytes) for a run that may use ``total`` bytes in all."""
    pool = int((total - resident) * DUCKDB_POOL_SHARE)
    if pool < 256 * _MIB:
        raise UsageError(
            f"--memory-limit {total / _MIB:,.0f} MiB leaves DuckDB under 256 MiB once this"
            f" process's own {resident / _MIB:,.0f} MiB is counted; give at least 1GB"
        )
    return pool


def link_files(spec: FileLinkSpec, progress: Progress | None = None) -> FileLinkResult:
    """Link or de-duplicate the files of ``spec``; write the outputs; return the summary.

    With ``memory_limit`` the run keeps to that much memory in all: DuckDB's pool gets
    ``DUCKDB_POOL_SHARE`` of what the process does not already hold, and spills what does not
    fit to a temporary folder that is removed afterwards (Splink's own tables included: they
    live in the same connection).
    """
    if spec.memory_limit is None:
        return _link_files(spec, progress, duckdb.connect())
    pool = duckdb_pool_limit(parse_memory_size(spec.memory_limit), _resident_bytes())
    spill = Path(tempfile.mkdtemp(prefix="joinedup-spill-"))
    try:
        con = duckdb.connect(
            config={"memory_limit": f"{pool // _MIB}MiB", "temp_directory": str(spill)}
        )
        return _link_files(spec, progress, con)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _link_files(
    spec: FileLinkSpec, progress: Progress | None, con: duckdb.DuckDBPyConnection
) -> FileLinkResult:
    from splink import DuckDBAPI, Linker

    if not 1 <= len(spec.files) <= 2:
        raise UsageError("give one file (to de-duplicate) or two files (to link)")
    if not 0 < spec.threshold < 1 or not 0 < spec.pair_threshold < 1:
        raise UsageError("--threshold and the pair threshold must be between 0 and 1")
    if spec.one_to_one and (len(spec.files) != 2 or spec.within):
        raise UsageError(
            "--one-to-one links two files that each hold one record per person; it cannot be"
            " used with one file or with --within"
        )
    report = progress or (lambda _d, _n, _t: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 2)
        clock = now

    logging.getLogger("splink").setLevel(logging.ERROR)
    report("reading and standardising", 0, STEPS)
    _check_options_name_real_columns(con, spec)
    stems = [p.stem for p in spec.files]
    sources = stems if len(set(stems)) == len(stems) else ["left", "right"][: len(stems)]
    inputs = [
        _load(con, path, source, f"jd_input_{i}", spec)
        for i, (path, source) in enumerate(zip(spec.files, sources, strict=True))
    ]
    standard = tuple(c for c in COMPARED_STANDARD_COLUMNS if all(c in i.standard for i in inputs))
    other = tuple(c for c in inputs[0].other if all(c in i.other for i in inputs))
    if not set(standard) & {"given_name", "family_name", "date_of_birth", "nhs_number", "upn"}:
        raise UsageError(
            "the files share no identifying column (given_name, family_name, date_of_birth,"
            " nhs_number or upn)"
        )
    keep = ["record_id", *standard, *other]
    if "postcode" in standard:
        keep += ["postcode_sector", "postcode_district"]
    if "date_of_birth" in standard:
        keep += ["date_of_birth_days", "date_of_birth_swapped"]
    for i in inputs:
        con.execute(
            f"CREATE TABLE {i.table}_model AS SELECT {', '.join(_quote(c) for c in keep)}"
            f" FROM {i.table}"
        )
    link_type = (
        "dedupe_only" if len(inputs) == 1 else ("link_and_dedupe" if spec.within else "link_only")
    )
    model = model_spec(standard, other)
    lap("read")

    report("choosing blocking rules", 1, STEPS)
    total = sum(i.records for i in inputs)
    limits = PairLimits.for_records(total, per_rule=spec.max_pairs_per_rule, total=spec.max_pairs)
    tables = [f"{i.table}_model" for i in inputs]
    blocking = choose_blocking_rules(
        con, tables, model.blocking_rules, link_type, columns=standard, limits=limits
    )
    chosen = list(blocking.rules)
    rule_report = list(blocking.report)
    if not any(r.sql is None for r in chosen):
        raise LinkageError(
            "every blocking rule would compare too many pairs, even tightened; add more"
            " identifying columns or raise --max-pairs"
        )
    lap("blocking")

    settings = model.splink_settings(link_type=link_type, blocking_rules=chosen)
    trained = None if spec.model is None else read_trained_model(spec.model)
    if spec.engine.is_spark:
        try:
            linker, predictions_table, clusters_table, training = _link_on_spark(
                con, spec, model, trained, tables, inputs, link_type, chosen, report, lap
            )
        except LinkageError:
            raise
        except Exception as exc:
            if is_spark_error(exc):
                raise spark_failure(exc, "linking the files") from None
            raise
        # the model is saved in DuckDB's SQL, as trained on DuckDB: one model for both engines
        saved_model = with_sql_of(linker.misc.save_model_to_json(None), settings)
    else:
        db_api = DuckDBAPI(connection=con)
        sdfs = [
            db_api.register(t, dataset_display_name=i.source)
            for t, i in zip(tables, inputs, strict=True)
        ]
        linker = Linker(
            sdfs if len(sdfs) > 1 else sdfs[0],
            settings if trained is None else _with_parameters(trained, settings, link_type),
            log_level=None,
        )
        training = _fit(linker, model, spec, trained, report, records=total)
        lap("training")

        report("scoring candidate pairs", 5, STEPS)
        predictions = linker.inference.predict(warning_mode="never")
        lap("predict")
        report("clustering", 6, STEPS)
        clusters = _cluster(linker, predictions, spec, sources)
        lap("cluster")
        predictions_table, clusters_table = predictions.physical_name, clusters.physical_name
        saved_model = None

    report("writing outputs", 7, STEPS)
    result = _write_outputs(
        con,
        spec,
        link_type=link_type,
        inputs=inputs,
        sources=sources,
        predictions=predictions_table,
        clusters=clusters_table,
        lam=float(linker._settings_obj._probability_two_random_records_match),
        rule_report=rule_report,
        columns=(*standard, *other),
        seconds=seconds,
    )
    if saved_model is None:
        linker.misc.save_model_to_json(str(spec.out / "model.json"), overwrite=True)
    else:
        (spec.out / "model.json").write_text(json.dumps(saved_model, indent=4))
    lap("write")
    full = {
        **result.as_dict(),
        "seconds": seconds,
        "training": training,
        "settings": {
            "threshold": spec.threshold,
            "pair_threshold": spec.pair_threshold,
            "one_to_one": spec.one_to_one,
            "max_pairs_per_rule": limits.per_rule,
            "max_pairs": limits.total,
            "memory_limit": spec.memory_limit,
            "duckdb_memory_limit": con.execute("SELECT current_setting('memory_limit')").fetchone()[
                0
            ],  # type: ignore[index]
            "seed": spec.seed,
        },
        "versions": _versions(),
        "engine": _engine_report(spec.engine),
    }
    (spec.out / "report.json").write_text(json.dumps(full, indent=2) + "\n")
    report("done", STEPS, STEPS)
    con.close()
    return FileLinkResult(
        **{**{f: getattr(result, f) for f in result.__slots__}, "seconds": seconds}
    )


def _link_on_spark(
    con: duckdb.DuckDBPyConnection,
    spec: FileLinkSpec,
    model: LinkageModelSpec,
    trained: dict[str, Any] | None,
    tables: Sequence[str],
    inputs: Sequence[_Input],
    link_type: str,
    chosen: Sequence[BlockingRuleSpec],
    report: Progress,
    lap: Callable[[str], None],
) -> tuple[Any, str, str, dict[str, Any]]:
    """Train, predict and cluster with Splink on Spark; the standardised inputs go there and
    the scored pairs and clusters come back to ``con`` (as ``jd_spark_predictions`` and
    ``jd_spark_clusters``) through Arrow. Returns the linker, those two tables' names and the
    training summary."""
    from splink import Linker

    session = spark_session(spec.engine)
    db_api = spark_api(session)
    run = uuid.uuid4().hex[:8]
    sdfs = [
        db_api.register(
            to_spark(session, con.table(t).to_arrow_table()),
            dataset_display_name=i.source,
            table_name=f"jd_{run}_{n}",
        )
        for n, (t, i) in enumerate(zip(tables, inputs, strict=True))
    ]
    settings = model.splink_settings(link_type=link_type, blocking_rules=chosen, dialect="spark")
    if trained is not None:
        settings = _with_parameters(trained, settings, link_type)
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings, log_level=None)
    training = _fit(linker, model, spec, trained, report, records=sum(i.records for i in inputs))
    lap("training")

    report("scoring candidate pairs", 5, STEPS)
    predictions = linker.inference.predict(warning_mode="never")
    lap("predict")
    report("clustering", 6, STEPS)
    clusters = _cluster(linker, predictions, spec, [i.source for i in inputs])
    lap("cluster")
    for name, frame in (
        ("jd_spark_predictions", predictions.as_spark_dataframe()),
        ("jd_spark_clusters", clusters.as_spark_dataframe()),
    ):
        con.register(f"{name}_arrow", to_arrow(frame))
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
    return linker, "jd_spark_predictions", "jd_spark_clusters", training


def read_trained_model(path: Path) -> dict[str, Any]:
    """A model.json written by an earlier ``link files`` run (UsageError if it is not one)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"--model {path}: not a readable model.json ({type(exc).__name__})"
        ) from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("comparisons"), list):
        raise UsageError(f"--model {path}: not a Splink model written by joinedup link files")
    return loaded


def _with_parameters(
    trained: dict[str, Any], settings: dict[str, Any], link_type: str
) -> dict[str, Any]:
    """This run's settings (SQL in the engine's dialect, blocking rules chosen for these files)
    with the parameters of a model trained before: the same model on this data."""
    try:
        out = with_sql_of(trained, settings)
    except LinkageError as exc:
        raise UsageError(
            f"--model: the model was trained on other columns than these files have ({exc})"
        ) from None
    out["link_type"] = link_type
    out.pop("linker_uid", None)
    return out


def _fit(
    linker: Any,
    model: LinkageModelSpec,
    spec: FileLinkSpec,
    trained: dict[str, Any] | None,
    report: Progress,
    *,
    records: int,
) -> dict[str, Any]:
    """Train the model, or say which trained model is used."""
    if trained is None:
        return _train(linker, model, spec.seed, report, records=records)
    return {
        "trained": False,
        "model": str(spec.model),
        "probability_two_random_records_match": float(
            linker._settings_obj._probability_two_random_records_match
        ),
    }


def _cluster(linker: Any, predictions: Any, spec: FileLinkSpec, sources: Sequence[str]) -> Any:
    """Cluster the scored pairs (on the linker's engine)."""
    if spec.one_to_one:
        # Splink's single best links: a record joins a cluster only if it is mutually the
        # best match, and no cluster holds two records of one file.
        return linker.clustering.cluster_using_single_best_links(
            predictions,
            duplicate_free_datasets=list(sources),
            threshold_match_probability=spec.threshold,
        )
    return linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=spec.threshold
    )


def _engine_report(engine: EngineSpec) -> dict[str, str]:
    if not engine.is_spark:
        return {"name": engine.name}
    return {"name": engine.name, "spark_master": engine.spark_master}


# EM sees at most about this many blocked pairs per rule: a hash filter on records (Splink's own
# sampling) keeps a rule on a common column from comparing hundreds of millions at 1M records.
EM_MAX_PAIRS = 5_000_000


def _train(
    linker: Any, model: LinkageModelSpec, seed: int, report: Progress, *, records: int
) -> dict[str, Any]:
    plan = model.training
    report("estimating lambda", 2, STEPS)
    try:
        linker.training.estimate_probability_two_random_records_match(
            [splink_rule(r) for r in plan.deterministic_rules], recall=plan.assumed_recall
        )
    except ValueError as exc:
        raise LinkageError(f"could not estimate the match rate: {type(exc).__name__}") from None
    report("estimating u (random pairs)", 3, STEPS)
    linker.training.estimate_u_using_random_sampling(max_pairs=plan.u_max_pairs, seed=seed)
    report("estimating m (expectation maximisation)", 4, STEPS)
    # the probe that sizes EM's sample needs a few thousand records on each side
    probe = min(1.0, max(0.01, 20_000 / max(1, records)))
    for rule in plan.em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            splink_rule(rule),
            estimate_without_term_frequencies=True,
            max_pairs=EM_MAX_PAIRS,
            record_sample_proportion=probe,
        )
    return {
        "deterministic_rules": [r.name for r in plan.deterministic_rules],
        "assumed_recall": plan.assumed_recall,
        "u_max_pairs": plan.u_max_pairs,
        "em_rules": [r.name for r in plan.em_rules],
        "em_max_pairs": EM_MAX_PAIRS,
        "probability_two_random_records_match": float(
            linker._settings_obj._probability_two_random_records_match
        ),
    }


def _write_outputs(
    con: duckdb.DuckDBPyConnection,
    spec: FileLinkSpec,
    *,
    link_type: str,
    inputs: Sequence[_Input],
    sources: Sequence[str],
    predictions: str,
    clusters: str,
    lam: float,
    rule_report: list[dict[str, Any]],
    columns: tuple[str, ...],
    seconds: dict[str, float],
) -> FileLinkResult:
    spec.out.mkdir(parents=True, exist_ok=True)
    pcols = {r[0] for r in con.execute(f"DESCRIBE {predictions}").fetchall()}
    one = sources[0]
    src_l = "source_dataset_l" if "source_dataset_l" in pcols else f"'{one}'"
    src_r = "source_dataset_r" if "source_dataset_r" in pcols else f"'{one}'"
    # a view: the scored pairs are already a table, and a copy of 34M pairs costs seconds
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW jd_pairs AS SELECT record_id_l, {src_l} AS source_l,"
        f" record_id_r, {src_r} AS source_r, match_probability, match_weight FROM {predictions}"
    )
    ccols = {r[0] for r in con.execute(f"DESCRIBE {clusters}").fetchall()}
    src = "source_dataset" if "source_dataset" in ccols else f"'{one}'"
    con.execute(
        f"CREATE TEMP TABLE jd_clusters AS SELECT record_id, {src} AS source,"
        f" dense_rank() OVER (ORDER BY cluster_id) AS cluster_id FROM {clusters}"
    )
    pt = float(spec.pair_threshold)
    con.execute(
        "COPY (SELECT * FROM jd_pairs WHERE match_probability >= ? ORDER BY match_probability"
        " DESC, source_l, record_id_l, source_r, record_id_r) TO '"
        + str(spec.out / "pairs.csv").replace("'", "''")
        + "' (HEADER)",
        [pt],
    )
    con.execute(
        "COPY (SELECT * FROM jd_clusters ORDER BY cluster_id, source, record_id) TO '"
        + str(spec.out / "clusters.csv").replace("'", "''")
        + "' (HEADER)"
    )
    if spec.write_scored_pairs:
        con.execute(
            "COPY jd_pairs TO '"
            + str(spec.out / "scored_pairs.parquet").replace("'", "''")
            + "' (FORMAT parquet)"
        )
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE match_probability >= ?),"
        " avg(match_probability) FILTER (WHERE match_probability >= ?),"
        " coalesce(sum(match_probability) FILTER (WHERE match_probability >= ?), 0),"
        " coalesce(sum(match_probability), 0) FROM jd_pairs",
        [pt, pt, pt],
    ).fetchone()
    assert row is not None
    scored, accepted, mean_p, sum_acc, sum_all = row
    jrow = con.execute(
        "SELECT avg(p.match_probability), coalesce(sum(p.match_probability), 0) FROM jd_pairs p"
        " JOIN jd_clusters a ON a.record_id = p.record_id_l AND a.source = p.source_l"
        " JOIN jd_clusters b ON b.record_id = p.record_id_r AND b.source = p.source_r"
        " WHERE a.cluster_id = b.cluster_id"
    ).fetchone()
    assert jrow is not None
    mean_joined, sum_joined = jrow
    crow = con.execute(
        "SELECT count(*), coalesce(sum(n) FILTER (WHERE n > 1), 0), coalesce(max(n), 0)"
        " FROM (SELECT cluster_id, count(*) AS n FROM jd_clusters GROUP BY cluster_id)"
    ).fetchone()
    assert crow is not None
    sizes = [i.records for i in inputs]
    if link_type == "dedupe_only":
        possible = sizes[0] * (sizes[0] - 1) / 2
    elif link_type == "link_only":
        possible = sizes[0] * sizes[1]
    else:
        possible = sum(sizes) * (sum(sizes) - 1) / 2
    estimates = QualityEstimates(
        accepted_pairs=int(accepted),
        estimated_precision=None if mean_p is None else round(float(mean_p), 5),
        estimated_recall_within_blocking=round(float(sum_acc) / float(sum_all), 5)
        if sum_all
        else None,
        expected_matches_within_blocking=round(float(sum_all), 1),
        expected_matches_from_lambda=round(lam * possible, 1),
        estimated_cluster_precision=None if mean_joined is None else round(float(mean_joined), 5),
        estimated_cluster_recall_within_blocking=round(float(sum_joined) / float(sum_all), 5)
        if sum_all
        else None,
    )
    if spec.one_to_one:
        one_to_one = one_to_one_expected_matches(con, "jd_pairs")
        estimates = replace(
            estimates,
            expected_matches_one_to_one=round(one_to_one, 1),
            estimated_cluster_recall_one_to_one=round(min(1.0, float(sum_joined) / one_to_one), 5)
            if one_to_one
            else None,
        )
    unreadable: dict[str, int] = {}
    for i in inputs:
        for c, n in i.unreadable.items():
            unreadable[f"{i.source}.{c}"] = n
    return FileLinkResult(
        out=spec.out,
        link_type=link_type,
        records={i.source: i.records for i in inputs},
        columns_compared=columns,
        blocking_rules=tuple(rule_report),
        scored_pairs=int(scored),
        pairs_written=int(accepted),
        clusters=int(crow[0]),
        records_in_multi_record_clusters=int(crow[1]),
        largest_cluster=int(crow[2]),
        estimates=estimates,
        seconds=seconds,
        unreadable_values=unreadable,
    )


def one_to_one_expected_matches(con: duckdb.DuckDBPyConnection, pairs: str) -> float:
    """Expected true matches among the scored pairs of ``pairs`` when each record can match at
    most one record of the other file (two files of one record per person).

    A model's probabilities are each judged alone: a record with three near-identical candidates
    may give each p = 0.9, so the plain sum of p counts 2.7 matches where at most one exists,
    and the recall estimated from it is too low. Here each record's probabilities are scaled so
    that they sum to at most 1: first every left record's, then every right record's (scaling
    down can only lower the left sums again, so both limits hold after one pass); the same is
    done right-then-left, and the two totals are averaged so neither file is favoured.
    ``pairs``: a table with record_id_l, source_l, record_id_r, source_r, match_probability.
    """

    def one_order(first: str, second: str) -> str:
        # after the second scaling a record's pairs sum to min(1, the sum of their scaled p),
        # so the total needs group sums only (hash aggregates, not window sorts: at 34M scored
        # pairs 7 s instead of 17 s)
        return (
            f"WITH s AS (SELECT record_id_{first} AS k, source_{first} AS ks,"
            f" greatest(1.0, sum(match_probability)) AS d FROM {pairs} GROUP BY ALL),"
            f" t AS (SELECT p.record_id_{second}, p.source_{second},"
            f" sum(p.match_probability / s.d) AS scaled FROM {pairs} p JOIN s"
            f" ON s.k = p.record_id_{first} AND s.ks = p.source_{first} GROUP BY ALL)"
            " SELECT coalesce(sum(least(1.0, scaled)), 0) FROM t"
        )

    totals = []
    for first, second in (("l", "r"), ("r", "l")):
        row = con.execute(one_order(first, second)).fetchone()
        assert row is not None
        totals.append(float(row[0]))
    return sum(totals) / 2


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("joinedup", "splink", "duckdb", "pyspark")}
