"""Every route of the web app goes through the one governed door, and every request is decided.

Enumerated from ``app.routes``: a new route without ``require(...)`` fails here, and so does a
route whose request does not write an audit event through ``joinedup.govern.decide``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.testclient import TestClient
from web_node import WebNode, csrf_token, sign_in, web_node

from joinedup.govern import Action, ResourceKind
from joinedup.govern.database import open_govern
from joinedup.web import create_app, web_settings_for
from joinedup.web.governance import Requirement, requirement_of

PATH_VALUES = {
    "person_id": "0" * 32,
    "project_id": "P0000000000",
    "name": "site.css",
    "item_id": "0" * 16,
    "release_id": "out_000000000000",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> WebNode:
    return web_node(tmp_path_factory)


@pytest.fixture(scope="module")
def app(node: WebNode) -> FastAPI:
    return create_app(web_settings_for(node.node))


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _requirements(route: APIRoute) -> list[Requirement]:
    found = [requirement_of(call) for call in _calls(route.dependant)]
    return [r for r in found if r is not None]


def _api_routes(app: FastAPI) -> list[APIRoute]:
    """Every route the app serves, through the routers it includes; no mounts, no plain routes."""
    routes = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        assert isinstance(route, APIRoute), f"{route!r} is not a governed API route"
        routes.append(route)
    return routes


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(method, route.path) for route in _api_routes(app) for method in sorted(route.methods)]


def test_every_route_has_exactly_one_governed_door(app: FastAPI) -> None:
    routes = _api_routes(app)
    assert len(routes) >= 15
    for route in routes:
        requirements = _requirements(route)
        assert len(requirements) == 1, f"{route.path} has {len(requirements)} doors"
        requirement = requirements[0]
        assert isinstance(requirement.action, Action)
        assert isinstance(requirement.resource_kind, ResourceKind)


def test_no_api_documentation_routes_are_served(app: FastAPI) -> None:
    paths = {route.path for route in _api_routes(app)}
    assert not paths & {"/docs", "/redoc", "/openapi.json"}


def _audit_count(node: WebNode) -> int:
    with open_govern(node.node) as con:
        row = con.execute("SELECT count(*) FROM audit__events").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("username", [None, "teacher"])
def test_every_route_writes_an_audit_event_for_every_request(
    app: FastAPI, node: WebNode, username: str | None
) -> None:
    client = TestClient(app)
    if username is not None:
        sign_in(client, username)
    token = csrf_token(client)
    for method, path in _routes(app):
        url = path.format(**PATH_VALUES)
        before = _audit_count(node)
        if method == "GET":
            response = client.get(url, follow_redirects=False)
        else:
            # a harmless form: fields missing, so nothing is recorded but the decision
            response = client.post(url, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"
        after = _audit_count(node)
        assert after > before, f"{method} {path} as {username} was not decided by govern"
        if path == "/signout":  # a new session: sign in again, and take its token
            if username is not None:
                sign_in(client, username)
            token = csrf_token(client)
