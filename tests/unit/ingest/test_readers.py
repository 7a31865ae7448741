from __future__ import annotations

from pathlib import Path

import pytest
from ingest_extracts import cin_children, valid_rows, write_cin_xml, write_csv, write_table

from joinedup.errors import ContractError
from joinedup.ingest.readers import hash_extract, read_cin_xml, read_csv_table, read_extract
from joinedup.sources import get_contract

ATTENDANCE = get_contract("attendance").table("attendance")
CIN = get_contract("cin")


def _rows(table_rows: list[dict[str, str]]) -> list[list[str]]:
    return [[r[c] for c in ATTENDANCE.column_names] for r in table_rows]


def test_valid_csv_is_staged_with_row_numbers(tmp_path: Path) -> None:
    path = write_table(tmp_path / "attendance.csv", ATTENDANCE, valid_rows(ATTENDANCE, 4))
    staged = read_csv_table(ATTENDANCE, path)
    assert staged.read == 4
    assert staged.data.column("__row").to_pylist() == [1, 2, 3, 4]
    assert staged.data.column_names == ["__row", *ATTENDANCE.column_names]
    assert staged.shape_rejects == ()


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "attendance.csv", ATTENDANCE.column_names, [])
    assert read_csv_table(ATTENDANCE, path).read == 0


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_a_contract_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "attendance.csv"
    path.write_bytes(content)
    with pytest.raises(ContractError, match=r"attendance\.csv is empty"):
        hash_extract([path])
    with pytest.raises(ContractError, match="empty"):
        read_csv_table(ATTENDANCE, path)


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = [c for c in ATTENDANCE.column_names if c != "term"]
    path = write_csv(tmp_path / "attendance.csv", header, [])
    with pytest.raises(ContractError, match=r"missing column\(s\) term\b"):
        read_csv_table(ATTENDANCE, path)


def test_extra_and_duplicate_columns_are_named(tmp_path: Path) -> None:
    header = [*ATTENDANCE.column_names, "shoe_size", "term"]
    path = write_csv(tmp_path / "attendance.csv", header, [])
    with pytest.raises(ContractError) as info:
        read_csv_table(ATTENDANCE, path)
    assert "does not declare: shoe_size" in str(info.value)
    assert "given twice: term" in str(info.value)


def test_header_case_and_bom_are_forgiven(tmp_path: Path) -> None:
    path = tmp_path / "attendance.csv"
    rows = valid_rows(ATTENDANCE, 2)
    lines = [",".join(c.upper() for c in ATTENDANCE.column_names)]
    lines += [",".join(r) for r in _rows(rows)]
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    staged = read_csv_table(ATTENDANCE, path)
    assert staged.read == 2
    assert staged.data.column("upn").to_pylist() == [r["upn"] for r in rows]


def test_non_utf8_file_names_the_line_and_the_fix(tmp_path: Path) -> None:
    rows = _rows(valid_rows(ATTENDANCE, 3))
    text = ",".join(ATTENDANCE.column_names) + "\n" + "\n".join(",".join(r) for r in rows)
    path = tmp_path / "attendance.csv"
    path.write_bytes(text.replace(rows[1][2], "caf\xe9").encode("latin-1"))
    with pytest.raises(ContractError) as info:
        hash_extract([path])
    message = str(info.value)
    assert "not UTF-8" in message and "line 3" in message and "iconv" in message
    assert "caf" not in message


def test_ragged_rows_are_kept_for_quarantine_with_their_numbers(tmp_path: Path) -> None:
    good = _rows(valid_rows(ATTENDANCE, 6))
    rows: list[list[str]] = [good[0], good[1][:-2], good[2], [*good[3], "extra"], good[4], good[5]]
    path = write_csv(tmp_path / "attendance.csv", ATTENDANCE.column_names, rows)
    staged = read_csv_table(ATTENDANCE, path)
    assert staged.read == 6
    assert staged.data.column("__row").to_pylist() == [1, 3, 5, 6]
    assert [r.row_number for r in staged.shape_rejects] == [2, 4]
    assert [len(r.fields) for r in staged.shape_rejects] == [5, 8]


