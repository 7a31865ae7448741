"""The district simulator: a seeded, invented, Bradford-like district and its agency extracts.

``simulate_district(SimulationSpec(people=..., seed=...), out)`` writes one extract per source
contract under ``out`` plus the ground truth in ``out/truth/`` (people, person map, planted
effects). ``write_earlier_extracts`` makes an earlier snapshot of them (some rows withheld), to
test a refresh as new records arrive. Nothing here reads real data.
"""

from joinedup.simulate.district import (
    DEFAULT_AS_OF,
    STAGES,
    ExtractSummary,
    SimulationResult,
    SimulationSpec,
    simulate_district,
)
from joinedup.simulate.earlier import write_earlier_extracts
from joinedup.simulate.noise import NoiseKnobs, record_identities
from joinedup.simulate.outcomes import PLANTED_EFFECTS, PlantedEffect

__all__ = [
    "DEFAULT_AS_OF",
    "PLANTED_EFFECTS",
    "STAGES",
    "ExtractSummary",
    "NoiseKnobs",
    "PlantedEffect",
    "SimulationResult",
    "SimulationSpec",
    "record_identities",
    "simulate_district",
    "write_earlier_extracts",
]
