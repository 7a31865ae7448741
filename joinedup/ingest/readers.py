"""Read an agency extract into one staged table of strings per contract table.

A staged table is a pyarrow table with ``__row`` (the 1-based row number shared with the
simulator's truth: the n-th data row after the header of a CSV, the n-th element of the table's
element type in the CIN XML) and one string column per contract column, values as written.

File-level problems raise ContractError naming the file (and line or column names): an empty
file, a header missing contract columns or carrying columns the contract does not declare, a file
that is not UTF-8, XML that is not well-formed. Row-level problems are not decided here, except
rows with the wrong number of fields, which come back as ``shape_rejects`` so that ingest can
quarantine them (rule ``row_shape``) and the counts still reconcile.

Invariants: ``data.num_rows + len(shape_rejects)`` is the number of data rows in the file; no
message carries a value from the file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from joinedup.errors import ContractError
from joinedup.sources import SourceContract, SourceFormat, TableSpec

ROW_COLUMN = "__row"
_CHUNK_BYTES = 8 * 1024 * 1024
_BOM = "\ufeff"

# Element names older CIN returns use for a column the contract names otherwise.
CIN_ELEMENT_ALIASES: dict[str, str] = {"GenderCurrent": "Sex"}
# Which contract columns a nested CIN table takes from the element that encloses it.
_CIN_CARRIED = {
    "Child": ("LAchildID",),
    "CINdetails": ("CINdetailsID",),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedRow:
    """A data row whose field count differs from the header's."""

    row_number: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedTable:
    table: TableSpec
    file_name: str
    data: pa.Table
    shape_rejects: tuple[RejectedRow, ...] = ()
    header_width: int = 0

    @property
    def read(self) -> int:
        return int(self.data.num_rows) + len(self.shape_rejects)


def extract_files(contract: SourceContract, path: Path) -> list[tuple[TableSpec, Path]]:
    """The file each contract table is read from, in contract order (the XML: one for all)."""
    if contract.format is SourceFormat.CSV_FOLDER:
        if not path.is_dir():
            raise ContractError(
                f"{path}: source {contract.name!r} is a folder of CSV tables "
                f"({', '.join(t.file for t in contract.tables)}); give the folder"
            )
        pairs = [(t, path / t.file) for t in contract.tables]
        missing = [t.file for t, p in pairs if not p.is_file()]
        if missing:
            raise ContractError(
                f"{path}: folder lacks {', '.join(missing)} (source {contract.name!r} needs "
                "every table; write a header-only file for an empty table)"
            )
        return pairs
    if path.is_dir():
        path = path / contract.file_name
    if not path.is_file():
        raise ContractError(f"{path}: no such file (source {contract.name!r} expects a file)")
    return [(t, path) for t in contract.tables]


def _line_of(path: Path, offset: int) -> int:
    line = 1
    done = 0
    with path.open("rb") as handle:
        while done < offset:
            chunk = handle.read(min(_CHUNK_BYTES, offset - done))
            if not chunk:
                break
            line += chunk.count(b"\n")
            done += len(chunk)
    return line


def hash_extract(paths: Sequence[Path]) -> str:
    """The sha256 of the files' bytes in order; ContractError if a file is empty or not UTF-8."""
    digest = hashlib.sha256()
    for path in dict.fromkeys(paths):
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        has_content = False
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                digest.update(chunk)
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = _line_of(path, offset + exc.start)
                    raise ContractError(
                        f"{path.name} is not UTF-8 (the first byte that is not is on line {line}); "
                        f"re-save it as UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8 {path.name} "
                        "> converted_file"
                    ) from None
                has_content = has_content or bool(text.lstrip(_BOM).strip())
                offset += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise ContractError(
                    f"{path.name} is not UTF-8 (it ends inside a multi-byte character); "
                    "re-save it as UTF-8"
                ) from None
        if not has_content:
            raise ContractError(f"{path.name} is empty: expected a header row then data rows")
    return digest.hexdigest()


