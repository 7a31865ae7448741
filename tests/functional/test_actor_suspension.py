"""Rapid response: suspending an actor refuses them at once, everywhere (CLI and web, public
pages included), ends their web sessions, and is lifted only by reinstating them."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from web_node import WebNode, sign_in, web_node

from joinedup.cli.main import main
from joinedup.govern.database import open_govern
from joinedup.web import create_app, web_settings_for


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> WebNode:
    return web_node(tmp_path_factory)


def test_a_suspended_actor_is_refused_everything_until_reinstated(node: WebNode) -> None:
    with open_govern(node.node) as con:
        con.execute(
            "INSERT INTO govern__actors SELECT 'suspect-admin', 'Mr Suspect', role, org_id, "
            "org_kind, org_name, org_code, org_urns, accredited_until, ig_training_on, is_lay, "
            "created_at FROM govern__actors WHERE actor_id = 'administrator'"
        )
    root = str(node.node.root)
    assert main(["audit", "verify", root, "--as", "suspect-admin"], {}) == 0
    password = "suspect-admin-password"
    from joinedup.web import AccountCreate, AccountStore

    AccountStore(web_settings_for(node.node).database_path).create(
        AccountCreate(username="suspect-admin", password=password)
    )
    app = create_app(web_settings_for(node.node))
    client = TestClient(app)
    sign_in(client, "suspect-admin", password)
    assert client.get("/audit").status_code == 200

    suspend = ["actor", "suspend", root, "suspect-admin"]
    assert main([*suspend, "--reason", "short"], {}) == 2  # a reason is needed
    assert (
        main([*suspend, "--reason", "bulk export seen, under investigation", "--as", "teacher"], {})
        == 3
    )
    assert main([*suspend, "--reason", "bulk export seen, under investigation"], {}) == 0
    assert main([*suspend, "--reason", "bulk export seen, under investigation"], {}) == 2  # once
    assert main(["actor", "suspend", root, "local-operator", "--reason", "x" * 20], {}) == 2

    # refused at once: the CLI, the web session (ended), a new sign-in, even public pages
    assert main(["audit", "verify", root, "--as", "suspect-admin"], {}) == 3
    assert client.get("/audit", follow_redirects=False).status_code == 303
    again = TestClient(app)
    sign_in(again, "suspect-admin", password)  # the password is still right ...
    refused = again.get("/transparency")
    assert refused.status_code == 403 and "is suspended" in refused.text  # ... but nothing opens
    with open_govern(node.node) as con:
        rules = {
            str(r[0])
            for r in con.execute(
                "SELECT rule FROM audit__events "
                "WHERE actor_id = 'suspect-admin' AND outcome = 'deny'"
            ).fetchall()
        }
        (reason,) = con.execute(
            "SELECT reason FROM govern__suspensions WHERE actor_id = 'suspect-admin'"
        ).fetchone() or ("",)
    assert rules == {"actor:suspended"}
    assert reason == "bulk export seen, under investigation"

    assert main(["actor", "reinstate", root, "suspect-admin"], {}) == 0
    assert main(["actor", "reinstate", root, "suspect-admin"], {}) == 2  # not suspended now
    assert main(["audit", "verify", root, "--as", "suspect-admin"], {}) == 0
    assert again.get("/audit").status_code == 200
