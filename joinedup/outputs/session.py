"""The typed output calls: the only way a number leaves the node.

``OutputSession(con, project_id=..., release_dir=..., staging_dir=...)`` wraps a DuckDB
connection holding the data (the store, or a project view) with the release ledger attached as
``ledger``. Each call computes evidence inside the node, checks and mitigates it under the
session's profile, audits it against the project's earlier releases, records it in the ledger,
writes its files to the staging folder and, if it may go, copies them into the release folder
with an ACRO-format SDC record:

- ``table`` (counts, one or two dimensions, margins recomputed from released cells);
- ``summary`` (sum / mean / median per cell; min and max are refused);
- ``model`` (OLS or logistic regression: residual dof, parameters <= share x n, level cells);
- ``histogram`` (from a checked one-way table of fixed bins; PNG without metadata; SVG refused);
- ``survival`` (Kaplan-Meier, steps of >= km_step events + censorings, midpoint-6 counts);
- ``text`` (free text or a file: scanned, then always two independent checkers).

Invariants: nothing is written to ``release_dir`` except by ``_release``; every output, released
or refused, has a ledger row; a refused output's reasons name rules and cells, never values.
"""

# SQL here is built from quoted identifiers (``quote``) and fixed table names; values are
# always bound parameters; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import csv
import io
import itertools
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from joinedup.errors import DisclosureBlocked, UsageError
from joinedup.outputs import review
from joinedup.outputs.bundle import write_bundle_entry
from joinedup.outputs.check import (
    CellStatus,
    Statistic,
    TableResult,
    check_table,
    complete_grid,
    midpoint6,
    round_to_base,
)
from joinedup.outputs.evidence import FloatArray, collect_evidence, query_on, quote
from joinedup.outputs.ledger import (
    LEDGER,
    CandidateCells,
    Conflict,
    audit_counts,
    audit_sums,
    cell_key_secret,
    ensure_ledger,
    noise_table,
)
from joinedup.outputs.profiles import JOINEDUP, RuleProfile
from joinedup.outputs.profiles import Conflict as OnConflict
from joinedup.outputs.scan import check_suffix, clean_png, scan_csv, scan_filename, scan_text

SUPPRESSED_MARK = "[suppressed]"


class OutputStatus:
    RELEASED = "released"
    REFUSED = "refused"
    PENDING = "pending_review"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputResult:
    release_id: str
    name: str
    kind: str
    status: str
    reasons: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()  # released files (empty unless released)
    table: TableResult | None = None
    perturbed: bool = False
    conflicts: tuple[Conflict, ...] = ()
    released: dict[str, Any] = field(default_factory=dict)  # what left, for callers and tests

    @property
    def is_released(self) -> bool:
        return self.status == OutputStatus.RELEASED


