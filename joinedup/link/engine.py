"""Where Splink runs: DuckDB in process (the default) or Spark (local, or a cluster).

The linkage model is written once, in DuckDB's SQL (``joinedup.link.probabilistic`` and
``joinedup.link.settings``), and its trained form (``NODE/link/model.json``, the files'
``model.json``) is the same whichever engine trained it. On Spark:

- inputs are built in DuckDB as before and handed over as Spark DataFrames through Arrow;
- the model's SQL is translated to Spark's dialect (``spark_sql``): sqlglot does the quoting and
  the common functions, and the few DuckDB functions our comparisons use are mapped to their
  Spark equivalents by name (``jaro_winkler_similarity`` -> Splink's ``jaro_winkler`` UDF,
  ``len(list_intersect(a, b))`` -> ``size(array_intersect(a, b))``); a function the map does
  not know raises ``LinkageError`` before Spark runs, rather than failing half-way;
- Splink's Linker runs with a ``SparkAPI`` instead of a ``DuckDBAPI``;
- outputs (scored pairs, clusters) come back as Arrow tables for DuckDB;
- a trained model's SQL is put back in DuckDB's dialect (``with_sql_of``) before it is saved,
  so the settings hash and the artefact do not depend on the engine.

``EngineSpec`` says which engine and, for Spark, the master URL (``local[2]`` for one machine,
``spark://host:7077``, ``yarn`` or ``k8s://...`` for a cluster), the driver's memory and the
folder Spark checkpoints intermediate tables to (the node's ``tmp/spark``; on a cluster it must
be storage every executor can reach).

Invariants: one SparkSession per process (Spark allows one per JVM), reused while its master is
the one asked for; Spark's own logging is held at ERROR; a Spark that cannot start or run raises
``LinkageError`` naming the master and the first line of Spark's message (never a Java stack
trace, never a row value).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from joinedup.errors import ConfigError, LinkageError
from joinedup.link.settings import one_edit_as_distance

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

ENGINES: tuple[str, ...] = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"
DEFAULT_SPARK_MASTER = "local[2]"
DEFAULT_SPARK_DRIVER_MEMORY = "1g"
# Splink repartitions its big intermediate tables to half of this; a handful suits one machine,
# a cluster wants about three times its cores.
DEFAULT_SPARK_PARTITIONS = 4
_LOG4J = Path(__file__).with_name("spark_log4j2.properties")
_MASTER = re.compile(
    r"^(local(\[(\*|[0-9]+)(,[0-9]+)?\])?|spark://\S+|yarn|k8s://\S+|mesos://\S+)$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSpec:
    """Which engine runs Splink, and how Spark is reached when it is Spark."""

    name: str = DEFAULT_ENGINE
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_driver_memory: str = DEFAULT_SPARK_DRIVER_MEMORY
    spark_partitions: int = DEFAULT_SPARK_PARTITIONS
    checkpoint_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ConfigError(
                f"unknown linkage engine {self.name!r}; choose one of {', '.join(ENGINES)}"
            )

    @property
    def is_spark(self) -> bool:
        return self.name == "spark"


DUCKDB = EngineSpec()


# ---------------------------------------------------------------------------------------------
# The Spark session


def spark_session(spec: EngineSpec) -> SparkSession:
    """The process's SparkSession for ``spec.spark_master`` (started on first use).

    Raises LinkageError when Spark cannot start (a malformed or unreachable master, no Java).
    """
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as exc:  # pragma: no cover - pyspark is a main dependency
        raise LinkageError(f"the Spark engine needs pyspark ({exc})") from None
    _quiet_pyspark()
    master = spec.spark_master.strip()
    if not _MASTER.match(master):
        raise LinkageError(
            f"Spark master {master!r} is not a master URL; use local[N] on one machine, or "
            "spark://HOST:PORT, yarn or k8s://HOST:PORT for a cluster"
        )
    active = SparkSession.getActiveSession()
    if active is not None:
        if active.sparkContext.master == master:
            _configure(active, spec)
            return active
        active.stop()
    builder = (
        SparkSession.builder.master(master)
        .appName("joinedup-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", spec.spark_driver_memory)
        .config("spark.sql.shuffle.partitions", str(spec.spark_partitions))
        .config("spark.default.parallelism", str(spec.spark_partitions))
        # Splink's SQL was written for Spark's non-ANSI semantics (e.g. division by zero gives
        # NULL, not an error)
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Spark makes its warehouse folder in the working directory unless told otherwise
        .config("spark.sql.warehouse.dir", str(_warehouse(spec)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_LOG4J}")
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Spark raise many kinds; all mean "did not start"
        _stop_half_started()
        raise LinkageError(
            f"Spark could not start with master {master!r}: {_first_line(exc)}. Check "
            "[engine] spark_master in node.toml (or --spark-master), and that Java 17+ is "
            "installed"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    if master.startswith("local"):
        # Python workers (the Jaro-Winkler UDF) run this interpreter, which has pyarrow and
        # jellyfish; on a cluster, PYSPARK_PYTHON on the executors says which
        session.sparkContext.pythonExec = sys.executable
    _configure(session, spec)
    return session


def _quiet_pyspark() -> None:
    """pyspark logs every failed query with its message (which can quote a value) to stderr;
    the failure reaches the user as a LinkageError instead."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True


