"""Shared by the govern unit tests: a bare node with one registered actor per role, and a copy of
a small simulated district (ingested and refreshed) for the rules that read the store."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from joinedup.config import NodeSettings, load_node
from joinedup.govern import Actor, GovernSession, Organisation, OrgKind, Role, open_session
from joinedup.govern.actors import add_actor
from joinedup.govern.database import open_govern
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import refresh_node
from joinedup.link.deterministic import DeterministicStage
from joinedup.simulate import SimulationSpec, simulate_district

TODAY = date(2026, 8, 31)


def actor_for(role: Role) -> Actor:
    return Actor(
        actor_id=f"a-{role.value}",
        display_name=role.value,
        role=role,
        org=Organisation(org_id="org-1", kind=OrgKind.SCHOOL, name="a school", code="100001"),
        accredited_until=date(2027, 12, 31),
        ig_training_on=date(2026, 6, 1),
    )


@pytest.fixture(scope="module")
def session(node: NodeSettings) -> Iterator[GovernSession]:
    """The bare node's govern and store connections, held open for a module's many decisions."""
    with open_session(node) as held:
        yield held


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeSettings:
    settings = init_node(Path(tmp_path_factory.mktemp("govern")) / "node", name="govern test")
    with open_govern(settings) as con:
        for role in Role:
            add_actor(con, actor_for(role))
    return settings


# --- a small simulated district, ingested and refreshed, built once per test process ----------

DISTRICT_PEOPLE = 1_500
DISTRICT_SEED = 11
_DISTRICT: dict[str, Path] = {}


def district_copy(into: Path) -> NodeSettings:
    """A fresh copy of the shared simulated district's node (its store holds real linked data)."""
    if "node" not in _DISTRICT:
        base = Path(tempfile.mkdtemp(prefix="govern-district-"))
        atexit.register(shutil.rmtree, base, True)
        extracts = base / "extracts"
        simulate_district(
            SimulationSpec(people=DISTRICT_PEOPLE, seed=DISTRICT_SEED, as_of=TODAY), extracts
        )
        built = init_node(base / "node", name="govern district")
        ingest_dir(built, extracts, today=TODAY)
        refresh_node(built, stages=(DeterministicStage(),))
        _DISTRICT["node"] = built.root
    target = into / "node"
    shutil.copytree(_DISTRICT["node"], target)
    return load_node(target)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> NodeSettings:
    """A module's own copy of the simulated district node, with one actor per role."""
    settings = district_copy(Path(tmp_path_factory.mktemp("district")))
    with open_govern(settings) as con:
        for role in Role:
            add_actor(con, actor_for(role))
    return settings
