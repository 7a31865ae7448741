"""Clerical linkage review on the web: the queue of pairs the person index could not decide.

The same queue, decisions and vault log as ``joinedup link review`` (``joinedup.link.review``),
behind the same door: ``administer_node`` on the node resource ``link review``, which the policy
gives to node administrators ("linkage report and review"). A decision is recorded with the
signed-in actor as the reviewer and applies at the next refresh.

Unlike the terminal, the page never shows a name, number or address: each field of the pair is
shown de-identified (month of birth, the postcode's outward code, sex, source) or only compared
(``same``, ``differs by 1 character``, ``missing in b``), by ``compare_item``, which logs the
comparison in the vault's review log.

Invariants: every page and form goes through ``require``; the queue's states (open, decided,
applied, stale) are ``review_counts``'s, the same the CLI's ``--json`` reports.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from joinedup.errors import UsageError
from joinedup.govern import Action, ResourceKind, Role
from joinedup.link.review import (
    MAX_NOTE_LENGTH,
    Decision,
    ItemState,
    compare_item,
    decide_item,
    queue_index_items,
    read_decision_history,
    read_review_queue,
)
from joinedup.web.governance import Granted, Requirement, require
from joinedup.web.pages import PageLink, page_number, render_granted

router = APIRouter()

RESOURCE = "link review"  # the CLI's resource name, so both surfaces read alike in the audit
PAGE_SIZE = 25
QUEUE = Requirement(action=Action.ADMINISTER_NODE, resource_kind=ResourceKind.NODE, name=RESOURCE)
LINKS: tuple[PageLink, ...] = (
    PageLink(
        path="/link/review",
        title="Linkage review",
        summary="Pairs of records the person index could not decide: compare them and decide "
        "match or non-match; decisions apply at the next refresh.",
        requirement=QUEUE,
    ),
)

ReviewPage = Annotated[
    Granted, Depends(require(Action.ADMINISTER_NODE, ResourceKind.NODE, name=RESOURCE))
]
DECISIONS = (
    (Decision.MATCH, "Match: the same child"),
    (Decision.NON_MATCH, "Non-match: two different children"),
    (Decision.UNSURE, "Unsure: leave it open"),
)


def _reviewer(granted: Granted) -> str:
    actor = granted.viewer.actor
    assert actor is not None  # the door admits no anonymous visitor here
    return actor.actor_id


def _state(value: str | None) -> ItemState | None:
    if not value or value == "all":
        return None
    try:
        return ItemState(value)
    except ValueError:
        raise UsageError("show one of: open, decided, applied, stale or all") from None


@router.get("/link/review")
async def queue(
    request: Request, granted: ReviewPage, state: str = "open", page: str = "1"
) -> Response:
    node = request.app.state.settings.node
    chosen = _state(state)
    number = page_number(page)
    queue = await run_in_threadpool(
        partial(read_review_queue, node, chosen, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    )
    total = queue.total
    pages = max(1, -(-total // PAGE_SIZE))
    beyond = number > pages
    return render_granted(
        request,
        granted,
        "link_review.html",
        {
            "counts": queue.counts,
            "items": queue.items,
            "state": "all" if chosen is None else chosen.value,
            "page": number,
            "pages": pages,
            "beyond": beyond,
            "total": total,
            "states": tuple(ItemState),
        },
        status_code=404 if beyond else 200,
    )


@router.post("/link/review")
async def queue_new_items(request: Request, granted: ReviewPage) -> Response:
    """Queue the deterministic index's undecided cases, as the CLI does on each run."""
    await run_in_threadpool(queue_index_items, request.app.state.settings.node)
    return RedirectResponse("/link/review", status_code=303)


def _reads_review_log(granted: Granted) -> bool:
    """Whether the viewer may read the notes of the vault's review log: node administrators
    only. The door (``administer_node``) admits no one else today; this keeps the notes off the
    page should the door ever widen."""
    actor = granted.viewer.actor
    return actor is not None and actor.role is Role.NODE_ADMIN


def _item_context(
    request: Request, granted: Granted, item_id: str, **extra: object
) -> dict[str, object]:
    node = request.app.state.settings.node
    item, fields = compare_item(node, item_id, reviewer=_reviewer(granted))
    return {
        "item": item,
        "fields": fields,
        "history": read_decision_history(node, item_id),
        "show_notes": _reads_review_log(granted),
        "state": item.state,
        "decisions": DECISIONS,
        "max_note": MAX_NOTE_LENGTH,
        "note": "",
        "error": None,
        "recorded": None,
        **extra,
    }


@router.get("/link/review/{item_id}")
async def item(
    request: Request, item_id: str, granted: ReviewPage, recorded: str | None = None
) -> Response:
    shown = recorded if recorded in {d.value for d in Decision} else None
    context = await run_in_threadpool(
        partial(_item_context, request, granted, item_id, recorded=shown)
    )
    return render_granted(request, granted, "link_review_item.html", context)


@router.post("/link/review/{item_id}")
async def decide(request: Request, item_id: str, granted: ReviewPage) -> Response:
    form = await request.form()
    note = str(form.get("note", ""))
    node = request.app.state.settings.node
    try:
        decision = Decision(str(form.get("decision", "")))
        await run_in_threadpool(
            partial(decide_item, node, item_id, decision, reviewer=_reviewer(granted), note=note)
        )
    except (ValueError, UsageError) as exc:
        error = (
            str(exc)
            if isinstance(exc, UsageError)
            else "choose match, non-match or unsure before recording the decision"
        )
        context = await run_in_threadpool(
            partial(_item_context, request, granted, item_id, note=note, error=error)
        )
        return render_granted(request, granted, "link_review_item.html", context, status_code=400)
    return RedirectResponse(f"/link/review/{item_id}?recorded={decision.value}", status_code=303)
