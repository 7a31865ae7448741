"""The written extracts carry the truth: GLD, ASQ, persistent absence, SEN, places."""

from __future__ import annotations

import pandas as pd
import pytest

from joinedup.identity import is_valid_upn
from joinedup.simulate import SimulationResult
from joinedup.sources.education import GLD_ELGS
from joinedup.sources.health import ASQ_DOMAINS


def _with_person(out, source: str, table: str, path: str) -> pd.DataFrame:
    frame = pd.read_csv(out / path, dtype=str, keep_default_na=False)
    pm = pd.read_csv(out / "truth" / "person_map.csv", dtype=str)
    ids = pm[(pm["source"] == source) & (pm["table"] == table)]
    ids = ids.assign(row_number=ids["row_number"].astype(int)).sort_values("row_number")
    return frame.assign(person_id=ids["person_id"].to_numpy())


@pytest.fixture(scope="module")
def truth(noisy_district: SimulationResult) -> pd.DataFrame:
    return pd.read_csv(noisy_district.out / "truth" / "people.csv").set_index("person_id")


def test_eyfsp_gld_is_the_planted_gld(noisy_district: SimulationResult, truth) -> None:
    eyfsp = _with_person(noisy_district.out, "eyfsp", "eyfsp", "eyfsp.csv")
    gld = (eyfsp[list(GLD_ELGS)] == "2").all(axis=1)
    assert (gld.to_numpy() == truth.loc[eyfsp["person_id"], "gld"].to_numpy()).all()
    years = set(eyfsp["academicyear"])
    assert "2024/25" in years and "2019/20" not in years


def test_asq_all_five_is_the_planted_flag(noisy_district: SimulationResult, truth) -> None:
    hcp = _with_person(noisy_district.out, "hcp_review", "hcp_review", "hcp_review.csv")
    zones = hcp[[f"zone_{code}" for code, _ in ASQ_DOMAINS]]
    all_expected = (zones != "below").all(axis=1)
    planted = truth.loc[hcp["person_id"], "asq_all_expected"].to_numpy()
    assert (all_expected.to_numpy() == planted).all()
    scores = hcp[[f"asq_{code}" for code, _ in ASQ_DOMAINS]].astype(int)
    assert ((scores % 5) == 0).all().all() and scores.max().max() <= 60


def test_persistent_absence_follows_from_attendance(
    noisy_district: SimulationResult, truth
) -> None:
    att = _with_person(noisy_district.out, "attendance", "attendance", "attendance.csv")
    att["sessions"] = att["sessions"].astype(int)
    absent_codes = {"I", "M", "R", "C", "G", "N", "O", "U", "E", "T"}
    att["absent"] = att["sessions"].where(att["attendancereason"].isin(absent_codes), 0)
    possible = att.drop_duplicates(["person_id", "term"]).groupby("person_id")["sessionspossible"]
    totals = pd.DataFrame(
        {
            "absent": att.groupby("person_id")["absent"].sum(),
            "possible": possible.apply(lambda s: s.astype(int).sum()),
        }
    )
    pa = totals["absent"] / totals["possible"] >= 0.10
    assert (pa.to_numpy() == truth.loc[totals.index, "persistent_absence"].to_numpy()).all()
    # sessions recorded add up to sessions possible in every pupil-term
    per_term = att.groupby(["person_id", "term"]).agg(
        total=("sessions", "sum"), possible=("sessionspossible", "first")
    )
    assert (per_term["total"] == per_term["possible"].astype(int)).all()


def test_sen_provision_and_needs_agree(noisy_district: SimulationResult, truth) -> None:
    roll = _with_person(
        noisy_district.out, "school_census", "pupilonroll", "school_census/pupilonroll.csv"
    )
    needs = _with_person(
        noisy_district.out, "school_census", "senneeds", "school_census/senneeds.csv"
    )
    with_sen = set(roll.loc[roll["senprovision"] != "N", "person_id"])
    assert set(needs.loc[needs["sentyperank"] == "1", "person_id"]) == with_sen
    spld = set(needs.loc[needs["sentype"] == "SPLD", "person_id"])
    assert spld == set(truth.index[truth["spld"] & truth["school_urn"].notna()])


def test_reference_places(noisy_district: SimulationResult) -> None:
    out = noisy_district.out
    lsoa = pd.read_csv(out / "reference" / "lsoa.csv")
    assert 0.25 <= (lsoa["imd_decile"] <= 2).mean() <= 0.55
    assert (lsoa["imd_vintage"] == "IoD2025").all()
    assert lsoa["lsoa21cd"].str.fullmatch(r"E01\d{6}").all()
    postcodes = pd.read_csv(out / "reference" / "postcodes.csv")
    assert postcodes["pcds"].is_unique
    assert postcodes.groupby("lsoa21cd").size().min() >= 2
    assert postcodes["pcds"].str.startswith("BD").all()
    schools = pd.read_csv(out / "reference" / "schools.csv")
    assert set(schools["phase"]) == {"primary", "secondary", "special"}
    assert schools["laestab"].astype(str).str.fullmatch(r"380\d{4}").all()
    gp = pd.read_csv(out / "reference" / "gp_practices.csv")
    assert gp["practice_code"].str.fullmatch(r"B8\d{4}").all()


def test_census_upns_are_mostly_valid(noisy_district: SimulationResult) -> None:
    roll = pd.read_csv(noisy_district.out / "school_census" / "pupilonroll.csv", dtype=str)
    valid = roll["upn"].map(is_valid_upn)
    assert 0.99 < valid.mean() < 1.0
