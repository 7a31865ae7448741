"""``joinedup output review|approve|reject``: the output checkers' queue.

Outputs that need people (free text, files, and refused outputs whose requester asked for an
exception) wait in the node's review queue. Each vote is decided by ``govern.decide`` as the
``--as`` actor (action ``review_output``: the ``output_checker`` role); the queue itself refuses
self-review and a second vote by the same checker (each refusal audited with its rule,
``output-review:self-review`` or ``output-review:second-vote``); two approvals release the
output into ``outputs/released/<project>/`` with its ACRO-format record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg
from joinedup.config import load_node
from joinedup.govern import LOCAL_OPERATOR_ID, Action, Refusal, Resource, ResourceKind, decide
from joinedup.outputs import review
from joinedup.outputs.node import open_ledger, vote_on_output

console = Console()
app = typer.Typer(help="The output-review queue (two independent checkers).", no_args_is_help=True)

ReleaseArg = Annotated[str, typer.Argument(help="The output's id (out_...), from `output review`.")]
CommentOpt = Annotated[
    str, typer.Option("--comment", help="The checker's note, kept with the vote.")
]


@app.command("review")
def output_review(
    node: NodeArg,
    all_items: Annotated[
        bool, typer.Option("--all", help="Also list outputs already released or rejected.")
    ] = False,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """List the outputs waiting for output checkers."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.REVIEW_OUTPUT, kind=ResourceKind.OUTPUT, name="queue")
    with open_ledger(settings) as con:
        items = review.list_queue(con, pending_only=not all_items)
    rows = [
        {
            "release_id": i.release_id,
            "project_id": i.project_id,
            "requested_by": i.requested_by,
            "why": i.why,
            "state": i.state.value,
            "approvals": len(i.approvals),
        }
        for i in items
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Output-review queue")
    for col in ("release_id", "project_id", "requested_by", "why", "state", "approvals"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) for c in r))
    console.print(table)


def _vote(node: Path, release_id: str, as_actor: str, approve: bool, comment: str) -> None:
    settings = load_node(node)
    authorise(settings, as_actor, Action.REVIEW_OUTPUT, kind=ResourceKind.OUTPUT, name=release_id)
    try:
        item = vote_on_output(
            settings, release_id, checker=as_actor, approve=approve, comment=comment
        )
    except review.VoteRefused as refused:
        # the queue's own refusal (self-review, a second vote) is recorded as a denial too
        decide(
            node=settings,
            actor=as_actor,
            action=Action.REVIEW_OUTPUT,
            resource=Resource(kind=ResourceKind.OUTPUT, name=release_id),
            purpose=None,
            refusal=Refusal(rule=refused.rule, reason=refused.reason),
        )
        raise
    console.print(
        f"{release_id}: {item.state.value} ({len(item.approvals)} of "
        f"{review.APPROVALS_NEEDED} approvals)"
    )


@app.command("approve")
def output_approve(
    node: NodeArg,
    release_id: ReleaseArg,
    comment: CommentOpt = "",
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Approve a queued output (a second, independent approval releases it)."""
    _vote(node, release_id, as_actor, True, comment)


@app.command("reject")
def output_reject(
    node: NodeArg,
    release_id: ReleaseArg,
    comment: CommentOpt = "",
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Reject a queued output (it stays inside the node)."""
    _vote(node, release_id, as_actor, False, comment)
