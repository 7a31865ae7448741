"""The linkage quality report of a node: how complete the inputs are, how the index linked them,
how good the links look without labels, and (on a simulated district) how good they truly are.

``build_linkage_report(node, truth_dir=None) -> LinkageReport`` reads the node's current person
index (``link__*``), the linked store's ``store__person`` and, read-only, the vault, and returns
a frozen report of **counts and rates only**; ``LinkageReport.as_dict()`` is JSON-ready and
``joinedup.link.report_html`` renders it.

Sections (see docs/how-to/read-the-linkage-report.md):

- **inputs**: per identity field × source × subgroup, records where the source's contract
  carries the field, present values and valid values (an identifier flagged at ingest, a
  placeholder name, an impossible date of birth or a sex other than M/F is present but invalid);
- **blocking**: per rule, blocks (key nodes), records in them and comparisons (pairs sharing the
  block); the index's own rules plus two report-only rules that find near misses, each
  tightened by one key when over the linkage's per-rule pair budget (``_tighten_report_rules``);
- **match weights**: every candidate pair (sharing a block, or given one person by the index)
  gets a field-agreement pattern and a Fellegi–Sunter match weight whose u-probabilities come
  from random pairs and m-probabilities from pairs the strong identifiers join (for the NHS
  number and date of birth only from pairs joined by *other* identifiers); histograms by source
  pair, linked and not linked;
- **label-free estimates**: the linkage model's (expected false and missed record pairs from
  the latest refresh's own match probabilities, ``probabilistic._expected_errors``, turned into
  precision and recall over the index's linked pairs), and the report's own (mean match
  probability of linked pairs under the weights above; the linked share of all expected matches
  among candidates). Recall is an upper bound: true pairs that share no block are never
  candidates;
- **truth** (simulated districts): pairwise precision, recall and F1 overall and per source pair,
  with Wilson 95% intervals;
- **subgroups**: link rate and, with truth, missed-link rate, false-link rate, pairwise precision
  and recall by ethnic group, EAL, IMD quintile, address moves, looked-after and adopted status;
  without truth, link rates by what ``store__person`` knows (ethnicity, EAL, IMD quintile);
- **audit samples**: linked pairs (oversampling the lowest weights) and unlinked records with
  their best candidate, shown by **record key, source and agreement pattern only**;
- **clusters**: size distribution, persons holding two NHS numbers and other guard conflicts;
- **provenance**: versions, method, rules, guard thresholds, refresh and report run times, and
  the latest run's pair scoring (``provenance["linkage"]``): incremental or full (and why full),
  profiles unchanged / new or changed / gone, pairs reused / newly scored and the Splink stage's
  timings, read from ``link__runs.linkage`` ("not recorded" for runs that predate it).

Invariants:
- identifiers are read inside SQL over the vault and never leave it: the report holds counts,
  rates, weights, rule names, record keys (pseudonyms) and agreement symbols (``=``, ``~``,
  ``x``, ``-``), never a value;
- everything is computed from the node and the optional truth folder; nothing is fixed in code
  but the definitions above;
- sampling is seeded, so the same node and truth give the same report.
"""

# SQL here is assembled from this module's own constants (table names, field names, rule keys)
# and never from row values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import math
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from joinedup.config import NodeSettings, load_node
from joinedup.errors import ConfigError
from joinedup.link.blocking import PairLimits, count_rule_pairs
from joinedup.link.settings import BlockingRuleSpec
from joinedup.model import IdentityRole
from joinedup.sources import CONTRACTS

Z95 = 1.959963984540054
RANDOM_PAIRS = 200_000
SAMPLE_SEED = 20_260_831
AUDIT_SIZE = 20
# the subgroup of records whose true person is not a child of the district (the simulator's
# housing extract names the tenant, a parent)
NOT_A_CHILD = "not a child in people.csv"
HISTOGRAM_BINS = tuple(float(x) for x in range(-30, 42, 3))
# Names a clerk types when the name is not known; a present name equal to one is not valid.
PLACEHOLDER_NAMES = frozenset(
    {"UNKNOWN", "NOTKNOWN", "NK", "BABY", "BABYOF", "INFANT", "CHILD", "TEST", "XXX", "X", "NONE"}
)
# Dates systems write when the date of birth is not known.
DEFAULT_DOBS = ("1900-01-01", "1901-01-01", "1970-01-01", "2000-01-01")
STRONG_RULES = ("nhs_dob", "upn", "la_child_id", "gp_patient_id")
ISSUED_ID_RULES = ("upn", "la_child_id", "gp_patient_id")

# Identity fields the report checks: field -> contract roles that carry it.
FIELDS: Mapping[str, tuple[IdentityRole, ...]] = {
    "given_name": (IdentityRole.GIVEN_NAME,),
    "family_name": (IdentityRole.FAMILY_NAME,),
    "date_of_birth": (IdentityRole.DATE_OF_BIRTH,),
    "sex": (IdentityRole.SEX,),
    "nhs_number": (IdentityRole.NHS_NUMBER,),
    "upn": (IdentityRole.UPN,),
    "postcode": (IdentityRole.POSTCODE,),
}

# Blocking rules: name -> (SQL key over table `rec`, or None for the vault's key namespaces).
BLOCKING_RULES: Mapping[str, str | None] = {
    "nhs_dob": "CASE WHEN nhs_number IS NOT NULL AND dob IS NOT NULL "
    "THEN nhs_number || '|' || CAST(dob AS VARCHAR) END",
    "upn": None,
    "la_child_id": None,
    "gp_patient_id": None,
    "name_dob_sex": "CASE WHEN coalesce(given, '') <> '' AND coalesce(family, '') <> '' "
    "AND dob IS NOT NULL AND sex IN ('M', 'F') "
    "THEN given || '|' || family || '|' || CAST(dob AS VARCHAR) || '|' || sex END",
}
# Keys a report-only rule may add when it would compare more pairs than the linkage's own
# per-rule budget (blocking.PairLimits: 4 pairs per record, at least 2M): on a 600k-person
# district the two rules as written compare 61M and 77M pairs, nearly all between strangers.
# Of the tightened rules within budget, the one keeping the most pairs is used.
REPORT_TIGHTENERS: tuple[tuple[str, str], ...] = (
    ("sex", "sex"),
    ("family initial", "left(family, 1)"),
    ("given initial", "left(given, 1)"),
    ("birth month", "strftime(dob, '%Y-%m')"),
    ("postcode district", "nullif(split_part(postcode, ' ', 1), '')"),
)
REPORT_BLOCKING_RULES: Mapping[str, str] = {
    "report:dob_initial": "CASE WHEN dob IS NOT NULL AND coalesce(given, '') <> '' "
    "THEN CAST(dob AS VARCHAR) || '|' || left(given, 1) END",
    "report:names_birth_year": "CASE WHEN coalesce(given, '') <> '' AND coalesce(family, '') <> '' "
    "AND dob IS NOT NULL THEN given || '|' || family || '|' || CAST(year(dob) AS VARCHAR) END",
}

