"""The social care simulator: prevalences, planted missing-from-care effect, truth, contracts."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum.gb import upn as upn_check

from joinedup.simulate.social_care import (
    SocialCareKnobs,
    SocialCareResult,
    census_year_for,
    simulate_social_care,
    write_social_care,
)
from joinedup.simulate.ssda903 import estimate_missing_hazard_ratio
from joinedup.sources.social_care import CIN, CSC_PERSONS, SSDA903

AS_OF = date(2026, 8, 31)
YEAR = census_year_for(AS_OF)

# interface A: the columns of the true population
PEOPLE_COLUMNS = [
    "person_id",
    "household_id",
    "mother_id",
    "dob",
    "sex",
    "given_name",
    "middle_names",
    "family_name",
    "ethnicity",
    "ethnic_group",
    "language",
    "eal",
    "nhs_number",
    "upn",
    "postcode",
    "uprn",
    "lsoa21cd",
    "imd_decile",
    "imd_quintile",
    "n_moves",
    "school_urn",
    "ncyear",
    "practice_code",
    "is_cin",
    "is_cla",
    "adopted",
    "difficulty",
]
RECORDED_COLUMNS = [
    "given_name",
    "middle_names",
    "family_name",
    "dob",
    "sex",
    "postcode",
    "nhs_number",
    "upn",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class District:
    people: pd.DataFrame
    recorded: pd.DataFrame


def make_district(
    n: int, *, seed: int, cin_per_10k: float = 333.0, cla_per_10k: float = 70.0
) -> District:
    """A small population with interface A's columns, and a recorded view that differs from it."""
    rng = np.random.default_rng(seed)
    ages = rng.integers(0, 20 * 365, size=n)
    dob = pd.to_datetime([AS_OF - timedelta(days=int(a)) for a in ages])
    letters = list("ABDEFGHJLNPQRSTUWXYZ")
    districts = ["BD1", "BD3", "BD5", "BD7", "BD8", "BD9", "BD10"]
    postcode = [
        f"{rng.choice(districts)} {rng.integers(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
        for _ in range(n)
    ]
    at_school = ages >= 5 * 365

    def make_upn(i: int) -> str:
        body = f"380{2010 + i % 15:04d}{i:05d}"[:12]
        return str(upn_check.calc_check_digit(body)) + body

    imd = rng.integers(1, 11, size=n)
    is_cla = rng.random(n) < cla_per_10k / 1e4
    is_cin = is_cla | (rng.random(n) < (cin_per_10k - cla_per_10k) / 1e4)
    people = pd.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in range(1, n + 1)],
            "household_id": [f"H{i // 3:06d}" for i in range(n)],
            "mother_id": None,
            "dob": dob,
            "sex": rng.choice(["M", "F"], size=n),
            "given_name": rng.choice(["Aisha", "Oliver", "Jakub", "Grace"], size=n),
            "middle_names": None,
            "family_name": rng.choice(["Khan", "Smith", "Nowak", "Okafor"], size=n),
            "ethnicity": rng.choice(["WBRI", "APKN", "AMPK", "BAFR", "MWBC", "WOTH"], size=n),
            "ethnic_group": "other",
            "language": "ENG",
            "eal": False,
            "nhs_number": [f"999{i:07d}" for i in range(n)],
            "upn": [make_upn(i) if s else None for i, s in enumerate(at_school)],
            "postcode": postcode,
            "uprn": [str(100_000 + i) for i in range(n)],
            "lsoa21cd": "E01010000",
            "imd_decile": imd,
            "imd_quintile": (imd + 1) // 2,
            "n_moves": 0,
            "school_urn": None,
            "ncyear": None,
            "practice_code": "B83001",
            "is_cin": is_cin,
            "is_cla": is_cla,
            "adopted": False,
            "difficulty": 0.1,
        },
        columns=PEOPLE_COLUMNS,
    )
    recorded = people.set_index("person_id")[RECORDED_COLUMNS].copy()
    # the source's own view: other names and a lagging postcode for some, a few unknown sexes
    recorded["given_name"] = recorded["given_name"].str.upper()
    recorded.loc[recorded.index[::7], "postcode"] = "BD99 9ZZ"
    recorded.loc[recorded.index[::97], "sex"] = "U"
    return District(people=people, recorded=recorded)


