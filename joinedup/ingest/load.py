"""Load an extract into a node: read, check, quarantine, pseudonymise, record provenance.

``ingest_file`` takes one extract of one source through these steps:

1. hash the extract (sha256 of its files in contract order); a source that already has a
   completed batch with that hash is skipped;
2. read it into staged string tables and check every row against the contract;
3. open a batch (``in_progress``) in the store;
4. write the vault in one transaction: identity records (``vault__identities``) and their
   pseudonymised keys (``vault__keys``), quarantined raw rows (``quarantine__<source>``), the
   postcode → LSOA lookup from the reference extract;
5. write the store in one transaction: de-identified accepted rows (``raw__<source>__<table>``) or
   reference tables (``ref__*``), reasons (``ingest__quarantine_reasons``), counts, and last the
   batch's ``complete`` mark.

DuckDB cannot write two database files in one transaction, so a failure after step 3 removes the
batch's rows from both databases; a crash is cleaned up by the next session's sweep.

Invariants: per table and per file, accepted + quarantined = read; direct identifiers are written
to the vault only (the store gets pseudonyms, month of birth, sex and LSOA); no log line or error
message carries a row's values.
"""

# SQL here is generated from contracts: identifiers go through quote_identifier (or fixed
# names), contract constants are escaped literals, and row values are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from joinedup.config import NodeSettings
from joinedup.errors import ContractError, UsageError
from joinedup.identity.vault import create_quarantine_table
from joinedup.ingest.readers import StagedTable, extract_files, hash_extract, read_extract
from joinedup.ingest.session import STORE, VAULT, NodeSession
from joinedup.ingest.validate import ValidationResult, parsed_date_sql, typed_sql, validate_table
from joinedup.model import IdentityRole
from joinedup.sources import (
    CONTRACTS,
    ColumnKind,
    ColumnSpec,
    KeyNamespace,
    SourceContract,
    TableSpec,
    get_contract,
)
from joinedup.store.schema import (
    create_raw_table,
    create_ref_table,
    quote_identifier,
    raw_table_name,
    ref_table_name,
)

log = logging.getLogger(__name__)

Status = Literal["complete", "skipped", "rejected"]
ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(description, steps_done, steps_total)``."""

q = quote_identifier


@dataclass(frozen=True, slots=True, kw_only=True)
class TableCounts:
    table: str
    read: int
    accepted: int
    quarantined: int
    flagged: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    source: str
    file: str
    status: Status
    sha256: str | None = None
    batch_id: str | None = None
    tables: tuple[TableCounts, ...] = ()
    error: str | None = None

    @property
    def read(self) -> int:
        return sum(t.read for t in self.tables)

    @property
    def accepted(self) -> int:
        return sum(t.accepted for t in self.tables)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables)

    @property
    def flagged(self) -> int:
        return sum(t.flagged for t in self.tables)

    @property
    def is_failure(self) -> bool:
        """Rejected, or every row read was quarantined."""
        return self.status == "rejected" or (self.read > 0 and self.accepted == 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "file": self.file,
            "status": self.status,
            "batch_id": self.batch_id,
            "sha256": self.sha256,
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "flagged": self.flagged,
            "tables": [
                {
                    "table": t.table,
                    "read": t.read,
                    "accepted": t.accepted,
                    "quarantined": t.quarantined,
                    "flagged": t.flagged,
                }
                for t in self.tables
            ],
            "error": self.error,
        }


@dataclass(slots=True)
class _Table:
    """One table's staging state within a load."""

    staged: StagedTable
    prefix: str
    check: ValidationResult
    accepted_table: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> TableSpec:
        return self.staged.table

    @property
    def counts(self) -> TableCounts:
        rejects = len(self.staged.shape_rejects)
        return TableCounts(
            table=self.spec.name,
            read=self.check.read + rejects,
            accepted=self.check.accepted,
            quarantined=self.check.quarantined + rejects,
            flagged=self.check.flagged,
        )


# --- what goes where -------------------------------------------------------------------------


