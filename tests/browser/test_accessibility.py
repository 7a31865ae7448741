"""Every main page passes axe-core with no 'serious' or 'critical' violation (WCAG 2.x A and AA
rules and axe's best practices), as each role sees it in Chromium.

axe-core comes from npm (``make axe``, pinned in ``tests/browser/axe/package-lock.json``) and is
injected by Playwright into the page under test through the DevTools protocol, which the page's
content security policy does not govern; the app itself never serves or loads it. A missing
axe-core fails the test (run ``make axe``), it never skips.

Pages: sign-in, the transparency register, each demo role's home page, the child view, the
project application (empty, and refused with its list of problems), the project list, the DAC
review of one project, the opt-out, withdrawal and consent pages, the audit log, the linkage
review queue and one item (before and after a decision, with its earlier decisions), the
output-review queue and one output, and a refusal page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import PASSWORD, Site
from playwright.sync_api import expect
from test_browser_roles import _pupil_at, _search

from joinedup.config import load_node
from joinedup.link.review import ReviewPair, create_review_tables, item_id_for, queue_pairs
from joinedup.outputs.node import open_ledger
from joinedup.outputs.review import list_queue
from joinedup.web.demo_accounts import seed_demo_review_queues

Page = Any  # playwright.sync_api.Page

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
ROLES = (
    "teacher",
    "health-visitor",
    "social-worker",
    "analyst",
    "researcher",
    "dac-member",
    "dac-lay-member",
    "administrator",
    "output-checker",
    "parent",
)


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing at {AXE}: run `make axe` (npm ci)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        yield made
    finally:
        made.close()


def _page(context: Any) -> Page:
    context.clear_cookies()
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _sign_in(page: Page, site: Site, username: str) -> None:
    page.goto(site.url + "signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url)


def _violations(page: Page, axe_source: str) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source + "\n;undefined")
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] in FAILING_IMPACTS:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
            found.append(
                f"{violation['impact']} {violation['id']}: {violation['help']} at {targets}"
            )
    return found


def _check(page: Page, axe_source: str, where: str, problems: dict[str, list[str]]) -> None:
    found = _violations(page, axe_source)
    if found:
        problems[where] = found


def _csrf(page: Page) -> str:
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    return str(token)


def _apply_for_a_project(page: Page, site: Site) -> str:
    """As the signed-in researcher: apply, and return the project's path."""
    page.goto(site.url + "projects/new")
    ends = (datetime.now(UTC).date() + timedelta(days=700)).isoformat()
    response = page.request.post(
        site.url + "projects/new",
        form={
            "csrf_token": _csrf(page),
            "title": "Accessibility check project",
            "purpose": "research",
            "lay_summary": "Which children are missed by early help, and why.",
            "public_benefit": "Earlier support for families who need it.",
            "legal_basis": "6(1)(e)+9(2)(j)+s251",
            "datasets": "view__secondary__store__person",
            "variables": "view__secondary__store__person.birth_month",
            "cohort": "children born 2015-2020",
            "cohort_spec": '{"born": {"from": "2015-01", "to": "2020-12"}}',
            "setting": "jobs",
            "outputs": "rates by year of birth, checked before release",
            "expires_on": ends,
        },
        max_redirects=0,
    )
    assert response.status == 303, response.text()[-400:]
    location = response.headers["location"]
    assert re.fullmatch(r"/projects/P[0-9a-f]+", location), location
    return location.lstrip("/")


def _queue_review_items(site: Site) -> tuple[str, str]:
    """A linkage review item (two records of two persons) and the demo's queued output."""
    node = load_node(site.node)
    seed_demo_review_queues(node)
    with duckdb.connect(str(node.store_path)) as con:
        create_review_tables(con)
        keys = [
            str(row[0])
            for row in con.execute(
                "SELECT min(record_key) FROM link__record_person GROUP BY person_id "
                "ORDER BY 1 LIMIT 2"
            ).fetchall()
        ]
        queue_pairs(
            con,
            [ReviewPair(record_key_a=keys[0], record_key_b=keys[1], match_probability=0.6)],
            stage="accessibility",
            rule="grey_zone",
        )
    with open_ledger(node) as con:
        release_id = list_queue(con)[0].release_id
    return item_id_for(keys[0], keys[1]), release_id


