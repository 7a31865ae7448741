from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest
from ingest_extracts import TODAY, valid_rows, write_csv, write_extract, write_table

import joinedup.ingest.load as load_module
from joinedup.config import NodeSettings
from joinedup.errors import ContractError, UsageError
from joinedup.identity.pseudonym import pseudonym
from joinedup.identity.secret_key import read_secret_key
from joinedup.ingest import ingest_dir, ingest_file
from joinedup.ingest.load import raw_columns
from joinedup.sources import CONTRACTS, SourceContract, get_contract


def _snapshot(node: NodeSettings) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table in both databases."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for label, path in (("vault", node.vault_path), ("store", node.store_path)):
        with duckdb.connect(str(path), read_only=True) as con:
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() ORDER BY 1"
            ).fetchall():
                rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
                out[f"{label}.{name}"] = sorted(rows, key=repr)
    return out


def _store(node: NodeSettings, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(node.store_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _vault(node: NodeSettings, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(node.vault_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.parametrize("contract", [c for c in CONTRACTS if c.name != "reference"], ids=str)
def test_every_contract_loads_whole_when_valid(
    node: NodeSettings, tmp_path: Path, contract: SourceContract
) -> None:
    path = write_extract(contract, tmp_path / "ex", rows=4)
    result = ingest_file(node, contract.name, path, today=TODAY)
    assert result.status == "complete"
    assert result.quarantined == 0 and result.flagged == 0
    assert result.accepted == result.read > 0
    for table in contract.tables:
        name = f"raw__{contract.name}__{table.name}"
        rows = _store(node, f'SELECT count(*), count(record_key), count(subject_key) FROM "{name}"')
        n = next(t.read for t in result.tables if t.table == table.name)
        expected_record = n if table.identity_records else 0
        expected_subject = n if table.subject is not None else 0
        assert rows == [(n, expected_record, expected_subject)]
    identities = _vault(
        node, "SELECT count(*) FROM vault__identities WHERE source = ?", [contract.name]
    )
    assert identities == [
        (sum(t.read for t in result.tables if contract.table(t.table).identity_records),)
    ]


def test_raw_tables_hold_no_identity_columns() -> None:
    for contract in CONTRACTS:
        for table in contract.tables:
            names = {n for n, _ in raw_columns(table)}
            for column in table.identity_columns():
                assert column.name not in names or column.name in ("sex",)


def test_store_holds_no_direct_identifier(node: NodeSettings, tmp_path: Path) -> None:
    contract = get_contract("csc_persons")
    path = write_extract(contract, tmp_path / "ex", rows=5)
    ingest_file(node, contract.name, path, today=TODAY)
    rows = valid_rows(contract.tables[0], 5)
    secrets_written = {
        v
        for r in rows
        for k, v in r.items()
        if contract.tables[0].column(k).identity is not None and k != "pers_sex"
    }
    snapshot = _snapshot(node)
    store_text = json.dumps(
        {k: v for k, v in snapshot.items() if k.startswith("store.")}, default=str
    )
    vault_text = json.dumps(
        {k: v for k, v in snapshot.items() if k.startswith("vault.")}, default=str
    )
    assert [v for v in secrets_written if v in store_text] == []
    assert all(v in vault_text for v in secrets_written)
    identities = _vault(
        node, "SELECT given_name, family_name_norm, nhs_number FROM vault__identities"
    )
    assert len(identities) == 5


def test_keys_join_event_tables_to_identity_records(node: NodeSettings, tmp_path: Path) -> None:
    for name in ("school_census", "attendance"):
        ingest_file(
            node, name, write_extract(get_contract(name), tmp_path / "ex", rows=3), today=TODAY
        )
    key = read_secret_key(node.key_path)
    subjects = {r[0] for r in _store(node, "SELECT subject_key FROM raw__attendance__attendance")}
    row = valid_rows(get_contract("attendance").tables[0], 1)[0]
    assert pseudonym(key, "upn", row["upn"]) in subjects
    upn_keys = {
        r[0] for r in _vault(node, "SELECT subject_key FROM vault__keys WHERE namespace = 'upn'")
    }
    assert subjects <= upn_keys


def test_coarsened_identity_in_the_store(node: NodeSettings, tmp_path: Path) -> None:
    contract = get_contract("hcp_review")
    rows = valid_rows(contract.tables[0], 3)
    rows[0]["postcode"] = "bd71ab"  # unformatted but valid: LSOA found
    rows[1]["postcode"] = "ZZ9 9ZZ"  # valid shape, not in the reference lookup
    rows[2]["sex"] = "2"
    path = write_table(tmp_path / "hcp_review.csv", contract.tables[0], rows)
    ingest_file(node, "hcp_review", path, today=TODAY)
    got = _store(
        node,
        "SELECT row_number, birth_month, sex, lsoa21cd FROM raw__hcp_review__hcp_review ORDER BY 1",
    )
    assert got[0][1] == rows[0]["dob"][:7]
    assert got[0][3] == "E01010001"
    assert got[1][3] is None
    assert got[2][2] == "F"
    postcodes = _vault(node, "SELECT postcode FROM vault__identities ORDER BY row_number")
    assert postcodes[0] == ("BD7 1AB",)


def test_planted_errors_go_to_quarantine_with_reasons(
    node: NodeSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    contract = get_contract("ncmp")
    table = contract.tables[0]
    rows = valid_rows(table, 6)
    rows[1]["height_cm"] = "Qzzheight"
    rows[3]["school_year"] = "Qzzyear"
    rows[4]["nhs_number"] = "9434765918"  # flag: accepted, value dropped
    path = write_table(tmp_path / "ncmp.csv", table, rows)
    with caplog.at_level(logging.DEBUG):
        result = ingest_file(node, "ncmp", path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined, result.flagged) == (6, 4, 2, 1)
    reasons = _store(
        node,
        "SELECT row_number, column_name, rule, action, message FROM ingest__quarantine_reasons "
        "ORDER BY row_number",
    )
    assert [r[:4] for r in reasons] == [
        (2, "height_cm", "type", "quarantine"),
        (4, "school_year", "code", "quarantine"),
        (5, "nhs_number", "nhs_number", "flag"),
    ]
    quarantined = _vault(node, "SELECT row_number, row_json FROM quarantine__ncmp ORDER BY 1")
    assert [q[0] for q in quarantined] == [2, 4]
    assert json.loads(quarantined[0][1])["height_cm"] == "Qzzheight"
    assert _vault(node, "SELECT nhs_number FROM vault__identities WHERE row_number = 5") == [
        (None,)
    ]
    assert _store(node, "SELECT row_number FROM raw__ncmp__ncmp ORDER BY 1") == [
        (1,),
        (3,),
        (5,),
        (6,),
    ]
    assert _store(
        node,
        "SELECT read, accepted, quarantined, flagged FROM ingest__file_counts "
        "WHERE table_name = 'ncmp'",
    ) == [(6, 4, 2, 1)]
    text = " ".join(r[4] for r in reasons) + caplog.text
    assert "Qzz" not in text and "9434765918" not in text


def test_ragged_rows_are_quarantined_and_counts_reconcile(
    node: NodeSettings, tmp_path: Path
) -> None:
    contract = get_contract("attendance")
    table = contract.tables[0]
    good = [[r[c] for c in table.column_names] for r in valid_rows(table, 5)]
    good[1] = good[1][:3]
    good[3] = [*good[3], "surplus"]
    path = write_csv(tmp_path / "attendance.csv", table.column_names, good)
    result = ingest_file(node, "attendance", path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (5, 3, 2)
    assert _store(
        node, "SELECT row_number, rule, message FROM ingest__quarantine_reasons ORDER BY 1"
    ) == [
        (2, "row_shape", "the row has 3 fields; the header has 7"),
        (4, "row_shape", "the row has 8 fields; the header has 7"),
    ]
    kept = _vault(node, "SELECT row_number, row_json FROM quarantine__attendance ORDER BY 1")
    assert [k[0] for k in kept] == [2, 4]
    assert json.loads(kept[1][1])["fields"][-1] == "surplus"


def test_reingesting_the_same_extract_is_skipped(node: NodeSettings, tmp_path: Path) -> None:
    path = write_extract(get_contract("ssda903"), tmp_path / "ex", rows=3)
    first = ingest_file(node, "ssda903", path, today=TODAY)
    before = _snapshot(node)
    second = ingest_file(node, "ssda903", path, today=TODAY)
    assert second.status == "skipped"
    assert second.batch_id == first.batch_id and second.sha256 == first.sha256
    assert second.read == first.read
    assert _snapshot(node) == before
    # a changed file is a new batch
    episodes = get_contract("ssda903").table("episodes")
    write_table(path / "episodes.csv", episodes, valid_rows(episodes, 4))
    third = ingest_file(node, "ssda903", path, today=TODAY)
    assert third.status == "complete" and third.batch_id != first.batch_id


@pytest.mark.parametrize(
    "step", ["_write_vault", "_write_store", "_raw_select", "_write_quarantine"]
)
def test_failure_mid_load_leaves_both_databases_unchanged(
    node: NodeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    contract = get_contract("school_census")
    rows = valid_rows(contract.table("pupilonroll"), 4)
    rows[0]["sex"] = "Q"
    path = write_extract(contract, tmp_path / "ex", rows=4, tables={"pupilonroll": rows})
    before = _snapshot(node)
    original = getattr(load_module, step)
    calls = {"n": 0}

    def failing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:  # fail part-way: after some of the step's writes
            raise RuntimeError("planted failure")
        return original(*args, **kwargs)

    if step in ("_write_vault", "_write_store"):

        def failing_after(*args: object, **kwargs: object) -> object:
            original(*args, **kwargs)  # the whole step ran (and committed) ...
            raise RuntimeError("planted failure")  # ... then the load failed

        monkeypatch.setattr(load_module, step, failing_after)
    else:
        monkeypatch.setattr(load_module, step, failing)
    with pytest.raises(RuntimeError, match="planted failure"):
        ingest_file(node, "school_census", path, today=TODAY)
    assert _snapshot(node) == before
    monkeypatch.undo()
    result = ingest_file(node, "school_census", path, today=TODAY)
    assert result.status == "complete" and result.quarantined == 1


def test_a_crash_is_swept_on_the_next_open(node: NodeSettings, tmp_path: Path) -> None:
    before = _snapshot(node)
    contract = get_contract("attendance")
    path = write_extract(contract, tmp_path / "ex", rows=3)
    result = ingest_file(node, "attendance", path, today=TODAY)
    # pretend the process died before the batch was marked complete
    with duckdb.connect(str(node.store_path)) as con:
        con.execute(
            "UPDATE ingest__batches SET status = 'in_progress' WHERE batch_id = ?",
            [result.batch_id],
        )
    again = ingest_file(node, "attendance", path, today=TODAY)  # the sweep runs first
    assert again.status == "complete" and again.batch_id != result.batch_id
    after = _snapshot(node)
    assert after["store.ingest__batches"] != before["store.ingest__batches"]
    assert len(after["store.raw__attendance__attendance"]) == 3
    assert len(_vault(node, "SELECT * FROM quarantine__attendance")) == 0


def test_file_level_errors_write_nothing(node: NodeSettings, tmp_path: Path) -> None:
    before = _snapshot(node)
    path = tmp_path / "attendance.csv"
    path.write_text("upn,urn\n")
    with pytest.raises(ContractError, match="missing column"):
        ingest_file(node, "attendance", path, today=TODAY)
    assert _snapshot(node) == before


def test_unknown_source_is_a_usage_error(node: NodeSettings, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown source"):
        ingest_file(node, "nope", tmp_path, today=TODAY)


def test_ingest_dir_goes_in_contract_order_and_reports_rejects(
    empty_node: NodeSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "ex"
    for name in ("attendance", "reference", "ncmp"):
        write_extract(get_contract(name), folder, rows=3)
    (folder / "ncmp.csv").write_bytes(b"\xff\xfe not utf8")
    (folder / "truth").mkdir()
    results = ingest_dir(empty_node, folder, today=TODAY)
    assert [(r.source, r.status) for r in results] == [
        ("reference", "complete"),
        ("attendance", "complete"),
        ("ncmp", "rejected"),
    ]
    assert results[2].error is not None and "not UTF-8" in results[2].error
    assert results[2].is_failure and not results[1].is_failure


def test_reference_reload_replaces_reference_tables(node: NodeSettings, tmp_path: Path) -> None:
    contract = get_contract("reference")
    lsoa = contract.table("lsoa")
    rows = valid_rows(lsoa, 2)
    path = write_extract(contract, tmp_path / "ex", rows=3, tables={"lsoa": rows})
    ingest_file(node, "reference", path, today=TODAY)
    assert _store(node, "SELECT count(*), count(DISTINCT batch_id) FROM ref__lsoa") == [(2, 1)]


def test_all_rows_quarantined_is_a_failure(node: NodeSettings, tmp_path: Path) -> None:
    table = get_contract("exclusions").tables[0]
    rows = valid_rows(table, 3)
    for r in rows:
        r["category"] = "BAD"
    result = ingest_file(
        node, "exclusions", write_table(tmp_path / "exclusions.csv", table, rows), today=TODAY
    )
    assert result.status == "complete" and result.accepted == 0 and result.is_failure


def test_progress_is_reported(node: NodeSettings, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    path = write_extract(get_contract("gp_events"), tmp_path / "ex", rows=2)
    ingest_file(node, "gp_events", path, lambda d, i, n: seen.append((d, i, n)), today=TODAY)
    assert seen[0][1] == 0 and seen[-1][1] == seen[-1][2]
    assert all(i <= n for _, i, n in seen)