def is_postcode_lookup(table: TableSpec) -> bool:
    """The reference table mapping postcodes to LSOAs (kept in the vault, not the store)."""
    kinds = {c.name: c.kind for c in table.columns}
    return kinds.get("pcds") is ColumnKind.POSTCODE and "lsoa21cd" in kinds


def is_reference_table(table: TableSpec) -> bool:
    return not table.identity_records and table.subject is None


def _role_columns(table: TableSpec, role: IdentityRole) -> list[str]:
    return [c.name for c in table.columns if c.identity is role]


def _sex_sql(table: TableSpec, expr_of: Callable[[str], str]) -> str | None:
    for column in table.columns:
        if column.identity is IdentityRole.SEX:
            if not column.sex_map:
                return (
                    f"CASE WHEN {expr_of(column.name)} IN ('M', 'F', 'I', 'U') "
                    f"THEN {expr_of(column.name)} END"
                )
            whens = " ".join(
                f"WHEN '{source.replace(chr(39), '')}' THEN '{target}'"
                for source, target in column.sex_map
            )
            return f"CASE {expr_of(column.name)} {whens} END"
    return None


def raw_columns(table: TableSpec) -> list[tuple[str, str]]:
    """The typed data columns of ``raw__<source>__<table>`` (after the key columns)."""
    columns = [(c.name, typed_sql(c, "x")[1]) for c in table.columns if c.identity is None]
    if _role_columns(table, IdentityRole.DATE_OF_BIRTH):
        columns.append(("birth_month", "VARCHAR"))
    if _role_columns(table, IdentityRole.SEX):
        columns.append(("sex", "VARCHAR"))
    if _role_columns(table, IdentityRole.POSTCODE):
        columns.append(("lsoa21cd", "VARCHAR"))
    return columns


def ref_columns(table: TableSpec) -> list[tuple[str, str]]:
    return [(c.name, typed_sql(c, "x")[1]) for c in table.columns]


_CHECKED_KIND = {KeyNamespace.UPN: ColumnKind.UPN, KeyNamespace.NHS_NUMBER: ColumnKind.NHS_NUMBER}


def key_value_sql(namespace: KeyNamespace, expr: str, column: ColumnSpec | None = None) -> str:
    """SQL for the normalised value of a key (NULL where the key is not usable).

    ``expr`` is an accepted (trimmed) value. Where ``column`` is of the kind whose check the key
    needs (a UPN column for the UPN namespace, an NHS number column for NHS numbers), every value
    left after validation is valid, so only the cheap normalisation runs.
    """
    checked = column is not None and _CHECKED_KIND.get(namespace) is column.kind
    if namespace is KeyNamespace.UPN:
        if checked:
            return f"upper({expr})"
        return f"CASE WHEN is_valid_upn({expr}) THEN normalise_upn({expr}) END"
    if namespace is KeyNamespace.NHS_NUMBER:
        if checked:
            return f"regexp_replace({expr}, '[\\s-]', '', 'g')"
        return f"CASE WHEN is_valid_nhs_number({expr}) THEN nhs_number_digits({expr}) END"
    return expr


def create_contract_tables(session: NodeSession, contracts: Sequence[SourceContract]) -> None:
    """Create every raw, reference and quarantine table of ``contracts`` (if absent)."""
    session.use(STORE)
    try:
        for contract in contracts:
            for table in contract.tables:
                if is_postcode_lookup(table):
                    continue
                if is_reference_table(table):
                    create_ref_table(session.con, table.name, ref_columns(table))
                else:
                    create_raw_table(session.con, contract.name, table.name, raw_columns(table))
        session.use(VAULT)
        for contract in contracts:
            create_quarantine_table(session.con, contract.name)
    finally:
        session.use("memory")


# --- the load ----------------------------------------------------------------------------------