def simulate(
    district: District, seed: int, knobs: SocialCareKnobs | None = None
) -> SocialCareResult:
    return simulate_social_care(
        district.people,
        district.recorded,
        as_of=AS_OF,
        rng=np.random.default_rng(seed),
        knobs=knobs or SocialCareKnobs(),
    )


@pytest.fixture(scope="module")
def district() -> District:
    return make_district(40_000, seed=11)


@pytest.fixture(scope="module")
def result(district: District) -> SocialCareResult:
    return simulate(district, seed=5)


@pytest.fixture(scope="module")
def written(result: SocialCareResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("social_care")
    truth = write_social_care(result, out)
    truth.to_csv(out / "truth.csv", index=False)
    return out


def read_csv_text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_children_in_need_per_10k_match_the_flags_and_national_rates(
    district: District, result: SocialCareResult
) -> None:
    people = district.people
    expected = people[(people["is_cin"] | people["is_cla"])]
    under_18 = expected[
        [(YEAR.start - pd.Timestamp(d).date()).days < 18 * 365.25 - 1 for d in expected["dob"]]
    ]
    assert len(result.cin.children) == pytest.approx(len(under_18), abs=2)
    cin_per_10k = len(result.cin.children) / len(people) * 1e4
    cla_per_10k = len(result.header) / len(people) * 1e4
    assert 250 <= cin_per_10k <= 400
    assert 50 <= cla_per_10k <= 90
    # every looked-after child is a child in need
    assert set(result.header["person_id"]) <= {c["person_id"] for c in result.cin.children}


def test_child_protection_plans_open_on_the_reference_date_are_near_42_per_10k(
    district: District, result: SocialCareResult
) -> None:
    open_plans = sum(
        any(cpp["end"] is None for e in child["episodes"] for cpp in e["cpp"])
        for child in result.cin.children
    )
    assert 30 <= open_plans / len(district.people) * 1e4 <= 56


def test_every_written_row_is_in_the_truth_exactly_once(written: Path) -> None:
    truth = read_csv_text(written / "truth.csv")
    assert not truth.duplicated(["source", "table", "row_number"]).any()
    root = ET.parse(written / CIN.file_name).getroot()
    counts = {("cin", t.name): len(root.findall(f".//{t.file}")) for t in CIN.tables}
    for table in SSDA903.tables:
        rows = read_csv_text(written / SSDA903.file_name / table.file)
        counts[("ssda903", table.name)] = len(rows)
    counts[("csc_persons", "csc_persons")] = len(read_csv_text(written / "csc_persons.csv"))
    got = truth.groupby(["source", "table"]).size().to_dict()
    assert got == counts
    for (source, table), n in counts.items():
        numbers = truth[(truth["source"] == source) & (truth["table"] == table)]["row_number"]
        assert sorted(int(x) for x in numbers) == list(range(1, n + 1))


def test_truth_names_the_right_child_for_each_row(written: Path, result: SocialCareResult) -> None:
    truth = read_csv_text(written / "truth.csv")
    header = read_csv_text(written / "ssda903" / "header.csv")
    by_row = truth[(truth["source"] == "ssda903") & (truth["table"] == "header")]
    ids = dict(zip(result.header["person_id"], result.header["CHILD"], strict=True))
    for row_number, person_id in zip(by_row["row_number"], by_row["person_id"], strict=True):
        assert header.iloc[int(row_number) - 1]["CHILD"] == ids[person_id]
    persons = read_csv_text(written / "csc_persons.csv")
    by_row = truth[truth["source"] == "csc_persons"]
    child_ids = {c["person_id"]: c["LAchildID"] for c in result.cin.children}
    for row_number, person_id in zip(by_row["row_number"], by_row["person_id"], strict=True):
        if person_id in child_ids:
            assert persons.iloc[int(row_number) - 1]["pers_person_id"] == child_ids[person_id]


def test_headers_are_exactly_the_contract_columns(written: Path) -> None:
    for table in SSDA903.tables:
        with (written / SSDA903.file_name / table.file).open() as handle:
            assert next(csv.reader(handle)) == list(table.column_names)
    with (written / "csc_persons.csv").open() as handle:
        assert next(csv.reader(handle)) == list(CSC_PERSONS.table("csc_persons").column_names)


def test_cin_xml_has_the_census_structure_and_contract_elements(written: Path) -> None:
    root = ET.parse(written / CIN.file_name).getroot()
    assert root.tag == "Message"
    assert root.findtext("Header/CollectionDetails/ReferenceDate") == YEAR.end.isoformat()
    children = root.findall("Children/Child")
    assert children
    allowed = {
        "child": set(CIN.table("child").column_names) - {"Ethnicity"},
        "cindetails": set(CIN.table("cindetails").column_names) - {"LAchildID", "CINdetailsID"},
    }
    for child in children:
        ids = child.find("ChildIdentifiers")
        assert ids is not None and ids.findtext("LAchildID")
        assert {e.tag for e in ids} <= allowed["child"]
        assert child.findtext("ChildCharacteristics/Ethnicity")
        details = child.findall("CINdetails")
        assert details
        for detail in details:
            scalar = {e.tag for e in detail if len(e) == 0}
            assert scalar <= allowed["cindetails"]
            assert {"CINreferralDate", "ReferralSource", "ReferralNFA"} <= scalar


def test_dates_are_in_each_contracts_format(written: Path) -> None:
    for table in SSDA903.tables:
        frame = read_csv_text(written / SSDA903.file_name / table.file)
        for column in table.columns:
            if column.kind.value == "date":
                for value in frame[column.name]:
                    if value:
                        datetime.strptime(value, column.date_format)
    persons = read_csv_text(written / "csc_persons.csv")
    for value in persons["pers_dob"]:
        if value:
            datetime.strptime(
                value, CSC_PERSONS.table("csc_persons").column("pers_dob").date_format
            )
    root = ET.parse(written / CIN.file_name).getroot()
    for element in root.iter():
        if "Date" in element.tag and element.tag != "DateTime" and len(element) == 0:
            date.fromisoformat(element.text or "")


def test_codes_written_are_in_the_contract_code_sets(written: Path) -> None:
    root = ET.parse(written / CIN.file_name).getroot()
    for table in CIN.tables:
        for element in root.iter(table.file):
            for column in table.columns:
                value = element.findtext(f".//{column.name}")
                if column.codes is not None and value is not None:
                    assert value in column.codes, (table.name, column.name)
    for table in SSDA903.tables:
        frame = read_csv_text(written / SSDA903.file_name / table.file)
        for column in table.columns:
            if column.codes is not None:
                assert set(frame[column.name]) - {""} <= column.codes, (table.name, column.name)


def test_identity_values_come_from_the_recorded_view(
    district: District, result: SocialCareResult
) -> None:
    recorded = district.recorded
    persons = result.persons.set_index("person_id")
    assert (persons["pers_forename"] == recorded.loc[persons.index, "given_name"]).all()
    lagging = persons.index.intersection(recorded.index[recorded["postcode"] == "BD99 9ZZ"])
    assert len(lagging) and (persons.loc[lagging, "addr_postcode"] == "BD99 9ZZ").all()
    for child in result.cin.children:
        if child["Sex"] != "U" or child["ExpectedPersonBirthDate"] is not None:
            continue
        assert recorded.at[child["person_id"], "sex"] == "U"


def test_nhs_number_is_present_for_60_to_90_percent_of_case_system_persons(
    result: SocialCareResult,
) -> None:
    share = result.persons["pers_common_child_id"].notna().mean()
    assert 0.6 <= share <= 0.9
    in_need = result.persons["person_id"].isin({c["person_id"] for c in result.cin.children})
    assert in_need.sum() < len(result.persons)  # siblings and early-help contacts too


def test_unborn_children_have_expected_date_sex_u_and_upn_unknown(
    result: SocialCareResult,
) -> None:
    unborn = [c for c in result.cin.children if c["ExpectedPersonBirthDate"] is not None]
    assert unborn
    for child in unborn:
        assert child["PersonBirthDate"] is None and child["Sex"] == "U"
        assert child["UPN"] is None and child["UPNunknown"] == "UN1"


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(
    tmp_path: Path,
) -> None:
    district = make_district(4_000, seed=3)
    outputs = []
    for seed, name in ((9, "a"), (9, "b"), (10, "c")):
        out = tmp_path / name
        write_social_care(simulate(district, seed), out)
        outputs.append(
            {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        )
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


@pytest.fixture(scope="module")
def many_looked_after() -> tuple[SocialCareResult, Path]:
    """A district with many looked-after children, so the planted effect is measured stably."""
    district = make_district(60_000, seed=21, cin_per_10k=450.0, cla_per_10k=400.0)
    return simulate(district, seed=8), Path()


def test_planted_missing_hazard_ratio_is_recovered_from_the_written_tables(
    many_looked_after: tuple[SocialCareResult, Path], tmp_path: Path
) -> None:
    result, _ = many_looked_after
    write_social_care(result, tmp_path)
    episodes = read_csv_text(tmp_path / "ssda903" / "episodes.csv")
    missing = read_csv_text(tmp_path / "ssda903" / "missing.csv")
    for frame, columns in ((episodes, ("DECOM", "DEC")), (missing, ("MIS_START", "MIS_END"))):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column].replace("", None), format="%d/%m/%Y")
    assert len(missing) > 1_000
    estimate = estimate_missing_hazard_ratio(episodes, missing, year=YEAR, window_days=28)
    truth = result.effects["missing_from_care_hazard_ratio"]
    assert truth["true_value"] == 4.0
    assert abs(estimate.stratified_ratio - 4.0) <= 0.25 * 4.0
    assert estimate.stratified_ratio == pytest.approx(truth["realised_stratified_ratio"])
    # the weekly hazards themselves: within the window clearly above the later weeks
    weekly_in = 7 * estimate.events_in_window / estimate.days_in_window
    weekly_later = 7 * estimate.events_later / estimate.days_later
    assert weekly_in > 2 * weekly_later


