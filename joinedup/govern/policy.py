"""The rules ``decide`` applies, as data: the role x purpose x level matrix and the table of
administrative actions.

``MATRIX`` is written as one small grid per role: a row per purpose, a column per data level
(L0 identifiable, L1 pseudonymised records, L2 aggregates, L3 synthetic, L4 public), each cell a
``Verdict`` code:

====  ==============================================================================
code  meaning
====  ==============================================================================
``A``  allowed by role alone
``-``  denied
``R``  allowed for a child the actor's organisation has a legitimate relationship with
       (otherwise only by break-glass, which alerts the node's safeguarding lead)
``P``  allowed only under an active project of this purpose that names the actor
``J``  allowed only as a job (``run_job``) under an active project: the double lock
``C``  identity released only to contact a family, under an active research project and
       with the family's consent to contact
====  ==============================================================================

Invariants:
- every role x purpose x level has exactly one verdict (checked at import);
- L0 is never ``A``: identifiable data needs a relationship, or consent for contact;
- L4 is ``A`` for everyone;
- the matrix is rendered into docs/reference/governance.md and a test checks it matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from joinedup.govern.model import FRONTLINE_ROLES, Action, Role
from joinedup.model import DataLevel, Purpose


class Verdict(StrEnum):
    ALLOW = "A"
    DENY = "-"
    RELATIONSHIP = "R"
    PROJECT = "P"
    JOB = "J"
    CONTACT = "C"


LEVELS: tuple[DataLevel, ...] = tuple(DataLevel)
PURPOSES: tuple[Purpose, ...] = tuple(Purpose)

# Rows: direct_care, planning, population_health, research, evaluation. Columns: L0 .. L4.
_FRONTLINE = """
R - - - A
- - - - A
- - - - A
- - - - A
- - - - A
"""
_PUBLIC_ONLY = """
- - - - A
- - - - A
- - - - A
- - - - A
- - - - A
"""
_GRIDS: dict[Role, str] = {
    **dict.fromkeys(sorted(FRONTLINE_ROLES), _FRONTLINE),
    Role.NODE_ANALYST: """
- - - - A
- A A A A
- A A A A
- J P P A
- P P P A
""",
    Role.RESEARCHER: """
- - - - A
- - - - A
- - - - A
C J P P A
- J P P A
""",
    Role.COMMISSIONER: """
- - - - A
- - A - A
- - A - A
- - - - A
- - P - A
""",
    Role.OUTPUT_CHECKER: """
