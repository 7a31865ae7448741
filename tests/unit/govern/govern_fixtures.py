"""Shared by the govern unit tests: a bare node with one registered actor per role."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from joinedup.config import NodeSettings
from joinedup.govern import Actor, Organisation, OrgKind, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.database import open_govern
from joinedup.ingest import init_node

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
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeSettings:
    settings = init_node(Path(tmp_path_factory.mktemp("govern")) / "node", name="govern test")
    with open_govern(settings) as con:
        for role in Role:
            add_actor(con, actor_for(role))
    return settings
