"""Legitimate relationships for direct care, derived from the linked store.

An actor may see a child's identifiable record for direct care only when the actor's
organisation serves the child, as the data themselves show:

============== ===================================================== ==========================
organisation   relationship                                          table
============== ===================================================== ==========================
school         on roll at the school (its URN) at the latest census  store__enrolment
academy trust  on roll at one of the trust's schools                 store__enrolment
GP practice    an open registration at the practice (ODS code)       store__gp_registration
NHS trust      admitted to the trust (provider code)                 store__admission
LA team        an open CIN episode or child protection plan, or      store__social_care_episode,
               looked after now (the CIN census names no team, so    store__cla_episode
               an LA team serves every open case in its authority)
police, VCSE   none derivable: access only by break-glass
============== ===================================================== ==========================

Invariants: queries bind the person id and the organisation's code; nothing is returned but
the kind of relationship found.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from joinedup.govern.model import Actor, OrgKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Relationship:
    kind: str  # on_roll, registered, admitted, open_case
    table: str


def _exists(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> bool:
    try:
        row = con.execute(f"SELECT EXISTS ({sql})", params).fetchone()
    except duckdb.CatalogException:
        return False  # the store has not been refreshed yet
    return bool(row and row[0])


def find_relationship(
    con: duckdb.DuckDBPyConnection | None, actor: Actor, person_id: str
) -> Relationship | None:
    """The relationship between the actor's organisation and the child, if the store shows one."""
    if con is None:
        return None
    org = actor.org
    latest_census = (
        "SELECT 1 FROM store__enrolment WHERE person_id = ? AND urn IN ({}) "
        "AND census_date = (SELECT max(census_date) FROM store__enrolment)"
    )
    if org.kind is OrgKind.SCHOOL and org.code is not None and org.code.isdigit():
        if _exists(con, latest_census.format("?"), [person_id, int(org.code)]):
            return Relationship(kind="on_roll", table="store__enrolment")
    elif org.kind is OrgKind.ACADEMY_TRUST and org.urns:
        marks = ", ".join("?" for _ in org.urns)
        if _exists(con, latest_census.format(marks), [person_id, *org.urns]):
            return Relationship(kind="on_roll", table="store__enrolment")
    elif org.kind is OrgKind.GP_PRACTICE and org.code:
        if _exists(
            con,
            "SELECT 1 FROM store__gp_registration WHERE person_id = ? AND practice_code = ? "
            "AND registration_end IS NULL",
            [person_id, org.code],
        ):
            return Relationship(kind="registered", table="store__gp_registration")
    elif org.kind is OrgKind.NHS_TRUST and org.code:
        if _exists(
            con,
            "SELECT 1 FROM store__admission WHERE person_id = ? AND procode = ?",
            [person_id, org.code],
        ):
            return Relationship(kind="admitted", table="store__admission")
    elif org.kind is OrgKind.LA_TEAM:
        if _exists(
            con,
            "SELECT 1 FROM store__social_care_episode WHERE person_id = ? AND end_date IS NULL "
            "AND episode_type IN ('cin_referral', 'child_protection_plan')",
            [person_id],
        ):
            return Relationship(kind="open_case", table="store__social_care_episode")
        if _exists(
            con,
            "SELECT 1 FROM store__cla_episode WHERE person_id = ? AND end_date IS NULL",
            [person_id],
        ):
            return Relationship(kind="open_case", table="store__cla_episode")
    return None
