"""What each role sees and may do on the web app, end to end through TestClient and govern."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from fastapi import FastAPI
from markupsafe import escape
from starlette.testclient import TestClient
from web_node import WebNode, csrf_token, pupils, sign_in, web_node

from joinedup.errors import UsageError
from joinedup.govern.audit import read_events
from joinedup.govern.database import open_govern
from joinedup.govern.identify import identify_child
from joinedup.web import create_app, web_settings_for

LINK = re.compile(r'<h2 class="card__title"><a href="([^"]+)"')
REASON = re.compile(r'<p class="reason">(.*?)</p>', re.S)

# What each demo role's home page offers (and so, may do), from the govern policy tables.
HOME_LINKS = {
    None: {"/transparency"},
    "teacher": {"/children", "/transparency"},
    "health-visitor": {"/children", "/consent", "/transparency"},
    "social-worker": {"/children", "/transparency"},
    "analyst": {"/projects/new", "/projects", "/transparency"},
    "researcher": {"/projects/new", "/projects", "/transparency"},
    "dac-member": {"/projects", "/audit", "/transparency"},
    "administrator": {
        "/link/review",
        "/projects",
        "/opt-out",
        "/opt-out/withdraw",
        "/consent",
        "/audit",
        "/transparency",
    },
    "output-checker": {"/outputs/review", "/projects", "/transparency"},
    "second-checker": {"/outputs/review", "/projects", "/transparency"},
    "parent": {"/opt-out", "/opt-out/withdraw", "/consent", "/transparency"},
}
# Pages behind a menu link whose door refuses those it is not offered to (the child search
# form is open to every signed-in role: what it finds is decided per child).
GUARDED = {
    "/projects/new",
    "/projects",
    "/opt-out",
    "/opt-out/withdraw",
    "/consent",
    "/audit",
    "/link/review",
    "/outputs/review",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> WebNode:
    return web_node(tmp_path_factory)


@pytest.fixture(scope="module")
def app(node: WebNode) -> FastAPI:
    return create_app(web_settings_for(node.node))


def _client(app: FastAPI, username: str | None) -> TestClient:
    client = TestClient(app)
    if username is not None:
        sign_in(client, username)
    return client


def _reason(response_text: str) -> str:
    found = REASON.search(response_text)
    return "" if found is None else found.group(1)


@pytest.mark.parametrize("username", list(HOME_LINKS))
def test_each_role_home_page_offers_exactly_what_the_role_may_do(
    app: FastAPI, username: str | None
) -> None:
    client = _client(app, username)
    home = client.get("/")
    assert home.status_code == 200
    offered = set(LINK.findall(home.text))
    assert offered == HOME_LINKS[username]
    for path in offered:
        assert client.get(path).status_code == 200, f"{username} offered {path} but refused"
    for path in GUARDED - offered:
        response = client.get(path, follow_redirects=False)
        if username is None:
            assert response.status_code == 303 and response.headers["location"].startswith(
                "/signin"
            )
        else:
            assert response.status_code == 403, f"{username} reached {path}"
            assert "may not" in _reason(response.text)


def _child_key(node: WebNode, upn: str, dob: str) -> str | None:
    try:
        key = identify_child(
            node.node, date_of_birth=date.fromisoformat(dob), today=date.today(), upn=upn
        )
    except UsageError:
        return None
    with duckdb.connect(str(node.node.store_path), read_only=True) as con:
        row = con.execute(
            "SELECT person_id FROM link__subject_person WHERE namespace = ? AND subject_key = ?",
            [key.namespace, key.subject_key],
        ).fetchone()
    return None if row is None else str(row[0])


def _find_pupil(node: WebNode, *, at_school: bool) -> tuple[dict[str, str], str]:
    urn = node.organisation_code("teacher")
    with duckdb.connect(str(node.node.store_path), read_only=True) as con:
        on_roll = {
            str(r[0])
            for r in con.execute(
                "SELECT person_id FROM store__enrolment WHERE urn = ? AND census_date = "
                "(SELECT max(census_date) FROM store__enrolment)",
                [int(urn)],
            ).fetchall()
        }
    for row in pupils(node.extracts):
        if (row["urn"] == urn) != at_school:
            continue
        person = _child_key(node, row["upn"], row["dob"])
        if person is not None and (person in on_roll) == at_school:
            return row, person
    raise AssertionError("the simulated district has no such pupil")


def _search(client: TestClient, row: dict[str, str]) -> tuple[int, str]:
    response = client.post(
        "/children",
        data={
            "identifier_kind": "upn",
            "identifier": row["upn"],
            "date_of_birth": row["dob"],
            "csrf_token": csrf_token(client, "/children"),
        },
    )
    return response.status_code, response.text


def _last_event(node: WebNode) -> object:
    with open_govern(node.node) as con:
        return read_events(con, last=1)[0]


def test_a_teacher_sees_a_pupil_of_their_school_and_the_view_is_audited(
    app: FastAPI, node: WebNode
) -> None:
    row, person = _find_pupil(node, at_school=True)
    client = _client(app, "teacher")
    status, page = _search(client, row)
    assert status == 200
    assert "legitimate relationship: on_roll" in page
    assert "Timeline" in page and 'class="source source--education"' in page
    for identifier in (row["upn"], row["surname"], row["forename"], row["dob"]):
        assert identifier not in page  # the record shows store facts, never an identifier
    event = _last_event(node)
    assert (event.actor_id, event.action, event.outcome) == ("teacher", "read", "allow")
    assert event.person_id == person and event.purpose == "direct_care"
    assert client.get(f"/children/{person}").status_code == 200


def test_a_teacher_is_refused_a_child_of_another_school_with_the_reason(
    app: FastAPI, node: WebNode
) -> None:
    row, person = _find_pupil(node, at_school=False)
    client = _client(app, "teacher")
    status, page = _search(client, row)
    assert status == 403
    assert "no legitimate relationship" in _reason(page)
    event = _last_event(node)
    assert (event.actor_id, event.outcome, event.person_id) == ("teacher", "deny", person)
    direct = client.get(f"/children/{person}")
    assert direct.status_code == 403 and "no legitimate relationship" in _reason(direct.text)


def test_break_glass_opens_a_record_with_a_reason_and_raises_an_alert(
    app: FastAPI, node: WebNode
) -> None:
    _, person = _find_pupil(node, at_school=False)
    client = _client(app, "teacher")
    refused = client.get(f"/children/{person}")
    assert refused.status_code == 403 and "Break glass and open the record" in refused.text
    path = f"/children/{person}/break-glass"
    short = client.post(path, data={"reason": "urgent", "csrf_token": csrf_token(client, "/")})
    assert short.status_code == 403 and "at least 20 characters" in _reason(short.text)
    reason = "Child presented with injuries at breakfast club; need history now"
    opened = client.post(path, data={"reason": reason, "csrf_token": csrf_token(client, "/")})
    assert opened.status_code == 200 and "Emergency access (break-glass)" in opened.text
    event = _last_event(node)
    assert event.break_glass and event.alert_id and event.person_id == person
    assert reason not in str(event.as_dict())  # the typed reason is kept with the alert only
    # a researcher gets no break-glass form and cannot break glass
    researcher = _client(app, "researcher")
    assert "Break glass" not in researcher.get(f"/children/{person}").text
    denied = researcher.post(
        path, data={"reason": reason, "csrf_token": csrf_token(researcher, "/")}
    )
    assert denied.status_code == 403


def test_a_search_that_finds_no_child_is_recorded(app: FastAPI, node: WebNode) -> None:
    row, _ = _find_pupil(node, at_school=True)
    client = _client(app, "teacher")
    status, page = _search(client, {**row, "dob": "2001-01-01"})
    assert status == 404 and "No child with these details" in page
    event = _last_event(node)
    assert (event.actor_id, event.action, event.outcome) == ("teacher", "read", "deny")
    assert event.person_id is None


def test_a_researcher_may_never_see_a_childs_identifiable_record(
    app: FastAPI, node: WebNode
) -> None:
    _, person = _find_pupil(node, at_school=True)
    response = _client(app, "researcher").get(f"/children/{person}")
    assert response.status_code == 403
    assert "may not use L0 data for direct_care" in _reason(response.text)


def _apply(client: TestClient, title: str) -> str:
    ends = (datetime.now(UTC).date() + timedelta(days=700)).isoformat()
    response = client.post(
        "/projects/new",
        data={
            "csrf_token": csrf_token(client, "/projects/new"),
            "title": title,
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
        follow_redirects=False,
    )
    assert response.status_code == 303, _reason(response.text) or response.text[-400:]
    return response.headers["location"]


def test_project_application_dac_review_countersignature_and_public_register(
    app: FastAPI,
) -> None:
    researcher = _client(app, "researcher")
    project_path = _apply(researcher, "Missed by early help")
    assert (
        "awaiting" in researcher.get(project_path).text
        or "reviews" in researcher.get(project_path).text
    )
    # not yet public
    assert "Missed by early help" not in TestClient(app).get("/transparency").text
    for member in ("dac-member", "dac-lay-member"):
        dac = _client(app, member)
        page = dac.get(project_path).text
        assert "Your review" in page
        response = dac.post(
            f"{project_path}/review",
            data={"decision": "approve", "csrf_token": csrf_token(dac, project_path)},
            follow_redirects=False,
        )
        assert response.status_code == 303
    # DAC-approved but not countersigned: still not public
    assert "Missed by early help" not in TestClient(app).get("/transparency").text
    admin = _client(app, "administrator")
    assert "Countersign for the node" in admin.get(project_path).text
    admin.post(f"{project_path}/countersign", data={"csrf_token": csrf_token(admin, "/")})
    assert "Active" in admin.get(project_path).text
    public = TestClient(app).get("/transparency")
    assert public.status_code == 200 and "Missed by early help" in public.text
    # the children included, in plain words, for the DAC and the public alike
    assert "born from January 2015 to December 2020" in public.text
    assert "born from January 2015 to December 2020" in admin.get(project_path).text
    # a researcher may not review, a DAC member may not apply
    refused = researcher.post(
        f"{project_path}/review",
        data={"decision": "approve", "csrf_token": csrf_token(researcher, "/")},
    )
    assert refused.status_code == 403 and "may not review_project" in _reason(refused.text)


def test_an_incomplete_application_is_shown_back_with_what_is_missing(app: FastAPI) -> None:
    client = _client(app, "researcher")
    response = client.post(
        "/projects/new",
        data={"csrf_token": csrf_token(client, "/projects/new"), "title": "x", "expires_on": ""},
    )
    assert response.status_code == 400
    assert "The application was not recorded" in response.text


@pytest.mark.parametrize(
    ("cohort_spec", "message"),
    [
        ("", "the cohort is empty"),
        ("{born: 2015}", "the cohort is not valid JSON (line 1, column 2"),
        ('{"has_event": {"table": "nursery"}}', "cohort.has_event.table: must be one of"),
        ('{"age": {"at": "2025-08-31", "min": 9, "max": 4}}', "cohort.age: min is above max"),
    ],
)
def test_a_bad_cohort_is_shown_back_naming_the_field(
    app: FastAPI, cohort_spec: str, message: str
) -> None:
    client = _client(app, "researcher")
    ends = (datetime.now(UTC).date() + timedelta(days=700)).isoformat()
    response = client.post(
        "/projects/new",
        data={
            "csrf_token": csrf_token(client, "/projects/new"),
            "title": "A bad cohort",
            "purpose": "research",
            "lay_summary": "s",
            "public_benefit": "b",
            "legal_basis": "6(1)(e)+9(2)(j)+s251",
            "datasets": "view__secondary__person",
            "variables": "view__secondary__person.sex",
            "cohort": "some children",
            "cohort_spec": cohort_spec,
            "setting": "jobs",
            "outputs": "o",
            "expires_on": ends,
        },
    )
    assert response.status_code == 400
    assert "The application was not recorded" in response.text
    assert str(escape(message)) in response.text
    assert str(escape(cohort_spec)) in response.text  # kept for correcting


def test_every_problem_of_the_application_is_shown_at_once_with_what_was_typed(
    app: FastAPI,
) -> None:
    client = _client(app, "researcher")
    response = client.post(
        "/projects/new",
        data={
            "csrf_token": csrf_token(client, "/projects/new"),
            "title": "",
            "purpose": "research",
            "lay_summary": "How children fare after moving school",
            "public_benefit": "",
            "legal_basis": "6(1)(e)+9(2)(j)+s251",
            "datasets": "view__secondary__person",
            "variables": "view__secondary__person.sex",
            "cohort": "",
            "cohort_spec": '{"age": {"at": "2025-08-31", "min": 9, "max": 4}}',
            "setting": "jobs",
            "outputs": "tables",
            "expires_on": "next year",
        },
    )
    assert response.status_code == 400
    text = response.text
    assert "The application was not recorded" in text
    for problem in (
        "cohort.age: min is above max",
        "write the end date as YYYY-MM-DD",
        "title is empty",
        "public benefit is empty",
        "cohort is empty",
    ):
        assert str(escape(problem)) in text.split("<ul>", 1)[1].split("</ul>", 1)[0], problem
    assert "give the cohort spec" not in text  # the unreadable spec is told once, as it is
    assert "expiry must be after today" not in text  # as is the unreadable date
    assert "How children fare after moving school" in text and "next year" in text
    assert str(escape('{"age": {"at": "2025-08-31", "min": 9, "max": 4}}')) in text


def _young_patient(node: WebNode) -> dict[str, str]:
    today = date.today()
    with (node.extracts / "gp_events" / "patients.csv").open() as handle:
        for row in csv.DictReader(handle):
            born = date.fromisoformat(row["dob"])
            if 1 <= (today - born).days // 365 <= 10:
                return row
    raise AssertionError("no young patient in the simulated district")


def test_a_parent_opts_a_child_out_and_the_register_keeps_no_identifier(
    app: FastAPI, node: WebNode
) -> None:
    child = _young_patient(node)
    client = _client(app, "parent")
    response = client.post(
        "/opt-out",
        data={
            "csrf_token": csrf_token(client, "/opt-out"),
            "identifier_kind": "nhs_number",
            "identifier": child["nhs_number"],
            "date_of_birth": child["dob"],
            "requested_by": "parent",
        },
    )
    assert response.status_code == 200 and "Your choice is recorded" in response.text
    assert child["nhs_number"] not in response.text
    with open_govern(node.node) as con:
        rows = con.execute("SELECT * FROM govern__dissent").fetchall()
    assert rows and not any(child["nhs_number"] in str(r) for r in rows)
    bad = client.post(
        "/opt-out",
        data={
            "csrf_token": csrf_token(client, "/opt-out"),
            "identifier_kind": "nhs_number",
            "identifier": "1234567890",
            "date_of_birth": child["dob"],
            "requested_by": "parent",
        },
    )
    assert bad.status_code == 400 and "not valid" in bad.text


def test_a_parent_withdraws_an_opt_out_and_it_is_audited(app: FastAPI, node: WebNode) -> None:
    child = _young_patient(node)
    client = _client(app, "parent")
    form = {
        "identifier_kind": "nhs_number",
        "identifier": child["nhs_number"],
        "date_of_birth": child["dob"],
        "requested_by": "parent",
    }
    opted = client.post("/opt-out", data={**form, "csrf_token": csrf_token(client, "/opt-out")})
    assert opted.status_code == 200
    page = "/opt-out/withdraw"
    done = client.post(page, data={**form, "csrf_token": csrf_token(client, page)})
    assert done.status_code == 200 and "Your opt-out is withdrawn" in done.text
    assert child["nhs_number"] not in done.text
    # nothing left in force for this child: a second withdrawal says so
    again = client.post(page, data={**form, "csrf_token": csrf_token(client, page)})
    assert again.status_code == 400 and "no opt-out is in force" in again.text
    with open_govern(node.node) as con:
        withdrawals = con.execute("SELECT * FROM govern__dissent_withdrawals").fetchall()
        events = con.execute(
            "SELECT outcome FROM audit__events WHERE action = 'withdraw_optout' "
            "AND actor_id = 'parent' AND outcome = 'allow'"
        ).fetchall()
    assert len(withdrawals) == 1 and not any(child["nhs_number"] in str(r) for r in withdrawals)
    assert len(events) >= 4  # two page views and two posts, each decided and recorded
    # a teacher may not withdraw a family's opt-out
    teacher = _client(app, "teacher")
    refused = teacher.get(page)
    assert refused.status_code == 403 and "may not withdraw_optout" in _reason(refused.text)


def test_consent_to_contact_is_recorded_for_the_child(app: FastAPI, node: WebNode) -> None:
    child = _young_patient(node)
    client = _client(app, "parent")
    form = {
        "identifier_kind": "nhs_number",
        "identifier": child["nhs_number"],
        "date_of_birth": child["dob"],
        "level": "amber",
        "given_by": "parent",
    }
    unread = client.post("/consent", data={**form, "csrf_token": csrf_token(client, "/consent")})
    assert unread.status_code == 400 and "information sheet" in unread.text
    done = client.post(
        "/consent",
        data={**form, "read_sheet": "yes", "csrf_token": csrf_token(client, "/consent")},
    )
    assert done.status_code == 200 and "Your answer is recorded: amber" in done.text


def test_the_audit_log_shows_refusals_and_an_intact_chain(app: FastAPI) -> None:
    _client(app, "teacher").get("/audit")  # a refusal to find
    page = _client(app, "administrator").get("/audit?outcome=deny")
    assert page.status_code == 200
    assert "The chain is intact" in page.text
    assert "a teacher may not read_audit" in page.text
    admin = _client(app, "administrator")
    assert "public information is open to everyone" not in admin.get("/audit").text
    assert "public information is open to everyone" in admin.get("/audit?public=yes").text
