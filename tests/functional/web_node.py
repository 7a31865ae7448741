"""One small node with its demo actors and web sign-ins, shared by the web tests of a process.

Built once per test process (``web_node``): a simulated district of ``PEOPLE`` people, ingested
and refreshed, with ``seed_demo_accounts`` (password ``PASSWORD`` for every account).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from joinedup.config import NodeSettings
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import DeterministicStage, refresh_node
from joinedup.simulate import SimulationSpec, simulate_district
from joinedup.web import AccountStore, web_settings_for
from joinedup.web.demo_accounts import DemoLogin, seed_demo_accounts

PEOPLE = 400
SEED = 21
PASSWORD = "functional-test-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True, slots=True, kw_only=True)
class WebNode:
    extracts: Path
    node: NodeSettings
    logins: tuple[DemoLogin, ...]

    def organisation_code(self, username: str) -> str:
        login = next(login for login in self.logins if login.username == username)
        return login.organisation.split()[-1]


_CACHE: dict[str, WebNode] = {}


def web_node(factory: pytest.TempPathFactory) -> WebNode:
    if "node" not in _CACHE:
        base = factory.mktemp("web")
        extracts = base / "extracts"
        simulate_district(SimulationSpec(people=PEOPLE, seed=SEED), extracts)
        node = init_node(base / "node", name="web test district")
        ingest_dir(node, extracts)
        # the exact rules alone: quick, and all these tests need is a linked store
        refresh_node(node, stages=(DeterministicStage(),))
        settings = web_settings_for(node)
        logins = seed_demo_accounts(
            AccountStore(settings.database_path), settings.node, password=PASSWORD
        )
        _CACHE["node"] = WebNode(extracts=extracts, node=node, logins=tuple(logins))
    return _CACHE["node"]


def csrf_token(client: TestClient, path: str = "/signin") -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    response = client.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, f"{username} could not sign in"


def pupils(extracts: Path) -> list[dict[str, str]]:
    """Pupils of the latest census: URN, UPN and date of birth (simulated people)."""
    with (extracts / "school_census" / "pupilonroll.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    latest = max(row["censusdate"] for row in rows)
    return [row for row in rows if row["censusdate"] == latest]
