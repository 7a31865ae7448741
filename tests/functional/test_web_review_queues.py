"""The two review queues on the web app, end to end through TestClient, govern and the real
node of ``web_node``: clerical linkage review (``/link/review``, node administrators) and output
review (``/outputs/review``, two independent output checkers)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import duckdb
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from web_node import WebNode, csrf_token, sign_in, web_node

from joinedup.cli.main import main
from joinedup.config import NodeSettings
from joinedup.govern.audit import AuditEvent, read_events
from joinedup.govern.database import open_govern
from joinedup.link.review import (
    ItemState,
    ReviewPair,
    create_review_tables,
    item_id_for,
    queue_pairs,
    review_counts,
)
from joinedup.outputs.node import open_ledger, open_output_session, release_dir
from joinedup.outputs.review import list_queue, read_queue_page
from joinedup.web import create_app, web_settings_for
from joinedup.web.demo_accounts import seed_demo_review_queues

REASON = re.compile(r'<p class="reason">(.*?)</p>', re.S)
PROJECT = "PRJ-WEB"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> WebNode:
    return web_node(tmp_path_factory)


@pytest.fixture(scope="module")
def app(node: WebNode) -> FastAPI:
    return create_app(web_settings_for(node.node))


def _client(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    sign_in(client, username)
    return client


def _reason(text: str) -> str:
    found = REASON.search(text)
    return "" if found is None else found.group(1)


def _events_since(node: NodeSettings, seq: int) -> list[AuditEvent]:
    with open_govern(node) as con:
        return [e for e in read_events(con) if e.seq > seq]


def _last_seq(node: NodeSettings) -> int:
    with open_govern(node) as con:
        events = read_events(con, last=1)
    return events[0].seq if events else 0


# ---------------------------------------------------------------- clerical linkage review


@pytest.fixture(scope="module")
def pairs(node: WebNode) -> dict[str, str]:
    """Three queued items: two records of different persons (``apart``), two of one person
    (``together``), and a pair with a record reloaded since (``stale``)."""
    con = duckdb.connect(str(node.node.store_path))
    try:
        create_review_tables(con)
        persons = con.execute(
            "SELECT person_id, list(record_key ORDER BY record_key) FROM link__record_person "
            "GROUP BY person_id HAVING count(*) > 1 ORDER BY person_id LIMIT 2"
        ).fetchall()
        (_, first), (_, second) = persons
        apart = (first[0], second[0])
        together = (first[0], first[1])
        stale = (second[1], "record-reloaded-since")
        queue_pairs(
            con,
            [
                ReviewPair(record_key_a=a, record_key_b=b, match_probability=p)
                for (a, b), p in ((apart, 0.62), (together, 0.55), (stale, 0.5))
            ],
            stage="web-test",
            rule="grey_zone",
        )
    finally:
        con.close()
    return {
        "apart": item_id_for(*apart),
        "together": item_id_for(*together),
        "stale": item_id_for(*stale),
    }


def test_the_queue_lists_items_with_counts_by_state(
    app: FastAPI, node: WebNode, pairs: dict[str, str]
) -> None:
    counts = review_counts(node.node)
    assert counts[ItemState.STALE] >= 1 and counts[ItemState.OPEN] >= 2
    client = _client(app, "administrator")
    page = client.get("/link/review")
    assert page.status_code == 200
    assert pairs["apart"] in page.text and pairs["together"] in page.text
    assert pairs["stale"] not in page.text  # open items only, by default
    stale = client.get("/link/review?state=stale")
    assert pairs["stale"] in stale.text
    assert client.get("/link/review?state=nonsense").status_code == 400
    assert "Linkage review" in client.get("/").text  # offered on the administrator's home page


def test_the_queue_pages(app: FastAPI, node: WebNode, pairs: dict[str, str]) -> None:
    from joinedup.web.routers import link_review

    total = sum(review_counts(node.node).values())
    page = _client(app, "administrator").get("/link/review?state=all&page=1")
    pages = max(1, -(-total // link_review.PAGE_SIZE))
    assert f"page 1 of {pages}" in page.text
    beyond = _client(app, "administrator").get(f"/link/review?state=all&page={pages + 1}")
    assert beyond.status_code == 404 and f"There is no page {pages + 1}" in beyond.text
    bad = _client(app, "administrator").get("/link/review?page=last")
    assert bad.status_code == 400 and "page must be a whole number" in bad.text


def test_an_item_shows_the_pair_de_identified_with_differences_highlighted(
    app: FastAPI, node: WebNode, pairs: dict[str, str]
) -> None:
    page = _client(app, "administrator").get(f"/link/review/{pairs['apart']}")
    assert page.status_code == 200
    assert 'class="differs"' in page.text
    assert "two persons" in page.text
    assert "No decision on this pair yet." in page.text  # the first look at it
    # no name, number or address of either record is on the page
    with duckdb.connect(str(node.node.vault_path), read_only=True) as con:
        keys = con.execute(
            "SELECT given_name, family_name, nhs_number, upn, address FROM vault__identities "
            "WHERE record_key IN (SELECT record_key_a FROM vault__review_log WHERE item_id = ?)",
            [pairs["apart"]],
        ).fetchall()
    assert keys
    # the page's own content, without the header that names the signed-in reviewer
    content = page.text.split("<main", 1)[1].split("</main>", 1)[0]
    for value in keys[0]:
        if value and len(str(value)) > 3:
            assert not re.search(rf"\b{re.escape(str(value))}\b", content), "an identifier is shown"
    with duckdb.connect(str(node.node.vault_path), read_only=True) as con:
        logged = con.execute(
            "SELECT reviewer, action FROM vault__review_log WHERE item_id = ?", [pairs["apart"]]
        ).fetchall()
    assert ("administrator", "compare") in logged


def test_a_decision_is_recorded_audited_and_its_state_follows_the_index(
    app: FastAPI, node: WebNode, pairs: dict[str, str]
) -> None:
    client = _client(app, "administrator")
    path = f"/link/review/{pairs['apart']}"
    before = _last_seq(node.node)
    unchosen = client.post(path, data={"note": "", "csrf_token": csrf_token(client, path)})
    assert unchosen.status_code == 400
    assert "choose match, non-match or unsure" in unchosen.text
    done = client.post(
        path,
        data={
            "decision": "match",
            "note": "same family name, one digit apart",
            "csrf_token": csrf_token(client, path),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"])
    assert "Decision recorded: match" in shown.text
    assert "decided" in shown.text  # recorded, applied at the next refresh
    events = _events_since(node.node, before)
    assert events and all(
        e.action == "administer_node" and e.resource_name == "link review" for e in events
    )
    assert all(e.actor_id == "administrator" for e in events)
    with duckdb.connect(str(node.node.vault_path), read_only=True) as con:
        row = con.execute(
            "SELECT reviewer, decision, note FROM vault__review_log "
            "WHERE item_id = ? AND action = 'decide'",
            [pairs["apart"]],
        ).fetchone()
    assert row == ("administrator", "match", "same family name, one digit apart")
    # two records of one person decided the same: the index already agrees
    together = f"/link/review/{pairs['together']}"
    client.post(together, data={"decision": "match", "csrf_token": csrf_token(client, together)})
    assert "applied" in client.get(together).text
    counts = review_counts(node.node)
    assert counts[ItemState.APPLIED] >= 1 and counts[ItemState.DECIDED] >= 1


@pytest.mark.parametrize("username", ["analyst", "output-checker", "teacher"])
def test_other_roles_are_refused_the_linkage_review_and_it_is_audited(
    app: FastAPI, node: WebNode, pairs: dict[str, str], username: str
) -> None:
    client = _client(app, username)
    before = _last_seq(node.node)
    for path in ("/link/review", f"/link/review/{pairs['apart']}"):
        page = client.get(path)
        assert page.status_code == 403
        assert "may not administer_node: only node_administrator" in _reason(page.text)
    events = _events_since(node.node, before)
    assert len(events) == 2 and all(e.outcome == "deny" for e in events)
    assert all(e.resource_name == "link review" for e in events)


def test_the_cli_keeps_a_note_with_a_decision(node: WebNode, pairs: dict[str, str]) -> None:
    root = str(node.node.root)
    args = ["link", "review", root, "--reviewer", "Ada", "--list"]
    assert main([*args, "--decide", f"{pairs['stale']}=unsure", "--note", "reloaded"], {}) == 0
    with duckdb.connect(str(node.node.vault_path), read_only=True) as con:
        row = con.execute(
            "SELECT note FROM vault__review_log WHERE item_id = ? AND action = 'decide'",
            [pairs["stale"]],
        ).fetchone()
    assert row == ("reloaded",)


def test_an_item_shows_its_earlier_decisions_newest_first_with_their_notes(
    app: FastAPI, node: WebNode, pairs: dict[str, str]
) -> None:
    client = _client(app, "administrator")
    path = f"/link/review/{pairs['stale']}"
    cli = ["link", "review", str(node.node.root), "--reviewer", "Ada", "--list"]
    assert main([*cli, "--decide", f"{pairs['stale']}=unsure", "--note", "older look"], {}) == 0
    client.post(
        path,
        data={
            "decision": "non-match",
            "note": "newer look",
            "csrf_token": csrf_token(client, path),
        },
    )
    page = client.get(path).text
    history = page.split("<h2>Earlier decisions</h2>", 1)[1].split("<h2>", 1)[0]
    assert '<th scope="col">Note</th>' in history
    newer, older = history.index("newer look"), history.index("older look")
    assert newer < older  # newest first
    assert "administrator" in history and "Ada" in history and "non-match" in history


def _hold_the_store(path: str) -> subprocess.Popen[str]:
    """Another process holding the store read-write, as ``joinedup node refresh`` does."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_the_linkage_review_says_the_node_is_refreshing_while_the_store_is_locked(
    app: FastAPI, node: WebNode, pairs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from joinedup.govern import database

    # every page's policy session waits this long for the store before it gives up
    monkeypatch.setattr(database, "_BUSY_RETRY_SECONDS", 0.2)
    client = _client(app, "administrator")
    path = f"/link/review/{pairs['together']}"
    token = csrf_token(client, path)
    holder = _hold_the_store(str(node.node.store_path))
    try:
        for page in (client.get("/link/review"), client.get(path)):
            assert page.status_code == 503, _reason(page.text)
            assert page.headers["retry-after"] == "120"
            assert (
                "The node is refreshing" in page.text and "try again in a few minutes" in page.text
            )
        refused = client.post(path, data={"decision": "match", "csrf_token": token})
        assert refused.status_code == 503
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert client.get("/link/review").status_code == 200  # the refresh is over
    # a write connection held in this process (another mode than the page's read-only one)
    held = duckdb.connect(str(node.node.store_path))
    try:
        assert client.get("/link/review").status_code == 503
    finally:
        held.close()


