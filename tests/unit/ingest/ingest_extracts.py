"""A tiny builder of contract-conformant extracts for ingest tests.

``valid_value(column, i)`` gives a value that passes every check of ``column`` (row ``i`` varies
it), so ``write_extract(contract, folder, rows)`` writes an extract ingest must accept whole.
Tests then plant errors in copies of the rows (``rows[k][column] = bad``) and check that exactly
those rows are quarantined. Identity values are distinctive (``Zqx...``) so tests can scan logs
and messages for them.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from joinedup.identity.checks import nhs_check_digit, upn_check_letter
from joinedup.model import IdentityRole
from joinedup.sources import ColumnKind, ColumnSpec, SourceContract, SourceFormat, TableSpec

Row = dict[str, str]
TODAY = date(2026, 8, 31)
POSTCODES = ("BD7 1AB", "BD3 9QR", "LS1 4AP")
LSOAS = ("E01010001", "E01010002", "E01010003")


def nhs_number(i: int) -> str:
    """A valid NHS number in the 999 test range, different for each i."""
    n = 0
    while True:
        body = f"999{(i * 7919 + n) % 1_000_000:06d}"
        check = nhs_check_digit(body)
        if check is not None:
            return f"{body}{check}"
        n += 1


def upn(i: int) -> str:
    """A valid permanent UPN, different for each i."""
    body = f"380{i:09d}"
    letter = upn_check_letter(body)
    assert letter is not None
    return letter + body


def distinctive_name(kind: str, i: int) -> str:
    letters = "".join(chr(ord("a") + (i // 26**k) % 26) for k in range(3))
    return f"Zqx{kind}{letters}".capitalize()


def valid_value(column: ColumnSpec, i: int) -> str:
    """A value that passes every check of ``column``."""
    role = column.identity
    kind = column.kind
    if kind is ColumnKind.CODE:
        assert column.codes is not None
        if role is IdentityRole.SEX:
            options = [c for c in sorted(column.codes) if c in dict(column.sex_map)]
            return options[i % len(options)]
        options = sorted(column.codes)
        return options[i % len(options)]
    if kind is ColumnKind.INTEGER:
        low = int(column.minimum) if column.minimum is not None else 1
        high = int(column.maximum) if column.maximum is not None else low + 1000
        return str(low + i % (high - low + 1))
    if kind is ColumnKind.DECIMAL:
        low = column.minimum if column.minimum is not None else 0.0
        high = column.maximum if column.maximum is not None else low + 100
        return f"{low + (high - low) * ((i % 10) + 1) / 12:.1f}"
    if kind is ColumnKind.DATE:
        base = date(2015, 3, 1) if role is IdentityRole.DATE_OF_BIRTH else date(2025, 9, 1)
        return (base + timedelta(days=i % 300)).strftime(column.date_format)
    if kind is ColumnKind.DATETIME:
        return "2025-10-01T09:30:00"
    if kind is ColumnKind.NHS_NUMBER:
        return nhs_number(i)
    if kind is ColumnKind.UPN or role in (IdentityRole.UPN, IdentityRole.FORMER_UPN):
        return upn(i + (500_000 if role is IdentityRole.FORMER_UPN else 0))
    if kind is ColumnKind.POSTCODE:
        return POSTCODES[i % len(POSTCODES)]
    if kind is ColumnKind.UPRN:
        return str(100_000_000 + i)
    if role is IdentityRole.LOCAL_ID:
        return f"ID{i:06d}"
    if role in (
        IdentityRole.GIVEN_NAME,
        IdentityRole.FAMILY_NAME,
        IdentityRole.MIDDLE_NAMES,
        IdentityRole.FORMER_FAMILY_NAME,
        IdentityRole.PREFERRED_FAMILY_NAME,
        IdentityRole.ADDRESS,
    ):
        return distinctive_name(role.value.split("_")[0], i)
    if column.name == "lsoa21cd":
        return LSOAS[i % len(LSOAS)]
    if column.name == "CINdetailsID":
        return "1"
    return f"{column.name}-{i}"


def valid_rows(table: TableSpec, n: int) -> list[Row]:
    rows = [{c.name: valid_value(c, i) for c in table.columns} for i in range(n)]
    if table.name == "postcodes":
        for i, row in enumerate(rows):
            row["pcds"] = POSTCODES[i % len(POSTCODES)]
            row["lsoa21cd"] = LSOAS[i % len(LSOAS)]
        rows = rows[: len(POSTCODES)]
    return rows


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_table(path: Path, table: TableSpec, rows: Sequence[Mapping[str, str]]) -> Path:
    names = table.column_names
    return write_csv(path, names, [[row.get(n, "") for n in names] for row in rows])


def write_cin_xml(
    path: Path, contract: SourceContract, children: Sequence[Mapping[str, object]]
) -> Path:
    """Write a CIN XML; a child is {"child": Row, "details": [(Row, [Row], [Row])]}."""

    def leaves(row: Mapping[str, str], skip: tuple[str, ...]) -> str:
        return "".join(
            f"<{k}>{escape(v)}</{k}>" for k, v in row.items() if k not in skip and v is not None
        )

    parts = ["<?xml version='1.0' encoding='utf-8'?>", "<Message><Children>"]
    for child in children:
        crow = child["child"]
        assert isinstance(crow, Mapping)
        parts.append(f"<Child><ChildIdentifiers>{leaves(crow, ())}</ChildIdentifiers>")
        details = child.get("details", [])
        assert isinstance(details, list)
        for drow, assessments, plans in details:
            parts.append(f"<CINdetails>{leaves(drow, ('LAchildID', 'CINdetailsID'))}")
            for arow in assessments:
                parts.append(
                    f"<Assessments>{leaves(arow, ('LAchildID', 'CINdetailsID'))}</Assessments>"
                )
            for prow in plans:
                parts.append(
                    "<ChildProtectionPlans>"
                    f"{leaves(prow, ('LAchildID', 'CINdetailsID'))}</ChildProtectionPlans>"
                )
            parts.append("</CINdetails>")
        parts.append("</Child>")
    parts.append("</Children></Message>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def cin_children(contract: SourceContract, n: int) -> list[dict[str, object]]:
    """n children, each with one CINdetails holding one assessment and one plan."""
    out: list[dict[str, object]] = []
    for i in range(n):
        child = {c.name: valid_value(c, i) for c in contract.table("child").columns}
        detail = {c.name: valid_value(c, i) for c in contract.table("cindetails").columns}
        assess = {c.name: valid_value(c, i) for c in contract.table("assessments").columns}
        plan = {c.name: valid_value(c, i) for c in contract.table("cpp").columns}
        out.append({"child": child, "details": [(detail, [assess], [plan])]})
    return out


def write_extract(
    contract: SourceContract,
    folder: Path,
    rows: int = 5,
    tables: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
) -> Path:
    """Write a valid extract of ``contract`` into ``folder``; ``tables`` overrides a table's rows.

    Returns the path to give ingest (file or folder).
    """
    tables = dict(tables or {})
    target = folder / contract.file_name
    if contract.format is SourceFormat.CIN_XML:
        return write_cin_xml(target, contract, cin_children(contract, rows))
    for table in contract.tables:
        data = tables.get(table.name, valid_rows(table, rows))
        path = target / table.file if contract.format is SourceFormat.CSV_FOLDER else target
        write_table(path, table, data)
    return target
