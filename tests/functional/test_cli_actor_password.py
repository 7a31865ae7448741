"""``joinedup actor password``: set or reset a web sign-in from a prompt or standard input (never
an argument), decided as ``administer_node``, and every open session of the actor ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient
from web_node import PASSWORD, WebNode, csrf_token, sign_in, web_node

from joinedup.govern.database import open_govern
from joinedup.web import create_app, web_settings_for

NEW_PASSWORD = "a-new-password-for-the-teacher"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> WebNode:
    return web_node(tmp_path_factory)


def _joinedup(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603: the project's own CLI, arguments from this test
        [str(Path(sys.executable).parent / "joinedup"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
        timeout=120,
    )


def _events(node: Path, actor: str) -> list[tuple[str, str, str]]:
    con = duckdb.connect(str(node / "govern.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT action, outcome, resource_name FROM audit__events WHERE actor_id = ? "
            "ORDER BY seq",
            [actor],
        ).fetchall()
    finally:
        con.close()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _register_second_teacher(node: WebNode) -> None:
    # a colleague of the demo teacher, so the demo accounts other tests use keep their password
    with open_govern(node.node) as con:
        con.execute(
            "INSERT INTO govern__actors SELECT 'second-teacher', 'Mr Second', role, org_id, "
            "org_kind, org_name, org_code, org_urns, accredited_until, ig_training_on, is_lay, "
            "created_at FROM govern__actors WHERE actor_id = 'teacher'"
        )


def test_a_password_is_set_then_reset_and_the_reset_ends_open_sessions(node: WebNode) -> None:
    _register_second_teacher(node)
    app = create_app(web_settings_for(node.node))
    command = ["actor", "password", str(node.node.root), "second-teacher", "--password-stdin"]
    first = "first-password-of-mr-second"
    done = _joinedup(command, first)
    assert done.returncode == 0, done.stderr
    assert "Created the web sign-in of second-teacher" in done.stdout
    before = TestClient(app)
    sign_in(before, "second-teacher", first)
    assert "Mr Second" in before.get("/").text

    done = _joinedup(command, NEW_PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "Reset the web password of second-teacher; 1 open session(s) ended" in done.stdout
    assert NEW_PASSWORD not in done.stdout + done.stderr
    # the session signed in before the reset is over; the old password no longer works
    assert "Mr Second" not in before.get("/").text
    with pytest.raises(AssertionError):
        sign_in(TestClient(app), "second-teacher", first)
    after = TestClient(app)
    sign_in(after, "second-teacher", NEW_PASSWORD)
    assert "Mr Second" in after.get("/").text
    with duckdb.connect(str(web_settings_for(node.node).database_path), read_only=True) as con:
        stored = con.execute(
            "SELECT password_hash FROM web__accounts WHERE username = 'second-teacher'"
        ).fetchone()
    assert stored is not None and stored[0].startswith("$argon2id$")
    assert (
        _events(node.node.root, "local-operator")[-2:]
        == [
            ("administer_node", "allow", "web-accounts"),
        ]
        * 2
    )


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["teacher", "--password-stdin", "--as", "teacher"], NEW_PASSWORD, 3, "may not"),
        (["nobody-here", "--password-stdin"], NEW_PASSWORD, 2, "no actor nobody-here"),
        (["teacher", "--password-stdin"], "short", 2, "12 to 200 characters"),
        (["local-operator", "--password-stdin"], NEW_PASSWORD, 2, "cannot sign in on the web"),
    ],
    ids=["not-an-administrator", "unregistered", "too-short", "reserved"],
)
def test_refusals_and_bad_input_change_nothing(
    node: WebNode, args: list[str], stdin: str, code: int, message: str
) -> None:
    database = web_settings_for(node.node).database_path
    with duckdb.connect(str(database), read_only=True) as con:
        before = con.execute("SELECT * FROM web__accounts ORDER BY username").fetchall()
    done = _joinedup(["actor", "password", str(node.node.root), *args], stdin)
    assert done.returncode == code, done.stdout + done.stderr
    assert message in " ".join((done.stdout + done.stderr).split())
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT * FROM web__accounts ORDER BY username").fetchall() == before


def test_a_second_factor_is_enrolled_at_the_console_and_needed_to_sign_in(node: WebNode) -> None:
    from datetime import UTC, datetime

    from joinedup.web import mfa

    with open_govern(node.node) as con:
        con.execute(
            "INSERT INTO govern__actors SELECT 'mfa-teacher', 'Mx Code', role, org_id, "
            "org_kind, org_name, org_code, org_urns, accredited_until, ig_training_on, is_lay, "
            "created_at FROM govern__actors WHERE actor_id = 'teacher'"
        )
    root = str(node.node.root)
    early = _joinedup(["actor", "mfa", root, "mfa-teacher"], "")
    assert early.returncode == 2 and "set a password first" in early.stdout + early.stderr
    assert _joinedup(["actor", "mfa", root, "mfa-teacher", "--as", "teacher"], "").returncode == 3
    password = "the-password-of-mx-code"
    assert _joinedup(["actor", "password", root, "mfa-teacher", "--password-stdin"], password)
    done = _joinedup(["actor", "mfa", root, "mfa-teacher"], "")
    assert done.returncode == 0, done.stderr
    uri = next(line for line in done.stdout.splitlines() if line.startswith("otpauth://totp/"))
    secret = uri.split("secret=")[1].split("&")[0]
    assert f"secret: {secret}" in done.stdout
    app = create_app(web_settings_for(node.node, require_mfa=True))
    client = TestClient(app)
    code = mfa.code_for(secret, mfa.step_at(datetime.now(UTC)))
    response = client.post(
        "/signin",
        data={
            "username": "mfa-teacher",
            "password": password,
            "code": code,
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Mx Code" in client.get("/").text
    assert secret not in str(_events(node.node.root, "local-operator"))


def test_joinedup_serve_asks_for_a_second_factor_unless_told_not_to(node: WebNode) -> None:
    import http.cookiejar
    import re
    import socket
    import time
    import urllib.parse
    import urllib.request

    def sign_in_over_http(url: str) -> tuple[int, str]:
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                page = opener.open(url + "signin", timeout=5).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"username": "teacher", "password": PASSWORD, "csrf_token": token.group(1)}
        request = urllib.request.Request(
            url + "signin", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    joinedup = str(Path(sys.executable).parent / "joinedup")
    for extra, expected in (([], 403), (["--no-mfa"], 200)):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        server = subprocess.Popen(  # noqa: S603: the project's own CLI
            [joinedup, "serve", str(node.node.root), "--port", str(port), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            status, page = sign_in_over_http(f"http://127.0.0.1:{port}/")
        finally:
            server.terminate()
            server.wait(timeout=20)
        assert status == expected, extra
        if expected == 403:  # the demo teacher has a password but no authenticator
            assert "no second factor" in page
        else:
            assert "Ms Taylor" in page  # signed in, sent home