def test_viewing_the_linkage_review_opens_the_store_read_only(
    app: FastAPI, node: WebNode, pairs: dict[str, str]
) -> None:
    # two read-only processes may share the store: a reader elsewhere does not block the page
    reader = duckdb.connect(str(node.node.store_path), read_only=True)
    try:
        client = _client(app, "administrator")
        assert client.get("/link/review").status_code == 200
        assert client.get(f"/link/review/{pairs['together']}").status_code == 200
    finally:
        reader.close()


# ---------------------------------------------------------------- output review


def _queue_text(node: NodeSettings, name: str, requested_by: str = "analyst") -> str:
    with open_ledger(node) as con:
        session = open_output_session(node, con, project_id=PROJECT, actor=requested_by)
        out = session.text(name, "Attendance rose after the programme began.")
    assert out.status == "pending_review"
    return out.release_id


def _vote(client: TestClient, release_id: str, vote: str, reason: str = "checked") -> object:
    path = f"/outputs/review/{release_id}"
    return client.post(
        path,
        data={"vote": vote, "reason": reason, "csrf_token": csrf_token(client, path)},
        follow_redirects=False,
    )


def test_two_checkers_release_an_output_and_a_second_vote_is_refused(
    app: FastAPI, node: WebNode
) -> None:
    rid = _queue_text(node.node, "web-finding.md")
    first, second = _client(app, "output-checker"), _client(app, "second-checker")
    queue = first.get("/outputs/review")
    assert queue.status_code == 200 and rid in queue.text
    item = first.get(f"/outputs/review/{rid}")
    assert item.status_code == 200
    assert "Attendance rose after the programme began." in item.text  # the text to check
    assert "Disclosure-control record" in item.text and "Record the vote" in item.text
    unreasoned = _vote(first, rid, "approve", reason=" ")
    assert unreasoned.status_code == 400 and "give a reason" in unreasoned.text
    assert _vote(first, rid, "approve", "no identifiers, no small numbers").status_code == 303
    assert "1 of 2 approvals" in first.get(f"/outputs/review/{rid}").text
    assert not (release_dir(node.node, PROJECT) / "web-finding.md").exists()
    before = _last_seq(node.node)
    again = _vote(first, rid, "approve")
    assert again.status_code == 403  # type: ignore[attr-defined]
    assert "a second, independent checker is needed" in _reason(again.text)  # type: ignore[attr-defined]
    refused = _events_since(node.node, before)
    assert [e.rule for e in refused if e.outcome == "deny"] == ["output-review:second-vote"]
    assert refused[-1].resource_name == rid and refused[-1].actor_id == "output-checker"
    assert _vote(second, rid, "approve", "agree: safe").status_code == 303
    page = second.get(f"/outputs/review/{rid}").text
    assert "Released: 2 of 2 approvals" in page
    assert (release_dir(node.node, PROJECT) / "web-finding.md").exists()


