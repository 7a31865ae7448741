"""The person index: a graph over identity records and subject keys, cut into persons.

Nodes are identity records (``vault__identities.record_key``) and key nodes (a rule's key, such
as a UPN pseudonym, or an event table's subject key). Stages (``joinedup.link.stages``) propose
edges; connected components of the graph are persons. Components are found with
``scipy.sparse.csgraph.connected_components`` over integer-coded nodes, so a few million nodes
take seconds.

The over-merge guard. Strong edges are always kept. A guarded edge (exact name + date of birth
+ sex; later Splink's pairs) is kept only if the merge it causes brings together at most one
NHS number and, for each spine register, at most ``max_ids`` of its people. Guarded edges are
judged per key node: a name key that would join two children with different NHS numbers is
dropped whole, and its records stay with what their strong identifiers say. Conflicts that strong
edges make on their own (say a former UPN reassigned to another child) are not split: the
person is *flagged* in ``link__conflicts`` (kind and a count only), because splitting on a guess
would hide the error rather than report it.

person_id. ``jp_pseudonym('person', anchor)`` where the anchor is the component's smallest
``nhs_dob`` key, else its smallest UPN key, LA child id key, GP patient id key, else its
smallest record key. The anchor depends only on a person's own identifiers and the node secret,
not on row order, batch or which other records arrived, so a child keeps the same person_id from
refresh to refresh until linkage itself changes (a merge, a split, or the first record that
carries a stronger identifier re-anchors the person).

Invariants:
- every identity record gets exactly one person_id; every subject key seen in an event table
  gets exactly one person_id (a child known only by events is a person of its own);
- the output tables hold pseudonyms, rule names and counts only.
"""

# SQL here is assembled from this package's own constants (table names, rule names, code
# sets) and never from row values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from joinedup.link.deterministic import SpineGuard, SubjectTable
from joinedup.link.stages import LinkContext, LinkStage, PersonIndexRule, Strength

IntArray = npt.NDArray[np.int64]

# Key namespaces that may anchor a person id, in order of preference (records come after).
ANCHOR_NAMESPACES: tuple[str, ...] = ("nhs_dob", "upn", "la_child_id", "gp_patient_id")
# Key namespaces published in link__subject_person (event tables name subjects by these).
SUBJECT_NAMESPACES: tuple[str, ...] = ANCHOR_NAMESPACES
UNLINKED = "unlinked"
_SIZE_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4", 4, 4),
    ("5-9", 5, 9),
    ("10-49", 10, 49),
    ("50+", 50, 2**62),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexSettings:
    stages: tuple[LinkStage, ...]
    spine_guards: tuple[SpineGuard, ...]
    subject_tables: tuple[SubjectTable, ...]
    max_nhs_numbers: int = 1
    table_suffix: str = ""  # e.g. "__next" while a refresh builds new tables
    # the vault batches to index (the latest complete extract of each source); None: all
    batch_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexResult:
    method: str
    rules: tuple[PersonIndexRule, ...]
    records: int
    subject_keys: int
    persons: int
    persons_with_records: int
    edges_by_rule: Mapping[str, int]
    records_linked_by: Mapping[str, int]  # rule name or "unlinked" -> records
    size_distribution: Mapping[str, int]  # records per person bucket -> persons
    conflicts: Mapping[str, int]  # conflict kind -> persons flagged
    guarded_keys_rejected: int
    started_at: datetime
    finished_at: datetime
    seconds: float = field(default=0.0)

    @property
    def unlinked_records(self) -> int:
        return self.records_linked_by.get(UNLINKED, 0)


def install_pseudonym_macro(con: duckdb.DuckDBPyConnection, secret_key: bytes) -> None:
    """Define ``jp_pseudonym(kind, value)`` = HMAC-SHA256(key, "kind:value")[:32 hex] in SQL.

    It is the vault's ``pseudonym`` computed column-wise (HMAC's two hashes spelled out), so keys
    for millions of records cost seconds. The key lives only in this session's variables.
    """
    block = secret_key if len(secret_key) <= 64 else _sha256(secret_key)
    padded = block.ljust(64, b"\0")
    con.execute("SET VARIABLE jp_ipad = ?::BLOB", [bytes(b ^ 0x36 for b in padded)])
    con.execute("SET VARIABLE jp_opad = ?::BLOB", [bytes(b ^ 0x5C for b in padded)])
    con.execute(
        "CREATE OR REPLACE TEMP MACRO jp_pseudonym(kind, val) AS "
        "substr(sha256(getvariable('jp_opad') || unhex(sha256(getvariable('jp_ipad') || "
        "encode(kind || ':' || val)))), 1, 32)"
    )


