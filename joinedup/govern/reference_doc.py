"""Renders the governance rules as the Markdown page ``docs/reference/governance.md``.

The page is generated from the code (roles, organisations, purposes, levels, actions, the matrix,
the administrative rules and the numbers the rules use), never hand-edited: a docs test fails
when it differs. Regenerate with
``python -m joinedup.govern.reference_doc > docs/reference/governance.md``.
"""

from __future__ import annotations

from joinedup.govern.audit import BREAK_GLASS_PURPOSE_OF_USE, PURPOSE_OF_USE
from joinedup.govern.consent import OWN_CONSENT_AGE, RECONSENT_AGE, ConsentLevel
from joinedup.govern.model import (
    DATA_ACTIONS,
    FRONTLINE_ROLES,
    LOCAL_OPERATOR_ID,
    MIN_BREAK_GLASS_REASON,
    Action,
    OrgKind,
    Role,
)
from joinedup.govern.optout import AGE_OF_OWN_CHOICE
from joinedup.govern.policy import Verdict, render_admin_markdown, render_matrix_markdown
from joinedup.govern.projects import (
    DAC_QUORUM,
    IG_TRAINING_VALID_DAYS,
    LAWFUL_BASES,
    MAX_PROJECT_YEARS,
    Setting,
)
from joinedup.model import DataLevel, Purpose

LEVELS: dict[DataLevel, str] = {
    DataLevel.L0_IDENTIFIABLE: "identifiable: the vault and the store, re-identified",
    DataLevel.L1_PSEUDONYMISED: "pseudonymised records: the linked store (`store__*`, "
    "`view__secondary__*`)",
    DataLevel.L2_AGGREGATE: "aggregates: disclosure-checked tables, models, charts",
    DataLevel.L3_SYNTHETIC: "synthetic: the synthetic twin and its quality report",
    DataLevel.L4_PUBLIC: "public: the transparency register, published statistics",
}
VERDICTS: dict[Verdict, str] = {
    Verdict.ALLOW: "allowed by role alone",
    Verdict.DENY: "denied",
    Verdict.RELATIONSHIP: "allowed for a child the actor's organisation has a legitimate "
    "relationship with; otherwise only by break-glass, which alerts the safeguarding lead",
    Verdict.PROJECT: "allowed only under an active project of this purpose naming the actor",
    Verdict.JOB: "allowed only as a job (`run_job`) under an active project: the double lock",
    Verdict.CONTACT: "identity released only to contact a family, under an active research "
    "project, with the family's consent to contact",
}
ORGS: dict[OrgKind, str] = {
    OrgKind.SCHOOL: "a school; code = its URN; relationship: on roll at the latest census",
    OrgKind.ACADEMY_TRUST: "an academy trust; its schools' URNs; relationship: on roll at one",
    OrgKind.GP_PRACTICE: "a GP practice; code = ODS code; relationship: open registration",
    OrgKind.NHS_TRUST: "an NHS trust; code = provider code; relationship: admitted there",
    OrgKind.LA_TEAM: "a local authority team; relationship: an open CIN episode, child "
    "protection plan or looked-after episode",
    OrgKind.POLICE: "police; no derivable relationship: break-glass only",
    OrgKind.VCSE: "a voluntary or community organisation; no derivable relationship",
    OrgKind.NODE: "the organisation hosting the node (its controller)",
    OrgKind.PUBLIC: "no organisation: citizens, parents and young people",
}


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def render_governance_markdown() -> str:
    lines = [
        "# Governance reference",
        "",
        "Generated from `joinedup/govern/` by `python -m joinedup.govern.reference_doc`; do not"
        " edit by hand. Why the rules are as they are: [explanation](../explanation/governance.md)."
        " Handling an opt-out: [how-to](../how-to/handle-an-opt-out.md).",
        "",
        "Every action goes through one function, `joinedup.govern.decide(actor, action,"
        " resource, purpose)`, which answers allow or deny with a reason and appends one event to"
        " the audit chain either way. The CLI calls it before every node-bound command (as"
        f" `--as ACTOR`, default `{LOCAL_OPERATOR_ID}`, the node administrator at the node's"
        " console); the web app before every route.",
        "",
        "## Data levels",
        "",
        *_table(("level", "what"), [(f"`{lv.value}`", text) for lv, text in LEVELS.items()]),
        "## Purposes",
        "",
        *_table(
            ("purpose", "opt-outs apply", "HL7 purposeOfUse", "lawful bases a project may give"),
            [
                (
                    f"`{p.value}`",
                    "yes" if p.opt_out_applies else "no",
                    f"`{PURPOSE_OF_USE[p]}`",
                    ", ".join(f"`{b}`" for b in sorted(LAWFUL_BASES.get(p, ())))
                    or "none: rests on a legitimate relationship",
                )
                for p in Purpose
            ],
        ),
        f"Administrative actions are audited with `{PURPOSE_OF_USE[None]}`; break-glass reads"
        f" with `{BREAK_GLASS_PURPOSE_OF_USE}`.",
        "",
        "## Roles",
        "",
        *_table(
            ("role", "front line (direct care)"),
            [(f"`{r.value}`", "yes" if r in FRONTLINE_ROLES else "") for r in Role],
        ),
        "## Organisations",
        "",
        *_table(
            ("kind", "what, and the legitimate relationship derived from the store"),
            [(f"`{k.value}`", text) for k, text in ORGS.items()],
        ),
        "## Actions",
        "",
        *_table(
            ("action", "decided by"),
            [
                (
                    f"`{a.value}`",
                    "the matrix (role x purpose x level)"
                    if a in DATA_ACTIONS
                    else "the administrative rules",
                )
                for a in Action
            ],
        ),
        "## The matrix",
        "",
        "One table per purpose: roles down, data levels across. Codes:",
        "",
        *_table(("code", "meaning"), [(f"`{v.value}`", text) for v, text in VERDICTS.items()]),
        "Secondary purposes (every purpose but `direct_care`) read L1 only from"
        " `view__secondary__*` views, from which opted-out children are removed.",
        "",
        render_matrix_markdown(),
        "## Administrative rules",
        "",
        render_admin_markdown(),
        "## Numbers the rules use",
        "",
        *_table(
            ("rule", "value"),
            [
                (
                    "DAC reviews needed (at least one by a lay member, none rejecting)",
                    str(DAC_QUORUM),
                ),
                ("IG training valid for (days)", str(IG_TRAINING_VALID_DAYS)),
                ("longest project (years)", str(MAX_PROJECT_YEARS)),
                ("project settings", ", ".join(f"`{s.value}`" for s in Setting)),
                ("shortest break-glass reason (characters)", str(MIN_BREAK_GLASS_REASON)),
                ("age from which a young person opts out for themselves", str(AGE_OF_OWN_CHOICE)),
                ("age from which a young person may consent to contact", str(OWN_CONSENT_AGE)),
                ("age at which a parent's consent lapses (re-consent)", str(RECONSENT_AGE)),
                ("consent levels", ", ".join(f"`{c.value}`" for c in ConsentLevel)),
            ],
        ),
    ]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_governance_markdown(), end="")