def test_self_review_is_refused_and_audited(app: FastAPI, node: WebNode) -> None:
    rid = _queue_text(node.node, "own-finding.md", requested_by="output-checker")
    client = _client(app, "output-checker")
    item = client.get(f"/outputs/review/{rid}")
    assert "You cannot vote on this output" in item.text and "Record the vote" not in item.text
    before = _last_seq(node.node)
    refused = _vote(client, rid, "approve")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "no self-review" in _reason(refused.text)  # type: ignore[attr-defined]
    events = _events_since(node.node, before)
    assert [e.rule for e in events if e.outcome == "deny"] == ["output-review:self-review"]
    with open_ledger(node.node) as con:
        still = [i for i in list_queue(con) if i.release_id == rid]
    assert still and still[0].approvals == ()
    # the terminal refuses and records it the same way
    before = _last_seq(node.node)
    root = str(node.node.root)
    assert main(["output", "approve", root, rid, "--as", "output-checker"], {}) == 3
    events = _events_since(node.node, before)
    assert [e.rule for e in events if e.outcome == "deny"] == ["output-review:self-review"]


def test_a_rejection_keeps_the_output_inside(app: FastAPI, node: WebNode) -> None:
    rid = _queue_text(node.node, "vague-finding.md")
    client = _client(app, "second-checker")
    assert _vote(client, rid, "reject", "too vague to check").status_code == 303
    page = client.get(f"/outputs/review/{rid}").text
    assert "Rejected" in page and "too vague to check" in page
    assert not (release_dir(node.node, PROJECT) / "vague-finding.md").exists()


