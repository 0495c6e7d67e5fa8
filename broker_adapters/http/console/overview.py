"""Receivers (delivery state from the events, the register entry) and the process's health.

A receiver's row is what ``hub.events`` said, read from the statistics store: the
endpoint kind of its latest attempt, its last success, failed attempts since, and its
backlog (routed, neither delivered nor given up); and the circuit breaker of its endpoint,
which the delivery worker holding it publishes to the store every few seconds.
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from addressregister.model import CommunicationParty
from broker_adapters.http.console.deps import ConsoleDeps
from broker_adapters.http.console.guard import ConsoleGuard, Operator
from broker_adapters.http.console.render import page
from broker_adapters.http.console.route import ConsoleRoute
from hubstats.breakers import breaker_states, endpoint_digest
from hubstats.search import receiver_overview
from schemas.identifiers import MAX_HER_ID

LOOKUP_LIMIT = 20


def routes(deps: ConsoleDeps, guard: ConsoleGuard) -> APIRouter:
    """``/receivers`` (with a register look-up by HER-id or name) and ``/health``."""
    router = APIRouter(route_class=ConsoleRoute)

    @router.get("/receivers")
    def receivers(operator: Annotated[Operator, Depends(guard)], lookup: str = "") -> Response:
        register = deps.register()
        rows = receiver_overview(deps.store.engine)
        breakers = breaker_states(deps.store.engine)
        parties = {row.receiver_her_id: register.get(row.receiver_her_id) for row in rows}
        breaker_of = {
            her_id: breakers.get(endpoint_digest(party.endpoint.kind.value, party.endpoint.address))
            for her_id, party in parties.items()
            if party is not None and party.endpoint is not None
        }
        lookup = lookup.strip()[:100]
        found: tuple[CommunicationParty, ...] = ()
        if lookup.isascii() and lookup.isdigit() and 0 < int(lookup) <= MAX_HER_ID:
            party = register.get(int(lookup))
            found = () if party is None else (party,)
        elif lookup:
            found = register.search(name=lookup, limit=LOOKUP_LIMIT).items
        return page(
            "receivers.html",
            operator=operator,
            rows=rows,
            parties=parties,
            breakers=breaker_of,
            lookup=lookup,
            found=found,
        )

    @router.get("/health")
    def health(operator: Annotated[Operator, Depends(guard)]) -> Response:
        return page("health.html", operator=operator, items=deps.health())

    return router
