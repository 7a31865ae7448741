"""``joinedup link report`` and ``joinedup link review``: linkage quality and clerical review.

Adds two commands to the ``link`` group (``joinedup.cli.link.app``); importing this module is
what registers them (``joinedup.cli.commands`` does). The report is aggregate; the review shows
identifiable records (L0) and so needs ``--reviewer``, and logs every view and decision in the
vault (``joinedup.link.review``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.link import app as link_app
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg
from joinedup.config import load_node
from joinedup.errors import UsageError
from joinedup.govern import LOCAL_OPERATOR_ID, ResourceKind
from joinedup.govern import Action as GovernAction
from joinedup.link.report import build_linkage_report
from joinedup.link.report_html import render_report_html
from joinedup.link.review import (
    Decision,
    ReviewItem,
    decide_item,
    differing_fields,
    list_items,
    queue_index_items,
    review_counts,
    review_summary,
    show_item,
)

console = Console()


@link_app.command("report")
def report_command(
    node: NodeArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the HTML report here (default: NODE/linkage-report.html)."
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="A simulated district's truth folder (<extracts>/truth): adds true precision, "
            "recall and F1 and subgroups from people.csv.",
        ),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json-out", help="Also write the report as JSON to this file."),
    ] = None,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Write the linkage quality report of a node (HTML with charts, and JSON)."""
    settings = load_node(node)
    authorise(
        settings, as_actor, GovernAction.ADMINISTER_NODE, kind=ResourceKind.NODE, name="link report"
    )
    with (
        console.status("computing the linkage report", spinner="dots")
        if not json_output
        else (_Null())
    ):
        report = build_linkage_report(settings, truth_dir=truth)
        html_path = out if out is not None else settings.root / "linkage-report.html"
        html_path.write_text(render_report_html(report), encoding="utf-8")
    data = report.as_dict()
    if json_out is not None:
        json_out.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    if json_output:
        typer.echo(json.dumps({"html": str(html_path), **data}, default=str))
        return
    lf = report.label_free
    console.print(
        f"Linkage report for [bold]{report.node_name}[/]: {report.records:,} records, "
        f"{lf.candidate_pairs:,} candidate pairs, {lf.linked_pairs:,} linked"
    )
    console.print(
        f"Label-free: expected precision {_pct(lf.expected_precision)}, expected recall "
        f"{_pct(lf.expected_recall)} (an upper bound)"
    )
    if report.truth_overall is not None:
        t = report.truth_overall
        console.print(
            f"Against truth: precision {_pct(t.precision.value)}, recall {_pct(t.recall.value)}, "
            f"F1 {t.f1:.4f}"
            if t.f1 is not None
            else "Against truth: no pairs"
        )
    console.print(f"HTML: {html_path}" + (f"   JSON: {json_out}" if json_out else ""))


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.3f}%"


def _parse_decisions(values: list[str]) -> list[tuple[str, Decision]]:
    out = []
    for v in values:
        item, sep, decision = v.partition("=")
        try:
            out.append((item.strip(), Decision(decision.strip())))
        except ValueError:
            raise UsageError(
                f"--decide {v}: write it as ITEM_ID=match, ITEM_ID=non-match or ITEM_ID=unsure"
            ) from None
        if not sep or not item.strip():
            raise UsageError(f"--decide {v}: write it as ITEM_ID=DECISION")
    return out


def _item_table(items: list[ReviewItem]) -> Table:
    table = Table(title="Review queue (open items)")
    for heading in ("item", "kind", "stage", "rule", "probability", "detail", "decision"):
        table.add_column(heading)
    for i in items:
        table.add_row(
            i.item_id,
            i.kind,
            i.stage,
            i.rule or "",
            "" if i.match_probability is None else f"{i.match_probability:.3f}",
            i.detail or "",
            i.decision or "open",
        )
    return table


def _show(node: Path, item_id: str, reviewer: str) -> None:
    item, a, b = show_item(node, item_id, reviewer=reviewer)
    table = Table(title=f"Item {item.item_id}: {item.kind} ({item.rule or item.detail or ''})")
    table.add_column("field")
    table.add_column(f"record a {a.record_key[:12]}")
    table.add_column(f"record b {b.record_key[:12]}")
    b_values = dict(b.values)
    differ = differing_fields(a, b)
    for name, value in a.values:
        other = b_values.get(name, "")
        mark = " [yellow]≠[/]" if name in differ else ""
        table.add_row(name, value, other + mark)
    table.add_row("person", (a.person_id or "")[:12], (b.person_id or "")[:12])
    console.print(table)


@link_app.command("review")
def review_command(
    node: NodeArg,
    reviewer: Annotated[
        str,
        typer.Option(
            "--reviewer",
            help="Your name: every record you see and every decision is logged in the vault.",
        ),
    ],
    decide: Annotated[
        list[str] | None,
        typer.Option(
            "--decide",
            help="Decide without prompting: ITEM_ID=match, ITEM_ID=non-match or ITEM_ID=unsure "
            "(repeatable).",
        ),
    ] = None,
    show: Annotated[
        list[str] | None,
        typer.Option("--show", help="Show the two records of this item side by side (repeatable)."),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            help="A note kept with each --decide decision (in the vault's review log, never in "
            "the store).",
        ),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="Queue new items, list the open ones and stop.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many items in an interactive run.")
    ] = 20,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Review pairs the index could not decide: see both records, decide, apply on refresh."""
    settings = load_node(node)
    authorise(
        settings, as_actor, GovernAction.ADMINISTER_NODE, kind=ResourceKind.NODE, name="link review"
    )
    if not reviewer.strip():
        raise UsageError("--reviewer must name the person reviewing")
    queued = queue_index_items(settings)
    decisions = _parse_decisions(decide or [])
    decided = []
    for item_id, decision in decisions:
        decided.append(decide_item(settings, item_id, decision, reviewer=reviewer, note=note))
    for item_id in show or []:
        _show(settings.root, item_id, reviewer)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "queued_now": queued,
                    "decided": [{"item_id": d.item_id, "decision": d.decision} for d in decided],
                    "open": [
                        {
                            "item_id": i.item_id,
                            "kind": i.kind,
                            "stage": i.stage,
                            "rule": i.rule,
                            "match_probability": i.match_probability,
                            "detail": i.detail,
                        }
                        for i in list_items(settings)
                    ],
                    "summary": review_summary(settings),
                    "states": {k.value: v for k, v in review_counts(settings).items()},
                }
            )
        )
        return
    if decided:
        console.print(
            f"Recorded {len(decided)} decision(s); they apply on the next: joinedup node refresh"
        )
    if decisions or show:
        return
    items = list_items(settings)
    console.print(f"{queued} new item(s) queued; {len(items)} open.")
    if list_only or not items:
        console.print(_item_table(items))
        return
    answers = {"m": Decision.MATCH, "n": Decision.NON_MATCH, "u": Decision.UNSURE}
    for item in items[:limit]:
        _show(settings.root, item.item_id, reviewer)
        answer = typer.prompt(
            "match (m), non-match (n), unsure (u), skip (s) or quit (q)", default="s"
        ).strip()
        if answer == "q":
            break
        if answer in answers:
            decide_item(settings, item.item_id, answers[answer], reviewer=reviewer)
            console.print(f"recorded: {answers[answer].value}")
    console.print("Decisions apply on the next: joinedup node refresh")
