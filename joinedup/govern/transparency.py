"""The transparency register: what this node's data are used for, in public.

Generated from the project register, never written by hand. One entry per **approved** project:
approved by the DAC and countersigned by the node's controller (``ProjectState.ACTIVE``, and
``EXPIRED`` once its end date has passed, kept so the public record of what was done stays
whole), with the NHS England Data Uses Register fields that apply to a node: purpose, lay
summary, public benefit, datasets, which children are included (the approved cohort in plain
words), legal basis, whether opt-outs were applied, outputs released,
and the dates (applied, DAC decision, countersignature, expiry). Applications still awaiting
the DAC or the countersignature, and rejected ones, are not in it: they never had any data.

It also publishes the node's resolved incidents and audit findings that were closed with a
public note (``alerts.review_alert(..., public_note=...)``): the kind, when it was raised and
resolved, and the note: what happened and what was done. Break-glass reviews are never in it.

Invariants: the register holds no actor's name, no person and no count below the disclosure
threshold: only project-level facts and the public notes written for it. Opt-outs apply to
every project (all are secondary uses).
"""

from __future__ import annotations

import json
from datetime import date

import duckdb

from joinedup.govern.projects import ProjectState, list_projects, project_status

REGISTER_VERSION = 2  # 2: approved (countersigned) projects only

# Approved by the DAC and countersigned: in force, or ended.
PUBLISHED_STATES = frozenset({ProjectState.ACTIVE, ProjectState.EXPIRED})


def build_register(con: duckdb.DuckDBPyConnection, today: date) -> dict[str, object]:
    entries: list[dict[str, object]] = []
    for project in list_projects(con):
        status = project_status(con, project.project_id, today)
        if status.state not in PUBLISHED_STATES:
            continue  # pending, awaiting countersignature or rejected: never had any data
        spec = project.spec
        released = con.execute(
            "SELECT output_name, released_on FROM govern__released_outputs "
            "WHERE project_id = ? ORDER BY released_on, output_name",
            [project.project_id],
        ).fetchall()
        entries.append(
            {
                "project_id": project.project_id,
                "title": spec.title,
                "state": status.state.value,
                "purpose": spec.purpose.value,
                "lay_summary": spec.lay_summary,
                "public_benefit": spec.public_benefit,
                "legal_basis": spec.legal_basis,
                "datasets": list(spec.datasets),
                "children_included": (
                    "not pinned: recorded before cohorts were; no job runs until it re-applies"
                    if spec.cohort_spec is None
                    else spec.cohort_spec.describe()
                ),
                "setting": spec.setting.value,
                "opt_outs_applied": spec.purpose.opt_out_applies,
                "conditions": list(status.conditions),
                "outputs_released": [
                    {"output": str(name), "released_on": on.isoformat()} for name, on in released
                ],
                "applied_on": project.applied_on.isoformat(),
                "dac_decision_on": None
                if status.dac_decided_at is None
                else status.dac_decided_at.date().isoformat(),
                "countersigned_on": None
                if status.countersigned_at is None
                else status.countersigned_at.date().isoformat(),
                "expires_on": spec.expires_on.isoformat(),
            }
        )
    incidents = [
        {
            "kind": str(kind),
            "raised_on": raised.date().isoformat(),
            "resolved_on": resolved.date().isoformat(),
            "note": str(note),
        }
        for kind, raised, resolved, note in con.execute(
            "SELECT kind, raised_at, reviewed_at, public_note FROM govern__alerts "
            "WHERE public_note IS NOT NULL AND status <> 'open' AND kind <> 'break_glass' "
            "ORDER BY reviewed_at, alert_id"
        ).fetchall()
    ]
    return {
        "version": REGISTER_VERSION,
        "generated_on": today.isoformat(),
        "projects": entries,
        "incidents": incidents,
    }


def register_json(con: duckdb.DuckDBPyConnection, today: date) -> str:
    return json.dumps(build_register(con, today), indent=2)