def _new_batch_id(source: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{source}-{stamp}-{secrets.token_hex(4)}"


def _resolve_contract(source_name: str) -> SourceContract:
    try:
        return get_contract(source_name)
    except KeyError as exc:
        raise UsageError(f"{exc.args[0]} (see: joinedup source list)") from None


def _stage(
    session: NodeSession,
    contract: SourceContract,
    staged: list[StagedTable],
    today: date,
    progress: ProgressCallback | None,
    total: int,
) -> list[_Table]:
    tables: list[_Table] = []
    for index, item in enumerate(staged):
        prefix = f"t{index}"
        session.con.register(f"{prefix}_staged", item.data)
        check = validate_table(session.con, item.data, item.table, prefix=prefix, today=today)
        tables.append(_Table(staged=item, prefix=prefix, check=check))
        if progress:
            progress(f"checked {contract.name}.{item.table.name}", 1 + index, total)
    return tables


def _materialise_accepted(session: NodeSession, source: str, batch_id: str, t: _Table) -> None:
    """Accepted rows with their record or subject pseudonym, computed once."""
    name = f"{t.prefix}_accepted"
    spec = t.spec
    valid = q(t.check.valid_table)
    if spec.identity_records:
        session.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {q(name)} AS SELECT v.*, "
            "pseudonym('record', concat_ws('|', ?, ?, ?, CAST(__row AS VARCHAR))) AS __record_key, "
            f"CAST(NULL AS VARCHAR) AS __subject_key FROM {valid} v",
            [source, spec.name, batch_id],
        )
    elif spec.subject is not None:
        value = key_value_sql(
            spec.subject.namespace, q(spec.subject.column), spec.column(spec.subject.column)
        )
        session.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {q(name)} AS SELECT v.*, "
            "CAST(NULL AS VARCHAR) AS __record_key, "
            f"pseudonym(?, {value}) AS __subject_key FROM {valid} v",
            [spec.subject.namespace.value],
        )
    else:
        session.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {q(name)} AS SELECT v.*, "
            "CAST(NULL AS VARCHAR) AS __record_key, CAST(NULL AS VARCHAR) AS __subject_key "
            f"FROM {valid} v"
        )
    t.accepted_table = name


def _identity_select(spec: TableSpec) -> str:
    """SELECT list for ``vault__identities`` from an accepted table (aliased ``a``)."""

    def one(role: IdentityRole, transform: Callable[[str], str] = lambda e: e) -> str:
        cols = _role_columns(spec, role)
        return transform(f"a.{q(cols[0])}") if cols else "NULL"

    def key(role: IdentityRole, namespace: KeyNamespace) -> str:
        cols = [c for c in spec.columns if c.identity is role]
        return key_value_sql(namespace, f"a.{q(cols[0].name)}", cols[0]) if cols else "NULL"

    address_cols = _role_columns(spec, IdentityRole.ADDRESS)
    address = (
        "NULLIF(concat_ws(', ', " + ", ".join(f"a.{q(c)}" for c in address_cols) + "), '')"
        if address_cols
        else "NULL"
    )
    dob_cols = [c for c in spec.columns if c.identity is IdentityRole.DATE_OF_BIRTH]
    dob = parsed_date_sql(dob_cols[0], f"a.{q(dob_cols[0].name)}") if dob_cols else "NULL"
    sex = _sex_sql(spec, lambda n: f"a.{q(n)}") or "NULL"
    return ", ".join(
        (
            "a.__record_key",
            "$batch",
            "$source",
            "$table",
            "a.__row",
            one(IdentityRole.LOCAL_ID),
            one(IdentityRole.GIVEN_NAME),
            one(IdentityRole.MIDDLE_NAMES),
            one(IdentityRole.FAMILY_NAME),
            one(IdentityRole.FORMER_FAMILY_NAME),
            one(IdentityRole.PREFERRED_FAMILY_NAME),
            one(IdentityRole.GIVEN_NAME, lambda e: f"normalise_name({e})"),
            one(IdentityRole.FAMILY_NAME, lambda e: f"normalise_name({e})"),
            dob,
            sex,
            key(IdentityRole.NHS_NUMBER, KeyNamespace.NHS_NUMBER),
            key(IdentityRole.UPN, KeyNamespace.UPN),
            key(IdentityRole.FORMER_UPN, KeyNamespace.UPN),
            one(IdentityRole.POSTCODE, lambda e: f"normalise_postcode({e})"),
            one(IdentityRole.UPRN, lambda e: f"CASE WHEN is_valid_uprn({e}) THEN {e} END"),
            address,
        )
    )


