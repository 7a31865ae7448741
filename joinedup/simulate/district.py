"""The district simulator's orchestrator: ``simulate_district(spec, out)``.

Runs the stages in a fixed order (places, people, outcomes, recorded identities, education,
health, social care, police and housing, truth) and writes every extract under ``out`` exactly
as its source contract declares, plus ``out/truth/`` (people.csv, person_map.csv, effects.json).

Invariants:
- the same ``SimulationSpec`` gives byte-identical files: every stage draws from its own
  generator spawned from ``SeedSequence(seed)``, so changing one stage's draws never shifts the
  others';
- ``truth/person_map.csv`` has exactly one row per data row of every table of every extract
  (reference rows and adults carry no child person id: reference rows have an empty person_id,
  adults their adult id);
- the simulator never reads real data.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from joinedup.simulate import community, education, health
from joinedup.simulate.extract_files import TRUTH_COLUMNS, BuiltTable, table_path, write_table
from joinedup.simulate.geography import make_district
from joinedup.simulate.noise import NoiseKnobs, record_identities
from joinedup.simulate.outcomes import PLANTED_EFFECTS, add_outcomes
from joinedup.simulate.population import make_population
from joinedup.simulate.social_care import SocialCareKnobs, simulate_social_care, write_social_care
from joinedup.sources import get_contract

DEFAULT_AS_OF = date(2026, 8, 31)
MAX_PEOPLE = 850_000  # the 999 test range holds ~909,000 valid NHS numbers

ProgressCallback = Callable[[str, float], None]
STAGES: tuple[str, ...] = (
    "places",
    "people",
    "outcomes",
    "identities",
    "education",
    "health",
    "social care",
    "police and housing",
    "truth",
)
_NOISE_SOURCES = (
    "school_census",
    "eyfsp",
    "ks2",
    "hcp_review",
    "ncmp",
    "gp_events",
    "hospital_apc",
    "csc",
    "police",
    "housing",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSpec:
    """What to simulate: how many children and young people, the seed, the reference date."""

    people: int = 20_000
    seed: int = 7
    as_of: date = DEFAULT_AS_OF
    noise: NoiseKnobs = field(default_factory=NoiseKnobs)
    social_care: SocialCareKnobs = field(default_factory=SocialCareKnobs)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractSummary:
    source: str
    table: str
    path: str  # relative to the output folder
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationResult:
    out: Path
    people: int
    seed: int
    as_of: date
    extracts: tuple[ExtractSummary, ...]
    stage_seconds: tuple[tuple[str, float], ...]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "people": self.people,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "seconds": round(self.seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds},
            "extracts": [
                {"source": e.source, "table": e.table, "path": e.path, "rows": e.rows}
                for e in self.extracts
            ],
        }


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _truth_people(people: pd.DataFrame) -> pd.DataFrame:
    out = people.copy()
    out["dob"] = pd.to_datetime(out["dob"]).dt.strftime("%Y-%m-%d")
    for col in ("school_urn", "primary_urn", "spld_school_urn"):
        out[col] = out[col].astype("Int64").astype("string")
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].astype("string")
    return out


@contextlib.contextmanager
def _plain_string_columns() -> Iterator[None]:
    """Keep pandas 3 from turning object string columns into Arrow strings while simulating.

    The simulator moves string columns between numpy and pandas constantly; the Arrow round
    trips double its run time. Outputs are identical either way. Where the option no longer
    exists (pandas 4), this does nothing.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infer_string.*")
        try:
            context: contextlib.AbstractContextManager[object] = pd.option_context(
                "future.infer_string", False
            )
            context.__enter__()
        except (KeyError, ValueError, pd.errors.OptionError):
            context = contextlib.nullcontext()
        try:
            yield
        finally:
            context.__exit__(None, None, None)


def simulate_district(
    spec: SimulationSpec, out: Path, progress: ProgressCallback | None = None
) -> SimulationResult:
    """Invent the district and write every extract and the truth files under ``out``."""
    with _plain_string_columns():
        return _simulate(spec, out, progress)


