"""Browser tests: Playwright's Python package driving Debian's Chromium against a served node.

One small demo node is built per test process (session scope), its demo accounts seeded with a
known password, and ``joinedup serve`` started on a free loopback port in a subprocess. Chromium
is the system one (``/usr/bin/chromium``, installed by ``make chromium``); Playwright's own
browser download is never used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from joinedup.ingest import ingest_dir, init_node
from joinedup.link import DeterministicStage, refresh_node
from joinedup.simulate import SimulationSpec, simulate_district
from joinedup.web import AccountStore, web_settings_for
from joinedup.web.demo_accounts import seed_demo_accounts

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"
PEOPLE = 300
SEED = 11


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    url: str
    node: Path
    extracts: Path
    screenshots: Path
    teacher_urn: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "signin", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `make chromium` (apt-get install chromium)")
    base = tmp_path_factory.mktemp("browser")
    extracts = base / "extracts"
    simulate_district(SimulationSpec(people=PEOPLE, seed=SEED), extracts)
    settings = init_node(base / "node", name="Browser test district")
    ingest_dir(settings, extracts)
    refresh_node(settings, stages=(DeterministicStage(),))
    web = web_settings_for(settings)
    logins = seed_demo_accounts(AccountStore(web.database_path), settings, password=PASSWORD)
    teacher = next(login for login in logins if login.username == "teacher")
    node = settings.root
    port = _free_port()
    joinedup = Path(sys.executable).parent / "joinedup"
    process = subprocess.Popen(
        [str(joinedup), "serve", str(node), "--host", "127.0.0.1", "--port", str(port), "--no-mfa"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, process)
        screenshots = base / "screenshots"
        screenshots.mkdir()
        yield Site(
            url=url,
            node=node,
            extracts=extracts,
            screenshots=screenshots,
            teacher_urn=teacher.organisation.split()[-1],
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()
