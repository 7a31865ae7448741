"""Every extract the simulator writes matches its source contract exactly."""

from __future__ import annotations

import pytest
from sim_contract_check import check_table, cin_counts, csv_tables

from joinedup.simulate import SimulationResult
from joinedup.sources import CONTRACTS, SourceFormat


@pytest.mark.parametrize(
    ("contract", "table"), csv_tables(), ids=lambda v: getattr(v, "name", str(v))
)
def test_clean_run_matches_contract_exactly(
    clean_district: SimulationResult, contract, table
) -> None:
    report = check_table(clean_district.out, contract, table)
    assert report.problems == []
    assert report.identifier_failed == 0


@pytest.mark.parametrize(
    ("contract", "table"), csv_tables(), ids=lambda v: getattr(v, "name", str(v))
)
def test_noisy_run_fails_identifier_checks_rarely(
    noisy_district: SimulationResult, contract, table
) -> None:
    report = check_table(noisy_district.out, contract, table)
    assert report.problems == []
    if report.identifier_checked:
        # postcode formatting noise is valid after normalisation; invalid NHS/UPN are rare
        assert report.identifier_failed / report.identifier_checked < 0.03


def test_noisy_run_has_some_invalid_identifiers(noisy_district: SimulationResult) -> None:
    failed = sum(check_table(noisy_district.out, c, t).identifier_failed for c, t in csv_tables())
    assert failed > 0


def test_every_contract_has_its_files(clean_district: SimulationResult) -> None:
    out = clean_district.out
    for contract in CONTRACTS:
        if contract.format is SourceFormat.CIN_XML or contract.format is SourceFormat.CSV:
            assert (out / contract.file_name).is_file()
        else:
            for table in contract.tables:
                assert (out / contract.name / table.file).is_file()


def test_cin_xml_has_children(clean_district: SimulationResult) -> None:
    counts = cin_counts(clean_district.out)
    assert counts["child"] > 0
    assert counts["cindetails"] >= counts["child"]