def _warehouse(spec: EngineSpec) -> Path:
    base = spec.checkpoint_dir or Path(tempfile.gettempdir()) / "joinedup-spark"
    return base / "warehouse"


def _configure(session: SparkSession, spec: EngineSpec) -> None:
    """What may differ between two runs on one session: partitions and the checkpoint folder."""
    session.conf.set("spark.sql.shuffle.partitions", str(spec.spark_partitions))
    if spec.checkpoint_dir is not None:
        spec.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        session.sparkContext.setCheckpointDir(str(spec.checkpoint_dir))


def _stop_half_started() -> None:
    """A SparkContext that failed in its constructor can stay registered; clear it so the next
    attempt (with a corrected master) starts afresh."""
    try:
        from pyspark import SparkContext

        if SparkContext._active_spark_context is not None:
            SparkContext._active_spark_context.stop()
    except Exception:
        pass


def _first_line(exc: BaseException) -> str:
    """The first meaningful line of a (possibly Java) error, without its stack trace."""
    java = getattr(exc, "java_exception", None)
    text = str(java) if java is not None else str(exc)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("at "):
            return line[:300]
    return type(exc).__name__


def spark_failure(exc: BaseException, what: str) -> LinkageError:
    """A Spark error met while linking, as a LinkageError naming Spark's error class.

    Spark's message itself is not kept: some (a failed cast, say) quote a row's value.
    """
    condition = None
    get_condition = getattr(exc, "getCondition", None)
    if callable(get_condition):
        with contextlib.suppress(Exception):  # py4j can fail here once the JVM is gone
            condition = get_condition()
    return LinkageError(
        f"Spark failed while {what} ({condition or type(exc).__name__}); run again with "
        "--engine duckdb, or check the Spark master and its workers' logs"
    )


def is_spark_error(exc: BaseException) -> bool:
    """True for the errors py4j and pyspark raise when Spark fails."""
    module = type(exc).__module__
    return module.startswith(("py4j", "pyspark"))


def spark_api(session: SparkSession) -> Any:
    """Splink's SparkAPI on ``session`` (intermediate tables checkpointed as parquet), with
    ``jaro_winkler`` made DuckDB's measure (see ``register_duckdb_jaro_winkler``)."""
    from splink.backends.spark import SparkAPI

    api = SparkAPI(spark_session=session, break_lineage_method="parquet")  # type: ignore[no-untyped-call]
    register_duckdb_jaro_winkler(session)
    return api


def register_duckdb_jaro_winkler(session: SparkSession) -> None:
    """Register ``jaro_winkler`` on ``session`` as DuckDB's ``jaro_winkler_similarity``.

    Splink's Spark ``jaro_winkler`` (a Scala UDF from Apache Commons Text) scores some pairs
    differently from DuckDB's (Choudhury/Chowdhury: 0.904 against 0.919), enough to move a
    pair across a level's threshold, so the same model would score differently on the two
    engines. jellyfish's implementation agrees with DuckDB's on every pair we tried (120,409
    name pairs, tests/unit/link/test_engine.py checks a sample), so on Spark the name is
    re-registered as a vectorised Arrow UDF over it. Executors need pyarrow and jellyfish.
    """
    from pyspark.sql.pandas.functions import arrow_udf
    from pyspark.sql.types import DoubleType

    # defined here, not at module level, so that it is shipped to executors by value and they
    # need not import joinedup
    def jaro_winkler(left: pa.Array, right: pa.Array) -> pa.Array:
        import jellyfish
        import pyarrow

        return pyarrow.array(
            [
                None if a is None or b is None else jellyfish.jaro_winkler_similarity(a, b)
                for a, b in zip(left.to_pylist(), right.to_pylist(), strict=True)
            ],
            pyarrow.float64(),
        )

    session.udf.register("jaro_winkler", arrow_udf(jaro_winkler, DoubleType()))  # type: ignore[call-overload]


