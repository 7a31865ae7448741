"""Check every row of a staged table against its contract, in SQL over DuckDB, column by column.

For each contract column a list of ``CheckRule``s is built (required, type, code set, range,
plausible date, identifier check digit or shape); one SQL pass over the staged table evaluates
them all and keeps only the failures as ``(row, check_id)``. A failure of a column whose
``on_invalid`` is QUARANTINE holds the whole row back; a failure of a FLAG column lets the row
through with that value treated as missing.

Values are trimmed of surrounding white space and an empty string is missing (NULL).

Plausible dates: a date of birth must lie between 1900-01-01 (adults appear in police and housing
extracts) and the check date; any other date between 1990-01-01 (``PLAUSIBLE_EARLIEST``) and one
year after the check date (expected dates of birth, planned ends).

Invariants: rule messages name the check, never a value; every staged row ends up in exactly one
of accepted or quarantined.
"""

# SQL here is generated from contracts: identifiers go through quote_identifier (or fixed
# names), contract constants are escaped literals, and row values are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from joinedup.ingest.readers import ROW_COLUMN
from joinedup.model import IdentityRole
from joinedup.sources import ColumnKind, ColumnSpec, OnInvalid, TableSpec
from joinedup.sources.contract import PLAUSIBLE_EARLIEST
from joinedup.store.schema import quote_identifier

EARLIEST_BIRTH = date(1900, 1, 1)
_INTEGER = "[+-]?[0-9]{1,18}"
_DECIMAL = "[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)"
_FORMAT_WORDS = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "hh", "%M": "mm", "%S": "ss"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRule:
    """One check of one column: SQL that is true when a (clean) value fails it."""

    check_id: int
    column: str
    rule: str
    message: str
    action: OnInvalid
    failure_sql: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationResult:
    """Names of the temp tables one validation made on the session connection."""

    clean_table: str  # __row + trimmed values (NULL for empty)
    failures_table: str  # __row, check_id, column_name, rule, message, action
    valid_table: str  # accepted rows only, FLAG failures set to NULL
    read: int
    quarantined: int
    flagged: int

    @property
    def accepted(self) -> int:
        return self.read - self.quarantined


def _human_format(date_format: str) -> str:
    text = date_format
    for code, word in _FORMAT_WORDS.items():
        text = text.replace(code, word)
    return text


def _sql_string(value: str) -> str:
    # Only contract text (formats, patterns) goes through here, never row values.
    return "'" + value.replace("'", "''") + "'"


def parsed_date_sql(column: ColumnSpec, expr: str) -> str:
    """SQL giving the DATE a value holds in the column's date format (NULL if it does not)."""
    return f"CAST(try_strptime({expr}, {_sql_string(column.date_format)}) AS DATE)"


