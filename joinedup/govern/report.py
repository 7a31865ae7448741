"""The governance report: how information governance performed over a period, in counts, for
the node's management (``joinedup audit report``).

Built from the node's own registers, never written by hand: the audit chain (decisions by
action and outcome, refusals by rule, break-glass uses, refused forms), the alerts (raised,
reviewed, still open), the dissent register (opt-outs recorded and withdrawn in the period, in
force now), and the project register (projects by state today).

Invariants: counts only: no actor, no person, no row value and no reason text is in the report;
a period is a closed range of dates (UTC), ``since`` to ``until`` inclusive.
"""

# SQL here is assembled from this module's own constants (table and column names), never
# from values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import duckdb

from joinedup.govern.projects import ProjectState, list_projects, project_status
from joinedup.store.secondary import DISSENT_TABLE, IN_FORCE_SQL, WITHDRAWAL_TABLE

REPORT_VERSION = 1


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> int:
    row = con.execute(sql, params).fetchone()
    return 0 if row is None else int(row[0])


def governance_report(
    con: duckdb.DuckDBPyConnection, *, since: date, until: date
) -> dict[str, object]:
    """Counts for ``since`` .. ``until`` (inclusive), and the registers' state on ``until``."""
    start = datetime.combine(since, time.min)
    end = datetime.combine(until + timedelta(days=1), time.min)
    period: list[object] = [start, end]
    rows = con.execute(
        "SELECT action, outcome, rule, break_glass FROM audit__events "
        "WHERE recorded_at >= ? AND recorded_at < ?",
        period,
    ).fetchall()
    by_action: dict[str, dict[str, int]] = {}
    denials: Counter[str] = Counter()
    for action, outcome, rule, _ in rows:
        counts = by_action.setdefault(str(action), {"allow": 0, "deny": 0})
        counts[str(outcome)] += 1
        if outcome == "deny":
            denials[str(rule)] += 1
    allowed = sum(c["allow"] for c in by_action.values())
    glass = "kind = 'break_glass'"
    alerts_raised = _count(
        con,
        f"SELECT count(*) FROM govern__alerts WHERE {glass} AND raised_at >= ? AND raised_at < ?",
        period,
    )
    alerts_reviewed = _count(
        con,
        f"SELECT count(*) FROM govern__alerts WHERE {glass} AND status <> 'open' "
        "AND raised_at >= ? AND raised_at < ?",
        period,
    )
    projects: Counter[str] = Counter(
        project_status(con, p.project_id, until).state.value for p in list_projects(con)
    )
    return {
        "version": REPORT_VERSION,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "decisions": {
            "total": len(rows),
            "allowed": allowed,
            "denied": len(rows) - allowed,
            "by_action": {a: by_action[a] for a in sorted(by_action)},
            "denied_by_rule": dict(sorted(denials.items(), key=lambda kv: (-kv[1], kv[0]))),
            "refused_forms": denials.get("web:csrf", 0),
        },
        "break_glass": {
            "uses": sum(1 for r in rows if r[3]),
            "alerts_raised": alerts_raised,
            "alerts_reviewed": alerts_reviewed,
            "alerts_open_now": _count(
                con, f"SELECT count(*) FROM govern__alerts WHERE {glass} AND status = 'open'", []
            ),
        },
        "audit_findings_open_now": _count(
            con,
            "SELECT count(*) FROM govern__alerts WHERE kind = 'audit_finding' AND status = 'open'",
            [],
        ),
        "opt_outs": {
            "recorded": _count(
                con,
                f"SELECT count(*) FROM {DISSENT_TABLE} WHERE recorded_at >= ? AND recorded_at < ?",
                period,
            ),
            "withdrawn": _count(
                con,
                f"SELECT count(*) FROM {WITHDRAWAL_TABLE} "
                "WHERE withdrawn_at >= ? AND withdrawn_at < ?",
                period,
            ),
            "in_force_now": _count(
                con,
                f"SELECT count(*) FROM (SELECT DISTINCT namespace, subject_key FROM "
                f"({IN_FORCE_SQL}))",
                [],
            ),
        },
        "projects_by_state": {s.value: projects.get(s.value, 0) for s in ProjectState},
    }