- - - - A
- - A - A
- - A - A
- - A - A
- - A - A
""",
    Role.DAC_MEMBER: _PUBLIC_ONLY,
    Role.NODE_ADMIN: _PUBLIC_ONLY,
    Role.CITIZEN: _PUBLIC_ONLY,
}


def _parse(grids: dict[Role, str]) -> dict[tuple[Role, Purpose, DataLevel], Verdict]:
    matrix: dict[tuple[Role, Purpose, DataLevel], Verdict] = {}
    for role in Role:
        rows = [r.split() for r in grids[role].strip().splitlines()]
        if len(rows) != len(PURPOSES) or any(len(r) != len(LEVELS) for r in rows):
            raise ValueError(f"policy grid for {role} must be {len(PURPOSES)} x {len(LEVELS)}")
        for purpose, row in zip(PURPOSES, rows, strict=True):
            for level, code in zip(LEVELS, row, strict=True):
                matrix[(role, purpose, level)] = Verdict(code)
    for (_, _, level), verdict in matrix.items():
        if level is DataLevel.L0_IDENTIFIABLE and verdict is Verdict.ALLOW:
            raise ValueError("L0 is never allowed by role alone")
        if level is DataLevel.L4_PUBLIC and verdict is not Verdict.ALLOW:
            raise ValueError("L4 is public")
    return matrix


MATRIX: dict[tuple[Role, Purpose, DataLevel], Verdict] = _parse(_GRIDS)


def verdict_for(role: Role, purpose: Purpose, level: DataLevel) -> Verdict:
    return MATRIX[(role, purpose, level)]


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminRule:
    action: Action
    roles: frozenset[Role]
    why: str  # the reason given when allowed


ADMIN_RULES: dict[Action, AdminRule] = {
    r.action: r
    for r in (
        AdminRule(
            action=Action.ADMINISTER_NODE,
            roles=frozenset({Role.NODE_ADMIN}),
            why="node administrators run the node (init, status, ingest, refresh, quarantine, "
            "linkage report and review, serving the web app)",
        ),
        AdminRule(
            action=Action.MANAGE_ACTORS,
            roles=frozenset({Role.NODE_ADMIN}),
            why="node administrators register actors",
        ),
        AdminRule(
            action=Action.APPLY_PROJECT,
            roles=frozenset({Role.RESEARCHER, Role.NODE_ANALYST, Role.COMMISSIONER}),
            why="researchers, node analysts and commissioners may apply for a project",
        ),
        AdminRule(
            action=Action.REVIEW_PROJECT,
            roles=frozenset({Role.DAC_MEMBER}),
            why="Data Access Committee members review applications",
        ),
        AdminRule(
            action=Action.COUNTERSIGN_PROJECT,
            roles=frozenset({Role.NODE_ADMIN}),
            why="the node's controller countersigns DAC-approved projects",
        ),
        AdminRule(
            action=Action.LIST_PROJECTS,
            roles=frozenset(
                {
                    Role.NODE_ADMIN,
                    Role.DAC_MEMBER,
                    Role.RESEARCHER,
                    Role.NODE_ANALYST,
                    Role.COMMISSIONER,
                    Role.OUTPUT_CHECKER,
                }
            ),
            why="project applications are visible to applicants, the DAC and the node",
        ),
        AdminRule(
            action=Action.RECORD_OPTOUT,
            roles=frozenset({Role.CITIZEN, Role.NODE_ADMIN}),
            why="a parent or young person opts out (or the node records a written request)",
        ),
        AdminRule(
            action=Action.LIST_OPTOUTS,
            roles=frozenset({Role.NODE_ADMIN}),
            why="node administrators see the dissent register (pseudonymous keys only)",
        ),
        AdminRule(
            action=Action.RECORD_CONSENT,
            roles=frozenset({Role.CITIZEN, Role.HEALTH_VISITOR, Role.GP, Role.NODE_ADMIN}),
            why="consent to contact is given by a parent or young person, often in care",
        ),
        AdminRule(
            action=Action.SHOW_CONSENT,
            roles=frozenset({Role.CITIZEN, Role.HEALTH_VISITOR, Role.GP, Role.NODE_ADMIN}),
            why="the consent register is visible to those who record it",
        ),
        AdminRule(
            action=Action.READ_AUDIT,
            roles=frozenset({Role.NODE_ADMIN, Role.DAC_MEMBER}),
            why="node administrators and the DAC read and verify the audit chain",
        ),
        AdminRule(
            action=Action.REVIEW_ALERT,
            roles=frozenset({Role.DSL, Role.NODE_ADMIN}),
            why="the safeguarding lead reviews break-glass alerts",
        ),
        AdminRule(
            action=Action.REVIEW_OUTPUT,
            roles=frozenset({Role.OUTPUT_CHECKER}),
            why="output checkers review exceptions and free text before release (two "
            "independent checkers, never the requester)",
        ),
        AdminRule(
            action=Action.READ_JOB,
            roles=frozenset(
                {Role.RESEARCHER, Role.NODE_ANALYST, Role.OUTPUT_CHECKER, Role.NODE_ADMIN}
            ),
            why="a job's status and checked outputs are seen by the members of its project "
            "(researchers and analysts must be named on it), output checkers and the node",
        ),
        AdminRule(
            action=Action.READ_PUBLIC,
            roles=frozenset(Role),
            why="public information is open to everyone",
        ),
    )
}


def render_matrix_markdown() -> str:
    """The matrix as one markdown table per purpose: roles down, levels across."""
    lines: list[str] = []
    for purpose in PURPOSES:
        lines += [
            f"#### {purpose.value}",
            "",
            "| role | " + " | ".join(level.value for level in LEVELS) + " |",
            "|---|" + "---|" * len(LEVELS),
        ]
        for role in Role:
            cells = " | ".join(f"`{verdict_for(role, purpose, lv).value}`" for lv in LEVELS)
            lines.append(f"| {role.value} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def render_admin_markdown() -> str:
    lines = ["| action | roles | why |", "|---|---|---|"]
    for rule in ADMIN_RULES.values():
        roles = (
            "everyone"
            if rule.roles == frozenset(Role)
            else ", ".join(sorted(r.value for r in rule.roles))
        )
        lines.append(f"| `{rule.action.value}` | {roles} | {rule.why} |")
    return "\n".join(lines) + "\n"
