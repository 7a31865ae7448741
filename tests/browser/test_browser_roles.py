"""Sign in as a teacher, a researcher, a DAC member and a citizen in Chromium; try one page each
role may use and one it may not; the refusal must say why. Screenshots land in the pytest tmp
folder (``screenshots/``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import PASSWORD, Site
from playwright.sync_api import expect

Page = Any  # playwright.sync_api.Page (typed loosely: tests are not type-checked strictly)


@pytest.fixture()
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


def _sign_in(page: Page, site: Site, username: str) -> None:
    page.goto(site.url + "signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url)


def _shot(page: Page, site: Site, name: str) -> None:
    page.screenshot(path=str(site.screenshots / f"{name}.png"), full_page=True)


def _pupil_at(site: Site, *, at_school: bool) -> dict[str, str]:
    with (site.extracts / "school_census" / "pupilonroll.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    latest = max(row["censusdate"] for row in rows)
    for row in rows:
        same_school = row["urn"] == site.teacher_urn
        if row["censusdate"] == latest and same_school == at_school and len(row["upn"]) == 13:
            return row
    raise AssertionError("no pupil found")


def _search(page: Page, site: Site, pupil: dict[str, str]) -> None:
    page.goto(site.url + "children")
    page.get_by_label("Unique pupil number (UPN)").check()
    page.get_by_label("NHS number or UPN").fill(pupil["upn"])
    page.get_by_label("Date of birth").fill(pupil["dob"])
    page.get_by_role("button", name="Find the child").click()


def test_anonymous_visitor_sees_the_register_and_is_sent_to_sign_in(page: Page, site: Site) -> None:
    page.goto(site.url + "transparency")
    expect(page.get_by_role("heading", name="Transparency register")).to_be_visible()
    page.goto(site.url + "audit")
    assert page.url.startswith(site.url + "signin")
    _shot(page, site, "anonymous-signin")


def test_teacher_sees_a_pupil_and_is_refused_the_audit_log(page: Page, site: Site) -> None:
    _sign_in(page, site, "teacher")
    expect(page.get_by_role("link", name="Find a child")).to_be_visible()
    assert page.get_by_role("link", name="Audit log").count() == 0
    _shot(page, site, "teacher-home")
    for pupil in (_pupil_at(site, at_school=True),):
        _search(page, site, pupil)
        if page.get_by_role("heading", name="Child record").count():
            break
    expect(page.get_by_text("legitimate relationship: on_roll")).to_be_visible()
    _shot(page, site, "teacher-child-record")
    _search(page, site, _pupil_at(site, at_school=False))
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert "no legitimate relationship" in page.locator(".reason").text_content()
    _shot(page, site, "teacher-child-refused")
    page.goto(site.url + "audit")
    assert "a teacher may not read_audit" in page.locator(".reason").text_content()


def test_researcher_applies_and_is_refused_a_childs_record(page: Page, site: Site) -> None:
    _sign_in(page, site, "researcher")
    page.get_by_role("link", name="Apply for a project").click()
    expect(page.get_by_role("heading", name="Apply for a project")).to_be_visible()
    _shot(page, site, "researcher-apply")
    page.goto(site.url + "children/" + "0" * 32)
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert "may not use L0 data for direct_care" in page.locator(".reason").text_content()
    _shot(page, site, "researcher-refused")


def test_dac_member_reads_the_audit_log_and_may_not_apply(page: Page, site: Site) -> None:
    _sign_in(page, site, "dac-member")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("The chain is intact")).to_be_visible()
    _shot(page, site, "dac-audit")
    page.goto(site.url + "projects/new")
    assert "a dac_member may not apply_project" in page.locator(".reason").text_content()


def test_citizen_opts_out_page_and_is_refused_projects(page: Page, site: Site) -> None:
    _sign_in(page, site, "parent")
    page.get_by_role("link", name="Opt your child out").click()
    expect(page.get_by_role("heading", name="Opt your child out")).to_be_visible()
    _shot(page, site, "parent-opt-out")
    page.goto(site.url + "projects")
    assert "a citizen may not list_projects" in page.locator(".reason").text_content()
    _shot(page, site, "parent-refused")


def test_keyboard_reaches_the_skip_link_first(page: Page, site: Site) -> None:
    page.goto(site.url + "signin")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to main content"