def _write_quarantine(session: NodeSession, source: str, batch_id: str, t: _Table) -> None:
    target = f"{VAULT}.quarantine__{source}"
    pairs = ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}', s.{q(c)}" for c in t.spec.column_names)
    session.con.execute(
        f"INSERT INTO {target} SELECT $batch, $table, s.__row, "
        f"CAST(json_object({pairs}) AS VARCHAR) FROM {q(t.prefix + '_staged')} s "
        f"WHERE s.__row IN (SELECT __row FROM {q(t.check.failures_table)} "
        "WHERE action = 'quarantine')",
        {"batch": batch_id, "table": t.spec.name},
    )
    rejects = t.staged.shape_rejects
    if rejects:
        session.con.executemany(
            f"INSERT INTO {target} VALUES (?, ?, ?, ?)",
            [
                (batch_id, t.spec.name, r.row_number, json.dumps({"fields": list(r.fields)}))
                for r in rejects
            ],
        )


def _write_vault(
    session: NodeSession, contract: SourceContract, batch_id: str, tables: list[_Table]
) -> None:
    con = session.con
    session.use(VAULT)
    create_quarantine_table(con, contract.name)
    session.use("memory")
    con.execute("BEGIN TRANSACTION")
    for t in tables:
        spec = t.spec
        params = {"batch": batch_id, "source": contract.name, "table": spec.name}
        _write_quarantine(session, contract.name, batch_id, t)
        if is_postcode_lookup(spec):
            con.execute(
                f"INSERT INTO {VAULT}.vault__postcode_lsoa_history "
                "SELECT normalise_postcode(pcds), any_value(lsoa21cd), $batch, now() "
                f"FROM {q(t.accepted_table)} WHERE normalise_postcode(pcds) IS NOT NULL "
                "GROUP BY normalise_postcode(pcds)",
                {"batch": batch_id},
            )
        if not spec.identity_records:
            continue
        con.execute(
            f"INSERT INTO {VAULT}.vault__identities SELECT {_identity_select(spec)} "
            f"FROM {q(t.accepted_table)} a",
            params,
        )
        for key in spec.keys:
            value = key_value_sql(key.namespace, f"a.{q(key.column)}", spec.column(key.column))
            con.execute(
                f"INSERT INTO {VAULT}.vault__keys SELECT record_key, $ns, pseudonym($ns, value), "
                f"$batch FROM (SELECT a.__record_key AS record_key, {value} AS value "
                f"FROM {q(t.accepted_table)} a) WHERE value IS NOT NULL",
                {"ns": key.namespace.value, "batch": batch_id},
            )
    con.execute("COMMIT")


def _raw_select(spec: TableSpec) -> str:
    """The store row of an accepted row: non-identity columns typed, identity coarsened.

    A date equal to the row's own date of birth (a birth episode's admission date, say) is
    stored as the first of its month, so that no store cell re-creates a date of birth.
    """
    parts = ["$batch", "a.__row", "a.__record_key", "a.__subject_key"]
    dob_cols = [c for c in spec.columns if c.identity is IdentityRole.DATE_OF_BIRTH]
    dob = parsed_date_sql(dob_cols[0], f"a.{q(dob_cols[0].name)}") if dob_cols else None
    for column in spec.columns:
        if column.identity is None:
            value = typed_sql(column, f"a.{q(column.name)}")[0]
            if dob is not None and column.kind is ColumnKind.DATE and not column.store_as_month:
                value = (
                    f"CASE WHEN {value} = {dob} THEN CAST(date_trunc('month', {value}) AS DATE)"
                    f" ELSE {value} END"
                )
            parts.append(value)
    if dob is not None:
        parts.append(f"strftime({dob}, '%Y-%m')")
    sex = _sex_sql(spec, lambda n: f"a.{q(n)}")
    if sex:
        parts.append(sex)
    if _role_columns(spec, IdentityRole.POSTCODE):
        parts.append("p.lsoa21cd")
    return ", ".join(parts)