@pytest.mark.parametrize("username", ["administrator", "analyst", "researcher"])
def test_other_roles_are_refused_the_output_review_and_it_is_audited(
    app: FastAPI, node: WebNode, username: str
) -> None:
    rid = _queue_text(node.node, f"finding-for-{username}.md")
    client = _client(app, username)
    token = csrf_token(client, "/")
    before = _last_seq(node.node)
    for path in ("/outputs/review", f"/outputs/review/{rid}"):
        page = client.get(path)
        assert page.status_code == 403
        assert "may not review_output: only output_checker" in _reason(page.text)
    form = {"vote": "approve", "reason": "x", "csrf_token": token}
    refused = client.post(f"/outputs/review/{rid}", data=form)
    assert refused.status_code == 403
    events = _events_since(node.node, before)
    assert len(events) == 3 and all(e.outcome == "deny" for e in events)
    assert [e.resource_name for e in events] == ["queue", rid, rid]


def test_the_demo_seeds_both_queues_once(node: WebNode) -> None:
    first = seed_demo_review_queues(node.node)
    again = seed_demo_review_queues(node.node)
    assert first.outputs == 1 and again.outputs == 0


def test_page_times_on_the_test_node(app: FastAPI, pairs: dict[str, str]) -> None:
    # an informal figure for the record (printed with -s); the bound only catches a blow-up
    admin, checker = _client(app, "administrator"), _client(app, "output-checker")
    for client, path in (
        (admin, "/link/review"),
        (admin, f"/link/review/{pairs['together']}"),
        (checker, "/outputs/review"),
    ):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        took = time.perf_counter() - started
        print(f"{path}: {took * 1000:.0f} ms")
        assert took < 10


