"""Linkage noise: clean knobs give the truth; default noise is worse for difficult children."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from joinedup.identity import normalise_postcode
from joinedup.simulate import NoiseKnobs, record_identities
from joinedup.simulate.district import DEFAULT_AS_OF
from joinedup.simulate.geography import make_district
from joinedup.simulate.noise import difficulty_multiplier
from joinedup.simulate.outcomes import add_outcomes
from joinedup.simulate.population import make_population


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    district = make_district(12_000, rng)
    people, addresses, _ = make_population(12_000, district, DEFAULT_AS_OF, rng)
    add_outcomes(people, district, rng)
    return people, addresses


def _differs(people: pd.DataFrame, rec: pd.DataFrame) -> np.ndarray:
    truth = people.set_index("person_id")
    rec = rec.loc[truth.index]
    return (
        (rec["given_name"] != truth["given_name"])
        | (rec["family_name"] != truth["family_name"])
        | (pd.to_datetime(rec["dob"]) != pd.to_datetime(truth["dob"]))
    ).to_numpy()


def test_clean_knobs_record_the_truth(population) -> None:
    people, addresses = population
    rec = record_identities(
        people, addresses, source="police", knobs=NoiseKnobs.clean(), rng=np.random.default_rng(1)
    )
    assert not _differs(people, rec).any()
    truth = people.set_index("person_id")
    assert (rec["postcode"] == truth["postcode"]).all()
    assert (rec["nhs_number"] == truth["nhs_number"]).all()
    assert rec["upn"].isna().all()  # police never carry a UPN


def test_noise_is_worse_for_difficult_children(population) -> None:
    people, addresses = population
    rec = record_identities(
        people, addresses, source="police", knobs=NoiseKnobs(), rng=np.random.default_rng(2)
    )
    differs = _differs(people, rec)
    hard = people["difficulty"].to_numpy() >= 0.5
    easy = people["difficulty"].to_numpy() <= 0.2
    assert differs[hard].mean() > 1.5 * differs[easy].mean()
    minority = (people["ethnic_group"] != "white_british").to_numpy()
    assert differs[minority].mean() > differs[~minority].mean()
    nhs_missing = rec["nhs_number"].isna().to_numpy()
    assert 0.6 <= nhs_missing.mean() <= 0.9
    assert nhs_missing[hard].mean() > nhs_missing[easy].mean()


def test_no_differential_when_weight_is_zero(population) -> None:
    people, _ = population
    mult = difficulty_multiplier(people["difficulty"].to_numpy(), 0.0)
    assert np.all(mult == 1.0)


def test_source_specific_identifiers(population) -> None:
    people, addresses = population
    census = record_identities(
        people, addresses, source="school_census", knobs=NoiseKnobs(), rng=np.random.default_rng(3)
    )
    assert census["nhs_number"].isna().all()
    assert set(census["sex"]) <= {"M", "F"}
    gp = record_identities(
        people, addresses, source="gp_events", knobs=NoiseKnobs(), rng=np.random.default_rng(3)
    )
    assert gp["upn"].isna().all()
    assert gp["dob"].notna().all()


def test_lagging_postcodes_are_previous_addresses(population) -> None:
    people, addresses = population
    rec = record_identities(
        people, addresses, source="hospital_apc", knobs=NoiseKnobs(), rng=np.random.default_rng(4)
    )
    lagging = rec[rec["postcode_lagging"] & rec["postcode"].notna()]
    assert len(lagging) > 0
    old = addresses[addresses["end_date"].notna()]
    pairs = set(zip(old["person_id"], old["postcode"], strict=True))
    written = [normalise_postcode(pc) for pc in lagging["postcode"]]
    assert all((pid, pc) in pairs for pid, pc in zip(lagging.index, written, strict=True))
    movers = people["n_moves"].to_numpy() > 0
    assert 0.1 < rec["postcode_lagging"].to_numpy()[movers].mean() < 0.6


def test_name_variants_occur(population) -> None:
    people, addresses = population
    rec = record_identities(
        people, addresses, source="police", knobs=NoiseKnobs(), rng=np.random.default_rng(6)
    ).loc[people["person_id"]]
    truth = people.set_index("person_id")
    mohammed = truth["given_name"] == "Mohammed"
    assert (rec.loc[mohammed.to_numpy(), "given_name"] != "Mohammed").any()
    dob_t = pd.to_datetime(truth["dob"])
    dob_r = pd.to_datetime(rec["dob"])
    swapped = (
        (dob_r.dt.day == dob_t.dt.month)
        & (dob_r.dt.month == dob_t.dt.day)
        & (dob_t.dt.day != dob_t.dt.month)
    )
    assert swapped.any()


def test_every_knob_is_documented() -> None:
    from dataclasses import fields
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "reference" / "simulator.md").read_text()
    for knob in fields(NoiseKnobs):
        assert f"`{knob.name}`" in doc, knob.name
