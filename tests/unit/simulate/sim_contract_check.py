"""Checks of written extracts against their source contracts (used by the simulator tests)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from joinedup.identity import (
    is_valid_nhs_number,
    is_valid_upn,
    is_valid_uprn,
    normalise_postcode,
)
from joinedup.sources import CONTRACTS, ColumnKind, SourceContract, SourceFormat, TableSpec

_IDENTIFIER_CHECKS = {
    ColumnKind.NHS_NUMBER: is_valid_nhs_number,
    ColumnKind.UPN: is_valid_upn,
    ColumnKind.UPRN: is_valid_uprn,
    ColumnKind.POSTCODE: lambda v: normalise_postcode(v) is not None,
}


@dataclass
class TableReport:
    source: str
    table: str
    rows: int = 0
    problems: list[str] = field(default_factory=list)  # shape/code/date/required failures
    identifier_checked: int = 0
    identifier_failed: int = 0


def csv_tables() -> list[tuple[SourceContract, TableSpec]]:
    return [(c, t) for c in CONTRACTS if c.format is not SourceFormat.CIN_XML for t in c.tables]


def csv_path(out: Path, contract: SourceContract, table: TableSpec) -> Path:
    if contract.format is SourceFormat.CSV:
        return out / contract.file_name
    return out / contract.name / table.file


def read_csv_text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def check_table(out: Path, contract: SourceContract, table: TableSpec) -> TableReport:
    report = TableReport(source=contract.name, table=table.name)
    path = csv_path(out, contract, table)
    if not path.exists():
        report.problems.append("missing file")
        return report
    frame = read_csv_text(path)
    report.rows = len(frame)
    if list(frame.columns) != list(table.column_names):
        report.problems.append("header differs from contract")
        return report
    for col in table.columns:
        values = frame[col.name]
        present = values[values != ""]
        if col.required and len(present) != len(values):
            report.problems.append(f"{col.name}: {len(values) - len(present)} empty required")
        if col.codes is not None and not set(present).issubset(col.codes):
            report.problems.append(f"{col.name}: codes outside the code set")
        if col.kind in (ColumnKind.DATE, ColumnKind.DATETIME):
            parsed = pd.to_datetime(present, format=col.date_format, errors="coerce")
            if parsed.isna().any():
                report.problems.append(f"{col.name}: {int(parsed.isna().sum())} bad dates")
        if col.kind in (ColumnKind.INTEGER, ColumnKind.DECIMAL):
            nums = pd.to_numeric(present, errors="coerce")
            bad = nums.isna().sum()
            if col.kind is ColumnKind.INTEGER:
                bad += int((nums.dropna() % 1 != 0).sum())
            if col.minimum is not None:
                bad += int((nums < col.minimum).sum())
            if col.maximum is not None:
                bad += int((nums > col.maximum).sum())
            if bad:
                report.problems.append(f"{col.name}: {bad} bad numbers")
        check = _IDENTIFIER_CHECKS.get(col.kind)
        if check is not None:
            report.identifier_checked += len(present)
            report.identifier_failed += int(sum(not check(v) for v in present))
    return report


def cin_counts(out: Path) -> dict[str, int]:
    root = ET.parse(out / "cin.xml").getroot()

    def count(tag: str) -> int:
        return sum(1 for el in root.iter() if el.tag.split("}")[-1] == tag)

    return {
        "child": count("Child"),
        "cindetails": count("CINdetails"),
        "assessments": count("Assessments"),
        "cpp": count("ChildProtectionPlans"),
    }
