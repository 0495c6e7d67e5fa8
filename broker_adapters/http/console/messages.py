"""Message pages: search, one message's timeline, and the logged show-document action."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from broker_adapters.http.console.deps import ConsoleDeps
from broker_adapters.http.console.guard import ConsoleGuard, Operator, audit, require_csrf
from broker_adapters.http.console.render import form, page
from broker_adapters.http.console.route import ConsoleRoute
from hubstats.search import STATES, MessageQuery, search_messages
from hubstats.store import TransportState
from hubstats.timeline import timeline
from schemas.vocabulary import Family

PAGE_SIZE = 25
_FAMILIES = tuple(family.value for family in Family)
_FAILED_STAGES = frozenset({"rejected", "delivery_failed"})


def _moment(text: str) -> datetime | None:
    """A ``datetime-local`` field (taken as UTC), or ``None`` when empty, malformed or out of
    range once in UTC (year 1 at +01:00)."""
    try:
        moment = datetime.fromisoformat(text.strip()) if text.strip() else None
        if moment is None or moment.tzinfo is None:
            return None if moment is None else moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _state(text: str) -> TransportState | None:
    return text if text in STATES else None


def _hub_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def routes(deps: ConsoleDeps, guard: ConsoleGuard) -> APIRouter:
    """``/messages`` (search), ``/messages/{id}`` (timeline), ``/messages/{id}/document``."""
    router = APIRouter(route_class=ConsoleRoute)
    engine = deps.store.engine

    @router.get("/messages")
    def search(
        operator: Annotated[Operator, Depends(guard)],
        q: str = "",
        family: str = "",
        type: str = "",
        state: str = "",
        since: str = "",
        until: str = "",
        page_number: Annotated[int, Depends(_page_number)] = 1,
    ) -> Response:
        query = MessageQuery(
            q=q.strip()[:200],
            family=family if family in _FAMILIES else None,
            message_type=type.strip()[:40] or None,
            state=_state(state),
            since=_moment(since),
            until=_moment(until),
            page=page_number,
            page_size=PAGE_SIZE,
        )
        found = search_messages(engine, query)
        return page(
            "messages.html",
            operator=operator,
            query=query,
            fields={"q": q, "family": family, "type": type, "state": state},
            since=since,
            until=until,
            families=_FAMILIES,
            states=STATES,
            result=found,
        )

    @router.get("/messages/{hub_message_id}")
    def message(operator: Annotated[Operator, Depends(guard)], hub_message_id: str) -> Response:
        wanted = _hub_id(hub_message_id)
        status = None if wanted is None else deps.store.message_status(wanted)
        steps = () if wanted is None else timeline(engine, wanted)
        if wanted is None or (status is None and not steps):
            return page(
                "error.html",
                404,
                operator=operator,
                message="The hub has no event of that message (yet).",
            )
        reasons = {}
        if any(step.stage in _FAILED_STAGES for step in steps):
            reasons = {letter.code.value: letter.reason for letter in deps.dead_letter(wanted)}
        return page(
            "message.html",
            operator=operator,
            hub_message_id=wanted,
            status=status,
            steps=steps,
            reasons=reasons,
        )

    @router.post("/messages/{hub_message_id}/document")
    async def document(
        request: Request, operator: Annotated[Operator, Depends(guard)], hub_message_id: str
    ) -> Response:
        require_csrf(operator, await form(request))
        wanted = _hub_id(hub_message_id)
        if wanted is None:
            return page("error.html", 404, operator=operator, message="Not a hub message id.")
        audit("show-document", operator, wanted)
        found = deps.document(wanted)
        return page(
            "document.html",
            operator=operator,
            hub_message_id=wanted,
            text=None if found is None else found[0].decode("utf-8", errors="replace"),
            source=None if found is None else found[1],
        )

    return router


def _page_number(page: str = "1") -> int:
    # isascii: '²' is a digit to isdigit() but not to int(); five digits: int()'s limit is far
    return (
        int(page) if page.isascii() and page.isdigit() and 0 < len(page) <= 5 and int(page) else 1
    )