def _simulate(
    spec: SimulationSpec, out: Path, progress: ProgressCallback | None
) -> SimulationResult:
    if not 100 <= spec.people <= MAX_PEOPLE:
        raise ValueError(f"people must be between 100 and {MAX_PEOPLE}")
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(16)]
    out.mkdir(parents=True, exist_ok=True)
    truth_parts: list[pd.DataFrame] = []
    summaries: list[ExtractSummary] = []

    def stage(name: str) -> Callable[[], None]:
        t0 = time.perf_counter()
        if progress is not None:
            progress(name, 0.0)

        def done() -> None:
            timings.append((name, time.perf_counter() - t0))
            if progress is not None:
                progress(name, 1.0)

        return done

    def emit(source: str, tables: dict[str, BuiltTable]) -> None:
        contract = get_contract(source)
        for table in contract.tables:
            built = tables[table.name]
            truth_parts.append(write_table(built, contract, table, out))
            summaries.append(
                ExtractSummary(
                    source=source,
                    table=table.name,
                    path=str(table_path(out, contract, table).relative_to(out)),
                    rows=len(built.frame),
                )
            )

    end = stage("places")
    district = make_district(spec.people, streams[0])
    emit("reference", community.build_reference(district))
    end()

    end = stage("people")
    people, addresses, adults = make_population(spec.people, district, spec.as_of, streams[1])
    end()

    end = stage("outcomes")
    school_effects = add_outcomes(people, district, streams[2])
    end()

    end = stage("identities")
    recorded: dict[str, pd.DataFrame] = {}
    noise_streams = streams[3].spawn(len(_NOISE_SOURCES))
    for source, noise_rng in zip(_NOISE_SOURCES, noise_streams, strict=True):
        recorded[source] = record_identities(
            people, addresses, source=source, knobs=spec.noise, rng=noise_rng
        )
    adult_frame = pd.DataFrame(
        {
            "person_id": adults["adult_id"],
            "given_name": adults["given_name"],
            "middle_names": None,
            "family_name": adults["family_name"],
            "former_family_name": None,
            "dob": adults["dob"],
            "sex": adults["sex"],
            "postcode": adults["postcode"],
            "uprn": adults["uprn"],
            "n_moves": 0,
            "difficulty": 0.3,
            "adopted": False,
            "ethnic_group": "white_british",
            "nhs_number": None,
            "upn": None,
        }
    )
    adults_recorded = record_identities(
        adult_frame, addresses.iloc[0:0], source="housing", knobs=spec.noise, rng=streams[4]
    )
    end()

    end = stage("education")
    rng = streams[5]
    emit(
        "school_census",
        education.build_school_census(
            people, recorded["school_census"], addresses, district, spec.as_of, rng
        ),
    )
    emit(
        "attendance",
        {
            "attendance": education.build_attendance(
                people, recorded["school_census"], district, spec.as_of, rng
            )
        },
    )
    emit(
        "exclusions",
        {
            "exclusions": education.build_exclusions(
                people, recorded["school_census"], spec.as_of, rng
            )
        },
    )
    emit("eyfsp", {"eyfsp": education.build_eyfsp(people, recorded["eyfsp"], spec.as_of, rng)})
    emit("ks2", {"ks2": education.build_ks2(people, recorded["ks2"], spec.as_of, rng)})
    end()

    end = stage("health")
    rng = streams[6]
    emit(
        "hcp_review",
        {"hcp_review": health.build_hcp_review(people, recorded["hcp_review"], spec.as_of, rng)},
    )
    emit("ncmp", {"ncmp": health.build_ncmp(people, recorded["ncmp"], spec.as_of, rng)})
    emit(
        "gp_events",
        health.build_gp(people, recorded["gp_events"], addresses, district, spec.as_of, rng),
    )
    emit(
        "hospital_apc",
        {
            "hospital_apc": health.build_hospital_apc(
                people, recorded["hospital_apc"], spec.as_of, rng
            )
        },
    )
    end()

    end = stage("social care")
    care = simulate_social_care(
        people, recorded["csc"], as_of=spec.as_of, rng=streams[7], knobs=spec.social_care
    )
    care_truth = write_social_care(care, out)
    truth_parts.append(care_truth)
    care_counts = care_truth.groupby(["source", "table"], sort=False).size()
    for key, rows in care_counts.items():
        care_source, care_table = (str(part) for part in key)  # type: ignore[attr-defined]
        contract = get_contract(care_source)
        spec_table = contract.table(care_table)
        path = (
            contract.file_name
            if contract.format.value != "csv_folder"
            else f"{contract.name}/{spec_table.file}"
        )
        summaries.append(
            ExtractSummary(source=care_source, table=care_table, path=path, rows=int(rows))
        )
    _add_empty_care_tables(care_truth, summaries)
    end()

    end = stage("police and housing")
    care_missing = pd.DataFrame(
        {
            "person_id": care.missing["person_id"] if len(care.missing) else [],
            "start": pd.to_datetime(care.missing["MIS_START"]) if len(care.missing) else [],
            "end": pd.to_datetime(care.missing["MIS_END"]) if len(care.missing) else [],
        }
    )
    emit(
        "police",
        community.build_police(people, recorded["police"], spec.as_of, streams[8], care_missing),
    )
    emit(
        "housing",
        {
            "housing": community.build_housing(
                people,
                recorded["housing"],
                adults,
                adults_recorded,
                addresses,
                spec.as_of,
                streams[9],
            )
        },
    )
    end()

    end = stage("truth")
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    person_map = pd.concat(truth_parts, ignore_index=True)[list(TRUTH_COLUMNS)]
    person_map["person_id"] = person_map["person_id"].astype("string")
    _write_csv(person_map, truth_dir / "person_map.csv")
    _write_csv(_truth_people(people), truth_dir / "people.csv")
    _write_csv(
        addresses.assign(
            start_date=addresses["start_date"].dt.strftime("%Y-%m-%d"),
            end_date=addresses["end_date"].dt.strftime("%Y-%m-%d"),
        ),
        truth_dir / "addresses.csv",
    )
    effects = {
        "as_of": spec.as_of.isoformat(),
        "people": spec.people,
        "seed": spec.seed,
        "effects": [e.as_json() for e in PLANTED_EFFECTS],
        "school_level": school_effects,
        "social_care": care.effects,
    }
    (truth_dir / "effects.json").write_text(
        json.dumps(effects, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8"
    )
    end()
    return SimulationResult(
        out=out,
        people=spec.people,
        seed=spec.seed,
        as_of=spec.as_of,
        extracts=tuple(summaries),
        stage_seconds=tuple(timings),
        seconds=time.perf_counter() - started,
    )


def _add_empty_care_tables(care_truth: pd.DataFrame, summaries: list[ExtractSummary]) -> None:
    """List social care tables that were written with no rows (absent from the truth rows)."""
    present = {(s.source, s.table) for s in summaries}
    for source in ("cin", "ssda903", "csc_persons"):
        contract = get_contract(source)
        for table in contract.tables:
            if (source, table.name) not in present:
                path = (
                    contract.file_name
                    if contract.format.value != "csv_folder"
                    else f"{contract.name}/{table.file}"
                )
                summaries.append(ExtractSummary(source=source, table=table.name, path=path, rows=0))
