"""The declared shape of an agency extract: its files, tables, columns, code sets and identifiers.

A contract is data, not code: ingest reads it to check every row, the vault reads it to know
which columns are direct identifiers, the simulator writes extracts that satisfy it, and the docs
are generated from it.

Invariants:
- every column with an ``identity`` role is a direct identifier or quasi-identifier kept only in
  the vault (apart from the coarsened forms the store may keep: month of birth, LSOA, sex);
- a table either holds identity records (``identity_records=True``) or refers to its subject
  through ``subject`` (a key namespace and the column holding the key);
- column names are the source's own, as the real extract spells them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from joinedup.model import Agency, IdentityRole


class ColumnKind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    CODE = "code"
    NHS_NUMBER = "nhs_number"
    UPN = "upn"
    POSTCODE = "postcode"
    UPRN = "uprn"


class OnInvalid(StrEnum):
    """What a failed check does to the row."""

    QUARANTINE = "quarantine"  # the row is held back with the reason
    FLAG = "flag"  # the row is accepted; the value is treated as missing and the failure counted


class SourceFormat(StrEnum):
    CSV = "csv"  # one CSV file: <source>.csv
    CSV_FOLDER = "csv_folder"  # a folder <source>/ of CSV tables
    CIN_XML = "cin_xml"  # the DfE Children in Need census XML: <source>.xml


class KeyNamespace(StrEnum):
    """Namespaces in which a key names one person (used by the deterministic person index)."""

    UPN = "upn"
    LA_CHILD_ID = "la_child_id"
    GP_PATIENT_ID = "gp_patient_id"
    NHS_NUMBER = "nhs_number"


PLAUSIBLE_EARLIEST = date(1990, 1, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSpec:
    name: str
    kind: ColumnKind
    description: str = ""
    required: bool = False
    codes: frozenset[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    date_format: str = "%Y-%m-%d"
    identity: IdentityRole | None = None
    on_invalid: OnInvalid = OnInvalid.QUARANTINE
    # a date that could single a person out (someone's date of birth or death, an expected birth
    # date) is kept in the store as its month, 'YYYY-MM', never as the full date
    store_as_month: bool = False
    # a sex column's source codes mapped to the store's M/F/I/U
    sex_map: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectRef:
    """How an event table names its subject: a key in a namespace, held in one column."""

    namespace: KeyNamespace
    column: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSpec:
    name: str
    file: str  # file name within the extract (for CSV: <source>.csv; folder: <table>.csv)
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    identity_records: bool = False
    subject: SubjectRef | None = None
    # key columns this table's identity records expose in namespaces (e.g. upn -> UPN)
    keys: tuple[SubjectRef, ...] = ()

    def __str__(self) -> str:
        return self.name

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def identity_columns(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.identity is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceContract:
    name: str
    title: str
    agency: Agency
    format: SourceFormat
    tables: tuple[TableSpec, ...]
    description: str = ""
    standard: str = ""  # the real standard the extract follows
    spine: bool = False  # a de-duplicated register of people (one record per person)

    def __str__(self) -> str:
        # Short and deterministic (frozensets in the repr are not), e.g. for test ids.
        return self.name

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def file_name(self) -> str:
        if self.format is SourceFormat.CSV:
            return f"{self.name}.csv"
        if self.format is SourceFormat.CIN_XML:
            return f"{self.name}.xml"
        return self.name


def codes(*values: str) -> frozenset[str]:
    return frozenset(values)


SEX_MF = (("M", "M"), ("F", "F"))
SEX_12 = (("1", "M"), ("2", "F"))
SEX_12_09 = (("1", "M"), ("2", "F"), ("0", "U"), ("9", "I"))