def drop_pseudonym_macro(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP MACRO IF EXISTS temp.jp_pseudonym")
    con.execute("RESET VARIABLE jp_ipad")
    con.execute("RESET VARIABLE jp_opad")


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def _components(n: int, src: IntArray, dst: IntArray) -> IntArray:
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = ? AND table_catalog = current_database()",
        [name],
    ).fetchone()
    return row is not None and int(row[0]) > 0


def build_person_index(
    con: duckdb.DuckDBPyConnection,
    settings: IndexSettings,
    *,
    on_step: Callable[[str], None] | None = None,
) -> IndexResult:
    """Build the index into ``link__record_person``, ``link__subject_person`` and
    ``link__conflicts`` (each with ``settings.table_suffix``).

    ``con`` is the store connection with the vault attached as ``vault`` and the pseudonym
    macro installed (``install_pseudonym_macro``).
    """
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    rules: list[PersonIndexRule] = [r for s in settings.stages for r in s.rules]
    rule_index = {r.name: i for i, r in enumerate(rules)}
    if len(rule_index) != len(rules):
        raise ValueError("two link stages declare a rule with the same name")
    is_strong = np.array([r.strength is Strength.STRONG for r in rules], dtype=bool)

    step("records")
    _narrow_to_batches(con, settings.batch_ids)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link_records AS "
        "SELECT (row_number() OVER (ORDER BY record_key) - 1)::BIGINT AS rid, "
        "record_key, source, table_name FROM link_identities"
    )
    n_records = _count(con, "link_records")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link_edges "
        "(rule VARCHAR NOT NULL, record_key VARCHAR NOT NULL, node VARCHAR NOT NULL)"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE link_residue AS SELECT record_key FROM link_records")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link_assignment AS "
        "SELECT record_key, rid AS component FROM link_records"
    )
    _collect_subject_nodes(con, settings.subject_tables)
    _collect_guard_attributes(con, settings)

    context = LinkContext(
        con=con,
        records_table="link_records",
        residue_table="link_residue",
        assignment_table="link_assignment",
        edges_table="link_edges",
    )
    graph: _Graph | None = None
    for stage in settings.stages:
        step(f"stage {stage.name}")
        stage.write_edges(context)
        graph = _cluster(con, n_records, rules, rule_index, is_strong)
        _write_progress_tables(con, graph)
    if graph is None:
        graph = _cluster(con, n_records, rules, rule_index, is_strong)

    step("person ids")
    _write_outputs(con, graph, settings.table_suffix, [r.name for r in rules])
    persons = _count(con, "link_person_anchor")
    persons_with_records = len(np.unique(graph.labels[:n_records]))
    sizes = np.bincount(graph.labels[:n_records])
    sizes = sizes[sizes > 0]
    distribution = {
        name: int(((sizes >= lo) & (sizes <= hi)).sum()) for name, lo, hi in _SIZE_BUCKETS
    }
    linked_by = {r.name: 0 for r in rules}
    linked_by[UNLINKED] = 0
    codes, counts = np.unique(graph.linked_by, return_counts=True)
    for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
        name = UNLINKED if code < 0 else rules[code].name
        linked_by[name] = int(count)
    edges_by_rule = {r.name: 0 for r in rules}
    codes, counts = np.unique(graph.rule, return_counts=True)
    for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
        edges_by_rule[rules[code].name] = int(count)
    conflicts = dict(
        (str(k), int(v))
        for k, v in con.execute(
            f"SELECT kind, count(*) FROM link__conflicts{settings.table_suffix} "
            "GROUP BY kind ORDER BY kind"
        ).fetchall()
    )
    method = "+".join(s.name for s in settings.stages)
    return IndexResult(
        method=method,
        rules=tuple(rules),
        records=n_records,
        subject_keys=graph.n_nodes - n_records,
        persons=persons,
        persons_with_records=persons_with_records,
        edges_by_rule=edges_by_rule,
        records_linked_by=linked_by,
        size_distribution=distribution,
        conflicts=conflicts,
        guarded_keys_rejected=graph.guarded_rejected,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        seconds=time.perf_counter() - t0,
    )


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return 0 if row is None else int(row[0])