def test_the_output_queue_pages_and_filters_by_state(app: FastAPI, node: WebNode) -> None:
    # last in the file: it fills the queue with more than a page of outputs
    from joinedup.outputs.review import ReviewState, submit_for_review
    from joinedup.web.routers import output_review

    # one output released here, so the test does not rest on the order tests run in
    rid = _queue_text(node.node, "paging-released.md")
    assert _vote(_client(app, "output-checker"), rid, "approve").status_code == 303
    assert _vote(_client(app, "second-checker"), rid, "approve").status_code == 303
    with open_ledger(node.node) as con:
        for n in range(output_review.PAGE_SIZE + 3):
            submit_for_review(
                con,
                release_id=f"paging-{n:03d}",
                project_id=PROJECT,
                requested_by="analyst",
                why="free text",
            )
        counts = read_queue_page(con).counts
    pending = counts[ReviewState.PENDING]
    pages = -(-pending // output_review.PAGE_SIZE)
    assert pages >= 2
    client = _client(app, "output-checker")
    first = client.get("/outputs/review")
    assert first.status_code == 200
    assert f"page 1 of {pages}" in first.text and "Next page" in first.text
    assert first.text.count('<a href="/outputs/review/') == output_review.PAGE_SIZE
    last = client.get(f"/outputs/review?state=pending&page={pages}")
    assert "paging-027" in last.text and "Previous page" in last.text
    beyond = client.get(f"/outputs/review?page={pages + 5}")
    assert beyond.status_code == 404
    assert f"There is no page {pages + 5}" in beyond.text and f"has {pages} pages" in beyond.text
    bad = client.get("/outputs/review?page=two")
    assert bad.status_code == 400 and "page must be a whole number" in bad.text
    released = client.get("/outputs/review?state=released")
    assert released.status_code == 200 and "paging-000" not in released.text
    assert counts[ReviewState.RELEASED] >= 1
    released_count = counts[ReviewState.RELEASED]
    assert f"{released_count} output{'s' if released_count > 1 else ''} released" in released.text
    assert client.get("/outputs/review?state=nonsense").status_code == 400
    everything = client.get("/outputs/review?show=all")  # the older spelling of state=all
    assert "in the queue" in everything.text
