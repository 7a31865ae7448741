"""How good a person index is against known truth (simulated districts only).

Pairwise scores over identity records: a pair of records is *predicted* linked when the index
gives them one person_id, and *truly* linked when the truth map gives them one person. Precision
is true linked pairs among predicted pairs, recall true linked pairs found among all true pairs.
Pairs are counted from cluster sizes (n choose 2), so no pair list is ever built.

Invariants: the truth map is joined on (source, table, row_number), the row numbering ingest
and the simulator share; the result holds counts only.
"""

# SQL here is assembled from this package's own constants (table names, rule names, code
# sets) and never from row values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkageScore:
    records_scored: int
    records_without_truth: int
    predicted_pairs: int
    true_pairs: int
    true_positive_pairs: int

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_against_truth(
    con: duckdb.DuckDBPyConnection,
    truth_csv: Path,
    *,
    record_person: str = "link__record_person",
    identities: str = "vault.vault__identities",
) -> LinkageScore:
    """Score ``record_person`` on ``con`` (vault attached) against ``truth/person_map.csv``."""
    con.execute(
        'CREATE OR REPLACE TEMP TABLE link_truth AS SELECT source, "table" AS table_name, '
        "row_number::BIGINT AS row_number, person_id FROM read_csv(?, header = true, "
        "all_varchar = true)",
        [str(truth_csv)],
    )
    row = con.execute(
        "WITH j AS ("
        f"  SELECT lp.person_id AS predicted, t.person_id AS truth FROM {record_person} lp "
        f"  JOIN {identities} v ON v.record_key = lp.record_key "
        "  LEFT JOIN link_truth t ON t.source = v.source AND t.table_name = v.table_name "
        "  AND t.row_number = v.row_number), "
        "scored AS (SELECT * FROM j WHERE truth IS NOT NULL) "
        "SELECT (SELECT count(*) FROM scored), (SELECT count(*) FROM j WHERE truth IS NULL), "
        "(SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM "
        "  (SELECT count(*) AS n FROM scored GROUP BY predicted)), "
        "(SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM "
        "  (SELECT count(*) AS n FROM scored GROUP BY truth)), "
        "(SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM "
        "  (SELECT count(*) AS n FROM scored GROUP BY predicted, truth))"
    ).fetchone()
    con.execute("DROP TABLE IF EXISTS link_truth")
    if row is None:
        raise RuntimeError("the scoring query returned no row")
    return LinkageScore(
        records_scored=int(row[0]),
        records_without_truth=int(row[1]),
        predicted_pairs=int(row[2]),
        true_pairs=int(row[3]),
        true_positive_pairs=int(row[4]),
    )


def score_node_against_truth(node: NodeSettings, truth_csv: Path) -> LinkageScore:
    """Score a node's current person index against a simulator's ``truth/person_map.csv``."""
    from joinedup.link.refresh import attach_vault

    con = duckdb.connect(str(node.store_path), read_only=True, config=node.duckdb_config())
    try:
        attach_vault(con, node.vault_path)
        return score_against_truth(con, truth_csv)
    finally:
        con.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupScore:
    """Pairwise scores for the records of one subgroup (truth people with ``column = group``).

    Recall counts true pairs within the group's people; precision counts predicted pairs with at
    least one record of the group (so a false link between two groups counts against both).
    """

    column: str
    group: str
    records: int
    predicted_pairs: int
    true_pairs: int
    true_positive_pairs: int

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


SUBGROUP_COLUMNS: tuple[str, ...] = (
    "ethnic_group",
    "eal",
    "imd_quintile",
    "n_moves",
    "is_cla",
    "adopted",
)


def score_by_group(
    con: duckdb.DuckDBPyConnection,
    truth_dir: Path,
    column: str,
    *,
    record_person: str = "link__record_person",
    identities: str = "vault.vault__identities",
) -> list[GroupScore]:
    """Score ``record_person`` by the values of ``truth/people.csv``'s ``column`` (one of
    ``SUBGROUP_COLUMNS``); ``n_moves`` is bucketed 0, 1, 2, 3+."""
    if column not in SUBGROUP_COLUMNS:
        raise ValueError(f"unknown subgroup column; choose one of {', '.join(SUBGROUP_COLUMNS)}")
    group_sql = (
        "CASE WHEN p.n_moves::INT >= 3 THEN '3+' ELSE p.n_moves END"
        if column == "n_moves"
        else f'p."{column}"'
    )
    con.execute(
        'CREATE OR REPLACE TEMP TABLE link_truth AS SELECT m.source, m."table" AS table_name, '
        "m.row_number::BIGINT AS row_number, m.person_id, "
        f"coalesce({group_sql}, '(missing)') AS grp "
        "FROM read_csv(?, header = true, all_varchar = true) m "
        "JOIN read_csv(?, header = true, all_varchar = true) p USING (person_id)",
        [str(truth_dir / "person_map.csv"), str(truth_dir / "people.csv")],
    )
    rows = con.execute(
        "WITH j AS ("
        f"  SELECT lp.person_id AS predicted, t.person_id AS truth, t.grp FROM {record_person} lp "
        f"  JOIN {identities} v ON v.record_key = lp.record_key "
        "  JOIN link_truth t ON t.source = v.source AND t.table_name = v.table_name "
        "  AND t.row_number = v.row_number), "
        "groups AS (SELECT DISTINCT grp FROM j), "
        "pred AS (SELECT predicted, grp, count(*) AS n_g FROM j GROUP BY ALL), "
        "pred_all AS (SELECT predicted, count(*) AS n FROM j GROUP BY ALL), "
        "pp AS (SELECT p.grp, sum(a.n * (a.n - 1) // 2 - (a.n - p.n_g) * (a.n - p.n_g - 1) // 2) "
        "  AS predicted_pairs FROM pred p JOIN pred_all a USING (predicted) GROUP BY p.grp), "
        "tp AS (SELECT grp, sum(n * (n - 1) // 2) AS tp FROM "
        "  (SELECT predicted, truth, grp, count(*) AS n FROM j GROUP BY ALL) GROUP BY grp), "
        "tr AS (SELECT grp, sum(n * (n - 1) // 2) AS tr, sum(n) AS records FROM "
        "  (SELECT truth, grp, count(*) AS n FROM j GROUP BY ALL) GROUP BY grp) "
        "SELECT g.grp, coalesce(tr.records, 0), coalesce(pp.predicted_pairs, 0), "
        "coalesce(tr.tr, 0), coalesce(tp.tp, 0) FROM groups g "
        "LEFT JOIN pp USING (grp) LEFT JOIN tp USING (grp) LEFT JOIN tr USING (grp) ORDER BY g.grp"
    ).fetchall()
    con.execute("DROP TABLE IF EXISTS link_truth")
    return [
        GroupScore(
            column=column,
            group=str(r[0]),
            records=int(r[1]),
            predicted_pairs=int(r[2]),
            true_pairs=int(r[3]),
            true_positive_pairs=int(r[4]),
        )
        for r in rows
    ]


def score_node_by_group(node: NodeSettings, truth_dir: Path, column: str) -> list[GroupScore]:
    """``score_by_group`` on a node's current person index (``truth_dir``: ``<extracts>/truth``)."""
    from joinedup.link.refresh import attach_vault

    con = duckdb.connect(str(node.store_path), read_only=True, config=node.duckdb_config())
    try:
        attach_vault(con, node.vault_path)
        return score_by_group(con, truth_dir, column)
    finally:
        con.close()
