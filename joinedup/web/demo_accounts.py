"""Demo accounts: one actor per role, registered in governance, each with a web sign-in.

Used only by ``joinedup demo`` and the tests. Each actor is tied to a real organisation of the
demo node's store, so each role has something real to see: the teacher to the school with most
pupils on roll, the health visitor to the GP practice with most registered children, the social
worker to the local authority's children's social care team.

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
from joinedup.web.auth import AccountCreate, AccountStore


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