def attach_ledger(con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
    """Attach the ledger database as ``ledger`` (in memory when ``path`` is None) and create it."""
    attached = {
        r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    if LEDGER not in attached:
        target = ":memory:" if path is None else str(path)
        con.execute(f"ATTACH {_sql_string(target)} AS {LEDGER}")
    ensure_ledger(con)
    review.ensure_review(con)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class OutputSession:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        project_id: str,
        release_dir: Path,
        staging_dir: Path,
        profile: RuleProfile = JOINEDUP,
        actor: str = "local-operator",
        person: str = "person_id",
        ledger_path: Path | None = None,
    ) -> None:
        self.con = con
        self.project_id = project_id
        self.release_dir = release_dir
        self.staging_dir = staging_dir
        self.profile = profile
        self.actor = actor
        self.person = person
        attach_ledger(con, ledger_path)

    # ------------------------------------------------------------------ counts and magnitudes
    def table(
        self,
        name: str,
        relation: duckdb.DuckDBPyRelation,
        *,
        by: list[str],
        structural_zeros: frozenset[tuple[str, ...]] = frozenset(),
        levels: dict[str, list[str]] | None = None,
        kind: str = "table",
    ) -> OutputResult:
        """A frequency table of distinct people per cell (one or two dimensions, with margins)."""
        if not 1 <= len(by) <= 2:
            raise UsageError("a table has one or two dimensions; cross more by filtering")
        ev = complete_grid(collect_evidence(relation, by=by, person=self.person), levels)
        result = check_table(
            ev, self.profile, statistic=Statistic.COUNT, structural_zeros=structural_zeros
        )
        return self._finish_cells(name, kind, relation, by, result, magnitude=False)

    def summary(
        self,
        name: str,
        relation: duckdb.DuckDBPyRelation,
        *,
        by: list[str],
        value: str,
        statistic: str = "mean",
    ) -> OutputResult:
        """Sum, mean or median of ``value`` per cell (per-person totals; dominance checked)."""
        try:
            stat = Statistic(statistic)
        except ValueError:
            raise UsageError(f"unknown statistic {statistic!r}; use sum, mean or median") from None
        ev = collect_evidence(relation, by=by, person=self.person, value=value)
        result = check_table(ev, self.profile, statistic=stat)
        return self._finish_cells(name, "summary", relation, by, result, magnitude=True)

    # ------------------------------------------------------------------ the shared path for cells
    def _finish_cells(
        self,
        name: str,
        kind: str,
        relation: duckdb.DuckDBPyRelation,
        by: list[str],
        result: TableResult,
        *,
        magnitude: bool,
    ) -> OutputResult:
        release_id = _new_id()
        members = self._stage_members(release_id, relation, by, result)
        lo, hi = self._attacker_ranges(result, perturbed=False, magnitude=magnitude)
        conflicts: list[Conflict] = []
        perturbed = False
        if self.profile.differencing_audit:
            cand = CandidateCells(
                release_id=release_id, lo=lo, hi=hi, true_n=result.true_n, members_table=members
            )
            conflicts = self._audit(cand, magnitude)
            if conflicts and not magnitude and self.profile.on_conflict is OnConflict.PERTURB:
                result = self._perturb(result, members)
                perturbed = True
                lo, hi = self._attacker_ranges(result, perturbed=True, magnitude=False)
                cand = CandidateCells(
                    release_id=release_id, lo=lo, hi=hi, true_n=result.true_n, members_table=members
                )
                conflicts = self._audit(cand, magnitude)
        status = OutputStatus.REFUSED if conflicts else OutputStatus.RELEASED
        reasons = tuple(c.describe() for c in conflicts[:5])
        if conflicts:
            reasons = (
                f"differencing: {len(conflicts)} small group(s) recoverable with earlier releases",
                *reasons,
            )
        self._record(
            release_id, name, kind, result.statistic.value, relation, by, status, perturbed, reasons
        )
        self._record_cells(release_id, result, lo, hi, magnitude, members)
        self.con.execute(f"DROP TABLE IF EXISTS {members}")
        csv_text = _table_csv(result)
        files: tuple[Path, ...] = ()
        if status == OutputStatus.RELEASED:
            files = self._release(
                release_id, name, {f"{name}.csv": csv_text.encode()}, result=result, kind=kind
            )
        else:
            self._stage(release_id, {f"{name}.csv": csv_text.encode()})
        return OutputResult(
            release_id=release_id,
            name=name,
            kind=kind,
            status=status,
            reasons=reasons,
            files=files,
            table=result,
            perturbed=perturbed,
            conflicts=tuple(conflicts),
            released=_released_view(result) if status == OutputStatus.RELEASED else {},
        )

    def _stage_members(
        self, release_id: str, relation: duckdb.DuckDBPyRelation, by: list[str], result: TableResult
    ) -> str:
        table = f"_members_{release_id}"
        keys = pa.table(
            {
                **{f"k{d}": pa.array([str(v) for v in result.keys[d]]) for d in range(len(by))},
                "cell_index": pa.array(np.arange(result.size, dtype=np.int32)),
            }
        )
        view = f"_keys_{release_id}"
        self.con.register(view, keys)
        on = " AND ".join(f"CAST(src.{quote(c)} AS VARCHAR) = k.k{d}" for d, c in enumerate(by))
        sql = (
            f"SELECT DISTINCT k.cell_index, "
            f"hash(CAST(src.{quote(self.person)} AS VARCHAR)) AS person "
            f"FROM src JOIN {view} k ON {on}"
        )
        query_on(relation, sql).create(table)
        self.con.unregister(view)
        return table

    def _attacker_ranges(
        self, result: TableResult, *, perturbed: bool, magnitude: bool
    ) -> tuple[FloatArray, FloatArray]:
        """What an attacker can infer about each cell's true count from the released value."""
        p = self.profile
        status = result.status
        values = result.values
        suppressed = (status == CellStatus.PRIMARY.value) | (status == CellStatus.SECONDARY.value)
        if magnitude:
            lo = np.where(suppressed, -np.inf, np.nan_to_num(values))
            hi = np.where(suppressed, np.inf, np.nan_to_num(values))
            return lo, hi
        half = p.round_base // 2 if p.round_base > 1 else 0
        noise = p.perturb_max if perturbed else 0
        v = np.nan_to_num(values)
        lo = np.maximum(float(p.threshold), v - half - noise)
        hi = v + half + noise
        zero = (v == 0) & ~suppressed
        lo = np.where(zero, 0.0, lo)
        hi = np.where(zero, 0.0, hi)
        sup_hi = np.inf if p.secondary else float(p.threshold - 1)
        lo = np.where(suppressed, 0.0, lo)
        hi = np.where(suppressed, sup_hi, hi)
        return lo.astype(np.float64), hi.astype(np.float64)

    def _audit(self, cand: CandidateCells, magnitude: bool) -> list[Conflict]:
        if magnitude:
            return audit_sums(self.con, self.project_id, cand, threshold=self.profile.threshold)
        return audit_counts(
            self.con,
            self.project_id,
            cand,
            threshold=self.profile.threshold,
            width=max(self.profile.round_base, 1),
        )

    def _perturb(self, result: TableResult, members: str) -> TableResult:
        """Cell-key perturbation of the released counts (same people -> same noise)."""
        secret = cell_key_secret(self.con)
        table = noise_table(self.profile.perturb_max)
        rows = self.con.execute(
            f"SELECT cell_index, "
            f"CAST(sum(hash(? || person::VARCHAR) % 4294967296) % {len(table)} AS BIGINT) "
            f"FROM {members} GROUP BY cell_index",
            [secret],
        ).fetchall()
        noise = np.zeros(result.size)
        for index, key in rows:
            noise[int(index)] = float(table[int(key)])
        released = result.released & (result.status != CellStatus.STRUCTURAL_ZERO.value)
        raw = result.true_n.astype(np.float64) + noise
        values = np.where(released, round_to_base(raw, self.profile.round_base), result.values)
        return TableResult(
            statistic=result.statistic,
            dims=result.dims,
            keys=result.keys,
            true_n=result.true_n,
            values=values,
            status=result.status,
            reasons=result.reasons,
            margins={k: v for k, v in _recompute_margins(values, result).items()},
            rule_counts={**result.rule_counts, "perturbed": int(released.sum())},
            lp_checked=result.lp_checked,
            profile=result.profile,
        )

    # ------------------------------------------------------------------ models
    def model(
        self,
        name: str,
        relation: duckdb.DuckDBPyRelation,
        *,
        outcome: str,
        covariates: list[str] = [],  # noqa: B006 - read only
        categorical: list[str] = [],  # noqa: B006 - read only
        family: str = "ols",
    ) -> OutputResult:
        from joinedup.outputs.models import check_and_fit

        fit = check_and_fit(
            self.con,
            relation,
            outcome=outcome,
            covariates=covariates,
            categorical=categorical,
            family=family,
            profile=self.profile,
            person=self.person,
        )
        release_id = _new_id()
        reasons = tuple(fit.failures)
        members = self._stage_population(release_id, fit.population)
        conflicts: list[Conflict] = []
        if not reasons:
            conflicts = self._audit_population(release_id, members, fit.n)
            reasons = _population_reasons(conflicts, self.profile.threshold)
        status = OutputStatus.REFUSED if reasons else OutputStatus.RELEASED
        self._record(release_id, name, "model", family, fit.population, [], status, False, reasons)
        self._record_population(release_id, status, fit.n, members)
        text = fit.to_csv(self.profile.round_base)
        files: tuple[Path, ...] = ()
        if status == OutputStatus.RELEASED:
            files = self._release(
                release_id, name, {f"{name}.csv": text.encode()}, kind="model", model=fit
            )
        else:
            self._stage(release_id, {f"{name}.csv": text.encode()})
        return OutputResult(
            release_id=release_id,
            name=name,
            kind="model",
            status=status,
            reasons=reasons,
            files=files,
            conflicts=tuple(conflicts),
            released={
                "coefficients": fit.coefficients,
                "n_rounded": fit.n_rounded(self.profile.round_base),
            }
            if status == OutputStatus.RELEASED
            else {},
        )

    def _audit_population(self, release_id: str, members: str, n: int) -> list[Conflict]:
        """A model or curve is a function of sums over its whole population: two over
        populations a few children apart reveal those children (checked as one magnitude cell)."""
        if not self.profile.differencing_audit:
            return []
        cand = CandidateCells(
            release_id=release_id,
            lo=np.array([0.0]),
            hi=np.array([0.0]),
            true_n=np.array([n], dtype=np.int64),
            members_table=members,
        )
        return audit_sums(self.con, self.project_id, cand, threshold=self.profile.threshold)

    def _record_population(self, release_id: str, status: str, n: int, members: str) -> None:
        self.con.execute(
            f"INSERT INTO {LEDGER}.out__cells VALUES (?, 0, [], ?, NULL, ?, '', 0, 0, TRUE)",
            [release_id, status, n],
        )
        self.con.execute(
            f"INSERT INTO {LEDGER}.out__cell_members SELECT ?, cell_index, person FROM {members}",
            [release_id],
        )
        self.con.execute(f"DROP TABLE IF EXISTS {members}")

    def _stage_population(self, release_id: str, relation: duckdb.DuckDBPyRelation) -> str:
        table = f"_members_{release_id}"
        query_on(
            relation,
            f"SELECT DISTINCT 0::INTEGER AS cell_index, "
            f"hash(CAST({quote(self.person)} AS VARCHAR)) AS person FROM src",
        ).create(table)
        return table

    # ------------------------------------------------------------------ histograms and survival
    def histogram(
        self,
        name: str,
        relation: duckdb.DuckDBPyRelation,
        *,
        value: str,
        edges: list[float],
        image: str = "png",
    ) -> OutputResult:
        """Counts in fixed bins (open-ended at both extremes), checked as a table; the figure is
        drawn from the released table only."""
        if image.lower() != "png":
            raise DisclosureBlocked(
                f"{image} figures are refused (SVG can carry anything); use png"
            )
        if sorted(edges) != list(edges) or len(edges) < 2:
            raise UsageError("histogram edges must be at least two increasing numbers")
        labels = _bin_labels(edges)
        case = " ".join(
            f"WHEN {quote(value)} < {float(e)!r} THEN {_sql_string(labels[i])}"
            for i, e in enumerate(edges)
        )
        binned = query_on(
            relation,
            f"SELECT *, CASE {case} ELSE {_sql_string(labels[-1])} END AS _bin "
            f"FROM src WHERE {quote(value)} IS NOT NULL",
        )
        out = self.table(name, binned, by=["_bin"], levels={"_bin": labels}, kind="histogram")
        if not out.is_released or out.table is None:
            return out
        png = _draw_histogram(labels, out.table.values)
        files = self._release(
            out.release_id, name, {f"{name}.png": png}, result=out.table, kind="histogram", add=True
        )
        return OutputResult(
            release_id=out.release_id,
            name=name,
            kind="histogram",
            status=out.status,
            files=out.files + files,
            table=out.table,
            perturbed=out.perturbed,
            released=out.released,
        )

    def survival(
        self, name: str, relation: duckdb.DuckDBPyRelation, *, time: str, event: str
    ) -> OutputResult:
        from joinedup.outputs.survival import kaplan_meier

        km = kaplan_meier(relation, time=time, event=event, profile=self.profile)
        release_id = _new_id()
        reasons: tuple[str, ...] = () if km.rows else ("no step gathers enough events to be shown",)
        population = query_on(relation, f"SELECT * FROM src WHERE {quote(time)} IS NOT NULL")
        members = self._stage_population(release_id, population)
        conflicts: list[Conflict] = []
        if not reasons:
            conflicts = self._audit_population(release_id, members, km.n)
            reasons = _population_reasons(conflicts, self.profile.threshold)
        status = OutputStatus.RELEASED if not reasons else OutputStatus.REFUSED
        self._record(release_id, name, "survival", "km", relation, [], status, False, reasons)
        self._record_population(release_id, status, km.n, members)
        text = km.to_csv()
        files: tuple[Path, ...] = ()
        if status == OutputStatus.RELEASED:
            files = self._release(release_id, name, {f"{name}.csv": text.encode()}, kind="survival")
        return OutputResult(
            release_id=release_id,
            name=name,
            kind="survival",
            status=status,
            reasons=reasons,
            files=files,
            released={"steps": km.rows} if files else {},
        )

    # ------------------------------------------------------------------ free text and files
    def text(self, name: str, content: str | bytes, *, why: str = "free text") -> OutputResult:
        """Free text or a file: type allowlist, scanners, then two independent checkers."""
        suffix = check_suffix(name)
        reasons = [f"filename: {f.describe()}" for f in scan_filename(name)]
        if suffix == ".png":
            data = clean_png(content if isinstance(content, bytes) else content.encode())
        else:
            body = (
                content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
            )
            found = scan_csv(body) if suffix == ".csv" else scan_text(body)
            reasons += [f.describe() for f in found]
            data = body.encode()
        release_id = _new_id()
        status = OutputStatus.REFUSED if reasons else OutputStatus.PENDING
        self._record(release_id, name, "text", "custom", None, [], status, False, tuple(reasons))
        self._stage(release_id, {name: data})
        if status == OutputStatus.PENDING:
            review.submit_for_review(
                self.con,
                release_id=release_id,
                project_id=self.project_id,
                requested_by=self.actor,
                why=why,
            )
        return OutputResult(
            release_id=release_id,
            name=name,
            kind="text",
            status=status,
            reasons=tuple(reasons[:20]),
        )

    def request_exception(self, release_id: str, why: str) -> None:
        """Ask two checkers to release a refused output as staged (its exception is recorded)."""
        row = self.con.execute(
            f"SELECT status, project_id FROM {LEDGER}.out__releases WHERE release_id = ?",
            [release_id],
        ).fetchone()
        if row is None or row[0] != OutputStatus.REFUSED:
            raise UsageError(f"{release_id} is not a refused output of this node")
        self.con.execute(
            f"UPDATE {LEDGER}.out__releases SET status = ? WHERE release_id = ?",
            [OutputStatus.PENDING, release_id],
        )
        review.submit_for_review(
            self.con,
            release_id=release_id,
            project_id=str(row[1]),
            requested_by=self.actor,
            why=why,
        )

    def vote(
        self, release_id: str, *, checker: str, approve: bool, comment: str = ""
    ) -> review.ReviewItem:
        """A checker's decision (the caller has already passed ``govern.decide``)."""
        item = review.record_vote(
            self.con,
            release_id=release_id,
            checker=checker,
            vote=review.Vote.APPROVE if approve else review.Vote.REJECT,
            comment=comment,
        )
        if item.state is review.ReviewState.RELEASED:
            self.con.execute(
                f"UPDATE {LEDGER}.out__releases SET status = 'released' WHERE release_id = ?",
                [release_id],
            )
            staged = self.staging_dir / release_id
            names = sorted(p.name for p in staged.iterdir())
            self._release(
                release_id,
                names[0].rsplit(".", 1)[0],
                {n: (staged / n).read_bytes() for n in names},
                kind="custom",
                exception=item.why,
            )
        elif item.state is review.ReviewState.REJECTED:
            self.con.execute(
                f"UPDATE {LEDGER}.out__releases SET status = 'rejected' WHERE release_id = ?",
                [release_id],
            )
        return item

    # ------------------------------------------------------------------ ledger and files
    def _record(
        self,
        release_id: str,
        name: str,
        kind: str,
        statistic: str,
        relation: duckdb.DuckDBPyRelation | None,
        by: list[str],
        status: str,
        perturbed: bool,
        reasons: tuple[str, ...],
    ) -> None:
        definition = _definition(relation)
        self.con.execute(
            f"INSERT INTO {LEDGER}.out__releases (release_id, project_id, name, kind, statistic, "
            "profile, "
            "definition, dims, status, perturbed, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                release_id,
                self.project_id,
                name,
                kind,
                statistic,
                self.profile.name,
                definition,
                by,
                status,
                perturbed,
                "; ".join(reasons),
            ],
        )

    def _record_cells(
        self,
        release_id: str,
        result: TableResult,
        lo: FloatArray,
        hi: FloatArray,
        magnitude: bool,
        members: str,
    ) -> None:
        cells = pa.table(
            {
                "release_id": pa.array([release_id] * result.size),
                "cell_index": pa.array(np.arange(result.size, dtype=np.int32)),
                "labels": pa.array([list(result.labels(i)) for i in range(result.size)]),
                "status": pa.array([str(s) for s in result.status]),
                "released_value": pa.array(result.values, from_pandas=True),
                "true_n": pa.array(result.true_n),
                "population_hash": pa.array([""] * result.size),
                "lo": pa.array(lo),
                "hi": pa.array(hi),
                "magnitude": pa.array([magnitude] * result.size),
            }
        )
        self.con.register("_cells_in", cells)
        self.con.execute(f"INSERT INTO {LEDGER}.out__cells SELECT * FROM _cells_in")
        self.con.unregister("_cells_in")
        self.con.execute(
            f"INSERT INTO {LEDGER}.out__cell_members SELECT ?, cell_index, person FROM {members}",
            [release_id],
        )

    def _stage(self, release_id: str, files: dict[str, bytes]) -> None:
        folder = self.staging_dir / release_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)

    def _release(
        self,
        release_id: str,
        name: str,
        files: dict[str, bytes],
        *,
        kind: str,
        result: TableResult | None = None,
        model: Any = None,
        exception: str = "",
        add: bool = False,
    ) -> tuple[Path, ...]:
        self._stage(release_id, files)
        self.release_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for fname in files:
            target = self.release_dir / fname
            if target.exists() and not add:
                raise UsageError(f"{target} already exists; give the output another name")
            shutil.copyfile(self.staging_dir / release_id / fname, target)
            written.append(target)
        sdc, outcome = _sdc_record(result)
        existing = _bundle_files(self.release_dir, release_id) if add else []
        write_bundle_entry(
            self.release_dir,
            uid=release_id,
            status="pass" if not exception else "review",
            output_type={
                "table": "table",
                "summary": "table",
                "histogram": "histogram",
                "model": "regression",
                "survival": "survival table",
                "custom": "custom",
            }.get(kind, kind),
            properties={
                "method": kind,
                "name": name,
                "profile": self.profile.name,
                "project": self.project_id,
            },
            files=[*existing, *files],
            sdc=sdc,
            outcome=outcome,
            command=f"joinedup.outputs {kind} {name}",
            summary=_summary_text(result),
            exception=exception,
            config=self.profile.describe(),
        )
        return tuple(written)


