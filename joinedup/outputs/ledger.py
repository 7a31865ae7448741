"""The release ledger and the cross-release differencing audit.

Tables (DuckDB, in the node's ``outputs.duckdb``, attached as ``ledger``):

- ``out__releases``: one row per output: project, name, statistic, profile, the population
  definition (the SQL of the relation it was computed from), status, whether it was perturbed;
- ``out__cells``: every cell of every output: labels, status, released value, true n (kept
  inside), population hash, and ``lo``/``hi``: the range of the true count an attacker can infer
  from the released value alone (rounding, perturbation, suppression and the threshold applied);
- ``out__cell_members``: which people (64-bit hashes of their pseudonyms) each cell counted;
  record-level, so it never leaves the node; the audit needs it to find overlaps;
- ``out__settings``: the node's cell-key secret.

The audit (``audit_counts``) partitions everyone counted by the project's releases and the new
output into **atoms**: groups of people who fall in exactly the same cells. Every cell is a sum of
atoms, so all releases together are a linear system on atom counts (``lo <= sum <= hi`` per cell,
counts >= 0). For every atom and every cell whose true count is small (1 to threshold - 1), the
attacker's best range is found by linear programming (HiGHS); a range narrower than the rounding
base (or exact, for unrounded profiles) is a **conflict**: the new output would disclose. For
sums and means (``audit_sums``), a small atom whose total is fixed by the released sums (it lies
in their row space) is a conflict.

Cell-key perturbation (ABS-style) resolves count conflicts where the profile says so: each
person's record key is a keyed hash of their pseudonym hash, a cell's key is the sum of its
record keys mod 256, and a fixed p-table maps the cell key to noise in [-D, D]. The same people
always get the same noise, so reruns cannot average it away.

Invariants: an output is recorded with its cells and members in one transaction; an audit only
reads; released values are never changed after release.
"""

# SQL here is built from quoted identifiers (``quote``) and fixed table names; values are
# always bound parameters; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import secrets
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from joinedup.outputs.evidence import FloatArray

LEDGER = "ledger"
NOISE_TABLE_SIZE = 256

SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS {LEDGER}.out__releases (
        release_id VARCHAR PRIMARY KEY, project_id VARCHAR, name VARCHAR, kind VARCHAR,
        statistic VARCHAR, profile VARCHAR, definition VARCHAR, dims VARCHAR[], status VARCHAR,
        perturbed BOOLEAN, reason VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp)""",
    f"""CREATE TABLE IF NOT EXISTS {LEDGER}.out__cells (
        release_id VARCHAR, cell_index INTEGER, labels VARCHAR[], status VARCHAR,
        released_value DOUBLE, true_n BIGINT, population_hash VARCHAR, lo DOUBLE, hi DOUBLE,
        magnitude BOOLEAN)""",
    f"""CREATE TABLE IF NOT EXISTS {LEDGER}.out__cell_members (
        release_id VARCHAR, cell_index INTEGER, person UBIGINT)""",
    f"CREATE TABLE IF NOT EXISTS {LEDGER}.out__settings (key VARCHAR PRIMARY KEY, value VARCHAR)",
]


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in SCHEMA:
        con.execute(stmt)
    row = con.execute(
        f"SELECT value FROM {LEDGER}.out__settings WHERE key = 'cell_key_secret'"
    ).fetchone()
    if row is None:
        con.execute(
            f"INSERT INTO {LEDGER}.out__settings VALUES ('cell_key_secret', ?)",
            [secrets.token_hex(16)],
        )


def cell_key_secret(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute(
        f"SELECT value FROM {LEDGER}.out__settings WHERE key = 'cell_key_secret'"
    ).fetchone()
    assert row is not None
    return str(row[0])


def noise_table(max_noise: int) -> npt.NDArray[np.int64]:
    """The p-table: NOISE_TABLE_SIZE entries, symmetric, mean zero, values in [-D, D]."""
    if max_noise <= 0:
        return np.zeros(NOISE_TABLE_SIZE, dtype=np.int64)
    values = np.arange(-max_noise, max_noise + 1)
    weights = (max_noise + 1 - np.abs(values)).astype(np.float64)  # triangular
    share = weights / weights.sum()
    counts = np.floor(share * NOISE_TABLE_SIZE).astype(np.int64)
    counts[max_noise] += NOISE_TABLE_SIZE - counts.sum()  # the rest at zero keeps symmetry
    return np.repeat(values, counts).astype(np.int64)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """One small group an attacker could pin down from the new output and earlier ones."""

    target: str  # "atom" or "cell <release>/<index>"
    true_count: int
    low: float
    high: float
    releases: tuple[str, ...]  # the releases whose cells bound it

    def describe(self) -> str:
        # never the range or the count: telling the requester them would be the disclosure
        return (
            f"{self.target.split(' ')[0]}: a group under the threshold could be pinned down "
            f"with releases {', '.join(self.releases)}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateCells:
    """The new output as the audit sees it (cells staged in a temp table of members)."""

    release_id: str
    lo: FloatArray
    hi: FloatArray
    true_n: npt.NDArray[np.int64]
    members_table: str  # temp table (cell_index INTEGER, person UBIGINT)


def _atoms(
    con: duckdb.DuckDBPyConnection, project_id: str, cand: CandidateCells, magnitude: bool
) -> tuple[list[tuple[str, int]], npt.NDArray[np.int64], list[list[int]]]:
    """(constraint cells as (release, index), atom counts, atom -> constraint rows)."""
    kind = "AND c.magnitude" if magnitude else "AND NOT c.magnitude"
    rows = con.execute(
        f"""
        WITH prior AS (
            SELECT m.release_id, m.cell_index, m.person
            FROM {LEDGER}.out__cell_members m
            JOIN {LEDGER}.out__releases r USING (release_id)
            JOIN {LEDGER}.out__cells c USING (release_id, cell_index)
            WHERE r.project_id = ? AND r.status = 'released' {kind}
        ),
        everyone AS (
            SELECT release_id, cell_index, person FROM prior
            UNION ALL SELECT ? AS release_id, cell_index, person FROM {cand.members_table}
        ),
        sig AS (
            SELECT person,
                   list(release_id || '/' || cell_index::VARCHAR
                        ORDER BY release_id, cell_index) AS s
            FROM everyone GROUP BY person
        )
        SELECT s, count(*) FROM sig GROUP BY s
        """,
        [project_id, cand.release_id],
    ).fetchall()
    cells: dict[str, int] = {}
    atom_counts: list[int] = []
    atom_cells: list[list[int]] = []
    for sig, count in rows:
        idx = []
        for key in sig:
            if key not in cells:
                cells[key] = len(cells)
            idx.append(cells[key])
        atom_counts.append(int(count))
        atom_cells.append(idx)
    ordered = sorted(cells.items(), key=lambda kv: kv[1])
    parsed = []
    for key, _ in ordered:
        rel, _, index = key.rpartition("/")
        parsed.append((rel, int(index)))
    return parsed, np.array(atom_counts, dtype=np.int64), atom_cells


def _bounds(
    con: duckdb.DuckDBPyConnection, cells: list[tuple[str, int]], cand: CandidateCells
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    prior = {
        (str(r), int(i)): (float(lo), float(hi), int(n))
        for r, i, lo, hi, n in con.execute(
            f"SELECT release_id, cell_index, lo, hi, true_n FROM {LEDGER}.out__cells"
        ).fetchall()
    }
    lo = np.zeros(len(cells))
    hi = np.zeros(len(cells))
    true_n = np.zeros(len(cells), dtype=np.int64)
    for k, (rel, i) in enumerate(cells):
        if rel == cand.release_id:
            lo[k], hi[k], true_n[k] = cand.lo[i], cand.hi[i], cand.true_n[i]
        else:
            lo[k], hi[k], true_n[k] = prior[(rel, i)]
    return lo, hi, true_n


def audit_counts(
    con: duckdb.DuckDBPyConnection,
    project_id: str,
    cand: CandidateCells,
    *,
    threshold: int,
    width: int,
    max_targets: int = 400,
) -> list[Conflict]:
    """Conflicts the new count output would create with the project's earlier releases."""
    cells, atom_counts, atom_cells = _atoms(con, project_id, cand, magnitude=False)
    if not cells or len({r for r, _ in cells}) < 2:
        return []  # one output alone is the checker's job, not the audit's
    lo, hi, true_n = _bounds(con, cells, cand)
    n_atoms = len(atom_counts)
    data, ri, ci = [], [], []
    for a, idx in enumerate(atom_cells):
        for k in idx:
            ri.append(k)
            ci.append(a)
            data.append(1.0)
    m = csr_matrix((data, (ri, ci)), shape=(len(cells), n_atoms))
    finite = np.isfinite(hi)
    a_ub = _vstack(m[finite], -m)
    b_ub = np.concatenate([hi[finite], -lo])
    targets: list[tuple[str, npt.NDArray[np.float64], int, list[int]]] = []
    for a in np.nonzero((atom_counts >= 1) & (atom_counts < threshold))[0].tolist():
        vec = np.zeros(n_atoms)
        vec[a] = 1.0
        targets.append(("atom", vec, int(atom_counts[a]), atom_cells[int(a)]))
    for k in np.nonzero((true_n >= 1) & (true_n < threshold))[0].tolist():
        vec = np.asarray(m[int(k)].toarray()).reshape(-1)
        targets.append((f"cell {cells[k][0]}/{cells[k][1]}", vec, int(true_n[k]), [int(k)]))
    conflicts: list[Conflict] = []
    for name, vec, count, involved in targets[:max_targets]:
        low = linprog(vec, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        high = linprog(-vec, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        if low.status != 0:
            continue
        lo_v = float(np.ceil(low.fun - 1e-6))
        hi_v = float(np.floor(-high.fun + 1e-6)) if high.status == 0 else float("inf")
        if hi_v - lo_v < width:
            rels = tuple(sorted({cells[k][0] for k in involved} | {cand.release_id}))
            conflicts.append(
                Conflict(target=name, true_count=count, low=lo_v, high=hi_v, releases=rels)
            )
    return conflicts


def _vstack(a: csr_matrix, b: csr_matrix) -> csr_matrix:
    from scipy.sparse import vstack

    return csr_matrix(vstack([a, b]))


def audit_sums(
    con: duckdb.DuckDBPyConnection, project_id: str, cand: CandidateCells, *, threshold: int
) -> list[Conflict]:
    """Conflicts from sums/means: a small atom whose total the released sums fix exactly."""
    cells, atom_counts, atom_cells = _atoms(con, project_id, cand, magnitude=True)
    if not cells or len({r for r, _ in cells}) < 2:
        return []
    _, hi, _ = _bounds(con, cells, cand)
    released = np.isfinite(hi)  # suppressed magnitude cells carry hi = inf
    n_atoms = len(atom_counts)
    mat = np.zeros((len(cells), n_atoms))
    for a, idx in enumerate(atom_cells):
        mat[idx, a] = 1.0
    mat = mat[released]
    if mat.size == 0:
        return []
    # projection onto the row space: an atom's total is fixed iff its unit vector lies in it
    _u, s, vt = np.linalg.svd(mat, full_matrices=False)
    rank = int((s > 1e-9 * max(s.max(), 1.0)).sum())
    basis = vt[:rank]
    proj_diag = (basis**2).sum(axis=0)
    conflicts = []
    for a in np.nonzero((atom_counts >= 1) & (atom_counts < threshold))[0].tolist():
        if proj_diag[a] > 1 - 1e-9:
            rels = tuple(sorted({cells[k][0] for k in atom_cells[int(a)]}))
            conflicts.append(
                Conflict(
                    target="atom (sum)",
                    true_count=int(atom_counts[a]),
                    low=0,
                    high=0,
                    releases=rels,
                )
            )
    return conflicts
