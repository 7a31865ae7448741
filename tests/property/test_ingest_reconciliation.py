"""For any mix of good and bad rows: accepted + quarantined = read, exactly the planted bad rows
are quarantined, and no message or log line carries a planted value."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_extracts import TODAY, valid_rows, write_csv, write_extract

from joinedup.config import load_node
from joinedup.errors import ContractError
from joinedup.ingest import ingest_file, init_node
from joinedup.sources import get_contract

TABLE = get_contract("attendance").table("attendance")
COLUMNS = TABLE.column_names

# How to break a row; each planted value carries the marker so leaks can be searched for.
MARK = "Qzv"
BREAKS = {
    "bad_code": lambda row, tag: row.__setitem__(COLUMNS.index("term"), f"{MARK}{tag}"),
    "bad_number": lambda row, tag: row.__setitem__(COLUMNS.index("sessions"), f"{MARK}{tag}"),
    "bad_upn": lambda row, tag: row.__setitem__(COLUMNS.index("upn"), f"{MARK}{tag}0000000"),
    "bad_urn": lambda row, tag: row.__setitem__(COLUMNS.index("urn"), f"9{tag}{MARK}"),
    "missing": lambda row, tag: row.__setitem__(COLUMNS.index("academicyear"), ""),
    "too_few": lambda row, tag: row.__delitem__(slice(3, None)),
    "too_many": lambda row, tag: row.append(f"{MARK}{tag}"),
}

plans = st.lists(st.one_of(st.none(), st.sampled_from(sorted(BREAKS))), min_size=1, max_size=25)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        node = init_node(Path(tmp) / "node")
        ref = write_extract(get_contract("reference"), Path(tmp) / "ex", rows=3)
        ingest_file(node, "reference", ref, today=TODAY)
        yield Path(tmp) / "node"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=plans, tag=st.integers(min_value=100, max_value=999))
def test_counts_reconcile_and_only_planted_rows_are_quarantined(
    template: Path, plan: list[str | None], tag: int
) -> None:
    rows = [[r[c] for c in COLUMNS] for r in valid_rows(TABLE, len(plan))]
    for row, fault in zip(rows, plan, strict=True):
        if fault is not None:
            BREAKS[fault](row, str(tag))
    planted = {i + 1 for i, fault in enumerate(plan) if fault is not None}
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(template, Path(tmp) / "node")
        node = load_node(Path(tmp) / "node")
        path = write_csv(Path(tmp) / "attendance.csv", COLUMNS, rows)
        try:
            result = ingest_file(node, "attendance", path, today=TODAY)
        except ContractError as exc:  # pragma: no cover - no planted fault is file-level
            pytest.fail(f"unexpected file-level rejection: {exc}")
        finally:
            root.removeHandler(capture)
            root.setLevel(old_level)
        with duckdb.connect(str(node.store_path), read_only=True) as con:
            reasons = con.execute(
                "SELECT row_number, coalesce(column_name, ''), rule, message "
                "FROM ingest__quarantine_reasons"
            ).fetchall()
            stored = con.execute("SELECT row_number FROM raw__attendance__attendance").fetchall()
    assert result.accepted + result.quarantined == result.read == len(plan)
    for counts in result.tables:
        assert counts.accepted + counts.quarantined == counts.read
    assert {r[0] for r in reasons} == planted
    assert {r[0] for r in stored} == set(range(1, len(plan) + 1)) - planted
    text = " ".join(" ".join(map(str, r)) for r in reasons) + " ".join(capture.lines)
    assert MARK not in text
    assert str(tag) not in " ".join(r[3] for r in reasons)