def _narrow_to_batches(con: duckdb.DuckDBPyConnection, batch_ids: Sequence[str] | None) -> None:
    """Views ``link_identities`` and ``link_keys`` over the vault, limited to ``batch_ids``."""
    if batch_ids is None:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW link_identities AS SELECT * FROM vault.vault__identities"
        )
        con.execute("CREATE OR REPLACE TEMP VIEW link_keys AS SELECT * FROM vault.vault__keys")
        return
    con.execute("CREATE OR REPLACE TEMP TABLE link_batches (batch_id VARCHAR)")
    con.executemany("INSERT INTO link_batches VALUES (?)", [[b] for b in batch_ids])
    con.execute(
        "CREATE OR REPLACE TEMP VIEW link_identities AS SELECT * FROM vault.vault__identities "
        "WHERE batch_id IN (SELECT batch_id FROM link_batches)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW link_keys AS SELECT k.* FROM vault.vault__keys k "
        "JOIN link_identities i USING (record_key)"
    )


def _collect_subject_nodes(con: duckdb.DuckDBPyConnection, tables: Sequence[SubjectTable]) -> None:
    """Key nodes for every subject key an event table uses, linked to records or not."""
    parts = [
        f"SELECT DISTINCT '{t.namespace}:' || subject_key AS node FROM {t.raw_table} "
        "WHERE subject_key IS NOT NULL"
        for t in tables
        if _table_exists(con, t.raw_table)
    ]
    body = " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS node WHERE false"
    con.execute(f"CREATE OR REPLACE TEMP TABLE link_subject_nodes AS {body}")


