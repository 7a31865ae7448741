"""The linked store's tables, built from hand-made raw tables and a hand-made person index."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import duckdb
import pytest

from joinedup.ingest.load import raw_columns
from joinedup.sources import CONTRACTS
from joinedup.store.linked import (
    RAW_INPUTS,
    RAW_KEYS,
    STORE_TABLES,
    TIMELINE_VIEW,
    LinkTables,
    build_store_tables,
    current_batches,
    publish_tables,
    read_current_batches,
)

NEXT = "__next"
P1, P2, P3 = "p" * 32, "q" * 32, "r" * 32


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET enable_progress_bar = false")
    c.execute(
        "CREATE TABLE link__record_person (record_key VARCHAR, person_id VARCHAR, "
        "source VARCHAR, table_name VARCHAR, linked_by VARCHAR)"
    )
    c.execute(
        "CREATE TABLE link__subject_person (namespace VARCHAR, subject_key VARCHAR, "
        "person_id VARCHAR)"
    )
    c.execute("CREATE TABLE link__conflicts (person_id VARCHAR, kind VARCHAR, n_distinct BIGINT)")
    yield c
    c.close()


def add_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows of a raw table; an identity row names ``person`` (linked by record key), an event
    row names ``subject`` in ``namespace`` (linked by subject key)."""
    columns = (*RAW_KEYS, *RAW_INPUTS[table])
    body = ", ".join(f'"{c}" {t}' for c, t in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
    source, name = table.removeprefix("raw__").split("__")
    (already,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
    for n, row in enumerate(rows, start=already + 1):
        data = {k: v for k, v in row.items() if k not in ("person", "subject", "namespace")}
        data.setdefault("batch_id", "b1")
        data["row_number"] = n
        if "person" in row:
            key = f"{table}:{n}"
            data["record_key"] = key
            con.execute(
                "INSERT INTO link__record_person VALUES (?, ?, ?, ?, 'unlinked')",
                [key, row["person"], source, name],
            )
        else:
            data["subject_key"] = f"{row['namespace']}-{row['subject']}"
            con.execute(
                "INSERT INTO link__subject_person SELECT ?, ?, ? WHERE NOT EXISTS ("
                "SELECT 1 FROM link__subject_person WHERE subject_key = ?)",
                [row["namespace"], data["subject_key"], row["subject"], data["subject_key"]],
            )
        names = ", ".join(f'"{k}"' for k in data)
        marks = ", ".join("?" for _ in data)
        con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(data.values()))


def build(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = dict(build_store_tables(con, link=LinkTables(), suffix=NEXT).table_counts)
    publish_tables(con, [t.name for t in STORE_TABLES], NEXT)
    return counts


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_raw_inputs_agree_with_what_ingest_writes() -> None:
    for contract in CONTRACTS:
        for table in contract.tables:
            name = f"raw__{contract.name}__{table.name}"
            if name not in RAW_INPUTS:
                continue
            written = {c.lower(): t for c, t in raw_columns(table)}
            for column, sql_type in RAW_INPUTS[name]:
                assert written.get(column.lower()) == sql_type, (name, column)
    # every table the store reads is a contract table
    contract_tables = {f"raw__{c.name}__{t.name}" for c in CONTRACTS for t in c.tables}
    assert set(RAW_INPUTS) <= contract_tables


def test_a_node_with_nothing_ingested_builds_an_empty_store(
    con: duckdb.DuckDBPyConnection,
) -> None:
    result = build_store_tables(con, link=LinkTables(), suffix=NEXT)
    assert set(result.table_counts) == {t.name for t in STORE_TABLES}
    assert all(v == 0 for v in result.table_counts.values())
    assert "raw__school_census__pupilonroll" in result.empty_inputs


def test_attendance_counts_sessions_and_flags_persistent_absence(
    con: duckdb.DuckDBPyConnection,
) -> None:
    base = {
        "namespace": "upn",
        "urn": 100001,
        "academicyear": "2025/26",
        "term": "AUT",
        "sessionspossible": 100,
    }
    add_rows(
        con,
        "raw__attendance__attendance",
        [
            # P1: 100 possible, 11 absent (6 authorised + 5 unauthorised) -> 11% -> persistent
            {
                **base,
                "subject": P1,
                "sessionspossible": 100,
                "attendancereason": "/",
                "sessions": 85,
            },
            {
                **base,
                "subject": P1,
                "sessionspossible": 100,
                "attendancereason": "I",
                "sessions": 6,
            },
            {
                **base,
                "subject": P1,
                "sessionspossible": 100,
                "attendancereason": "N",
                "sessions": 5,
            },
            {
                **base,
                "subject": P1,
                "sessionspossible": 100,
                "attendancereason": "Y1",
                "sessions": 4,
            },
            # P2: 9 of 100 -> not persistent
            {
                **base,
                "subject": P2,
                "sessionspossible": 100,
                "attendancereason": "/",
                "sessions": 91,
            },
            {
                **base,
                "subject": P2,
                "sessionspossible": 100,
                "attendancereason": "G",
                "sessions": 9,
            },
        ],
    )
    build(con)
    got = {
        r["person_id"]: r for r in rows(con, "SELECT * FROM store__attendance ORDER BY person_id")
    }
    assert got[P1]["sessions_possible"] == 100
    assert got[P1]["sessions_present"] == 85
    assert got[P1]["authorised_absence"] == 6
    assert got[P1]["unauthorised_absence"] == 5
    assert got[P1]["is_persistent_absence"] is True
    assert got[P1]["term_start"] == date(2025, 9, 1)
    assert got[P2]["is_persistent_absence"] is False
    assert got[P2]["absence_rate"] == pytest.approx(0.09)


def test_enrolment_has_fsm_on_census_day_and_ranked_sen_needs(
    con: duckdb.DuckDBPyConnection,
) -> None:
    census = date(2026, 1, 15)
    pupil = {"censusdate": census, "urn": 100001, "ncyearactual": "3", "enrolstatus": "C"}
    add_rows(
        con,
        "raw__school_census__pupilonroll",
        [
            {**pupil, "person": P1, "senprovision": "K", "birth_month": "2018-02"},
            {**pupil, "person": P2, "senprovision": "N", "birth_month": "2018-03"},
        ],
    )
    add_rows(
        con,
        "raw__school_census__fsmperiodsonroll",
        [
            {"namespace": "upn", "subject": P1, "fsmstartdate": date(2025, 1, 1)},
            {
                "namespace": "upn",
                "subject": P2,
                "fsmstartdate": date(2024, 1, 1),
                "fsmenddate": date(2025, 1, 1),
            },
        ],
    )
    add_rows(
        con,
        "raw__school_census__senneeds",
        [
            {"namespace": "upn", "subject": P1, "sentype": "SLCN", "sentyperank": 1},
            {"namespace": "upn", "subject": P1, "sentype": "ASD", "sentyperank": 2},
        ],
    )
    build(con)
    got = {r["person_id"]: r for r in rows(con, "SELECT * FROM store__enrolment")}
    assert got[P1]["is_fsm_on_census_day"] is True
    assert got[P2]["is_fsm_on_census_day"] is False
    assert (got[P1]["sen_primary_need"], got[P1]["sen_secondary_need"]) == ("SLCN", "ASD")
    assert got[P2]["sen_primary_need"] is None


def test_eyfsp_gld_needs_expected_in_all_twelve_prime_and_specific_goals(
    con: duckdb.DuckDBPyConnection,
) -> None:
    from joinedup.store.linked import ALL_ELGS

    expected = dict.fromkeys(ALL_ELGS, "2")
    add_rows(
        con,
        "raw__eyfsp__eyfsp",
        [
            {**expected, "person": P1, "urn": 100001, "academicyear": "2024/25"},
            {**expected, "elg_num": "1", "person": P2, "urn": 100001, "academicyear": "2024/25"},
            {**expected, "elg_bie": "1", "person": P3, "urn": 100001, "academicyear": "2024/25"},
        ],
    )
    build(con)
    got = {r["person_id"]: r for r in rows(con, "SELECT * FROM store__eyfsp")}
    assert got[P1]["is_gld"] is True and got[P1]["elgs_expected"] == 17
    assert got[P2]["is_gld"] is False
    assert got[P3]["is_gld"] is True  # expressive arts is not one of the twelve
    assert got[P1]["assessed_by"] == date(2025, 6, 30)


def test_development_check_all_five_counts_monitoring_as_expected(
    con: duckdb.DuckDBPyConnection,
) -> None:
    from joinedup.store.linked import ASQ_DOMAINS

    zones = {f"zone_{d}": "above" for d in ASQ_DOMAINS}
    add_rows(
        con,
        "raw__hcp_review__hcp_review",
        [
            {**zones, "zone_fine_motor": "monitoring", "person": P1},
            {**zones, "zone_communication": "below", "person": P2},
        ],
    )
    build(con)
    got = {r["person_id"]: r for r in rows(con, "SELECT * FROM store__development_check")}
    assert got[P1]["is_all_five_expected"] is True
    assert got[P2]["is_all_five_expected"] is False
    assert got[P2]["domains_below"] == 1


def test_ncmp_bmi(con: duckdb.DuckDBPyConnection) -> None:
    add_rows(con, "raw__ncmp__ncmp", [{"person": P1, "height_cm": 120.0, "weight_kg": 24.0}])
    build(con)
    (bmi,) = con.execute("SELECT bmi FROM store__ncmp").fetchone() or (None,)
    assert bmi == pytest.approx(16.67)


def test_person_keeps_month_of_birth_and_prefers_dfe_ethnicity(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("CREATE TABLE ref__lsoa (lsoa21cd VARCHAR, imd_decile BIGINT)")
    con.execute("INSERT INTO ref__lsoa VALUES ('E01000001', 1), ('E01000002', 9)")
    add_rows(
        con,
        "raw__school_census__pupilonroll",
        [
            {
                "person": P1,
                "birth_month": "2018-02",
                "sex": "F",
                "ethnicity": "APKN",
                "language": "URD",
                "censusdate": date(2026, 1, 15),
            }
        ],
    )
    add_rows(
        con,
        "raw__gp_events__patients",
        [
            {
                "person": P1,
                "birth_month": "2018-02",
                "sex": "F",
                "ethnic_category": "A",
                "lsoa21cd": "E01000002",
                "registration_start": date(2019, 1, 1),
            },
            {
                "person": P1,
                "birth_month": "2018-03",
                "sex": "F",
                "lsoa21cd": "E01000001",
                "registration_start": date(2024, 1, 1),
            },
            {"person": P2, "birth_month": "2020-05", "sex": "M", "ethnic_category": "J"},
        ],
    )
    add_rows(
        con,
        "raw__gp_events__events",
        [{"namespace": "gp_patient_id", "subject": P2, "event_date": date(2021, 2, 3)}],
    )
    build(con)
    got = {r["person_id"]: r for r in rows(con, "SELECT * FROM store__person")}
    assert got[P1]["birth_month"] == "2018-02"
    assert got[P1]["ethnicity"] == "APKN"
    assert got[P1]["ethnicity_source"] == "education_social_care"
    assert got[P1]["is_eal"] is True
    assert got[P1]["lsoa21cd"] == "E01000001"  # the latest registration's area
    assert got[P1]["imd_decile"] == 1
    assert got[P1]["sources"] == ["gp_events", "school_census"]
    assert got[P2]["ethnicity"] == "APKN" and got[P2]["ethnicity_source"] == "nhs"
    assert got[P2]["first_seen"] == date(2021, 2, 3)
    assert got[P2]["is_eal"] is None
    timeline = rows(con, f"SELECT * FROM {TIMELINE_VIEW} WHERE person_id = '{P2}'")
    assert {(r["source"], r["event_type"]) for r in timeline} == {
        ("gp_events", "gp_event"),
        ("gp_events", "gp_registration"),
    } or {(r["source"], r["event_type"]) for r in timeline} == {("gp_events", "gp_event")}


def test_no_store_table_has_a_date_of_birth_column(con: duckdb.DuckDBPyConnection) -> None:
    build(con)
    columns = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE table_name LIKE 'store__%'"
    ).fetchall()
    assert columns
    for table, column in columns:
        assert column.lower() not in {"dob", "date_of_birth", "birth_date", "mc_dob"}, table


def test_publish_is_all_or_nothing(con: duckdb.DuckDBPyConnection) -> None:
    measured = {"height_cm": 120.0, "weight_kg": 24.0, "measurement_date": date(2025, 5, 1)}
    add_rows(con, "raw__ncmp__ncmp", [{"person": P1, **measured}])
    build(con)
    add_rows(con, "raw__ncmp__ncmp", [{"person": P2, **measured}])
    build_store_tables(con, link=LinkTables(), suffix=NEXT)

    def fail(_: duckdb.DuckDBPyConnection) -> None:
        raise RuntimeError("simulated failure inside the swap")

    with pytest.raises(RuntimeError):
        publish_tables(con, [t.name for t in STORE_TABLES], NEXT, also=fail)
    assert con.execute("SELECT count(*) FROM store__ncmp").fetchone() == (1,)
    assert con.execute(f"SELECT count(*) FROM {TIMELINE_VIEW}").fetchone() == (1,)


def test_only_the_latest_complete_batch_of_a_source_is_read(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute(
        "CREATE TABLE ingest__batches (batch_id VARCHAR, source VARCHAR, file_name VARCHAR, "
        "sha256 VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR)"
    )
    con.execute(
        "INSERT INTO ingest__batches VALUES "
        "('old', 'ncmp', 'f', 'x', '2026-01-01', '2026-01-01', 'complete'), "
        "('new', 'ncmp', 'f', 'y', '2026-02-01', '2026-02-01', 'complete'), "
        "('bad', 'ncmp', 'f', 'z', '2026-03-01', NULL, 'in_progress')"
    )
    add_rows(
        con,
        "raw__ncmp__ncmp",
        [
            {"person": P1, "batch_id": "old", "height_cm": 110.0, "weight_kg": 20.0},
            {"person": P1, "batch_id": "new", "height_cm": 120.0, "weight_kg": 24.0},
            {"person": P1, "batch_id": "bad", "height_cm": 130.0, "weight_kg": 24.0},
        ],
    )
    batches = current_batches(con)
    assert batches == ("new",)
    read_current_batches(con, batches)
    build(con)
    assert con.execute("SELECT height_cm FROM store__ncmp").fetchall() == [(120.0,)]
