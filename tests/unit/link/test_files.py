"""File linkage: column validation, standardisation and a tiny end-to-end link (real Splink)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from joinedup.errors import LinkageError, UsageError
from joinedup.link.files import (
    DUCKDB_POOL_SHARE,
    FileLinkSpec,
    duckdb_pool_limit,
    link_files,
    one_to_one_expected_matches,
    parse_memory_size,
    resolve_columns,
    standardise_sql,
)
from joinedup.link.settings import model_spec

SECRET = "Zebedeeqq"


def _std(column: str, value: str | None) -> object:
    row = duckdb.sql(
        f"SELECT {standardise_sql(column, 'x')} FROM (SELECT ?::VARCHAR AS x)", params=[value]
    ).fetchone()
    assert row is not None
    return row[0]


def test_unknown_and_bad_columns_are_named_without_values() -> None:
    with pytest.raises(UsageError) as err:
        resolve_columns(
            "people.csv",
            ["ID", "Forename", "surname", SECRET],
            [("forename", "given_name"), ("surname", "last_name")],
            [],
            [],
        )
    message = str(err.value)
    assert "people.csv" in message
    assert f"unknown columns: ID, {SECRET}" in message  # headers are names, shown to fix them
    assert "'last_name' is not a standard column" in message
    assert "--map" in message and "--compare" in message and "--ignore" in message


def test_mapping_compare_and_ignore_resolve_every_column() -> None:
    mapping = resolve_columns(
        "f.csv",
        ["uid", "First", "dob", "email", "note"],
        [("uid", "record_id"), ("first", "given_name"), ("dob", "date_of_birth")],
        ["email"],
        ["note"],
    )
    assert mapping == {
        "uid": "record_id",
        "First": "given_name",
        "dob": "date_of_birth",
        "email": "email",
    }


def test_a_file_without_identifying_columns_is_refused() -> None:
    with pytest.raises(UsageError, match="no identifying column"):
        resolve_columns("f.csv", ["record_id", "sex", "postcode"], [], [], [])


@pytest.mark.parametrize(
    ("column", "raw", "expected"),
    [
        ("given_name", "  Zoë-Anne ", "zoe anne"),
        ("family_name", "O'Brien", "obrien"),
        ("family_name", "   ", None),
        ("date_of_birth", "2014-03-02", "2014-03-02"),
        ("date_of_birth", "20140302", "2014-03-02"),
        ("date_of_birth", "02/03/2014", "2014-03-02"),
        ("date_of_birth", "2014-03-02 00:00:00", "2014-03-02"),
        ("date_of_birth", "not a date", None),
        ("postcode", "ls1 4ap", "LS1 4AP"),
        ("postcode", "SW1A1AA", "SW1A 1AA"),
        ("postcode", "4223", "4223"),
        ("sex", "Female", "F"),
        ("sex", "1", "M"),
        ("sex", "unknown", None),
        ("nhs_number", "943 476 5919", "9434765919"),
        ("nhs_number", "12345", None),
        ("upn", "b801200005001", "B801200005001"),
    ],
)
def test_standardisation(column: str, raw: str, expected: str | None) -> None:
    assert _std(column, raw) == expected


def test_model_uses_only_the_columns_present() -> None:
    spec = model_spec(["given_name", "family_name", "date_of_birth"], ["email"])
    used = " ".join(" ".join(r.keys) for r in spec.blocking_rules)
    assert "postcode" not in used and "nhs_number" not in used
    assert any(r.keys == ("email",) for r in spec.blocking_rules)
    assert [r.name for r in spec.training.deterministic_rules] == [
        "given_name & family_name & date_of_birth"
    ]
    assert len(spec.training.em_rules) == 2
    with_ids = model_spec(["nhs_number", "date_of_birth"])
    assert any(r.keys == ("nhs_number",) for r in with_ids.blocking_rules)
    assert with_ids.training.deterministic_rules[0].keys == ("nhs_number", "date_of_birth")


PEOPLE = [
    ("Amelia", "Khan", "2012-01-05", "LS1 4AP"),
    ("Oliver", "Smith", "2011-07-19", "LS6 2QT"),
    ("Isla", "Nowak", "2013-11-30", "BD7 1DP"),
    ("Noah", "Hussain", "2010-02-14", "LS8 5RT"),
    ("Freya", "Jones", "2012-09-09", "HX1 2AB"),
    ("Leo", "Begum", "2014-04-21", "WF1 3CD"),
    ("Ava", "Kowalski", "2011-12-01", "LS9 8EF"),
    ("Harry", "Ahmed", "2013-06-17", "BD3 9GH"),
    ("Mia", "Taylor", "2010-10-10", "LS2 7JK"),
    ("Zain", "Patel", "2012-03-03", "LS11 5LM"),
    ("Grace", "Brown", "2014-08-08", "LS12 6NP"),
    ("Yusuf", "Ali", "2011-05-25", "BD8 0QR"),
]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def two_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("files")
    left = _write(
        d / "school.csv",
        ["record_id", "given_name", "family_name", "date_of_birth", "postcode"],
        [[f"s{i}", g, f, dob, pc] for i, (g, f, dob, pc) in enumerate(PEOPLE)],
    )
    # the same children in another agency's file, with typos, a day/month swap and other
    # column names and formats; plus two children the school does not know
    right_rows = []
    for i, (g, f, dob, pc) in enumerate(PEOPLE):
        y, m, dd = dob.split("-")
        if i % 3 == 0:
            g = g[:-1] + "e"
        if i % 4 == 1:
            dob_out = f"{m}/{dd}/{y}" if int(dd) <= 12 else f"{dd}/{m}/{y}"
        else:
            dob_out = f"{dd}/{m}/{y}"
        right_rows.append([f"h{i}", g.upper(), f, dob_out, pc.replace(" ", "").lower()])
    right_rows += [["h90", "Ruby", "Clarke", "09/01/2012", "LS3 1AA"]]
    right_rows += [["h91", "Omar", "Farooq", "22/02/2013", "BD5 2BB"]]
    right = _write(d / "health.csv", ["id", "forename", "surname", "dob", "pc"], right_rows)
    return left, right


@pytest.fixture(scope="module")
def linked(two_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    link_files(
        FileLinkSpec(
            files=two_files,
            out=out,
            column_map=(
                ("id", "record_id"),
                ("forename", "given_name"),
                ("surname", "family_name"),
                ("dob", "date_of_birth"),
                ("pc", "postcode"),
            ),
            write_scored_pairs=True,
        )
    )
    return out


def test_two_files_link_into_clusters_with_every_record(linked: Path) -> None:
    with (linked / "clusters.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["source"] for r in rows} == {"school", "health"}
    assert len(rows) == len(PEOPLE) * 2 + 2
    by_cluster: dict[str, set[str]] = {}
    for r in rows:
        by_cluster.setdefault(r["cluster_id"], set()).add(r["record_id"])
    together = sum(1 for i in range(len(PEOPLE)) if {f"s{i}", f"h{i}"} in by_cluster.values())
    assert together >= len(PEOPLE) - 1
    assert {"h90"} in by_cluster.values() and {"h91"} in by_cluster.values()


def test_pairs_and_report_are_written_without_values(linked: Path) -> None:
    header = (linked / "pairs.csv").read_text().splitlines()[0]
    assert header == "record_id_l,source_l,record_id_r,source_r,match_probability,match_weight"
    report = (linked / "report.json").read_text()
    for name in ("Amelia", "amelia", "Kowalski", "kowalski", "LS1 4AP", "2012-01-05"):
        assert name not in report
    assert '"estimated_precision"' in report


def test_repeated_record_ids_are_refused(tmp_path: Path) -> None:
    f = _write(tmp_path / "dup.csv", ["record_id", "given_name"], [["1", "a"], ["1", "b"]])
    with pytest.raises(LinkageError, match="not unique"):
        link_files(FileLinkSpec(files=(f,), out=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_unreadable_file_types_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "people.xlsx"
    f.write_bytes(b"PK")
    with pytest.raises(UsageError, match="only CSV"):
        link_files(FileLinkSpec(files=(f,), out=tmp_path / "out"))


def _pairs(rows: list[tuple[str, str, float]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE p (record_id_l VARCHAR, source_l VARCHAR, record_id_r VARCHAR,"
        " source_r VARCHAR, match_probability DOUBLE)"
    )
    for row in rows:
        con.execute("INSERT INTO p VALUES (?, 'a', ?, 'b', ?)", list(row))
    return con


def test_one_to_one_estimate_caps_each_records_probabilities_at_one() -> None:
    # a1 has two near-identical candidates (b1, b2) and b1 a second suitor (a2): the plain sum
    # counts 2.4 matches. Left then right: a1's 0.9s halve (0.5, 0.5), then b1's 1.1 scales
    # to 0.4545 + 0.5455, b2 keeps 0.5: 1.5. Right then left: b1's 1.5 scales to 0.6 + 0.4,
    # then a1's 1.5 to 0.4 + 0.6, a2 keeps 0.4: 1.4. The estimate is the mean, 1.45.
    con = _pairs([("a1", "b1", 0.9), ("a1", "b2", 0.9), ("a2", "b1", 0.6)])
    assert one_to_one_expected_matches(con, "p") == pytest.approx(1.45)


def test_one_to_one_estimate_leaves_records_under_one_alone() -> None:
    con = _pairs([("a1", "b1", 0.3), ("a2", "b2", 0.5), ("a3", "b2", 0.4)])
    assert one_to_one_expected_matches(con, "p") == pytest.approx(1.2)
    assert one_to_one_expected_matches(_pairs([]), "p") == 0.0


def test_one_to_one_run_reports_its_estimate_within_a_memory_limit(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    result = link_files(
        FileLinkSpec(
            files=two_files,
            out=tmp_path / "out",
            column_map=(
                ("id", "record_id"),
                ("forename", "given_name"),
                ("surname", "family_name"),
                ("dob", "date_of_birth"),
                ("pc", "postcode"),
            ),
            one_to_one=True,
            memory_limit="2GB",
        )
    )
    settings = json.loads((tmp_path / "out" / "report.json").read_text())["settings"]
    assert settings["memory_limit"] == "2GB"
    # DuckDB's pool is the share of what the process does not already hold: under the total
    pool = parse_memory_size(settings["duckdb_memory_limit"].replace(" ", ""))
    assert 256 * 2**20 <= pool < 2 * 10**9
    e = result.estimates
    assert e.expected_matches_one_to_one is not None
    # twelve children are in both files: each is one expected match at most
    assert 0 < e.expected_matches_one_to_one <= len(PEOPLE)
    assert e.estimated_cluster_recall_one_to_one is not None
    assert 0.8 <= e.estimated_cluster_recall_one_to_one <= 1.0


def test_a_malformed_memory_limit_is_refused(two_files: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="memory-limit"):
        link_files(FileLinkSpec(files=two_files, out=tmp_path / "out", memory_limit="lots"))


def test_memory_sizes_are_read_in_decimal_and_binary_units() -> None:
    assert parse_memory_size("3GB") == 3 * 10**9
    assert parse_memory_size("2.5GiB") == int(2.5 * 2**30)
    assert parse_memory_size("800 MB") == 800 * 10**6
    with pytest.raises(UsageError, match="3GB"):
        parse_memory_size("3 gigs")


def test_duckdb_gets_a_share_of_what_the_process_does_not_hold() -> None:
    mib = 2**20
    assert duckdb_pool_limit(3000 * mib, 500 * mib) == int(2500 * mib * DUCKDB_POOL_SHARE)
    # a limit the process already nearly fills is refused with the sizes, not run to failure
    with pytest.raises(UsageError, match="at least 1GB"):
        duckdb_pool_limit(600 * mib, 400 * mib)