def _population_reasons(conflicts: list[Conflict], threshold: int) -> tuple[str, ...]:
    if not conflicts:
        return ()
    return (
        f"differencing: the population differs from an earlier output's by fewer than "
        f"{threshold} people",
    )


def _bundle_files(folder: Path, uid: str) -> list[str]:
    import json

    path = folder / "results.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    entry = data["results"].get(uid)
    return [f["name"] for f in entry["files"]] if entry else []


def _new_id() -> str:
    return "out_" + uuid.uuid4().hex[:12]


def _definition(relation: duckdb.DuckDBPyRelation | None) -> str:
    if relation is None:
        return ""
    try:
        return str(relation.sql_query())
    except Exception:
        return f"relation with columns {relation.columns}"


def _bin_labels(edges: list[float]) -> list[str]:
    labels = [f"< {edges[0]:g}"]
    labels += [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)]
    labels.append(f">= {edges[-1]:g}")
    return labels


def _draw_histogram(labels: list[str], values: FloatArray) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    shown = np.nan_to_num(values)
    ax.bar(range(len(labels)), shown, color="#4477aa")
    for i, v in enumerate(values):
        if np.isnan(v):
            ax.text(i, 0, "x", ha="center", va="bottom")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("people (rounded)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return clean_png(buf.getvalue())


def _table_csv(result: TableResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*result.dims, result.statistic.value])
    for i in range(result.size):
        v = result.values[i]
        writer.writerow([*result.labels(i), SUPPRESSED_MARK if np.isnan(v) else f"{v:g}"])
    for key, vals in result.margins.items():
        for j, v in enumerate(vals):
            writer.writerow([f"[{key} total {j + 1}]", *([""] * (len(result.dims) - 1)), f"{v:g}"])
    return out.getvalue()


