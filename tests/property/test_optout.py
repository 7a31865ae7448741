"""For any set of opt-outs on a simulated district: from the next refresh, and not before, every
opted-out child is absent from every ``view__secondary__*`` view and still whole in ``store__*``;
and for any part of them later withdrawn, from the refresh after the withdrawal, and not before,
the withdrawn children are back in every secondary view while the others stay out.

The district (simulated, ingested, refreshed) is built once per test process. Each example copies
the node folder, records its opt-outs through the real CLI (``joinedup optout add``) by NHS number
+ date of birth or UPN + date of birth as read from the extracts, then refreshes.

The children the test expects to be excluded are found independently of the opt-out register's
keys: from the identity vault (the records carrying that NHS number and date of birth, or that
UPN) through ``link__record_person``. So the test fails if the key the register makes does not
match the key ingest makes.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.cli.main import main
from joinedup.config import NodeSettings, load_node
from joinedup.govern import Actor, Role
from joinedup.govern.actors import add_actor
from joinedup.govern.database import open_govern
from joinedup.govern.model import PUBLIC_ORG
from joinedup.identity.checks import is_valid_nhs_number, is_valid_upn
from joinedup.ingest import ingest_dir, init_node
from joinedup.link import refresh_node
from joinedup.link.deterministic import DeterministicStage
from joinedup.store.linked import STORE_TABLES, TIMELINE_VIEW
from joinedup.store.secondary import EXCLUDED_TABLE, secondary_view_name, secondary_views

PEOPLE = 1_500
SEED = 11
AS_OF = date(2026, 8, 31)
PARENT = "parent-1"  # a registered citizen who records opt-outs for the family
POOL = 120  # candidate children of each kind, read from the extracts
VALID = {"nhs_number": is_valid_nhs_number, "upn": is_valid_upn}


@dataclass(frozen=True, slots=True, kw_only=True)
class Child:
    kind: str  # nhs_number or upn
    identifier: str
    dob: date

    @property
    def age(self) -> int:
        today = datetime.now(UTC).date()  # the CLI judges age on the real day
        return (
            today.year - self.dob.year - ((today.month, today.day) < (self.dob.month, self.dob.day))
        )

    @property
    def requested_by(self) -> str:
        return "young_person" if self.age >= 13 else "parent"


@dataclass(frozen=True, slots=True, kw_only=True)
class District:
    node: NodeSettings
    children: tuple[Child, ...]


def _read_pool(path: Path, id_column: str, kind: str) -> list[Child]:
    found: dict[tuple[str, date], Child] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            ident, dob = row[id_column].strip(), row["dob"].strip()
            if not ident or not dob or not VALID[kind](ident):
                continue  # a family gives a real identifier (the extracts carry planted noise)
            child = Child(kind=kind, identifier=ident, dob=date.fromisoformat(dob))
            found.setdefault((ident, child.dob), child)
    return sorted(found.values(), key=lambda c: (c.identifier, c.dob))[:POOL]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    base = tmp_path_factory.mktemp("optout")
    extracts = base / "extracts"
    from joinedup.simulate import SimulationSpec, simulate_district

    simulate_district(SimulationSpec(people=PEOPLE, seed=SEED, as_of=AS_OF), extracts)
    node = init_node(base / "node", name="opt-out test district")
    ingest_dir(node, extracts, today=AS_OF)
    refresh_node(node, stages=(DeterministicStage(),))
    with open_govern(node) as con:
        add_actor(
            con, Actor(actor_id=PARENT, display_name="a parent", role=Role.CITIZEN, org=PUBLIC_ORG)
        )
    children = [
        *_read_pool(extracts / "gp_events" / "patients.csv", "nhs_number", "nhs_number"),
        *_read_pool(extracts / "school_census" / "pupilonroll.csv", "upn", "upn"),
    ]
    return District(node=node, children=tuple(children))


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="optout-") as folder:
        yield Path(folder)


def _copy(district: District, into: Path) -> NodeSettings:
    target = into / "node"
    shutil.copytree(district.node.root, target)
    return load_node(target)


def _opt_out(
    node: NodeSettings, child: Child, requested_by: str | None = None, command: str = "add"
) -> int:
    flag = "--nhs-number" if child.kind == "nhs_number" else "--upn"
    args = ["optout", command, str(node.root), "--dob", child.dob.isoformat()]
    args += ["--requested-by", requested_by or child.requested_by, flag, child.identifier]
    return main([*args, "--as", PARENT], {})


def _expected_persons(node: NodeSettings, children: list[Child]) -> set[str]:
    """Person ids of the records carrying each child's identifiers, read from the vault."""
    con = duckdb.connect(str(node.store_path), read_only=True)
    try:
        con.execute(f"ATTACH '{node.vault_path}' AS vault (READ_ONLY)")
        persons: set[str] = set()
        for child in children:
            if child.kind == "nhs_number":
                where = "i.nhs_number = ? AND i.date_of_birth = ?"
                params: list[object] = [child.identifier, child.dob]
            else:
                where = "(upper(i.upn) = ? OR upper(i.former_upn) = ?)"
                params = [child.identifier.upper(), child.identifier.upper()]
            rows = con.execute(
                "SELECT DISTINCT rp.person_id FROM vault.vault__identities i "
                f"JOIN link__record_person rp ON rp.record_key = i.record_key WHERE {where}",
                params,
            ).fetchall()
            persons |= {str(r[0]) for r in rows}
        return persons
    finally:
        con.close()