def test_missing_incidents_repeat_and_concentrate_as_planted(
    many_looked_after: tuple[SocialCareResult, Path],
) -> None:
    result, _ = many_looked_after
    repeats = result.effects["missing_from_care_repeat_share"]
    concentration = result.effects["missing_from_care_concentration"]
    assert abs(repeats["realised"] - repeats["true_value"]) <= repeats["tolerance"]
    assert (
        abs(concentration["realised"] - concentration["true_value"]) <= concentration["tolerance"]
    )


def test_missing_spells_lie_inside_care_and_the_year(
    many_looked_after: tuple[SocialCareResult, Path],
) -> None:
    result, _ = many_looked_after
    assert len(result.missing)
    for child, spells in result.missing.groupby("CHILD"):
        periods: list[list[date | None]] = []
        eps = result.episodes[result.episodes["CHILD"] == child].sort_values("DECOM")
        for decom, dec in zip(eps["DECOM"], eps["DEC"], strict=True):
            dec = None if dec is None or pd.isna(dec) else dec
            if periods and periods[-1][1] == decom:
                periods[-1][1] = dec
            else:
                periods.append([decom, dec])
        for start, end in zip(spells["MIS_START"], spells["MIS_END"], strict=True):
            assert YEAR.start <= start <= end <= YEAR.end
            inside = [
                p
                for p in periods
                if p[0] <= start and (p[1] is None or end < p[1])  # type: ignore[operator]
            ]
            assert len(inside) == 1, child


def test_runs_on_the_real_population_and_noise_modules(tmp_path: Path) -> None:
    from joinedup.simulate.geography import make_district as make_places
    from joinedup.simulate.noise import NoiseKnobs, record_identities
    from joinedup.simulate.outcomes import add_outcomes
    from joinedup.simulate.population import make_population

    streams = np.random.default_rng(77).spawn(5)
    places = make_places(5000, streams[0])
    people, addresses, _ = make_population(5000, places, AS_OF, streams[1])
    add_outcomes(people, places, streams[2])
    recorded = record_identities(
        people, addresses, source="csc", knobs=NoiseKnobs(), rng=streams[3]
    )
    result = simulate_social_care(
        people, recorded, as_of=AS_OF, rng=streams[4], knobs=SocialCareKnobs()
    )
    truth = write_social_care(result, tmp_path)
    assert not truth.duplicated(["source", "table", "row_number"]).any()
    assert set(truth["person_id"]) <= set(people["person_id"])
    assert 200 <= len(result.cin.children) / len(people) * 1e4 <= 450
    persons = result.persons.set_index("person_id")
    assert (persons["pers_surname"] == recorded.loc[persons.index, "family_name"]).all()
