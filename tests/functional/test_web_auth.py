"""Sign-in, server-side sessions, CSRF and security headers of the web app, through TestClient."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from web_node import PASSWORD, WebNode, csrf_token, sign_in, web_node

from joinedup.govern.database import open_govern
from joinedup.web import AccountCreate, AccountStore, create_app, web_settings_for
from joinedup.web.auth import SessionStore, SigninThrottle
from joinedup.web.security import SECURITY_HEADERS


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> WebNode:
    return web_node(tmp_path_factory)


@pytest.fixture(scope="module")
def app(node: WebNode) -> FastAPI:
    return create_app(web_settings_for(node.node))


def _sign_in_response(client: TestClient, username: str, password: str) -> int:
    response = client.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    return response.status_code


def test_passwords_are_stored_as_argon2_hashes_only(node: WebNode) -> None:
    import duckdb

    settings = web_settings_for(node.node)
    with duckdb.connect(str(settings.database_path), read_only=True) as con:
        rows = con.execute("SELECT username, password_hash FROM web__accounts").fetchall()
    assert rows
    for _, stored in rows:
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored


def test_sign_in_with_the_right_password_and_only_then(app: FastAPI) -> None:
    client = TestClient(app)
    assert _sign_in_response(client, "teacher", "not the password") == 401
    assert "Ms Taylor" not in client.get("/").text
    assert _sign_in_response(client, "teacher", PASSWORD) == 303
    assert "Ms Taylor" in client.get("/").text


def test_wrong_password_and_unknown_user_read_the_same(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf_token(client)
    wrong = client.post(
        "/signin", data={"username": "teacher", "password": "nope-nope-nope", "csrf_token": token}
    )
    unknown = client.post(
        "/signin", data={"username": "nobody", "password": "nope-nope-nope", "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an account" in wrong.text and "do not match an account" in unknown.text


def test_session_cookie_is_httponly_and_strict(app: FastAPI) -> None:
    client = TestClient(app)
    cookie = client.get("/signin").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_sign_in_starts_a_new_session_id(app: FastAPI) -> None:
    client = TestClient(app)
    before = csrf_token(client)
    sign_in(client, "researcher")
    assert csrf_token(client, "/") != before


def test_sign_out_ends_the_session(app: FastAPI) -> None:
    client = TestClient(app)
    sign_in(client, "administrator")
    assert client.get("/audit").status_code == 200
    client.post("/signout", data={"csrf_token": csrf_token(client, "/")})
    response = client.get("/audit", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=/audit"


def test_sign_out_revokes_the_session_on_the_server(app: FastAPI) -> None:
    client = TestClient(app)
    sign_in(client, "administrator")
    stolen = client.cookies.get("joinedup_session")
    assert stolen and client.get("/audit").status_code == 200
    client.post("/signout", data={"csrf_token": csrf_token(client, "/")})
    # a copy of the old cookie, replayed after sign-out, is worth nothing
    replay = TestClient(app).get(
        "/audit", headers={"cookie": f"joinedup_session={stolen}"}, follow_redirects=False
    )
    assert replay.status_code == 303
    assert stolen not in replay.headers["set-cookie"]  # a new, anonymous session


def test_the_cookie_is_a_random_id_the_server_keeps_only_hashed(
    app: FastAPI, node: WebNode
) -> None:
    client = TestClient(app)
    sign_in(client, "teacher")
    cookie = client.cookies.get("joinedup_session")
    assert cookie and len(cookie) >= 40 and "teacher" not in cookie
    settings = web_settings_for(node.node)
    with duckdb.connect(str(settings.database_path), read_only=True) as con:
        rows = con.execute(
            "SELECT session_hash, username, revoked_at FROM web__sessions"
        ).fetchall()
        text = str(con.execute("SELECT * FROM web__sessions").fetchall())
    assert cookie not in text
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    assert (digest, "teacher", None) in rows


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 9, 1, 9, 0)

    def __call__(self) -> datetime:
        return self.now


def test_a_session_ends_after_an_idle_spell_and_after_its_lifetime(node: WebNode) -> None:
    settings = web_settings_for(node.node, session_seconds=3600, idle_seconds=600)
    clock = _Clock()
    store = SessionStore(
        settings.database_path, lifetime_seconds=3600, idle_seconds=600, clock=clock
    )
    app = create_app(settings, sessions=store)
    client = TestClient(app)
    sign_in(client, "administrator")
    for _ in range(6):  # busy: a request every 9 minutes keeps it alive ...
        clock.now += timedelta(minutes=9)
        assert client.get("/audit", follow_redirects=False).status_code == 200
    clock.now += timedelta(minutes=9)  # ... until an hour after sign-in, however busy
    assert client.get("/audit", follow_redirects=False).status_code == 303
    idle = TestClient(app)
    sign_in(idle, "administrator")
    clock.now += timedelta(minutes=9)
    assert idle.get("/audit", follow_redirects=False).status_code == 200
    clock.now += timedelta(minutes=11)  # quiet for longer than the idle timeout
    assert idle.get("/audit", follow_redirects=False).status_code == 303


def test_a_forged_cookie_is_anonymous(app: FastAPI) -> None:
    client = TestClient(app)
    sign_in(client, "administrator")
    cookie = client.cookies.get("joinedup_session")
    assert cookie
    client.cookies.clear()
    client.cookies.set("joinedup_session", cookie[::-1])
    assert client.get("/audit", follow_redirects=False).status_code == 303


def test_a_refused_csrf_post_is_audited_as_a_denial(app: FastAPI, node: WebNode) -> None:
    parent = TestClient(app)
    sign_in(parent, "parent")
    with open_govern(node.node) as con:
        (before,) = con.execute("SELECT coalesce(max(seq), 0) FROM audit__events").fetchone() or (
            0,
        )
    response = parent.post("/opt-out", data={"csrf_token": "forged", "identifier": "x"})
    assert response.status_code == 403
    with open_govern(node.node) as con:
        events = con.execute(
            "SELECT actor_id, action, outcome, rule, reason FROM audit__events WHERE seq > ?",
            [before],
        ).fetchall()
    assert len(events) == 1
    actor_id, action, outcome, rule, reason = events[0]
    assert (actor_id, action, outcome, rule) == ("parent", "record_optout", "deny", "web:csrf")
    assert "not sent from this site" in reason


def test_posts_without_this_sessions_csrf_token_are_refused(app: FastAPI, node: WebNode) -> None:
    parent = TestClient(app)
    sign_in(parent, "parent")
    other = TestClient(app)
    others_token = csrf_token(other)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": others_token}):
        response = parent.post("/opt-out", data={**data, "identifier": "x"})
        assert response.status_code == 403
        assert "not sent from this site" in response.text
    # and the sign-in form too: no token, no sign-in
    fresh = TestClient(app)
    fresh.get("/signin")
    response = fresh.post("/signin", data={"username": "teacher", "password": PASSWORD})
    assert response.status_code == 403


def test_sign_in_is_throttled_per_username(node: WebNode) -> None:
    settings = web_settings_for(node.node)
    app = create_app(settings, throttle=SigninThrottle(attempts=3, window_seconds=60))
    client = TestClient(app)
    for _ in range(3):
        assert _sign_in_response(client, "analyst", "wrong-password-x") == 401
    # now even the right password is refused until the window passes
    assert _sign_in_response(client, "analyst", PASSWORD) == 429
    assert _sign_in_response(TestClient(app), "analyst", PASSWORD) == 429


def test_sign_in_redirects_only_within_the_site(app: FastAPI) -> None:
    for target, expected in (
        ("/projects", "/projects"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        client = TestClient(app)
        response = client.post(
            "/signin",
            data={
                "username": "researcher",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_token(client),
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == expected


@pytest.mark.parametrize("path", ["/", "/signin", "/static/site.css", "/no-such-page", "/audit"])
def test_every_response_carries_the_security_headers(app: FastAPI, path: str) -> None:
    response = TestClient(app).get(path, follow_redirects=False)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{path}: {name}"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_pages_load_nothing_from_another_origin(app: FastAPI) -> None:
    client = TestClient(app)
    for path in ("/", "/signin", "/transparency"):
        page = client.get(path).text
        assert "http://" not in page and "https://" not in page, path
        assert "<script" not in page or 'src="/static/' in page


def test_reserved_and_duplicate_usernames_are_refused(node: WebNode) -> None:
    from joinedup.errors import UsageError

    store = AccountStore(web_settings_for(node.node).database_path)
    with pytest.raises(UsageError):
        store.create(AccountCreate(username="local-operator", password="x" * 16))
    with pytest.raises(UsageError):
        store.create(AccountCreate(username="teacher", password="x" * 16))


def test_a_web_account_without_a_registered_actor_is_refused(node: WebNode) -> None:
    settings = web_settings_for(node.node)
    AccountStore(settings.database_path).create(
        AccountCreate(username="ghost", password="ghost-password-1")
    )
    client = TestClient(create_app(settings))
    sign_in(client, "ghost", "ghost-password-1")
    response = client.get("/")
    assert response.status_code == 403
    assert "not registered" in response.text


def test_failed_and_throttled_sign_ins_are_audited_without_what_was_typed(
    node: WebNode,
) -> None:
    settings = web_settings_for(node.node)
    app = create_app(settings, throttle=SigninThrottle(attempts=2, window_seconds=60))
    with open_govern(node.node) as con:
        (before,) = con.execute("SELECT coalesce(max(seq), 0) FROM audit__events").fetchone() or (
            0,
        )
    client = TestClient(app)
    for _ in range(2):
        assert _sign_in_response(client, "dac-member", "typed-wrong-secret") == 401
    assert _sign_in_response(client, "dac-member", PASSWORD) == 429
    with open_govern(node.node) as con:
        rows = con.execute(
            "SELECT actor_id, action, outcome, rule, reason, resource_name FROM audit__events "
            "WHERE seq > ? AND outcome = 'deny' ORDER BY seq",
            [before],
        ).fetchall()
    assert [r[3] for r in rows] == ["web:signin", "web:signin", "web:signin-throttled"]
    for actor_id, action, _, _, reason, resource in rows:
        assert (action, resource) == ("read_public", "signin")
        assert actor_id != "dac-member"  # the claimed name is not taken as who it was
        assert "typed-wrong-secret" not in reason and PASSWORD not in reason


def test_only_the_allowed_networks_reach_the_app_and_refusals_are_audited(
    node: WebNode,
) -> None:
    from joinedup.errors import ConfigError

    settings = web_settings_for(node.node, allowed_networks=("10.20.0.0/16", "127.0.0.1"))
    app = create_app(settings)
    inside = TestClient(app, client=("10.20.3.4", 50000))
    assert inside.get("/signin").status_code == 200
    sign_in(inside, "administrator")
    assert inside.get("/audit").status_code == 200
    with open_govern(node.node) as con:
        (before,) = con.execute("SELECT coalesce(max(seq), 0) FROM audit__events").fetchone() or (
            0,
        )
    for client in (("10.21.0.1", 50000), ("192.168.1.10", 50000), ("testclient", 50000)):
        outside = TestClient(app, client=client)
        for path in ("/signin", "/audit", "/static/site.css"):
            response = outside.get(path, follow_redirects=False)
            assert response.status_code == 403, (client, path)
            assert "not open to the network" in response.text
            assert "joinedup_session" not in response.headers.get("set-cookie", "")
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value
    with open_govern(node.node) as con:
        rules = con.execute(
            "SELECT DISTINCT outcome, rule FROM audit__events WHERE seq > ?", [before]
        ).fetchall()
        refused = con.execute(
            "SELECT count(*) FROM audit__events WHERE seq > ? AND rule = 'web:network'", [before]
        ).fetchone()
    assert rules == [("deny", "web:network")] and refused == (9,)
    assert TestClient(create_app(web_settings_for(node.node))).get("/signin").status_code == 200
    with pytest.raises(ConfigError, match="not a network"):
        web_settings_for(node.node, allowed_networks=("10.0.0.0/33",))


def test_with_mfa_required_a_sign_in_needs_the_current_one_time_code(node: WebNode) -> None:
    from joinedup.web import mfa

    with open_govern(node.node) as con:
        con.execute(
            "INSERT INTO govern__actors SELECT 'mfa-analyst', 'Ms Factor', role, org_id, "
            "org_kind, org_name, org_code, org_urns, accredited_until, ig_training_on, is_lay, "
            "created_at FROM govern__actors WHERE actor_id = 'analyst'"
        )
    settings = web_settings_for(node.node, require_mfa=True)
    accounts = AccountStore(settings.database_path)
    accounts.create(AccountCreate(username="mfa-analyst", password=PASSWORD))
    app = create_app(settings, throttle=SigninThrottle(attempts=50, window_seconds=60))

    def attempt(client: TestClient, username: str, code: str) -> int:
        response = client.post(
            "/signin",
            data={
                "username": username,
                "password": PASSWORD,
                "code": code,
                "csrf_token": csrf_token(client),
            },
            follow_redirects=False,
        )
        return response.status_code

    # no second factor yet: the password alone is not enough on this site
    assert attempt(TestClient(app), "mfa-analyst", "") == 403
    secret = accounts.enrol_second_factor("mfa-analyst")
    step = mfa.step_at(datetime.now(UTC))
    assert attempt(TestClient(app), "mfa-analyst", "") == 401
    wrong = "000000" if mfa.code_for(secret, step) != "000000" else "111111"
    assert attempt(TestClient(app), "mfa-analyst", wrong) == 401
    client = TestClient(app)
    assert attempt(client, "mfa-analyst", mfa.code_for(secret, step)) == 303
    assert "Ms Factor" in client.get("/").text
    # the same code again, from anyone, is refused; the next step's is accepted once
    assert attempt(TestClient(app), "mfa-analyst", mfa.code_for(secret, step)) == 401
    assert attempt(TestClient(app), "mfa-analyst", mfa.code_for(secret, step + 1)) == 303
    with open_govern(node.node) as con:
        rules = [
            str(r[0])
            for r in con.execute(
                "SELECT rule FROM audit__events WHERE rule LIKE 'web:signin%' "
                "ORDER BY seq DESC LIMIT 4"
            ).fetchall()
        ]
    assert rules == ["web:signin-code", "web:signin-code", "web:signin-code", "web:signin-no-mfa"]
    # a site without require_mfa still asks for the code of an account that has one
    relaxed = create_app(web_settings_for(node.node))
    assert attempt(TestClient(relaxed), "mfa-analyst", "") == 401