def typed_sql(column: ColumnSpec, expr: str) -> tuple[str, str]:
    """(SQL expression, SQL type) of a checked value in the store's type for its column."""
    if column.kind is ColumnKind.INTEGER:
        return f"CAST({expr} AS BIGINT)", "BIGINT"
    if column.kind is ColumnKind.DECIMAL:
        return f"CAST({expr} AS DOUBLE)", "DOUBLE"
    if column.kind is ColumnKind.DATE and column.store_as_month:
        return f"strftime({parsed_date_sql(column, expr)}, '%Y-%m')", "VARCHAR"
    if column.kind is ColumnKind.DATE:
        return parsed_date_sql(column, expr), "DATE"
    if column.kind is ColumnKind.DATETIME:
        return f"try_cast({expr} AS TIMESTAMP)", "TIMESTAMP"
    return expr, "VARCHAR"


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _column_checks(column: ColumnSpec, today: date, ids: itertools.count[int]) -> list[CheckRule]:
    v = quote_identifier(column.name)
    checks: list[tuple[str, str, str]] = []  # rule, message, failure SQL
    if column.required:
        checks.append(("required", "a required value is missing", f"{v} IS NULL"))
    kind = column.kind
    if kind is ColumnKind.INTEGER:
        checks.append(("type", "not a whole number", f"NOT regexp_full_match({v}, '{_INTEGER}')"))
    elif kind is ColumnKind.DECIMAL:
        checks.append(("type", "not a number", f"NOT regexp_full_match({v}, '{_DECIMAL}')"))
    elif kind is ColumnKind.DATE:
        words = _human_format(column.date_format)
        checks.append(
            ("type", f"not a date in the form {words}", f"{parsed_date_sql(column, v)} IS NULL")
        )
        is_birth = column.identity is IdentityRole.DATE_OF_BIRTH
        earliest = EARLIEST_BIRTH if is_birth else PLAUSIBLE_EARLIEST
        latest = today if is_birth else _one_year_after(today)
        checks.append(
            (
                "implausible_date",
                f"a date before {earliest.isoformat()} or after {latest.isoformat()}",
                f"{parsed_date_sql(column, v)} NOT BETWEEN DATE '{earliest.isoformat()}' "
                f"AND DATE '{latest.isoformat()}'",
            )
        )
    elif kind is ColumnKind.DATETIME:
        checks.append(("type", "not a date and time", f"try_cast({v} AS TIMESTAMP) IS NULL"))
    elif kind is ColumnKind.NHS_NUMBER:
        checks.append(
            (
                "nhs_number",
                "not a valid NHS number (ten digits with a modulus-11 check digit)",
                f"NOT is_valid_nhs_number({v})",
            )
        )
    elif kind is ColumnKind.UPN:
        checks.append(
            (
                "upn",
                "not a valid UPN (13 characters with a mod-23 check letter)",
                f"NOT is_valid_upn({v})",
            )
        )
    elif kind is ColumnKind.POSTCODE:
        checks.append(
            ("postcode", "not the shape of a UK postcode", f"normalise_postcode({v}) IS NULL")
        )
    elif kind is ColumnKind.UPRN:
        checks.append(("uprn", "not a UPRN (1 to 12 digits)", f"NOT is_valid_uprn({v})"))
    if column.codes is not None:
        code_list = ", ".join(_sql_string(c) for c in sorted(column.codes))
        checks.append(
            (
                "code",
                f"not one of the {len(column.codes)} codes of the column's code set",
                f"NOT list_contains([{code_list}], {v})",
            )
        )
    if column.minimum is not None or column.maximum is not None:
        number = f"try_cast({v} AS DOUBLE)"
        shape = _INTEGER if kind is ColumnKind.INTEGER else _DECIMAL
        parts = []
        bounds = []
        if column.minimum is not None:
            parts.append(f"{number} < {float(column.minimum)!r}")
            bounds.append(f"below {column.minimum:g}")
        if column.maximum is not None:
            parts.append(f"{number} > {float(column.maximum)!r}")
            bounds.append(f"above {column.maximum:g}")
        # only a value of the right type can be out of range (a type failure is reported once)
        failure = f"regexp_full_match({v}, '{shape}') AND ({' OR '.join(parts)})"
        checks.append(("range", f"out of range ({' or '.join(bounds)})", failure))
    rules = []
    for rule, message, failure in checks:
        guarded = failure if rule == "required" else f"{v} IS NOT NULL AND ({failure})"
        rules.append(
            CheckRule(
                check_id=next(ids),
                column=column.name,
                rule=rule,
                message=message,
                action=column.on_invalid,
                failure_sql=guarded,
            )
        )
    return rules


def build_checks(table: TableSpec, today: date) -> list[CheckRule]:
    """Every check of every column of a table, numbered from 1."""
    ids = itertools.count(1)
    return [rule for column in table.columns for rule in _column_checks(column, today, ids)]


def trim_values(staged: pa.Table, table: TableSpec) -> pa.Table:
    """``__row`` and every contract column trimmed of white space, empty strings as NULL."""
    columns = {ROW_COLUMN: staged.column(ROW_COLUMN)}
    for name in table.column_names:
        trimmed = pc.utf8_trim_whitespace(staged.column(name))
        columns[name] = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    return pa.table(columns)