def _person_ids(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f'SELECT person_id FROM "{relation}"').fetchall()]


def _snapshot(node: NodeSettings) -> dict[str, list[str]]:
    """Every store table, the timeline and every secondary view, as sorted person ids."""
    con = duckdb.connect(str(node.store_path), read_only=True)
    try:
        names = [*secondary_views(), *(t.name for t in STORE_TABLES), TIMELINE_VIEW]
        names.append(EXCLUDED_TABLE)
        return {n: sorted(_person_ids(con, n)) for n in names}
    finally:
        con.close()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(picks=st.lists(st.integers(min_value=0, max_value=2 * POOL - 1), max_size=5, unique=True))
def test_optouts_apply_to_secondary_views_from_the_next_refresh(
    district: District, scratch: Path, picks: list[int]
) -> None:
    example = Path(tempfile.mkdtemp(dir=scratch))
    node = _copy(district, example)
    children = [district.children[i] for i in picks if i < len(district.children)]
    before = _snapshot(node)
    assert before[EXCLUDED_TABLE] == []

    for child in children:
        assert _opt_out(node, child) == 0

    # recorded, not yet applied: nothing changes until the next refresh
    assert _snapshot(node) == before

    refresh_node(node, stages=(DeterministicStage(),))
    after = _snapshot(node)
    expected = _expected_persons(node, children)
    for child in children:  # every child named is a person of the district
        assert _expected_persons(node, [child]), child.kind
    assert set(after[EXCLUDED_TABLE]) == expected

    # direct care: store__* is exactly as before the opt-outs (the refresh is deterministic)
    for table in [*(t.name for t in STORE_TABLES), TIMELINE_VIEW]:
        assert after[table] == before[table], table
        kept = sorted(p for p in before[table] if p not in expected)
        view = secondary_view_name(table)
        # secondary uses: every opted-out child gone, every other row still there
        assert after[view] == kept, view
    assert expected <= set(after["store__person"])


@pytest.mark.parametrize(
    ("who", "older"),
    [("parent", False), ("young_person", True)],
    ids=["parent-for-a-child-under-13", "young-person-13-or-over"],
)
def test_who_may_opt_out(district: District, scratch: Path, who: str, older: bool) -> None:
    node = _copy(district, scratch)
    child = next(c for c in district.children if (c.age >= 13) is older and c.age >= 0)
    wrong = "young_person" if who == "parent" else "parent"
    assert _opt_out(node, child, requested_by=wrong) == 2  # UsageError: not the other way round
    with open_govern(node) as con:
        assert con.execute("SELECT count(*) FROM govern__dissent").fetchone() == (0,)
    assert _opt_out(node, child, requested_by=who) == 0
    with open_govern(node) as con:
        assert con.execute("SELECT requested_by FROM govern__dissent").fetchall() == [(who,)]