def _read_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for record in csv.reader(handle):
            if record and any(field.strip() for field in record):
                return [field.strip() for field in record]
    raise ContractError(f"{path.name} is empty: expected a header row then data rows")


def _match_header(table: TableSpec, path: Path, header: list[str]) -> list[str]:
    """Contract column names in the file's order; ContractError on a mismatch."""
    by_lower = {name.lower(): name for name in table.column_names}
    seen: set[str] = set()
    names: list[str] = []
    extra: list[str] = []
    duplicate: list[str] = []
    for position, field in enumerate(header, start=1):
        name = by_lower.get(field.lower())
        if name is None:
            extra.append(field or f"(blank header in position {position})")
            continue
        if name in seen:
            duplicate.append(name)
        seen.add(name)
        names.append(name)
    missing = [n for n in table.column_names if n not in seen]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"column(s) the contract does not declare: {', '.join(extra)}")
    if duplicate:
        problems.append(f"column(s) given twice: {', '.join(duplicate)}")
    if problems:
        raise ContractError(
            f"{path.name} (table {table.name!r}): {'; '.join(problems)}. "
            "The header must name exactly the contract's columns (joinedup source list)."
        )
    return names


def _with_row_numbers(columns: dict[str, pa.Array], table: TableSpec, rows: pa.Array) -> pa.Table:
    arrays = [rows] + [columns[name] for name in table.column_names]
    return pa.Table.from_arrays(arrays, names=[ROW_COLUMN, *table.column_names])


def _read_csv_fast(path: Path, names: list[str]) -> tuple[pa.Table, int]:
    """pyarrow's reader; also returns how many rows had the wrong number of fields."""
    bad = 0

    def count_invalid(_row: object) -> str:
        nonlocal bad
        bad += 1
        return "skip"

    data = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(skip_rows=1, column_names=names),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=count_invalid
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return data, bad


def _read_csv_exact(
    path: Path, names: list[str]
) -> tuple[dict[str, list[str]], list[int], list[RejectedRow]]:
    """A row-by-row pass that keeps each row's number, for files with ragged rows."""
    width = len(names)
    columns: dict[str, list[str]] = {n: [] for n in names}
    lists = [columns[n] for n in names]
    numbers: list[int] = []
    rejects: list[RejectedRow] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        row_number = 0
        for record in reader:
            if not record:
                continue  # a blank line is not a data row
            row_number += 1
            if len(record) != width:
                rejects.append(RejectedRow(row_number=row_number, fields=tuple(record)))
                continue
            numbers.append(row_number)
            for target, value in zip(lists, record, strict=True):
                target.append(value)
    return columns, numbers, rejects


def read_csv_table(table: TableSpec, path: Path) -> StagedTable:
    """Read one CSV table; ContractError on a header that does not match the contract."""
    names = _match_header(table, path, _read_header(path))
    try:
        data, bad = _read_csv_fast(path, names)
    except pa.ArrowInvalid as exc:
        raise ContractError(f"{path.name} cannot be read as CSV ({_arrow_reason(exc)})") from None
    if bad == 0:
        rows = pa.array(range(1, data.num_rows + 1), type=pa.int64())
        columns = {name: data.column(name).combine_chunks() for name in names}
        return StagedTable(
            table=table,
            file_name=path.name,
            data=_with_row_numbers(columns, table, rows),
            header_width=len(names),
        )
    lists, numbers, rejects = _read_csv_exact(path, names)
    columns = {name: pa.array(values, type=pa.string()) for name, values in lists.items()}
    return StagedTable(
        table=table,
        file_name=path.name,
        data=_with_row_numbers(columns, table, pa.array(numbers, type=pa.int64())),
        shape_rejects=tuple(rejects),
        header_width=len(names),
    )


def _arrow_reason(exc: Exception) -> str:
    # pyarrow's messages can quote a row; keep only the part before any row text.
    text = str(exc).split(":", 1)[0]
    return text[:120]