def _write_store(
    session: NodeSession, contract: SourceContract, batch_id: str, tables: list[_Table]
) -> None:
    con = session.con
    create_contract_tables(session, [contract])
    con.execute("BEGIN TRANSACTION")
    for t in tables:
        spec = t.spec
        if is_postcode_lookup(spec):
            pass
        elif is_reference_table(spec):
            target = f"{STORE}.{q(ref_table_name(spec.name))}"
            con.execute(f"DELETE FROM {target}")  # the latest reference load replaces the last
            typed = ", ".join(typed_sql(c, f"a.{q(c.name)}")[0] for c in spec.columns)
            con.execute(
                f"INSERT INTO {target} SELECT $batch, a.__row, {typed} "
                f"FROM {q(t.accepted_table)} a",
                {"batch": batch_id},
            )
        else:
            target = f"{STORE}.{q(raw_table_name(contract.name, spec.name))}"
            join = ""
            postcode = _role_columns(spec, IdentityRole.POSTCODE)
            if postcode:
                join = (
                    f" LEFT JOIN {VAULT}.vault__postcode_lsoa p "
                    f"ON p.postcode = normalise_postcode(a.{q(postcode[0])})"
                )
            con.execute(
                f"INSERT INTO {target} SELECT {_raw_select(spec)} FROM {q(t.accepted_table)} a"
                + join,
                {"batch": batch_id},
            )
        con.execute(
            f"INSERT INTO {STORE}.ingest__quarantine_reasons SELECT $batch, $source, $table, "
            f"__row, column_name, rule, message, action FROM {q(t.check.failures_table)}",
            {"batch": batch_id, "source": contract.name, "table": spec.name},
        )
        if t.staged.shape_rejects:
            width = t.staged.header_width
            con.executemany(
                f"INSERT INTO {STORE}.ingest__quarantine_reasons VALUES "
                "(?, ?, ?, ?, NULL, 'row_shape', ?, 'quarantine')",
                [
                    (
                        batch_id,
                        contract.name,
                        spec.name,
                        r.row_number,
                        f"the row has {len(r.fields)} fields; the header has {width}",
                    )
                    for r in t.staged.shape_rejects
                ],
            )
        counts = t.counts
        con.execute(
            f"INSERT INTO {STORE}.ingest__file_counts VALUES (?, ?, ?, ?, ?, ?)",
            [batch_id, spec.name, counts.read, counts.accepted, counts.quarantined, counts.flagged],
        )
    con.execute(
        f"UPDATE {STORE}.ingest__batches SET status = 'complete', finished_at = ? "
        "WHERE batch_id = ?",
        [datetime.now(UTC).replace(tzinfo=None), batch_id],
    )
    con.execute("COMMIT")


def _completed_batch(session: NodeSession, source: str, sha256: str) -> str | None:
    row = session.con.execute(
        f"SELECT batch_id FROM {STORE}.ingest__batches WHERE source = ? AND sha256 = ? "
        "AND status = 'complete' ORDER BY started_at DESC LIMIT 1",
        [source, sha256],
    ).fetchone()
    return None if row is None else str(row[0])


def _batch_counts(session: NodeSession, batch_id: str) -> tuple[TableCounts, ...]:
    rows = session.con.execute(
        f"SELECT table_name, read, accepted, quarantined, flagged FROM {STORE}.ingest__file_counts "
        "WHERE batch_id = ?",
        [batch_id],
    ).fetchall()
    return tuple(
        TableCounts(table=r[0], read=r[1], accepted=r[2], quarantined=r[3], flagged=r[4])
        for r in rows
    )