# Comparison levels per field: (name, SQL over pair columns a_*, b_*) in order; NULL = missing.
COMPARISONS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "nhs_number": (("=", "a_nhs = b_nhs"),),
    "date_of_birth": (
        ("=", "a_dob = b_dob"),
        (
            "~",
            "(a_yr = b_yr)::INT + (a_mo = b_mo)::INT + (a_dy = b_dy)::INT >= 2 "
            "OR (a_yr = b_yr AND a_mo = b_dy AND a_dy = b_mo)",
        ),
    ),
    "given_name": (("=", "a_given = b_given"), ("~", "left(a_given, 3) = left(b_given, 3)")),
    "family_name": (("=", "a_family = b_family"), ("~", "left(a_family, 3) = left(b_family, 3)")),
    "sex": (("=", "a_sex = b_sex"),),
    "postcode": (
        ("=", "a_pc = b_pc"),
        ("~", "split_part(a_pc, ' ', 1) = split_part(b_pc, ' ', 1)"),
    ),
    # a UPN, LA child id or GP patient id both records hold (missing: one of them holds none)
    "issued_id": (("=", "shared_id"),),
}
_NULL_TEST = {
    "nhs_number": ("a_nhs", "b_nhs"),
    "date_of_birth": ("a_dob", "b_dob"),
    "given_name": ("a_given", "b_given"),
    "family_name": ("a_family", "b_family"),
    "sex": ("a_sex", "b_sex"),
    "postcode": ("a_pc", "b_pc"),
    "issued_id": ("a_id_held", "b_id_held"),
}
# Fields whose m-probabilities must not come from pairs that a rule on that field joined.
_M_EXCLUDES: Mapping[str, tuple[str, ...]] = {
    "nhs_number": ("nhs_dob",),
    "date_of_birth": ("nhs_dob",),
    "issued_id": ("upn", "la_child_id", "gp_patient_id"),
}

