"""The de-identified comparison of a review pair: values that may be shown are coarsened as the
store coarsens them, every other value is only compared, never returned."""

from __future__ import annotations

from joinedup.link.review import RecordView, compare_records, differing_fields

A = RecordView(
    record_key="ka",
    person_id="p1",
    values=(
        ("source", "gp_events"),
        ("given_name", "Jacob"),
        ("family_name", "Quillfeather"),
        ("date_of_birth", "2017-01-30"),
        ("sex", "M"),
        ("nhs_number", "9994253859"),
        ("postcode", "BD1 8QD"),
        ("address", ""),
    ),
)
B = RecordView(
    record_key="kb",
    person_id="p2",
    values=(
        ("source", "school_census"),
        ("given_name", "JACOB"),
        ("family_name", "Quilfeather"),
        ("date_of_birth", "2017-01-30"),
        ("sex", "M"),
        ("nhs_number", "9993533815"),
        ("postcode", "BD2 7JF"),
        ("address", "1 High Street"),
    ),
)


def test_the_comparison_shows_no_name_number_or_address() -> None:
    compared = {c.name: c for c in compare_records(A, B)}
    shown = {v for c in compared.values() for v in (c.shown_a, c.shown_b)}
    for _, value in (*A.values, *B.values):
        if value and value not in {"gp_events", "school_census", "M"}:
            assert value not in shown
    assert compared["date_of_birth"].shown_a == "2017-01"
    assert compared["postcode"].shown_b == "BD2"
    assert compared["given_name"].agreement == "same apart from case"
    assert compared["family_name"].agreement == "differs by 1 character"
    assert compared["nhs_number"].agreement == "differs"
    assert compared["address"].agreement == "missing in a"
    assert compared["sex"].agreement == "same" and not compared["sex"].differs


def test_differing_fields_are_the_ones_the_cli_marks() -> None:
    assert differing_fields(A, B) == {
        "source",
        "given_name",
        "family_name",
        "nhs_number",
        "postcode",
        "address",
    }