def validate_table(
    con: duckdb.DuckDBPyConnection,
    staged: pa.Table,
    table: TableSpec,
    *,
    prefix: str,
    today: date,
) -> ValidationResult:
    """Check a staged table (``__row`` + raw strings) against ``table``.

    Registers the trimmed values as ``<prefix>_clean`` and creates temp tables
    ``<prefix>_failures`` and ``<prefix>_valid`` on ``con``.
    """
    clean = f"{prefix}_clean"
    failures = f"{prefix}_failures"
    valid = f"{prefix}_valid"
    con.register(clean, trim_values(staged, table))
    checks = build_checks(table, today)
    rule_rows = [(c.check_id, c.column, c.rule, c.message, c.action.value) for c in checks]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_identifier(prefix + '_checks')} ("
        "check_id INTEGER, column_name VARCHAR, rule VARCHAR, message VARCHAR, action VARCHAR)"
    )
    if rule_rows:
        con.executemany(
            f"INSERT INTO {quote_identifier(prefix + '_checks')} VALUES (?, ?, ?, ?, ?)",
            rule_rows,
        )
        # Two steps: a cheap filter finds the (few) rows that fail anything, then only those
        # are taken apart check by check.
        any_failure = " OR ".join(f"({c.failure_sql})" for c in checks)
        cases = ", ".join(f"CASE WHEN {c.failure_sql} THEN {c.check_id} END" for c in checks)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote_identifier(failures)} AS "
            "SELECT f.__row, f.check_id, k.column_name, k.rule, k.message, k.action "
            "FROM (SELECT __row, unnest(ids) AS check_id FROM ("
            f"SELECT __row, [x FOR x IN [{cases}] IF x IS NOT NULL] AS ids "
            f"FROM (SELECT * FROM {quote_identifier(clean)} WHERE {any_failure}))) f "
            f"JOIN {quote_identifier(prefix + '_checks')} k USING (check_id) "
            "ORDER BY f.__row, f.check_id"
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote_identifier(failures)} ("
            "__row BIGINT, check_id INTEGER, column_name VARCHAR, rule VARCHAR, "
            "message VARCHAR, action VARCHAR)"
        )
    # A flagged value is dropped where the failures table says so (no check runs twice).
    flag_columns = {c.column for c in checks if c.action is OnInvalid.FLAG}
    projected = []
    for name in table.column_names:
        q = quote_identifier(name)
        if name in flag_columns:
            projected.append(
                f"CASE WHEN __row IN (SELECT __row FROM {quote_identifier(failures)} "
                f"WHERE action = 'flag' AND column_name = {_sql_string(name)}) "
                f"THEN NULL ELSE {q} END AS {q}"
            )
        else:
            projected.append(q)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_identifier(valid)} AS "
        f"SELECT __row, {', '.join(projected)} FROM {quote_identifier(clean)} "
        f"ANTI JOIN (SELECT DISTINCT __row FROM {quote_identifier(failures)} "
        "WHERE action = 'quarantine') USING (__row) ORDER BY __row"
    )
    read, quarantined, flagged = con.execute(
        f"SELECT (SELECT count(*) FROM {quote_identifier(clean)}), "
        f"(SELECT count(DISTINCT __row) FROM {quote_identifier(failures)} "
        "WHERE action = 'quarantine'), "
        f"(SELECT count(DISTINCT __row) FROM {quote_identifier(failures)} WHERE action = 'flag' "
        f"AND __row NOT IN (SELECT __row FROM {quote_identifier(failures)} "
        "WHERE action = 'quarantine'))"
    ).fetchone() or (0, 0, 0)
    return ValidationResult(
        clean_table=clean,
        failures_table=failures,
        valid_table=valid,
        read=int(read),
        quarantined=int(quarantined),
        flagged=int(flagged),
    )