def test_quoted_newlines_and_commas_stay_in_one_value(tmp_path: Path) -> None:
    rows = _rows(valid_rows(ATTENDANCE, 3))
    rows[1][2] = "2025/26,\nsecond line"
    path = write_csv(tmp_path / "attendance.csv", ATTENDANCE.column_names, rows)
    staged = read_csv_table(ATTENDANCE, path)
    assert staged.read == 3
    assert staged.data.column("academicyear").to_pylist()[1] == "2025/26,\nsecond line"


def test_folder_extract_lacking_a_table_is_refused(tmp_path: Path) -> None:
    contract = get_contract("ssda903")
    folder = tmp_path / "ssda903"
    header = contract.table("header")
    write_table(folder / header.file, header, valid_rows(header, 2))
    with pytest.raises(ContractError, match=r"lacks episodes.csv, missing.csv"):
        read_extract(contract, folder)


def test_cin_xml_is_flattened_with_ids_carried_down(tmp_path: Path) -> None:
    children = cin_children(CIN, 2)
    # the second child has two CINdetails; the second of them two assessments
    detail, assessments, plans = children[1]["details"][0]  # type: ignore[index]
    children[1]["details"] = [(detail, assessments, plans), (detail, assessments * 2, [])]
    path = write_cin_xml(tmp_path / "cin.xml", CIN, children)
    staged = {s.table.name: s for s in read_cin_xml(CIN, path)}
    assert [s.read for s in staged.values()] == [2, 3, 4, 2]
    ids = [children[0]["child"]["LAchildID"], children[1]["child"]["LAchildID"]]  # type: ignore[index]
    details = staged["cindetails"].data
    assert details.column("LAchildID").to_pylist() == [ids[0], ids[1], ids[1]]
    assert details.column("CINdetailsID").to_pylist() == ["1", "1", "2"]
    assess = staged["assessments"].data
    assert assess.column("CINdetailsID").to_pylist() == ["1", "1", "2", "2"]
    assert assess.column("LAchildID").to_pylist() == [ids[0], ids[1], ids[1], ids[1]]
    assert staged["cpp"].data.column("__row").to_pylist() == [1, 2]


def test_cin_xml_reads_gender_current_and_repeated_factors(tmp_path: Path) -> None:
    xml = (
        "<Message><Children><Child><ChildIdentifiers><LAchildID>C1</LAchildID>"
        "<GenderCurrent>1</GenderCurrent></ChildIdentifiers>"
        "<CINdetails><CINdetailsID>77</CINdetailsID><CINreferralDate>2025-10-01</CINreferralDate>"
        "<Assessments><AssessmentActualStartDate>2025-10-02</AssessmentActualStartDate>"
        "<FactorsIdentifiedAtAssessment><AssessmentFactors>1A</AssessmentFactors>"
        "<AssessmentFactors>3B</AssessmentFactors></FactorsIdentifiedAtAssessment>"
        "</Assessments></CINdetails></Child></Children></Message>"
    )
    path = tmp_path / "cin.xml"
    path.write_text(xml)
    staged = {s.table.name: s for s in read_cin_xml(CIN, path)}
    assert staged["child"].data.column("Sex").to_pylist() == ["1"]
    assert staged["cindetails"].data.column("CINdetailsID").to_pylist() == ["77"]
    assess = staged["assessments"].data
    assert assess.column("AssessmentFactors").to_pylist() == ["1A,3B"]
    assert assess.column("CINdetailsID").to_pylist() == ["77"]


def test_truncated_xml_is_a_contract_error_with_its_line(tmp_path: Path) -> None:
    path = write_cin_xml(tmp_path / "cin.xml", CIN, cin_children(CIN, 3))
    text = path.read_text()
    path.write_text(text[: len(text) * 2 // 3])
    with pytest.raises(ContractError, match=r"cin.xml is not well-formed XML \(line \d+"):
        read_cin_xml(CIN, path)