TRUTH_SUBGROUPS: tuple[str, ...] = (
    "ethnic_group",
    "eal",
    "imd_quintile",
    "n_moves",
    "is_cla",
    "adopted",
)
STORE_SUBGROUPS: tuple[str, ...] = ("ethnicity", "eal", "imd_quintile")
_ETHNIC_MAJOR = {"W": "White", "M": "Mixed", "A": "Asian", "B": "Black", "C": "Chinese"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """``numerator / denominator`` with a Wilson score 95% interval."""

    numerator: int
    denominator: int
    value: float | None
    low: float | None
    high: float | None


def wilson(numerator: int, denominator: int, z: float = Z95) -> Rate:
    """The share and its Wilson score interval (None when the denominator is 0)."""
    if denominator <= 0:
        return Rate(numerator=numerator, denominator=denominator, value=None, low=None, high=None)
    p = numerator / denominator
    z2 = z * z
    centre = (p + z2 / (2 * denominator)) / (1 + z2 / denominator)
    half = (
        z
        * math.sqrt(p * (1 - p) / denominator + z2 / (4 * denominator**2))
        / (1 + z2 / denominator)
    )
    return Rate(
        numerator=numerator,
        denominator=denominator,
        value=p,
        # the interval always holds p; rounding can put a bound a hair inside it at 0 or 1
        low=max(0.0, min(p, centre - half)),
        high=min(1.0, max(p, centre + half)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldQuality:
    field: str
    source: str
    subgroup_kind: str  # "all" or a subgroup column
    subgroup: str
    records: int  # records of the source whose contract carries the field
    present: Rate
    valid: Rate


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingRow:
    rule: str
    used_by_index: bool
    blocks: int
    records: int
    comparisons: int
    largest_block: int
    # a report-only rule over the pair budget: the key added, and the rule's pairs before it
    tightened_by: str | None = None
    comparisons_untightened: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldWeights:
    field: str
    level: str  # "=", "~" or "x"
    m: float
    u: float

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightHistogram:
    source_pair: str
    bin_edges: tuple[float, ...]
    linked: tuple[int, ...]
    not_linked: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelFree:
    candidate_pairs: int
    linked_pairs: int
    prior: float
    expected_matches: float
    expected_precision: float | None
    expected_recall: float | None
    # from the linkage model's own match probabilities at the latest refresh (the Splink stage's
    # expected false and missed record pairs); None when that refresh scored no pairs
    model_expected_false_pairs: float | None = None
    model_expected_missed_pairs: float | None = None
    model_expected_precision: float | None = None
    model_expected_recall: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PairScore:
    scope: str  # "overall" or "<source a> × <source b>"
    predicted_pairs: int
    true_pairs: int
    true_positive_pairs: int
    precision: Rate
    recall: Rate
    f1: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubgroupRates:
    kind: str
    group: str
    records: int
    link_rate: Rate
    missed_link_rate: Rate | None = None
    false_link_rate: Rate | None = None
    precision: Rate | None = None
    recall: Rate | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPair:
    record_key_a: str
    record_key_b: str
    source_a: str
    source_b: str
    linked_by: str  # the strongest rule joining them, or "not linked"
    pattern: Mapping[str, str]  # field -> "=", "~", "x" or "-" (missing)
    match_weight: float
    is_true_match: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Clusters:
    size_distribution: Mapping[str, int]
    persons_with_records: int
    persons_with_two_nhs_numbers: int
    conflicts_by_kind: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkageReport:
    node_name: str
    generated_at: str
    provenance: Mapping[str, Any]
    records: int
    inputs: tuple[FieldQuality, ...]
    blocking: tuple[BlockingRow, ...]
    field_weights: tuple[FieldWeights, ...]
    histograms: tuple[WeightHistogram, ...]
    label_free: LabelFree
    truth_overall: PairScore | None
    truth_by_source_pair: tuple[PairScore, ...]
    subgroup_basis: str  # "truth" or "store"
    subgroups: tuple[SubgroupRates, ...]
    false_match_audit: tuple[AuditPair, ...]
    missed_match_audit: tuple[AuditPair, ...]
    clusters: Clusters
    seconds: float = field(default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data (counts, rates and pseudonyms only)."""
        out = asdict(self)
        out["field_weights"] = [
            {**asdict(w), "weight": round(w.weight, 4)} for w in self.field_weights
        ]
        return out


def build_linkage_report(
    node: NodeSettings | Path | str,
    *,
    truth_dir: Path | None = None,
) -> LinkageReport:
    """Compute the linkage quality report of ``node`` (see the module docstring)."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    t0 = time.perf_counter()
    if truth_dir is not None:
        for name in ("person_map.csv", "people.csv"):
            if not (truth_dir / name).is_file():
                raise ConfigError(
                    f"{truth_dir / name} does not exist; --truth takes the "
                    "simulator's truth folder (<extracts>/truth)"
                )
    con = duckdb.connect(str(settings.store_path), read_only=True, config=settings.duckdb_config())
    try:
        con.execute("SET enable_progress_bar = false")
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "link__record_person" not in tables or "link__runs" not in tables:
            raise ConfigError(
                f"{settings.root} has no person index yet; run: joinedup node refresh NODE"
            )
        from joinedup.link.refresh import attach_vault

        attach_vault(con, settings.vault_path)
        run = _latest_run(con)
        linkage = _run_linkage(con, run["run_id"])
        _load_records(con, truth_dir)
        n_records = _scalar(con, "SELECT count(*) FROM rec")
        inputs = _inputs(con, truth_dir is not None)
        blocking = _blocking(con)
        weights, histograms, label_free = _match_weights(con)
        label_free = _with_model_estimates(label_free, linkage)
        truth_overall: PairScore | None = None
        by_pair: tuple[PairScore, ...] = ()
        if truth_dir is not None:
            truth_overall, by_pair = _truth_scores(con)
        subgroups = _subgroups(con, truth_dir is not None)
        false_audit, missed_audit = _audits(con, truth_dir is not None)
        clusters = _clusters(con, run)
    finally:
        con.close()
    seconds = time.perf_counter() - t0
    provenance = {
        **_versions(),
        "run_id": run["run_id"],
        "method": run["method"],
        "rules": run["rules"],
        "refresh_started_at": run["started_at"],
        "refresh_finished_at": run["finished_at"],
        "refresh_seconds": run["seconds"],
        "guarded_keys_rejected": run["guarded_keys_rejected"],
        "linkage": linkage,
        "thresholds": {
            "max_nhs_numbers_per_person": 1,
            "linked_means": "same person_id in link__record_person",
            "report_blocking_rules": sorted(REPORT_BLOCKING_RULES),
            "random_pairs_for_u": RANDOM_PAIRS,
            "sample_seed": SAMPLE_SEED,
        },
        "truth": None if truth_dir is None else "simulator truth folder given",
        "report_seconds": round(seconds, 3),
    }
    return LinkageReport(
        node_name=settings.name,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        provenance=provenance,
        records=n_records,
        inputs=inputs,
        blocking=blocking,
        field_weights=weights,
        histograms=histograms,
        label_free=label_free,
        truth_overall=truth_overall,
        truth_by_source_pair=by_pair,
        subgroup_basis="truth" if truth_dir is not None else "store",
        subgroups=subgroups,
        false_match_audit=false_audit,
        missed_match_audit=missed_audit,
        clusters=clusters,
        seconds=seconds,
    )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    row = con.execute(sql, list(params)).fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("joinedup", "duckdb", "numpy", "splink", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _latest_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    import json

    row = con.execute(
        "SELECT run_id, method, rules, started_at, finished_at, guarded_keys_rejected, "
        "size_distribution, conflicts, persons_with_records "
        "FROM link__runs ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise ConfigError("link__runs is empty; run: joinedup node refresh NODE")
    return {
        "run_id": row[0],
        "method": row[1],
        "rules": json.loads(row[2]),
        "started_at": row[3].isoformat(),
        "finished_at": row[4].isoformat(),
        "seconds": round((row[4] - row[3]).total_seconds(), 3),
        "guarded_keys_rejected": int(row[5]),
        "size_distribution": json.loads(row[6]),
        "conflicts": json.loads(row[7]),
        "persons_with_records": int(row[8]),
    }


# The pair-scoring figures of a run's stage report the report shows (counts), in this order.
LINKAGE_COUNTS = (
    ("profiles_unchanged", "profiles unchanged"),
    ("profiles_new_or_changed", "profiles new or changed"),
    ("profiles_removed", "profiles gone"),
    ("pairs_reused", "pairs reused from the pair cache"),
    ("pairs_newly_scored", "pairs newly scored"),
)
# ... and its timings in seconds.
LINKAGE_SECONDS = (
    ("seconds_features", "features"),
    ("seconds_training", "training or loading the model"),
    ("seconds_term_frequencies", "term frequencies"),
    ("seconds_pair_cache_read", "pair cache read"),
    ("seconds_scoring", "scoring"),
    ("seconds_pair_cache_write", "pair cache write"),
    ("seconds_predict", "prediction in all"),
    ("seconds_merges", "merges"),
    ("seconds", "stage in all"),
)
# ... and its label-free expectations of the index's errors, in record pairs.
LINKAGE_ESTIMATES = ("expected_false_pairs", "expected_missed_pairs")
NOT_RECORDED = "not recorded"


def _run_linkage(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """The pair scoring of run ``run_id`` from ``link__runs.linkage``: ``scoring`` (incremental,
    full or "not recorded"), ``full_because``, ``stage``, the counts of ``LINKAGE_COUNTS`` and
    the seconds of ``LINKAGE_SECONDS`` (None where the run did not record one).

    Only those named figures are copied, and only when they are numbers; ``scoring`` and
    ``full_because`` are the stage's own fixed phrases. A run made before the column existed
    (the column missing or NULL), or one whose stages scored no pairs (the deterministic method,
    a skipped Splink stage), reads as "not recorded" with a ``note`` saying which."""
    import json

    def not_recorded(note: str) -> dict[str, Any]:
        return {
            "scoring": NOT_RECORDED,
            "full_because": None,
            "stage": None,
            "note": note,
            "counts": {key: None for key, _ in LINKAGE_COUNTS},
            "seconds": {key: None for key, _ in LINKAGE_SECONDS},
            "estimates": {key: None for key in LINKAGE_ESTIMATES},
        }

    has_column = _scalar(
        con,
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'link__runs' "
        "AND column_name = 'linkage'",
    )
    row = (
        con.execute("SELECT linkage FROM link__runs WHERE run_id = ?", [run_id]).fetchone()
        if has_column
        else None
    )
    if row is None or row[0] is None:
        return not_recorded("the latest refresh predates the recording of pair scoring")
    try:
        stages = json.loads(row[0])
    except ValueError:
        return not_recorded("the latest refresh's stage report could not be read")
    if not isinstance(stages, dict):
        return not_recorded("the latest refresh's stage report could not be read")
    for stage, report in stages.items():
        if not isinstance(report, dict) or report.get("scoring") not in ("incremental", "full"):
            continue
        because = report.get("full_because")
        return {
            "scoring": report["scoring"],
            "full_because": because if isinstance(because, str) else None,
            "stage": str(stage),
            "note": None,
            "counts": {key: _number(report.get(key), int) for key, _ in LINKAGE_COUNTS},
            "seconds": {key: _number(report.get(key), float) for key, _ in LINKAGE_SECONDS},
            "estimates": {key: _number(report.get(key), float) for key in LINKAGE_ESTIMATES},
        }
    if any(isinstance(r, dict) and "skipped" in r for r in stages.values()):
        return not_recorded("the latest refresh's Splink stage was skipped; no pairs were scored")
    return not_recorded(
        "the latest refresh scored no pairs (the deterministic method, or too few records)"
    )


def _with_model_estimates(label_free: LabelFree, linkage: Mapping[str, Any]) -> LabelFree:
    """Add the linkage model's expected precision and recall (within blocking) to the report's
    own: false = the expected false record pairs among the linked ones, missed = the expected
    true record pairs left apart, both from the refresh's match probabilities."""
    estimates = linkage.get("estimates") or {}
    false, missed = estimates.get("expected_false_pairs"), estimates.get("expected_missed_pairs")
    linked = label_free.linked_pairs
    if false is None or missed is None or linked <= 0:
        return label_free
    true_linked = max(linked - false, 0.0)
    found_or_missed = true_linked + missed
    return replace(
        label_free,
        model_expected_false_pairs=false,
        model_expected_missed_pairs=missed,
        model_expected_precision=true_linked / linked,
        model_expected_recall=true_linked / found_or_missed if found_or_missed else None,
    )


def _number(value: object, kind: type[int] | type[float]) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


def _load_records(con: duckdb.DuckDBPyConnection, truth_dir: Path | None) -> None:
    """Temp table ``rec``: one row per indexed record with its identity fields (inside DuckDB
    only), its person, its subgroups and, with truth, its true person."""
    placeholders = ", ".join("?" for _ in PLACEHOLDER_NAMES)
    con.execute(
        "CREATE TEMP TABLE rec AS SELECT "
        "(row_number() OVER (ORDER BY lp.record_key) - 1)::BIGINT AS rid, lp.record_key, "
        "lp.person_id, lp.source, lp.table_name, lp.linked_by, v.batch_id, v.row_number, "
        "v.given_name_norm AS given, v.family_name_norm AS family, v.date_of_birth AS dob, "
        "v.sex, v.nhs_number, v.upn, upper(trim(v.postcode)) AS postcode, "
        f"v.given_name_norm IN ({placeholders}) AS given_placeholder, "
        f"v.family_name_norm IN ({placeholders}) AS family_placeholder "
        "FROM link__record_person lp JOIN vault.vault__identities v USING (record_key)",
        [*sorted(PLACEHOLDER_NAMES), *sorted(PLACEHOLDER_NAMES)],
    )
    con.execute(
        "CREATE TEMP TABLE person_size AS SELECT person_id, count(*) AS n FROM rec GROUP BY ALL"
    )
    # subgroups the store knows, per person
    con.execute(
        "CREATE TEMP TABLE store_groups AS SELECT person_id, "
        "CASE WHEN ethnicity IS NULL OR ethnicity IN ('REFU', 'NOBT') THEN 'not known' "
        + "".join(
            f"WHEN starts_with(ethnicity, '{k}') THEN '{v}' " for k, v in _ETHNIC_MAJOR.items()
        )
        + "ELSE 'Other' END AS ethnicity, "
        "CASE WHEN is_eal IS NULL THEN 'not known' WHEN is_eal THEN 'EAL' ELSE 'not EAL' END "
        "AS eal, coalesce('Q' || CAST((imd_decile + 1) // 2 AS VARCHAR), 'not known') "
        "AS imd_quintile FROM store__person"
    )
    if truth_dir is None:
        return
    con.execute(
        'CREATE TEMP TABLE truth_map AS SELECT source, "table" AS table_name, '
        "row_number::BIGINT AS row_number, person_id AS truth_id FROM read_csv(?, header = true, "
        "all_varchar = true)",
        [str(truth_dir / "person_map.csv")],
    )
    con.execute(
        "CREATE TEMP TABLE truth_people AS SELECT person_id AS truth_id, "
        "coalesce(ethnic_group, 'not known') AS ethnic_group, "
        "CASE lower(eal) WHEN 'true' THEN 'EAL' WHEN 'false' THEN 'not EAL' ELSE 'not known' END "
        "AS eal, coalesce('Q' || imd_quintile, 'not known') AS imd_quintile, "
        "CASE WHEN n_moves IS NULL THEN 'not known' WHEN n_moves::INT >= 5 THEN '5+' "
        "WHEN n_moves::INT >= 3 THEN '3-4' ELSE n_moves END AS n_moves, "
        "CASE lower(is_cla) WHEN 'true' THEN 'looked after' ELSE 'not looked after' END AS is_cla, "
        "CASE lower(adopted) WHEN 'true' THEN 'adopted' ELSE 'not adopted' END AS adopted "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(truth_dir / "people.csv")],
    )
    con.execute(
        "CREATE TEMP TABLE rec_truth AS SELECT r.rid, t.truth_id FROM rec r "
        "JOIN truth_map t ON t.source = r.source AND t.table_name = r.table_name "
        "AND t.row_number = r.row_number"
    )


def _field_roles() -> dict[tuple[str, str], dict[str, set[str]]]:
    """(source, table) -> field -> the contract's column names carrying it."""
    out: dict[tuple[str, str], dict[str, set[str]]] = {}
    for contract in CONTRACTS:
        for table in contract.tables:
            if not table.identity_records:
                continue
            fields: dict[str, set[str]] = {}
            for column in table.columns:
                for name, roles in FIELDS.items():
                    if column.identity in roles:
                        fields.setdefault(name, set()).add(column.name)
            out[(contract.name, table.name)] = fields
    return out


def _inputs(con: duckdb.DuckDBPyConnection, has_truth: bool) -> tuple[FieldQuality, ...]:
    rows: list[list[object]] = []
    for (source, table), fields in _field_roles().items():
        for name, columns in fields.items():
            rows.extend([source, table, name, c] for c in sorted(columns))
    con.execute(
        "CREATE TEMP TABLE field_columns (source VARCHAR, table_name VARCHAR, field VARCHAR, "
        "column_name VARCHAR)"
    )
    if rows:
        con.executemany("INSERT INTO field_columns VALUES (?, ?, ?, ?)", rows)
    flagged = (
        "CREATE TEMP TABLE field_flags AS SELECT DISTINCT q.batch_id, q.table_name, q.row_number, "
        "f.field FROM ingest__quarantine_reasons q JOIN field_columns f "
        "ON f.source = q.source AND f.table_name = q.table_name AND f.column_name = q.column_name "
        "WHERE q.action <> 'quarantine'"
    )
    has_reasons = _scalar(
        con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ingest__quarantine_reasons'"
    )
    if has_reasons:
        con.execute(flagged)
    else:
        con.execute(
            "CREATE TEMP TABLE field_flags (batch_id VARCHAR, table_name VARCHAR, "
            "row_number BIGINT, field VARCHAR)"
        )
    defaults = ", ".join(f"DATE '{d}'" for d in DEFAULT_DOBS)
    present = {
        "given_name": "coalesce(given, '') <> ''",
        "family_name": "coalesce(family, '') <> ''",
        "date_of_birth": "dob IS NOT NULL",
        "sex": "coalesce(sex, '') <> ''",
        "nhs_number": "nhs_number IS NOT NULL",
        "upn": "upn IS NOT NULL",
        "postcode": "coalesce(postcode, '') <> ''",
    }
    invalid = {
        "given_name": "given_placeholder",
        "family_name": "family_placeholder",
        "date_of_birth": f"dob IN ({defaults}) OR dob > current_date "
        "OR dob < current_date - INTERVAL 26 YEAR",
        "sex": "sex NOT IN ('M', 'F')",
        "nhs_number": "false",
        "upn": "false",
        "postcode": "NOT regexp_full_match(postcode, '[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}')",
    }
    parts = []
    for name in FIELDS:
        parts.append(
            f"SELECT r.rid, '{name}' AS field, ({present[name]}) AS present, "
            f"({present[name]}) AND NOT coalesce({invalid[name]}, false) AS ok_value "
            "FROM rec r WHERE EXISTS (SELECT 1 FROM field_columns f WHERE f.source = r.source "
            f"AND f.table_name = r.table_name AND f.field = '{name}')"
        )
    # Flagged identifiers were dropped by ingest: present in the extract, invalid.
    con.execute(
        "CREATE TEMP TABLE field_status AS SELECT s.rid, s.field, "
        "s.present OR fl.field IS NOT NULL AS present, s.ok_value AND fl.field IS NULL AS valid "
        f"FROM ({' UNION ALL '.join(parts)}) s JOIN rec r USING (rid) "
        "LEFT JOIN field_flags fl ON fl.batch_id = r.batch_id AND fl.table_name = r.table_name "
        "AND fl.row_number = r.row_number AND fl.field = s.field"
    )
    group_sql = _record_groups_sql(has_truth)
    kinds = TRUTH_SUBGROUPS if has_truth else STORE_SUBGROUPS
    out: list[FieldQuality] = []
    queries = [("all", "'all'")] + [(k, f"g.{k}") for k in kinds]
    for kind, expr in queries:
        for f, source, group, n, n_present, n_valid in con.execute(
            f"SELECT s.field, r.source, {expr} AS grp, count(*), "
            "count(*) FILTER (WHERE s.present), "
            f"count(*) FILTER (WHERE s.valid) FROM field_status s JOIN rec r USING (rid) "
            f"LEFT JOIN ({group_sql}) g USING (rid) GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            out.append(
                FieldQuality(
                    field=str(f),
                    source=str(source),
                    subgroup_kind=kind,
                    subgroup=str(group if group is not None else "not known"),
                    records=int(n),
                    present=wilson(int(n_present), int(n)),
                    valid=wilson(int(n_valid), int(n)),
                )
            )
    return tuple(out)


def _record_groups_sql(has_truth: bool) -> str:
    """``rid`` and its subgroup columns: from the truth person, or from its store person."""
    if has_truth:
        cols = ", ".join(f"coalesce(p.{k}, '{NOT_A_CHILD}') AS {k}" for k in TRUTH_SUBGROUPS)
        return (
            f"SELECT r.rid, {cols} FROM rec r LEFT JOIN rec_truth t USING (rid) "
            "LEFT JOIN truth_people p USING (truth_id)"
        )
    cols = ", ".join(f"coalesce(s.{k}, 'not known') AS {k}" for k in STORE_SUBGROUPS)
    return f"SELECT r.rid, {cols} FROM rec r LEFT JOIN store_groups s USING (person_id)"


def _rule_pairs(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Pairs a report rule's key expression ``sql`` over ``rec`` would compare (counted the way
    ``link files`` counts its rules)."""
    return count_rule_pairs(
        con, ["rec"], BlockingRuleSpec(name="report", keys=(sql,)), "dedupe_only"
    )


def _tighten_report_rules(
    con: duckdb.DuckDBPyConnection, budget: int | None = None
) -> dict[str, tuple[str, str | None, int | None]]:
    """Each report-only rule as used: (key SQL, tightening key or None, pairs before it).

    A rule within the per-rule pair budget is used as written; one over it gets the tightening
    key (``REPORT_TIGHTENERS``) that keeps the most pairs within budget, or, when none fits, the
    one that leaves the fewest. ``budget`` defaults to the linkage's per-rule limit.
    """
    if budget is None:
        budget = PairLimits.for_records(_scalar(con, "SELECT count(*) FROM rec")).per_rule
    out: dict[str, tuple[str, str | None, int | None]] = {}
    for rule, sql in REPORT_BLOCKING_RULES.items():
        pairs = _rule_pairs(con, sql)
        if pairs <= budget:
            out[rule] = (sql, None, None)
            continue
        options = []
        for label, key in REPORT_TIGHTENERS:
            tight = f"({sql}) || '|' || CAST({key} AS VARCHAR)"
            options.append((_rule_pairs(con, tight), label, tight))
        within = [o for o in options if o[0] <= budget]
        _, label, tight = max(within) if within else min(options)
        out[rule] = (tight, label, pairs)
    return out


def _blocking(con: duckdb.DuckDBPyConnection) -> tuple[BlockingRow, ...]:
    """Temp table ``block_keys(rule, block, rid)`` and per-rule counts."""
    con.execute("CREATE TEMP TABLE block_keys (rule VARCHAR, block VARCHAR, rid BIGINT)")
    tightened = _tighten_report_rules(con)
    rules = {**BLOCKING_RULES, **{r: sql for r, (sql, _, _) in tightened.items()}}
    for rule, sql in rules.items():
        if sql is None:
            con.execute(
                "INSERT INTO block_keys SELECT DISTINCT ?, k.subject_key, r.rid FROM rec r "
                "JOIN vault.vault__keys k ON k.record_key = r.record_key WHERE k.namespace = ?",
                [rule, rule],
            )
        else:
            con.execute(
                f"INSERT INTO block_keys SELECT ?, b, rid FROM (SELECT rid, {sql} AS b FROM rec) "
                "WHERE b IS NOT NULL",
                [rule],
            )
    out = []
    for rule, blocks, records, comparisons, largest in con.execute(
        "SELECT rule, count(*), sum(n), sum(n * (n - 1) // 2), max(n) FROM "
        "(SELECT rule, block, count(*) AS n FROM block_keys GROUP BY ALL) GROUP BY rule"
    ).fetchall():
        out.append(
            BlockingRow(
                rule=str(rule),
                used_by_index=rule in BLOCKING_RULES,
                blocks=int(blocks),
                records=int(records or 0),
                comparisons=int(comparisons or 0),
                largest_block=int(largest or 0),
                tightened_by=tightened[rule][1] if rule in tightened else None,
                comparisons_untightened=tightened[rule][2] if rule in tightened else None,
            )
        )
    order = list(BLOCKING_RULES) + list(REPORT_BLOCKING_RULES)
    known = {r.rule for r in out}
    out += [
        BlockingRow(
            rule=r,
            used_by_index=r in BLOCKING_RULES,
            blocks=0,
            records=0,
            comparisons=0,
            largest_block=0,
        )
        for r in order
        if r not in known
    ]
    return tuple(sorted(out, key=lambda r: order.index(r.rule)))


_PAIR_COLUMNS = (
    "a.rid AS a_rid, b.rid AS b_rid, a.source AS a_source, b.source AS b_source, "
    "a.nhs_number AS a_nhs, b.nhs_number AS b_nhs, a.dob AS a_dob, b.dob AS b_dob, "
    "year(a.dob) AS a_yr, year(b.dob) AS b_yr, month(a.dob) AS a_mo, month(b.dob) AS b_mo, "
    "day(a.dob) AS a_dy, day(b.dob) AS b_dy, a.given AS a_given, b.given AS b_given, "
    "a.family AS a_family, b.family AS b_family, a.sex AS a_sex, b.sex AS b_sex, "
    "a.postcode AS a_pc, b.postcode AS b_pc, a.person_id = b.person_id AS linked"
)


def _level_sql(name: str) -> str:
    x, y = _NULL_TEST[name]
    missing = f"{x} IS NULL OR {y} IS NULL"
    if name != "date_of_birth":
        missing += f" OR {x} = '' OR {y} = ''"
    cases = " ".join(f"WHEN {cond} THEN '{lvl}'" for lvl, cond in COMPARISONS[name])
    return f"CASE WHEN {missing} THEN '-' {cases} ELSE 'x' END"


# the pair's field values are needed for its levels only; kept, they made the candidate table
# of a 600k-person district tens of GB of temporary files
_VALUE_COLUMNS = (
    "a_nhs, b_nhs, a_dob, b_dob, a_yr, b_yr, a_mo, b_mo, a_dy, b_dy, a_given, b_given, "
    "a_family, b_family, a_sex, b_sex, a_pc, b_pc, a_id_held, b_id_held, shared_id"
)


def _pattern_table(con: duckdb.DuckDBPyConnection, pairs: str, out: str) -> None:
    """``out``: the columns of ``pairs``, record ids, sources, linked and one level per field."""
    levels = ", ".join(f'{_level_sql(f)} AS "{f}"' for f in COMPARISONS)
    con.execute(
        f"CREATE TEMP TABLE {out} AS SELECT p.* EXCLUDE ({_VALUE_COLUMNS}), {levels} "
        f"FROM (SELECT p.*, {_PAIR_COLUMNS}, "
        "CASE WHEN ia.rid IS NOT NULL THEN 'y' END AS a_id_held, "
        "CASE WHEN ib.rid IS NOT NULL THEN 'y' END AS b_id_held, s.a IS NOT NULL AS shared_id "
        f"FROM {pairs} p JOIN rec a ON a.rid = p.a_id JOIN rec b ON b.rid = p.b_id "
        "LEFT JOIN id_holders ia ON ia.rid = p.a_id LEFT JOIN id_holders ib ON ib.rid = p.b_id "
        "LEFT JOIN id_pairs s ON s.a = least(p.a_id, p.b_id) AND s.b = greatest(p.a_id, p.b_id)"
        ") p"
    )


def _match_weights(
    con: duckdb.DuckDBPyConnection,
) -> tuple[tuple[FieldWeights, ...], tuple[WeightHistogram, ...], LabelFree]:
    rules = list(BLOCKING_RULES) + list(REPORT_BLOCKING_RULES)
    flags = ", ".join(f"bool_or(rule = '{r}') AS \"{r}\"" for r in rules)
    con.execute(
        "CREATE TEMP TABLE cand_ids AS SELECT a_id, b_id, " + flags + " FROM ("
        "  SELECT x.rule, x.rid AS a_id, y.rid AS b_id FROM block_keys x JOIN block_keys y "
        "  ON x.rule = y.rule AND x.block = y.block AND x.rid < y.rid"
        "  UNION ALL SELECT 'same_person', a.rid, b.rid FROM rec a JOIN rec b "
        "  ON a.person_id = b.person_id AND a.rid < b.rid"
        ") GROUP BY a_id, b_id"
    )
    issued = ", ".join(f"'{r}'" for r in ISSUED_ID_RULES)
    con.execute(
        "CREATE TEMP TABLE id_holders AS SELECT DISTINCT rid FROM block_keys "
        f"WHERE rule IN ({issued})"
    )
    con.execute(
        "CREATE TEMP TABLE id_pairs AS SELECT DISTINCT x.rid AS a, y.rid AS b FROM block_keys x "
        "JOIN block_keys y ON x.rule = y.rule AND x.block = y.block AND x.rid < y.rid "
        f"WHERE x.rule IN ({issued})"
    )
    _pattern_table(con, "cand_ids", "cand_pattern")
    n = _scalar(con, "SELECT count(*) FROM rec")
    rng = np.random.default_rng(SAMPLE_SEED)
    k = min(RANDOM_PAIRS, n * (n - 1) // 2) if n > 1 else 0
    a = rng.integers(0, max(n, 1), size=k)
    b = rng.integers(0, max(n, 1), size=k)
    keep = a != b
    con.register("random_ids", pa.table({"a_id": a[keep], "b_id": b[keep]}))
    try:
        _pattern_table(con, "random_ids", "rand")
    finally:
        con.unregister("random_ids")

    weights: list[FieldWeights] = []
    for name, comparisons in COMPARISONS.items():
        levels = [lvl for lvl, _ in comparisons] + ["x"]
        excluded = _M_EXCLUDES.get(name, ())
        strong = [r for r in STRONG_RULES if r not in excluded]
        m_filter = " OR ".join(f'"{r}"' for r in strong)
        m_counts = dict(
            con.execute(
                f'SELECT "{name}", count(*) FROM cand_pattern '
                f"WHERE ({m_filter}) AND \"{name}\" <> '-' "
                "GROUP BY ALL"
            ).fetchall()
        )
        u_counts = dict(
            con.execute(
                f'SELECT "{name}", count(*) FROM rand WHERE "{name}" <> \'-\' GROUP BY ALL'
            ).fetchall()
        )
        m_total = sum(m_counts.values()) + len(levels)
        u_total = sum(u_counts.values()) + len(levels)
        for lvl in levels:
            weights.append(
                FieldWeights(
                    field=name,
                    level=lvl,
                    m=(m_counts.get(lvl, 0) + 1) / m_total,
                    u=(u_counts.get(lvl, 0) + 1) / u_total,
                )
            )
    con.execute("CREATE TEMP TABLE field_weight (field VARCHAR, level VARCHAR, w DOUBLE)")
    con.executemany(
        "INSERT INTO field_weight VALUES (?, ?, ?)", [[w.field, w.level, w.weight] for w in weights]
    )
    total_pairs = max(n * (n - 1) // 2, 1)
    linked_pairs = _scalar(con, "SELECT count(*) FROM cand_pattern WHERE linked")
    candidates = _scalar(con, "SELECT count(*) FROM cand_pattern")
    # prior odds of a match among all pairs, from the index's own linked pairs (label-free)
    prior = max(linked_pairs, 1) / total_pairs
    base = math.log2(prior / (1 - prior)) if prior < 1 else 0.0
    joins = " ".join(
        f"LEFT JOIN field_weight w{i} ON w{i}.field = '{f}' AND w{i}.level = c.\"{f}\""
        for i, f in enumerate(COMPARISONS)
    )
    total = " + ".join(f"coalesce(w{i}.w, 0)" for i in range(len(COMPARISONS)))
    con.execute(
        f"CREATE TEMP TABLE cand AS SELECT c.*, {base} + {total} AS weight, "
        f"1 / (1 + pow(2, -({base} + {total}))) AS probability FROM cand_pattern c {joins}"
    )
    row = con.execute(
        "SELECT sum(probability), avg(probability) FILTER (WHERE linked), "
        "sum(probability) FILTER (WHERE linked) FROM cand"
    ).fetchone()
    expected = float(row[0] or 0.0) if row else 0.0
    label_free = LabelFree(
        candidate_pairs=candidates,
        linked_pairs=linked_pairs,
        prior=prior,
        expected_matches=expected,
        expected_precision=None if row is None or row[1] is None else float(row[1]),
        expected_recall=None if not expected or row is None else float(row[2] or 0.0) / expected,
    )
    return tuple(weights), _weight_histograms(con), label_free


def _weight_histograms(con: duckdb.DuckDBPyConnection) -> tuple[WeightHistogram, ...]:
    """Per source pair (most pairs first), counts of linked and not linked candidate pairs in
    each ``HISTOGRAM_BINS`` bin of match weight, weights outside the range in the end bins;
    counted in SQL so that tens of millions of pairs never reach Python."""
    edges = list(HISTOGRAM_BINS)
    width = edges[1] - edges[0]
    bins = len(edges) - 1
    rows = con.execute(
        "SELECT least(a_source, b_source) || ' × ' || greatest(a_source, b_source) AS sp, "
        f"least(greatest(floor((weight - {edges[0]}) / {width}), 0), {bins - 1})::INT AS bin, "
        "linked, count(*) FROM cand GROUP BY ALL"
    ).fetchall()
    counts: dict[str, dict[bool, list[int]]] = {}
    for sp, b, linked, n in rows:
        per = counts.setdefault(str(sp), {True: [0] * bins, False: [0] * bins})
        per[bool(linked)][int(b)] += int(n)
    totals = {sp: sum(per[True]) + sum(per[False]) for sp, per in counts.items()}
    return tuple(
        WeightHistogram(
            source_pair=sp,
            bin_edges=tuple(edges),
            linked=tuple(counts[sp][True]),
            not_linked=tuple(counts[sp][False]),
        )
        for sp in sorted(counts, key=lambda k: (-totals[k], k))
    )


def _pair_score(scope: str, predicted: int, true: int, tp: int) -> PairScore:
    precision, recall = wilson(tp, predicted), wilson(tp, true)
    p, r = precision.value, recall.value
    f1 = None if p is None or r is None else (2 * p * r / (p + r) if p + r else 0.0)
    return PairScore(
        scope=scope,
        predicted_pairs=predicted,
        true_pairs=true,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=f1,
    )


def _truth_scores(con: duckdb.DuckDBPyConnection) -> tuple[PairScore, tuple[PairScore, ...]]:
    """Pairwise scores from cluster sizes (no pair list), overall and per source pair."""
    con.execute(
        "CREATE TEMP TABLE scored AS SELECT r.rid, r.source, r.person_id AS predicted, t.truth_id "
        "FROM rec r JOIN rec_truth t USING (rid)"
    )

    def pairs_by_source(group: str) -> dict[tuple[str, str], int]:
        rows = con.execute(
            f"WITH c AS (SELECT {group}, source, count(*) AS n FROM scored GROUP BY ALL) "
            "SELECT x.source, y.source, sum(CASE WHEN x.source = y.source "
            "THEN x.n * (x.n - 1) // 2 ELSE x.n * y.n END) FROM c x JOIN c y USING "
            f"({group}) WHERE x.source <= y.source GROUP BY ALL"
        ).fetchall()
        return {(str(a), str(b)): int(n) for a, b, n in rows}

    predicted = pairs_by_source("predicted")
    true = pairs_by_source("truth_id")
    tp = pairs_by_source("predicted, truth_id")
    overall = _pair_score("overall", sum(predicted.values()), sum(true.values()), sum(tp.values()))
    keys = sorted(set(predicted) | set(true))
    by_pair = tuple(
        _pair_score(f"{a} × {b}", predicted.get((a, b), 0), true.get((a, b), 0), tp.get((a, b), 0))
        for a, b in keys
    )
    return overall, by_pair


def _subgroups(con: duckdb.DuckDBPyConnection, has_truth: bool) -> tuple[SubgroupRates, ...]:
    group_sql = _record_groups_sql(has_truth)
    kinds = TRUTH_SUBGROUPS if has_truth else STORE_SUBGROUPS
    con.execute(f"CREATE TEMP TABLE rec_groups AS {group_sql}")
    if has_truth:
        con.execute(
            "CREATE TEMP TABLE rec_flags AS "
            "WITH s AS (SELECT rid, predicted, truth_id FROM scored), "
            "tsize AS (SELECT truth_id, count(*) AS n FROM s GROUP BY ALL), "
            "psize AS (SELECT predicted, count(*) AS n FROM s GROUP BY ALL), "
            "both_size AS (SELECT predicted, truth_id, count(*) AS n FROM s GROUP BY ALL), "
            "impure AS (SELECT predicted FROM s GROUP BY ALL HAVING count(DISTINCT truth_id) > 1) "
            "SELECT s.rid, ps.n > 1 AS linked, ts.n > 1 AS has_mate, bs.n < ts.n AS missed, "
            "s.predicted IN (SELECT predicted FROM impure) AS false_link "
            "FROM s JOIN tsize ts USING (truth_id) JOIN psize ps USING (predicted) "
            "JOIN both_size bs USING (predicted, truth_id)"
        )
    out: list[SubgroupRates] = []
    for kind in kinds:
        if not has_truth:
            for group, n, linked in con.execute(
                f"SELECT g.{kind}, count(*), count(*) FILTER (WHERE ps.n > 1) FROM rec r "
                "JOIN rec_groups g USING (rid) JOIN person_size ps USING (person_id) "
                "GROUP BY ALL ORDER BY 1"
            ).fetchall():
                out.append(
                    SubgroupRates(
                        kind=kind,
                        group=str(group),
                        records=int(n),
                        link_rate=wilson(int(linked), int(n)),
                    )
                )
            continue
        rates = {
            str(g): (int(n), int(lk), int(mate), int(miss), int(fl))
            for g, n, lk, mate, miss, fl in con.execute(
                f"SELECT g.{kind}, count(*), count(*) FILTER (WHERE f.linked), "
                "count(*) FILTER (WHERE f.has_mate), "
                "count(*) FILTER (WHERE f.has_mate AND f.missed), "
                "count(*) FILTER (WHERE f.false_link) "
                "FROM rec_flags f JOIN rec_groups g USING (rid) "
                "GROUP BY ALL"
            ).fetchall()
        }
        # pairwise, per subgroup: true pairs lie within one true person (its subgroup); a
        # predicted pair counts for a subgroup when either record belongs to it
        pair_rows = con.execute(
            "WITH s AS (SELECT sc.predicted, sc.truth_id, g." + kind + " AS grp FROM scored sc "
            "JOIN rec_groups g USING (rid)), "
            "pc AS (SELECT predicted, count(*) AS n FROM s GROUP BY ALL), "
            "pg AS (SELECT predicted, grp, count(*) AS k FROM s GROUP BY ALL), "
            "tp AS (SELECT grp, sum(c * (c - 1) // 2) AS tp FROM (SELECT predicted, truth_id, grp, "
            "  count(*) AS c FROM s GROUP BY ALL) GROUP BY grp), "
            "tr AS (SELECT grp, sum(c * (c - 1) // 2) AS tr FROM (SELECT truth_id, grp, "
            "  count(*) AS c FROM s GROUP BY ALL) GROUP BY grp), "
            "pr AS (SELECT pg.grp, sum(pc.n * (pc.n - 1) // 2 - (pc.n - pg.k) * (pc.n - pg.k - 1) "
            "  // 2) AS pr FROM pg JOIN pc USING (predicted) GROUP BY pg.grp) "
            "SELECT grp, coalesce(pr.pr, 0), coalesce(tr.tr, 0), coalesce(tp.tp, 0) "
            "FROM pr FULL JOIN tr USING (grp) FULL JOIN tp USING (grp)"
        ).fetchall()
        pairwise = {str(g): (int(p), int(t), int(x)) for g, p, t, x in pair_rows}
        for group in sorted(rates):
            n, linked, mates, missed, false = rates[group]
            p, t, x = pairwise.get(group, (0, 0, 0))
            out.append(
                SubgroupRates(
                    kind=kind,
                    group=group,
                    records=n,
                    link_rate=wilson(linked, n),
                    missed_link_rate=wilson(missed, mates),
                    false_link_rate=wilson(false, n),
                    precision=wilson(min(x, p), p),
                    recall=wilson(x, t),
                )
            )
    return tuple(out)


def _audit_rows(con: duckdb.DuckDBPyConnection, where: str, has_truth: bool) -> list[AuditPair]:
    truth = (
        "(SELECT ta.truth_id = tb.truth_id FROM rec_truth ta, rec_truth tb "
        "WHERE ta.rid = c.a_rid AND tb.rid = c.b_rid)"
        if has_truth
        else "NULL"
    )
    fields = ", ".join(f'c."{f}"' for f in COMPARISONS)
    rows = con.execute(
        f"SELECT a.record_key, b.record_key, a.source, b.source, "
        "CASE WHEN c.linked THEN coalesce(nullif(a.linked_by, 'unlinked'), 'linked') "
        f"ELSE 'not linked' END, c.weight, {truth}, {fields} "
        f"FROM cand c JOIN rec a ON a.rid = c.a_rid JOIN rec b ON b.rid = c.b_rid {where}"
    ).fetchall()
    out = []
    for r in rows:
        out.append(
            AuditPair(
                record_key_a=str(r[0]),
                record_key_b=str(r[1]),
                source_a=str(r[2]),
                source_b=str(r[3]),
                linked_by=str(r[4]),
                match_weight=round(float(r[5]), 2),
                is_true_match=None if r[6] is None else bool(r[6]),
                pattern=dict(zip(COMPARISONS, (str(x) for x in r[7:]), strict=True)),
            )
        )
    return out


# An audit pair must have at least three fields to compare, or a reviewer learns nothing.
_INFORMATIVE = "(" + " + ".join(f"(c.\"{f}\" <> '-')::INT" for f in COMPARISONS) + ") >= 3"


def _audits(
    con: duckdb.DuckDBPyConnection, has_truth: bool
) -> tuple[tuple[AuditPair, ...], tuple[AuditPair, ...]]:
    """False-match audit: half the lowest-weight linked pairs (just above where the index draws
    the line), half a seeded random sample of linked pairs. Missed-match audit: records the index
    left unlinked, each with its best candidate, highest weight first."""
    half = AUDIT_SIZE // 2
    linked = f"WHERE c.linked AND {_INFORMATIVE}"
    low = _audit_rows(con, f"{linked} ORDER BY c.weight, c.a_rid, c.b_rid LIMIT {half}", has_truth)
    seen = {(p.record_key_a, p.record_key_b) for p in low}
    rand = _audit_rows(
        con,
        f"{linked} ORDER BY hash(c.a_rid * 1000003 + c.b_rid) LIMIT {AUDIT_SIZE}",
        has_truth,
    )
    sample = low + [p for p in rand if (p.record_key_a, p.record_key_b) not in seen][:half]
    missed = _audit_rows(
        con,
        "WHERE NOT c.linked AND (c.a_rid IN (SELECT r.rid FROM rec r JOIN person_size ps "
        "USING (person_id) WHERE ps.n = 1) OR c.b_rid IN (SELECT r.rid FROM rec r JOIN person_size "
        "ps USING (person_id) WHERE ps.n = 1)) "
        "QUALIFY row_number() OVER (PARTITION BY least(c.a_rid, c.b_rid) "
        "ORDER BY c.weight DESC) = 1 "
        f"ORDER BY c.weight DESC, c.a_rid, c.b_rid LIMIT {AUDIT_SIZE}",
        has_truth,
    )
    return tuple(sample), tuple(missed)


def _clusters(con: duckdb.DuckDBPyConnection, run: Mapping[str, Any]) -> Clusters:
    conflicts = {
        str(k): int(v)
        for k, v in con.execute(
            "SELECT kind, count(*) FROM link__conflicts GROUP BY ALL ORDER BY 1"
        ).fetchall()
    }
    return Clusters(
        size_distribution={str(k): int(v) for k, v in run["size_distribution"].items()},
        persons_with_records=int(run["persons_with_records"]),
        persons_with_two_nhs_numbers=conflicts.get("nhs", 0),
        conflicts_by_kind=conflicts,
    )
