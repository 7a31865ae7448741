"""One small simulated district, ingested into a node and refreshed, shared by the refresh tests.

Built once per test process (``refreshed_district``) and cached here, so the two functional test
modules that use it pay for it once (per xdist worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from joinedup.config import NodeSettings
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import RefreshResult, refresh_node
from joinedup.simulate import SimulationSpec, simulate_district

PEOPLE = 2_500
SEED = 5
AS_OF = date(2026, 8, 31)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshedDistrict:
    extracts: Path
    node: NodeSettings
    result: RefreshResult


_CACHE: dict[str, RefreshedDistrict] = {}


def refreshed_district(factory: pytest.TempPathFactory) -> RefreshedDistrict:
    if "district" not in _CACHE:
        base = factory.mktemp("refreshed")
        extracts = base / "extracts"
        simulate_district(SimulationSpec(people=PEOPLE, seed=SEED, as_of=AS_OF), extracts)
        node = init_node(base / "node", name="refresh test district")
        ingest_dir(node, extracts, today=AS_OF)
        result = refresh_node(node)
        _CACHE["district"] = RefreshedDistrict(extracts=extracts, node=node, result=result)
    return _CACHE["district"]