def to_spark(session: SparkSession, table: pa.Table) -> SparkDataFrame:
    """An Arrow table as a Spark DataFrame (column names and types kept)."""
    return session.createDataFrame(table)


def to_arrow(frame: SparkDataFrame) -> pa.Table:
    """A Spark DataFrame collected to the driver as an Arrow table."""
    table: pa.Table = frame.toArrow()
    return table


# ---------------------------------------------------------------------------------------------
# The model's SQL on Spark


def spark_sql(duckdb_sql: str) -> str:
    """One SQL condition of the model (DuckDB's dialect) in Spark's dialect.

    Raises LinkageError for a function this module does not know how to carry over.
    """
    import sqlglot
    from sqlglot import exp

    # DuckDB's fast one-edit form uses hamming, which Spark lacks: the plain distance there
    tree = sqlglot.parse_one(one_edit_as_distance(duckdb_sql), read="duckdb")

    def translate(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.JarowinklerSimilarity):
            # Splink's Scala UDF (Apache Commons Text), the same measure as DuckDB's
            return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
        if isinstance(node, exp.Length) and _is_call(node.this, "list_intersect"):
            inner = node.this
            assert isinstance(inner, exp.Anonymous)
            return exp.Anonymous(
                this="size",
                expressions=[exp.Anonymous(this="array_intersect", expressions=inner.expressions)],
            )
        if isinstance(node, exp.DateDiff):
            unit = node.args.get("unit")
            if unit is not None and unit.name.lower() != "day":
                raise LinkageError(f"no Spark equivalent for date_diff in {unit.name.lower()}s")
            # Spark's datediff(end, start) counts days, as DuckDB's date_diff('day', start, end)
            return exp.Anonymous(this="datediff", expressions=[node.this, node.expression])
        if isinstance(node, exp.Anonymous) and str(node.this).lower() not in _SPARK_FUNCTIONS:
            raise LinkageError(
                f"the linkage model uses the DuckDB function {node.this}, which has no Spark "
                "equivalent here; run it with --engine duckdb"
            )
        return node

    return tree.transform(translate).sql(dialect="spark")


# Functions that are spelled the same in both dialects (or are Splink's Spark UDFs).
_SPARK_FUNCTIONS = frozenset(
    {"damerau_levenshtein", "jaro_winkler", "size", "array_intersect", "datediff", "contains"}
)


def _is_call(node: Any, name: str) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Anonymous) and str(node.this).lower() == name


def settings_for_spark(settings: dict[str, Any]) -> dict[str, Any]:
    """A Splink settings (or trained model) dictionary with every SQL condition in Spark SQL."""
    out = copy.deepcopy(settings)
    out.pop("sql_dialect", None)
    for comparison in out.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            cond = level.get("sql_condition")
            if isinstance(cond, str) and cond.strip().upper() != "ELSE":
                level["sql_condition"] = spark_sql(cond)
    for key in ("blocking_rules_to_generate_predictions",):
        rules = out.get(key, [])
        for i, rule in enumerate(rules):
            if isinstance(rule, dict):
                rule["blocking_rule"] = spark_sql(rule["blocking_rule"])
                rule.pop("sql_dialect", None)
            else:
                rules[i] = spark_sql(rule)
    return out


def with_sql_of(trained: dict[str, Any], canonical: dict[str, Any]) -> dict[str, Any]:
    """A trained model with the SQL (conditions, blocking rules, dialect) of ``canonical``;
    the trained parameters (λ, m and u) are kept.

    Used both ways: a model trained on Spark is saved with the SQL of the DuckDB settings it was
    made from, and a saved model runs on Spark with the SQL of settings made for Spark. The two
    must have the same comparisons and levels in the same order, which is checked.
    """
    out = copy.deepcopy(trained)
    comps, canon = out.get("comparisons", []), canonical.get("comparisons", [])
    if len(comps) != len(canon):
        raise LinkageError("the trained model and its settings have different comparisons")
    for comp, ref in zip(comps, canon, strict=True):
        levels, ref_levels = comp["comparison_levels"], ref["comparison_levels"]
        if len(levels) != len(ref_levels) or comp.get("output_column_name") != ref.get(
            "output_column_name"
        ):
            raise LinkageError(
                f"the trained model's comparison {comp.get('output_column_name')} does not "
                "match its settings"
            )
        for level, ref_level in zip(levels, ref_levels, strict=True):
            level["sql_condition"] = ref_level["sql_condition"]
    if "blocking_rules_to_generate_predictions" in canonical:
        out["blocking_rules_to_generate_predictions"] = copy.deepcopy(
            canonical["blocking_rules_to_generate_predictions"]
        )
    out["sql_dialect"] = canonical.get("sql_dialect", "duckdb")
    return out