def _collect_guard_attributes(con: duckdb.DuckDBPyConnection, settings: IndexSettings) -> None:
    """Per record, the identities the guard counts: its NHS number and its spine register id.

    Values become dense integer codes inside the query; no identifier leaves the vault.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE link_guard_limits (kind VARCHAR, max_ids BIGINT)")
    con.execute("INSERT INTO link_guard_limits VALUES ('nhs', ?)", [settings.max_nhs_numbers])
    parts = [
        "SELECT r.rid, 'nhs' AS kind, dense_rank() OVER (ORDER BY i.nhs_number) AS value "
        "FROM link_identities i JOIN link_records r USING (record_key) "
        "WHERE i.nhs_number IS NOT NULL"
    ]
    for guard in settings.spine_guards:
        kind = f"spine:{guard.source}.{guard.table}"
        con.execute("INSERT INTO link_guard_limits VALUES (?, ?)", [kind, guard.max_ids])
        column = {"local_id": "local_id", "upn": "upn"}[guard.id_column]
        parts.append(
            f"SELECT r.rid, '{kind}' AS kind, dense_rank() OVER (ORDER BY i.{column}) AS value "
            "FROM link_identities i JOIN link_records r USING (record_key) "
            f"WHERE i.source = '{guard.source}' AND i.table_name = '{guard.table}' "
            f"AND i.{column} IS NOT NULL"
        )
    con.execute("CREATE OR REPLACE TEMP TABLE link_guard_attrs AS " + " UNION ALL ".join(parts))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Graph:
    n_records: int
    n_nodes: int
    labels: IntArray  # component of every node (records first)
    rule: IntArray  # accepted edges, deduplicated: rule code
    src: IntArray
    dst: IntArray
    linked_by: IntArray  # per record: best rule code linking it to another record, or -1
    guarded_rejected: int


def _cluster(
    con: duckdb.DuckDBPyConnection,
    n_records: int,
    rules: Sequence[PersonIndexRule],
    rule_index: Mapping[str, int],
    is_strong: npt.NDArray[np.bool_],
) -> _Graph:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link_nodes AS "
        "SELECT (? + row_number() OVER (ORDER BY node) - 1)::BIGINT AS nid, node FROM ("
        "  SELECT DISTINCT node FROM ("
        "    SELECT node FROM link_edges UNION ALL SELECT node FROM link_subject_nodes"
        "  ) WHERE node NOT IN (SELECT record_key FROM link_records))",
        [n_records],
    )
    n_nodes = n_records + _count(con, "link_nodes")
    rule_table = pa.table(
        {
            "rule": pa.array(list(rule_index), pa.string()),
            "code": pa.array(list(rule_index.values()), pa.int64()),
        }
    )
    con.register("link_rule_codes", rule_table)
    try:
        arrays = con.execute(
            "SELECT DISTINCT c.code, r.rid AS src, coalesce(n.nid, r2.rid) AS dst "
            "FROM link_edges e JOIN link_rule_codes c ON c.rule = e.rule "
            "JOIN link_records r ON r.record_key = e.record_key "
            "LEFT JOIN link_nodes n ON n.node = e.node "
            "LEFT JOIN link_records r2 ON r2.record_key = e.node "
            "WHERE coalesce(n.nid, r2.rid) IS NOT NULL AND coalesce(n.nid, r2.rid) <> r.rid "
            "ORDER BY src, dst, c.code"
        ).fetchnumpy()
    finally:
        con.unregister("link_rule_codes")
    code = np.asarray(arrays["code"], dtype=np.int64)
    src = np.asarray(arrays["src"], dtype=np.int64)
    dst = np.asarray(arrays["dst"], dtype=np.int64)
    strong = is_strong[code] if len(code) else np.zeros(0, dtype=bool)

    labels = _components(n_nodes, src[strong], dst[strong])
    guarded = ~strong
    rejected_nodes = _rejected_guarded_nodes(con, labels, src[guarded], dst[guarded])
    keep = strong | (guarded & ~np.isin(dst, rejected_nodes))
    code, src, dst = code[keep], src[keep], dst[keep]
    labels = _components(n_nodes, src, dst)
    return _Graph(
        n_records=n_records,
        n_nodes=n_nodes,
        labels=labels,
        rule=code,
        src=src,
        dst=dst,
        linked_by=_linked_by(n_records, n_nodes, code, src, dst),
        guarded_rejected=len(rejected_nodes),
    )


def _rejected_guarded_nodes(
    con: duckdb.DuckDBPyConnection, labels: IntArray, src: IntArray, dst: IntArray
) -> IntArray:
    """Guarded key nodes whose merge would join conflicting identities (see module docstring)."""
    if len(src) == 0:
        return np.zeros(0, dtype=np.int64)
    con.register("link_lab", pa.table({"nid": np.arange(len(labels)), "comp": labels}))
    con.register("link_guarded", pa.table({"src": src, "dst": dst}))
    try:
        rows = con.execute(
            "WITH touch AS ("
            "  SELECT g.dst AS gnode, l.comp FROM link_guarded g JOIN link_lab l ON l.nid = g.src"
            "  UNION SELECT g.dst, l.comp FROM link_guarded g JOIN link_lab l ON l.nid = g.dst),"
            " comp_attr AS ("
            "  SELECT DISTINCT l.comp, a.kind, a.value FROM link_guard_attrs a "
            "  JOIN link_lab l ON l.nid = a.rid)"
            " SELECT DISTINCT gnode FROM ("
            "  SELECT t.gnode, ca.kind FROM touch t JOIN comp_attr ca ON ca.comp = t.comp"
            "  JOIN link_guard_limits lim ON lim.kind = ca.kind"
            "  GROUP BY t.gnode, ca.kind, lim.max_ids"
            "  HAVING count(DISTINCT ca.value) > lim.max_ids)"
        ).fetchnumpy()
    finally:
        con.unregister("link_lab")
        con.unregister("link_guarded")
    return np.asarray(rows["gnode"], dtype=np.int64)


def _linked_by(
    n_records: int, n_nodes: int, code: IntArray, src: IntArray, dst: IntArray
) -> IntArray:
    """Per record, the best (lowest) rule code of an edge that joins it to another record."""
    is_key = dst >= n_records
    degree = np.bincount(dst[is_key], minlength=n_nodes)
    joins = np.where(is_key, degree[dst] >= 2, True)
    best = np.full(n_records, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, src[joins], code[joins])
    pair = joins & ~is_key
    np.minimum.at(best, dst[pair], code[pair])
    best[best == np.iinfo(np.int64).max] = -1
    return best


def _write_progress_tables(con: duckdb.DuckDBPyConnection, graph: _Graph) -> None:
    """Refresh ``link_assignment`` and ``link_residue`` for the next stage."""
    con.register(
        "link_state",
        pa.table(
            {
                "rid": np.arange(graph.n_records),
                "component": graph.labels[: graph.n_records],
                "linked": graph.linked_by >= 0,
            }
        ),
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_assignment AS "
            "SELECT r.record_key, s.component FROM link_records r JOIN link_state s USING (rid)"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_residue AS "
            "SELECT r.record_key FROM link_records r JOIN link_state s USING (rid) "
            "WHERE NOT s.linked"
        )
    finally:
        con.unregister("link_state")


def _write_outputs(
    con: duckdb.DuckDBPyConnection, graph: _Graph, suffix: str, rule_names: Sequence[str]
) -> None:
    n = graph.n_records
    names = np.array([*rule_names, UNLINKED], dtype=object)
    con.register("link_lab", pa.table({"nid": np.arange(graph.n_nodes), "comp": graph.labels}))
    con.register(
        "link_record_rule",
        pa.table({"rid": np.arange(n), "linked_by": pa.array(names[graph.linked_by], pa.string())}),
    )
    try:
        anchor_rank = " ".join(
            f"WHEN starts_with(node, '{ns}:') THEN {i}" for i, ns in enumerate(ANCHOR_NAMESPACES)
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_person_anchor AS "
            "SELECT comp, jp_pseudonym('person', first(label ORDER BY pref, label)) AS person_id "
            "FROM ("
            f"  SELECT l.comp, n.node AS label, CASE {anchor_rank} ELSE NULL END AS pref "
            "  FROM link_nodes n JOIN link_lab l ON l.nid = n.nid"
            "  UNION ALL"
            f"  SELECT l.comp, r.record_key, {len(ANCHOR_NAMESPACES)} "
            "  FROM link_records r JOIN link_lab l ON l.nid = r.rid"
            ") WHERE pref IS NOT NULL GROUP BY comp"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE link__record_person{suffix} AS "
            "SELECT r.record_key, a.person_id, r.source, r.table_name, "
            "rr.linked_by "
            "FROM link_records r JOIN link_lab l ON l.nid = r.rid "
            "JOIN link_person_anchor a ON a.comp = l.comp "
            "JOIN link_record_rule rr ON rr.rid = r.rid ORDER BY r.record_key"
        )
        namespaces = ", ".join(f"'{ns}'" for ns in SUBJECT_NAMESPACES)
        con.execute(
            f"CREATE OR REPLACE TABLE link__subject_person{suffix} AS "
            "SELECT split_part(n.node, ':', 1) AS namespace, "
            "substr(n.node, strpos(n.node, ':') + 1) AS subject_key, a.person_id "
            "FROM link_nodes n JOIN link_lab l ON l.nid = n.nid "
            "JOIN link_person_anchor a ON a.comp = l.comp "
            f"WHERE split_part(n.node, ':', 1) IN ({namespaces}) ORDER BY namespace, subject_key"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE link__conflicts{suffix} AS "
            "SELECT a.person_id, x.kind, x.n_distinct FROM ("
            "  SELECT l.comp, g.kind, count(DISTINCT g.value) AS n_distinct "
            "  FROM link_guard_attrs g JOIN link_lab l ON l.nid = g.rid "
            "  JOIN link_guard_limits lim ON lim.kind = g.kind "
            "  GROUP BY l.comp, g.kind, lim.max_ids HAVING count(DISTINCT g.value) > lim.max_ids"
            ") x JOIN link_person_anchor a ON a.comp = x.comp ORDER BY a.person_id, x.kind"
        )
    finally:
        con.unregister("link_lab")
        con.unregister("link_record_rule")
