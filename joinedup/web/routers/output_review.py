"""The output checkers' queue on the web: outputs that need people before they may leave.

The same queue as ``joinedup output review|approve|reject`` (``joinedup.outputs.review``), behind
the same door: ``review_output``, which the policy gives to output checkers. A checker reads an
output's disclosure-control record (what it is, the profile it was checked under, the checks'
findings, why it needs people, the votes so far, and the text of a free-text output) and votes
approve or reject with a reason. Two approvals from different checkers release it
(``vote_on_output``); one rejection keeps it inside the node.

The queue refuses a vote by the person who asked for the output (``output-review:self-review``)
and a second vote by one checker (``output-review:second-vote``); each refusal is put to the
policy as a ``Refusal`` (recorded as a denial with its rule and reason) and shown with its reason.

Invariants: every page and form goes through ``require``; a refused vote changes nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from joinedup.config import NodeSettings
from joinedup.errors import AccessDenied, UsageError
from joinedup.govern import Action, Refusal, ResourceKind
from joinedup.outputs import review
from joinedup.outputs.node import open_ledger, staged_text, vote_on_output
from joinedup.web.governance import Granted, Policy, Requirement, require
from joinedup.web.pages import PageLink, page_number, render_granted

router = APIRouter()

PAGE_SIZE = 25
QUEUE = Requirement(action=Action.REVIEW_OUTPUT, resource_kind=ResourceKind.OUTPUT, name="queue")
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/outputs/review",
        title="Output review",
        summary="Outputs waiting for two independent checkers: free text, files and "
        "exceptions to the disclosure rules.",
        requirement=QUEUE,
    ),
)

QueuePage = Annotated[
    Granted, Depends(require(Action.REVIEW_OUTPUT, ResourceKind.OUTPUT, name="queue"))
]
# the resource is the output itself (the path's release_id), as the CLI names it
OutputPage = Annotated[Granted, Depends(require(Action.REVIEW_OUTPUT, ResourceKind.OUTPUT))]


def _checker(granted: Granted) -> str:
    actor = granted.viewer.actor
    assert actor is not None  # the door admits no anonymous visitor here
    return actor.actor_id


def _queue(node: NodeSettings, state: review.ReviewState | None, page: int) -> review.ReviewQueue:
    with open_ledger(node) as con:
        return review.read_queue_page(con, state, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)


def _chosen_state(state: str | None, show: str | None) -> review.ReviewState | None:
    # ``show=all`` is the filter's older spelling, kept so bookmarks still work
    value = "all" if show == "all" and not state else (state or "pending")
    if value == "all":
        return None
    try:
        return review.ReviewState(value)
    except ValueError:
        raise UsageError("show one of: pending, released, rejected or all") from None


@router.get("/outputs/review")
async def queue(
    request: Request,
    granted: QueuePage,
    state: str | None = None,
    show: str | None = None,
    page: str = "1",
) -> Response:
    chosen = _chosen_state(state, show)
    number = page_number(page)
    found = await run_in_threadpool(_queue, request.app.state.settings.node, chosen, number)
    pages = max(1, -(-found.total // PAGE_SIZE))
    beyond = number > pages
    return render_granted(
        request,
        granted,
        "output_review.html",
        {
            "counts": found.counts,
            "items": found.items,
            "total": found.total,
            "state": "all" if chosen is None else chosen.value,
            "states": tuple(review.ReviewState),
            "page": number,
            "pages": pages,
            "beyond": beyond,
            "needed": review.APPROVALS_NEEDED,
            "checker": _checker(granted),
        },
        status_code=404 if beyond else 200,
    )


def _item_context(node: NodeSettings, release_id: str, checker: str) -> dict[str, object]:
    with open_ledger(node) as con:
        item = review.get_item(con, release_id)
        record = review.output_record(con, release_id)
        refusal = review.vote_refusal(con, item, checker)
    return {
        "item": item,
        "record": record,
        "files": staged_text(node, release_id),
        "may_vote": item.state is review.ReviewState.PENDING and refusal is None,
        "why_not": None if refusal is None else refusal.reason,
        "needed": review.APPROVALS_NEEDED,
        "max_reason": review.MAX_COMMENT_LENGTH,
        "reason": "",
        "error": None,
    }


@router.get("/outputs/review/{release_id}")
async def output(request: Request, release_id: str, granted: OutputPage) -> Response:
    context = await run_in_threadpool(
        _item_context, request.app.state.settings.node, release_id, _checker(granted)
    )
    return render_granted(request, granted, "output_review_item.html", context)


@router.post("/outputs/review/{release_id}")
async def vote(request: Request, release_id: str, granted: OutputPage) -> Response:
    form = await request.form()
    node = request.app.state.settings.node
    checker = _checker(granted)
    reason = str(form.get("reason", "")).strip()
    choice = str(form.get("vote", ""))
    error = None
    if choice not in {v.value for v in review.Vote}:
        error = "choose approve or reject before recording the vote"
    elif not reason:
        error = "give a reason for the vote: it is kept with the vote for the other checkers"
    if error is None:
        try:
            await run_in_threadpool(
                partial(
                    vote_on_output,
                    node,
                    release_id,
                    checker=checker,
                    approve=choice == review.Vote.APPROVE.value,
                    comment=reason,
                )
            )
        except review.VoteRefused as refused:
            policy: Policy = request.app.state.policy
            await run_in_threadpool(
                partial(
                    policy.decide,
                    actor_id=checker,
                    action=Action.REVIEW_OUTPUT,
                    resource=granted.resource,
                    purpose=None,
                    refusal=Refusal(rule=refused.rule, reason=refused.reason),
                )
            )
            raise AccessDenied(refused.reason) from None
        except UsageError as exc:
            error = str(exc)
    if error is not None:
        context = await run_in_threadpool(_item_context, node, release_id, checker)
        context.update(reason=reason, error=error)
        return render_granted(request, granted, "output_review_item.html", context, status_code=400)
    return RedirectResponse(f"/outputs/review/{release_id}", status_code=303)