@dataclass(slots=True)
class _OpenRecord:
    tag: str
    values: dict[str, str]
    descendants: list[dict[str, str]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_cin_xml(contract: SourceContract, path: Path) -> list[StagedTable]:
    """Flatten the CIN census XML into the contract's tables (child, cindetails, ...).

    ``LAchildID`` is carried down from each <Child> to its nested records, and ``CINdetailsID``
    from each <CINdetails> to its <Assessments> and <ChildProtectionPlans>. Returns without a
    CINdetailsID get one made: the CINdetails element's position within its child (1, 2, ...).
    A repeated leaf element (e.g. several <AssessmentFactors>) gives a comma-separated value.
    """
    by_element = {t.file: t for t in contract.tables}
    wanted = {t.file: set(t.column_names) for t in contract.tables}
    rows: dict[str, list[dict[str, str]]] = {t.file: [] for t in contract.tables}
    stack: list[_OpenRecord] = []
    cin_sequence = 0
    depth_has_child: list[bool] = []
    try:
        with path.open("rb") as handle:
            for event, element in ET.iterparse(handle, events=("start", "end")):
                tag = _local(element.tag)
                if event == "start":
                    if depth_has_child:
                        depth_has_child[-1] = True
                    depth_has_child.append(False)
                    if tag in by_element:
                        record: dict[str, str] = {}
                        if tag == "Child":
                            cin_sequence = 0
                        elif tag == "CINdetails":
                            cin_sequence += 1
                            record["CINdetailsID"] = str(cin_sequence)
                        rows[tag].append(record)
                        for open_record in stack:
                            open_record.descendants.append(record)
                        stack.append(_OpenRecord(tag=tag, values=record, descendants=[]))
                    continue
                had_child = depth_has_child.pop()
                if tag in by_element:
                    closed = stack.pop()
                    for name in _CIN_CARRIED.get(tag, ()):
                        value = closed.values.get(name)
                        if value is None:
                            continue
                        for descendant in closed.descendants:
                            descendant[name] = value
                    if tag == "Child":
                        element.clear()
                    continue
                if had_child or not stack:
                    continue
                name = CIN_ELEMENT_ALIASES.get(tag, tag)
                current = stack[-1]
                if name not in wanted[current.tag]:
                    continue
                text = (element.text or "").strip()
                if (
                    name == "CINdetailsID"
                    and name in current.values
                    and current.tag == "CINdetails"
                ):
                    current.values[name] = text  # the return's own id replaces the made-up one
                elif name in current.values and name != "CINdetailsID":
                    current.values[name] = f"{current.values[name]},{text}"
                else:
                    current.values[name] = text
    except ET.ParseError as exc:
        line, column = exc.position
        raise ContractError(
            f"{path.name} is not well-formed XML (line {line}, column {column}: "
            f"{_xml_reason(exc)}); it may be truncated: re-export the return"
        ) from None
    staged: list[StagedTable] = []
    for table in contract.tables:
        records = rows[table.file]
        columns = {
            name: pa.array([r.get(name) for r in records], type=pa.string())
            for name in table.column_names
        }
        numbers = pa.array(range(1, len(records) + 1), type=pa.int64())
        staged.append(
            StagedTable(
                table=table,
                file_name=path.name,
                data=_with_row_numbers(columns, table, numbers),
            )
        )
    return staged


def _xml_reason(exc: ET.ParseError) -> str:
    # expat's messages name the fault ("mismatched tag", "no element found"), never the text.
    return str(exc).split(":", 1)[0]


def read_extract(contract: SourceContract, path: Path) -> list[StagedTable]:
    """Every table of one extract, staged as strings, in contract order."""
    files = extract_files(contract, path)
    if contract.format is SourceFormat.CIN_XML:
        return read_cin_xml(contract, files[0][1])
    return [read_csv_table(table, file) for table, file in files]


def iter_extract_paths(contract: SourceContract, path: Path) -> Iterator[Path]:
    """The distinct files of an extract in contract order (what its sha256 covers)."""
    yield from dict.fromkeys(p for _, p in extract_files(contract, path))
