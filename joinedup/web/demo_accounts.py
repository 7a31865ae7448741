"""Demo accounts: one actor per role, registered in governance, each with a web sign-in.

Used only by ``joinedup demo`` and the tests. Each actor is tied to a real organisation of the
demo node's store, so each role has something real to see: the teacher to the school with most
pupils on roll, the health visitor to the GP practice with most registered children, the social
worker to the local authority's children's social care team. Two output checkers let a demo
user see the output-review queue's two-checker rule, and ``seed_demo_review_queues`` gives both
review queues something to review: the person index's own doubtful pairs, and one free-text
finding the analyst asks to release.

Invariants: the username is the actor id; passwords are random unless given, printed once by
the demo and kept only as argon2 hashes; an existing actor or account is never replaced.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from joinedup.config import NodeSettings
from joinedup.govern import Actor, Organisation, OrgKind, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.database import open_govern
from joinedup.govern.model import NODE_ORG, PUBLIC_ORG
from joinedup.link.review import queue_index_items
from joinedup.outputs.node import open_ledger, open_output_session
from joinedup.outputs.review import list_queue
from joinedup.web.auth import AccountCreate, AccountStore

DEMO_PROJECT = "DEMO"
DEMO_FINDING = (
    "Early help reached more families in the districts where health visitors and schools "
    "shared a named contact; the effect was largest in the first year of school."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoLogin:
    """A demo account's username, password, role and organisation, to print."""

    username: str
    password: str
    role: str
    display_name: str
    organisation: str

    def as_dict(self) -> dict[str, str]:
        return {
            "username": self.username,
            "password": self.password,
            "role": self.role,
            "display_name": self.display_name,
            "organisation": self.organisation,
        }


def _biggest(con: duckdb.DuckDBPyConnection, sql: str) -> str | None:
    try:
        row = con.execute(sql).fetchone()
    except duckdb.CatalogException:
        return None
    return None if row is None else str(row[0])


def demo_actors(node: NodeSettings) -> list[Actor]:
    """The demo's actors, one per role a person would sign in as."""
    with duckdb.connect(str(node.store_path), read_only=True) as con:
        urn = _biggest(
            con,
            "SELECT urn FROM store__enrolment "
            "WHERE census_date = (SELECT max(census_date) FROM store__enrolment) "
            "GROUP BY urn ORDER BY count(DISTINCT person_id) DESC, urn LIMIT 1",
        )
        practice = _biggest(
            con,
            "SELECT practice_code FROM store__gp_registration WHERE registration_end IS NULL "
            "GROUP BY practice_code ORDER BY count(DISTINCT person_id) DESC, practice_code "
            "LIMIT 1",
        )
    today = datetime.now(UTC).date()
    trained = today - timedelta(days=30)
    school = Organisation(
        org_id=f"school-{urn}", kind=OrgKind.SCHOOL, name=f"School {urn}", code=urn
    )
    surgery = Organisation(
        org_id=f"gp-{practice}",
        kind=OrgKind.GP_PRACTICE,
        name=f"Practice {practice}",
        code=practice,
    )
    la = Organisation(
        org_id="la-csc", kind=OrgKind.LA_TEAM, name="Children's social care", code="CSC"
    )
    institute = Organisation(
        org_id="bihr", kind=OrgKind.NHS_TRUST, name="Institute for Health Research", code="RAE"
    )
    return [
        Actor(actor_id="teacher", display_name="Ms Taylor", role=Role.TEACHER, org=school,
              ig_training_on=trained),
        Actor(actor_id="health-visitor", display_name="Hana Hussain", role=Role.HEALTH_VISITOR,
              org=surgery, ig_training_on=trained),
        Actor(actor_id="social-worker", display_name="Sam Shah", role=Role.SOCIAL_WORKER, org=la,
              ig_training_on=trained),
        Actor(actor_id="analyst", display_name="Alex Ahmed", role=Role.NODE_ANALYST,
              org=NODE_ORG, ig_training_on=trained),
        Actor(actor_id="researcher", display_name="Dr Rita Reid", role=Role.RESEARCHER,
              org=institute, ig_training_on=trained, accredited_until=today + timedelta(days=365)),
        Actor(actor_id="dac-member", display_name="Dev Chauhan", role=Role.DAC_MEMBER,
              org=NODE_ORG, ig_training_on=trained),
        Actor(actor_id="dac-lay-member", display_name="Lena Lord", role=Role.DAC_MEMBER,
              org=NODE_ORG, is_lay=True),
        Actor(actor_id="administrator", display_name="Ada Adams", role=Role.NODE_ADMIN,
              org=NODE_ORG, ig_training_on=trained),
        Actor(actor_id="output-checker", display_name="Olu Okafor", role=Role.OUTPUT_CHECKER,
              org=NODE_ORG, ig_training_on=trained),
        Actor(actor_id="second-checker", display_name="Priya Patel", role=Role.OUTPUT_CHECKER,
              org=NODE_ORG, ig_training_on=trained),
        Actor(actor_id="parent", display_name="Chris Clarke", role=Role.CITIZEN, org=PUBLIC_ORG),
    ]  # fmt: skip


def seed_demo_accounts(
    accounts: AccountStore, node: NodeSettings, *, password: str | None = None
) -> list[DemoLogin]:
    """Register the demo actors and give each a sign-in (``password`` for all, else random)."""
    actors = demo_actors(node)
    with open_govern(node) as con:
        for actor in actors:
            add_actor(con, actor)
    logins: list[DemoLogin] = []
    for actor in actors:
        secret = password or secrets.token_urlsafe(12)
        accounts.create(AccountCreate(username=actor.actor_id, password=secret))
        logins.append(
            DemoLogin(
                username=actor.actor_id,
                password=secret,
                role=actor.role.value,
                display_name=actor.display_name,
                organisation=actor.org.name,
            )
        )
    return logins


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoQueues:
    """What ``seed_demo_review_queues`` put in the two review queues."""

    link_items: int
    outputs: int


def seed_demo_review_queues(node: NodeSettings) -> DemoQueues:
    """Queue the index's doubtful pairs for clerical review, and one free-text finding by the
    analyst for the output checkers (once: a second run adds no second finding)."""
    link_items = queue_index_items(node)
    with open_ledger(node) as con:
        if any(i.project_id == DEMO_PROJECT for i in list_queue(con, pending_only=False)):
            return DemoQueues(link_items=link_items, outputs=0)
        session = open_output_session(node, con, project_id=DEMO_PROJECT, actor="analyst")
        session.text("finding.md", DEMO_FINDING, why="free text: a finding for the annual report")
    return DemoQueues(link_items=link_items, outputs=1)
