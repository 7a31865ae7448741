"""Writing extract tables to CSV exactly as their source contracts declare, with truth rows.

Invariants: the header is the contract's column names in contract order (a frame with other
columns is refused); dates are written in the column's ``date_format``; missing values are
empty fields; every written row yields one truth row (source, table, 1-based row_number,
person_id) in file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from joinedup.simulate.frames import objects
from joinedup.sources.contract import ColumnKind, SourceContract, SourceFormat, TableSpec

TRUTH_COLUMNS = ("source", "table", "row_number", "person_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltTable:
    """One extract table's rows (contract columns) and the person behind each row."""

    frame: pd.DataFrame
    person_ids: npt.NDArray[np.object_]


def _as_text(series: pd.Series[Any], kind: ColumnKind, date_format: str) -> pa.Array:
    if kind in (ColumnKind.DATE, ColumnKind.DATETIME):
        values = pd.to_datetime(series)
        text = values.dt.strftime(date_format)
        return pa.array(objects(text), type=pa.string())
    if kind is ColumnKind.DECIMAL:
        nums = pd.to_numeric(series).astype("Float64")
        text = nums.map(lambda v: f"{v:.1f}", na_action="ignore")
        return pa.array(objects(text), type=pa.string())
    if kind is ColumnKind.INTEGER:
        ints = pd.to_numeric(series).astype("Int64")
        return pa.array(objects(ints.astype("string")), type=pa.string())
    raw = objects(series)
    try:
        return pa.array(raw, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in raw], type=pa.string())


def table_path(out: Path, contract: SourceContract, table: TableSpec) -> Path:
    if contract.format is SourceFormat.CSV:
        return out / contract.file_name
    return out / contract.name / table.file


def write_table(
    built: BuiltTable, contract: SourceContract, table: TableSpec, out: Path
) -> pd.DataFrame:
    """Write one table's CSV under ``out``; return its truth rows."""
    frame = built.frame
    expected = list(table.column_names)
    if list(frame.columns) != expected:
        raise ValueError(
            f"{contract.name}/{table.name}: built columns differ from the contract's "
            f"(missing {sorted(set(expected) - set(frame.columns))}, "
            f"extra {sorted(set(frame.columns) - set(expected))})"
        )
    if len(built.person_ids) != len(frame):
        raise ValueError(f"{contract.name}/{table.name}: one person id per row is required")
    arrays = [_as_text(frame[col.name], col.kind, col.date_format) for col in table.columns]
    path = table_path(out, contract, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(
        pa.Table.from_arrays(arrays, names=expected),
        path,
        write_options=pacsv.WriteOptions(quoting_style="needed"),
    )
    return pd.DataFrame(
        {
            "source": contract.name,
            "table": table.name,
            "row_number": np.arange(1, len(frame) + 1, dtype=np.int64),
            "person_id": built.person_ids,
        }
    )