def test_a_upn_opt_out_reaches_a_person_whose_recorded_month_differs(
    district: District, scratch: Path
) -> None:
    # the family's date of birth and the records' can disagree (a mistyped date splits a person
    # off); the UPN, checked by its check letter, still names the child: exclusion wins
    node = _copy(district, scratch)
    pupil = next(c for c in district.children if c.kind == "upn" and 1 < c.dob.month < 12)
    told = replace(pupil, dob=pupil.dob.replace(day=1) - timedelta(days=1))  # the month before
    assert told.dob.strftime("%Y-%m") != pupil.dob.strftime("%Y-%m")
    assert _opt_out(node, told) == 0
    refresh_node(node, stages=(DeterministicStage(),))
    expected = _expected_persons(node, [pupil])
    assert expected and set(_snapshot(node)[EXCLUDED_TABLE]) == expected


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    picks=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2 * POOL - 1), st.booleans()),
        min_size=1,
        max_size=5,
        unique_by=lambda pick: pick[0],
    )
)
def test_a_withdrawn_opt_out_returns_the_child_from_the_next_refresh(
    district: District, scratch: Path, picks: list[tuple[int, bool]]
) -> None:
    example = Path(tempfile.mkdtemp(dir=scratch))
    node = _copy(district, example)
    chosen = [(district.children[i], w) for i, w in picks if i < len(district.children)]
    children = [child for child, _ in chosen]
    withdrawn = [child for child, w in chosen if w]
    kept = [child for child, w in chosen if not w]
    original = _snapshot(node)
    for child in children:
        assert _opt_out(node, child) == 0
    refresh_node(node, stages=(DeterministicStage(),))
    opted_out = _snapshot(node)
    assert set(opted_out[EXCLUDED_TABLE]) == _expected_persons(node, children)

    for child in withdrawn:
        assert _opt_out(node, child, command="withdraw") == 0
        # a second withdrawal finds nothing in force: a clear error, nothing written
        assert _opt_out(node, child, command="withdraw") == 2
    # recorded, not yet applied: nothing changes until the next refresh
    assert _snapshot(node) == opted_out

    refresh_node(node, stages=(DeterministicStage(),))
    after = _snapshot(node)
    expected = _expected_persons(node, kept)  # a withdrawn child another opt-out names stays out
    assert set(after[EXCLUDED_TABLE]) == expected
    for table in [*(t.name for t in STORE_TABLES), TIMELINE_VIEW]:
        assert after[table] == original[table], table  # direct care: whole throughout
        view = secondary_view_name(table)
        assert after[view] == sorted(p for p in original[table] if p not in expected), view
    if not kept:  # every opt-out withdrawn: the views are as before any opt-out
        for view in secondary_views():
            assert after[view] == original[view], view

    with open_govern(node) as con:
        withdrawals = con.execute("SELECT count(*) FROM govern__dissent_withdrawals").fetchone()
        audited = con.execute(
            "SELECT outcome, count(*) FROM audit__events WHERE action = 'withdraw_optout' "
            "GROUP BY outcome ORDER BY outcome"
        ).fetchall()
    assert withdrawals == (len(withdrawn),)
    # each attempt was decided and recorded (allowed: the parent may ask; the second one then
    # failed the register's own check)
    assert audited == ([("allow", 2 * len(withdrawn))] if withdrawn else [])


def test_an_opt_out_after_a_withdrawal_applies_again(district: District, scratch: Path) -> None:
    node = _copy(district, scratch)
    child = district.children[0]
    assert _opt_out(node, child) == 0
    assert _opt_out(node, child, command="withdraw") == 0
    assert _opt_out(node, child) == 0  # the family changed its mind again
    refresh_node(node, stages=(DeterministicStage(),))
    expected = _expected_persons(node, [child])
    assert expected and set(_snapshot(node)[EXCLUDED_TABLE]) == expected
    wrong = "parent" if child.requested_by == "young_person" else "young_person"
    assert _opt_out(node, child, requested_by=wrong, command="withdraw") == 2