def _recompute_margins(values: FloatArray, result: TableResult) -> dict[str, FloatArray]:
    released = np.nan_to_num(values)
    if "row" in result.margins:
        r = len(result.margins["row"])
        grid = released.reshape(r, -1)
        return {
            "row": grid.sum(axis=1),
            "column": grid.sum(axis=0),
            "total": np.array([grid.sum()]),
        }
    return {"total": np.array([released.sum()])}


def _released_view(result: TableResult) -> dict[str, Any]:
    return {
        "cells": {
            result.labels(i): (None if np.isnan(result.values[i]) else float(result.values[i]))
            for i in range(result.size)
        },
        "margins": {k: [float(x) for x in v] for k, v in result.margins.items()},
    }


def _sdc_record(result: TableResult | None) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """ACRO's ``sdc`` ({summary, cells}) and ``outcome`` (column -> row -> reasons) for a table."""
    if result is None:
        return {"summary": {"suppressed": False}, "cells": {}}, {}
    cols = (
        result.keys[-1]
        if len(result.dims) == 2
        else np.array([result.statistic.value] * result.size, dtype=object)
    )
    rows = result.keys[0]
    row_names = list(dict.fromkeys(str(r) for r in rows))
    col_names = list(dict.fromkeys(str(c) for c in cols))
    cells: dict[str, list[list[int]]] = {}
    outcome: dict[str, dict[str, str]] = {c: {r: "ok" for r in row_names} for c in col_names}
    for i in range(result.size):
        rname, cname = str(rows[i]), str(cols[i])
        reasons = list(result.reasons[i])
        if result.status[i] == CellStatus.SECONDARY.value:
            reasons.append("secondary")
        if reasons:
            outcome[cname][rname] = "; ".join(reasons) + ";"
            for r in reasons:
                cells.setdefault(r, []).append([row_names.index(rname), col_names.index(cname)])
    summary: dict[str, Any] = {"suppressed": bool((~result.released).any()), **result.rule_counts}
    return {"summary": summary, "cells": cells}, outcome


def _summary_text(result: TableResult | None) -> str:
    if result is None:
        return "pass"
    parts = [f"{k}: {v} cells" for k, v in result.rule_counts.items() if v]
    return "pass" + ("; " + "; ".join(parts) + " suppressed/mitigated" if parts else "")


__all__ = ["OutputResult", "OutputSession", "OutputStatus", "attach_ledger", "midpoint6"]