def _load(
    session: NodeSession,
    contract: SourceContract,
    path: Path,
    *,
    today: date,
    progress: ProgressCallback | None,
) -> IngestResult:
    files = extract_files(contract, path)
    sha256 = hash_extract([p for _, p in files])
    display = str(path)
    done = _completed_batch(session, contract.name, sha256)
    if done is not None:
        log.info("source %s: extract already loaded as batch %s; skipped", contract.name, done)
        return IngestResult(
            source=contract.name,
            file=display,
            status="skipped",
            sha256=sha256,
            batch_id=done,
            tables=_batch_counts(session, done),
        )
    total = 2 * len(contract.tables) + 3
    if progress:
        progress(f"reading {contract.name}", 0, total)
    staged = read_extract(contract, path)
    tables = _stage(session, contract, staged, today, progress, total)
    batch_id = _new_batch_id(contract.name)
    session.con.execute(
        f"INSERT INTO {STORE}.ingest__batches VALUES (?, ?, ?, ?, ?, NULL, 'in_progress')",
        [batch_id, contract.name, path.name, sha256, datetime.now(UTC).replace(tzinfo=None)],
    )
    try:
        for index, t in enumerate(tables):
            _materialise_accepted(session, contract.name, batch_id, t)
            if progress:
                progress(
                    f"pseudonymised {contract.name}.{t.spec.name}", len(tables) + 1 + index, total
                )
        _write_vault(session, contract, batch_id, tables)
        if progress:
            progress(f"wrote the vault for {contract.name}", total - 1, total)
        _write_store(session, contract, batch_id, tables)
        if progress:
            progress(f"wrote the store for {contract.name}", total, total)
    except BaseException:
        log.error("source %s: load of batch %s failed; removing its rows", contract.name, batch_id)
        session.rollback_quietly()
        session.use("memory")
        session.remove_batch(batch_id, contract.name)
        raise
    finally:
        for t in tables:
            session.con.unregister(f"{t.prefix}_staged")
            session.con.unregister(t.check.clean_table)
    result = IngestResult(
        source=contract.name,
        file=display,
        status="complete",
        sha256=sha256,
        batch_id=batch_id,
        tables=tuple(t.counts for t in tables),
    )
    for counts in result.tables:
        if counts.accepted + counts.quarantined != counts.read:
            raise AssertionError("accepted + quarantined != read")  # pragma: no cover
    log.info(
        "source %s: batch %s read %d, accepted %d, quarantined %d, flagged %d",
        contract.name,
        batch_id,
        result.read,
        result.accepted,
        result.quarantined,
        result.flagged,
    )
    return result


def ingest_file(
    node: NodeSettings,
    source_name: str,
    path: Path | str,
    progress: ProgressCallback | None = None,
    *,
    today: date | None = None,
) -> IngestResult:
    """Ingest one extract of ``source_name`` (a CSV file, a folder of CSVs or the CIN XML).

    Raises ContractError when the extract fails a file-level check (nothing is written) and
    UsageError for an unknown source. ``today`` is the date plausible-date checks run against.
    """
    contract = _resolve_contract(source_name)
    with NodeSession(node) as session:
        return _load(session, contract, Path(path), today=today or date.today(), progress=progress)


def ingest_dir(
    node: NodeSettings,
    directory: Path | str,
    progress: ProgressCallback | None = None,
    *,
    today: date | None = None,
) -> list[IngestResult]:
    """Ingest every extract found in ``directory`` (named as the contracts name them), in the
    contracts' order (reference first). A file that fails a file-level check is reported as
    ``rejected`` and the others still load."""
    folder = Path(directory)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    results: list[IngestResult] = []
    with NodeSession(node) as session:
        for contract in CONTRACTS:
            candidate = folder / contract.file_name
            if not candidate.exists():
                continue
            try:
                results.append(
                    _load(
                        session, contract, candidate, today=today or date.today(), progress=progress
                    )
                )
            except ContractError as exc:
                log.warning("source %s: extract rejected", contract.name)
                results.append(
                    IngestResult(
                        source=contract.name, file=str(candidate), status="rejected", error=str(exc)
                    )
                )
    if not results:
        raise UsageError(
            f"{folder} holds no extract named as a contract expects "
            f"(e.g. {CONTRACTS[0].file_name}/, {CONTRACTS[1].file_name}/); see joinedup source list"
        )
    return results


__all__ = [
    "IngestResult",
    "ProgressCallback",
    "TableCounts",
    "create_contract_tables",
    "ingest_dir",
    "ingest_file",
    "key_value_sql",
    "raw_columns",
]