def test_every_main_page_has_no_serious_or_critical_violation(
    context: Any, site: Site, axe_source: str
) -> None:
    problems: dict[str, list[str]] = {}
    checked: list[str] = []

    def check(page: Page, where: str) -> None:
        _check(page, axe_source, where, problems)
        checked.append(where)

    page = _page(context)
    for path in ("signin", "transparency"):
        page.goto(site.url + path)
        check(page, f"anonymous /{path}")
    page.close()

    for role in ROLES:
        page = _page(context)
        _sign_in(page, site, role)
        check(page, f"{role} home")
        page.close()

    page = _page(context)  # the child view, and a refusal with its break-glass form
    _sign_in(page, site, "teacher")
    page.goto(site.url + "children")
    check(page, "teacher /children (search)")
    _search(page, site, _pupil_at(site, at_school=True))
    expect(page.get_by_role("heading", name="Child record")).to_be_visible()
    check(page, "teacher child record")
    _search(page, site, _pupil_at(site, at_school=False))
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    check(page, "teacher refusal with break-glass")
    page.close()

    page = _page(context)  # the project application and the project list
    _sign_in(page, site, "researcher")
    page.goto(site.url + "projects/new")
    check(page, "researcher /projects/new")
    page.fill("#title", "A form with problems")
    for field in ("lay_summary", "public_benefit", "legal_basis", "datasets", "variables"):
        page.fill(f"#{field}", "x")
    page.fill("#cohort", "some children")
    page.fill("#cohort_spec", '{"age": {"min": 9, "max": 4}}')
    page.fill("#outputs", "tables")
    page.fill("#expires_on", "next year")
    page.get_by_role("button", name="Send the application").click()
    expect(page.get_by_text("The application was not recorded")).to_be_visible()
    check(page, "researcher /projects/new with every problem of the form")
    project = _apply_for_a_project(page, site)
    page.goto(site.url + "projects")
    check(page, "researcher /projects")
    page.close()

    page = _page(context)  # the DAC review
    _sign_in(page, site, "dac-lay-member")
    page.goto(site.url + project)
    expect(page.get_by_text("Your review").first).to_be_visible()
    check(page, "DAC member's review of a project")
    page.close()

    page = _page(context)  # the citizen's pages
    _sign_in(page, site, "parent")
    for path in ("opt-out", "opt-out/withdraw", "consent"):
        page.goto(site.url + path)
        check(page, f"parent /{path}")
    page.close()

    page = _page(context)  # the audit log
    _sign_in(page, site, "administrator")
    page.goto(site.url + "audit")
    check(page, "administrator /audit")
    page.screenshot(path=str(site.screenshots / "audit-log.png"), full_page=True)
    item_id, release_id = _queue_review_items(site)
    page.goto(site.url + "link/review")
    check(page, "administrator /link/review")
    page.goto(site.url + f"link/review/{item_id}")
    expect(page.get_by_role("heading", name="Your decision")).to_be_visible()
    check(page, "administrator /link/review item")
    page.get_by_label("Unsure: leave it open").check()
    page.fill("#note", "needs the school's records to tell")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("heading", name="Earlier decisions")).to_be_visible()
    expect(page.get_by_text("needs the school's records to tell")).to_be_visible()
    check(page, "administrator /link/review item with its earlier decisions")
    page.screenshot(path=str(site.screenshots / "link-review-item.png"), full_page=True)
    page.close()

    page = _page(context)  # the output checkers' queue
    _sign_in(page, site, "output-checker")
    page.goto(site.url + "outputs/review")
    check(page, "output-checker /outputs/review")
    page.goto(site.url + f"outputs/review/{release_id}")
    expect(page.get_by_role("heading", name="Your vote")).to_be_visible()
    check(page, "output-checker /outputs/review item")
    page.close()

    assert len(checked) == 2 + len(ROLES) + 3 + 3 + 1 + 3 + 1 + 3 + 2
    assert not problems, "\n".join(
        f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items()
    )


def test_the_check_finds_a_violation_when_there_is_one(
    context: Any, site: Site, axe_source: str
) -> None:
    # the check is only worth something if it can fail: break a page on purpose and look
    page = _page(context)
    page.goto(site.url + "signin")
    page.evaluate("() => document.querySelector('label[for=\"username\"]').remove()")
    page.evaluate("() => document.documentElement.removeAttribute('lang')")
    found = _violations(page, axe_source)
    page.close()
    assert any(" label:" in line for line in found), found
    assert any(" html-has-lang:" in line for line in found), found
