"""Dead letters: what is parked on ``hub.rejected``, by reason and age, and replaying them.

Replay is the one ``meldingshub dlq`` uses (injected as :data:`ConsoleDeps.replay`); the
console notes each replay on the message's timeline through it.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from broker_adapters.http.console.deps import ConsoleDeps
from broker_adapters.http.console.guard import ConsoleGuard, Operator, audit, require_csrf
from broker_adapters.http.console.render import form, page
from broker_adapters.http.console.route import ConsoleRoute
from schemas.records import RejectedMessage

SHOWN = 500
"""At most this many dead letters are listed (newest first); the counts cover all."""
MAX_REPLAY = 500

_AGES = (
    ("under 1 hour", timedelta(hours=1)),
    ("under 1 day", timedelta(days=1)),
    ("under 1 week", timedelta(weeks=1)),
)


@dataclass(frozen=True, slots=True)
class LetterRow:
    """One dead letter as listed: ids, code, stage, the hub's own (safe) reason, age."""

    letter: RejectedMessage
    age: timedelta


def _age_bucket(age: timedelta) -> str:
    return next((name for name, limit in _AGES if age < limit), "older")


def routes(deps: ConsoleDeps, guard: ConsoleGuard) -> APIRouter:
    """``/dead-letters`` (list, filter by code and stage) and ``/dead-letters/replay``."""
    router = APIRouter(route_class=ConsoleRoute)

    @router.get("/dead-letters")
    def listing(
        operator: Annotated[Operator, Depends(guard)], code: str = "", stage: str = ""
    ) -> Response:
        now = datetime.now(UTC)
        letters = list(deps.dead_letters())
        by_code = Counter((letter.code.value, letter.stage.value) for letter in letters)
        by_age = Counter(_age_bucket(now - letter.rejected_at) for letter in letters)
        chosen = [
            letter
            for letter in letters
            if (not code or letter.code.value == code)
            and (not stage or letter.stage.value == stage)
        ]
        chosen.sort(key=lambda letter: letter.rejected_at, reverse=True)
        return page(
            "dead_letters.html",
            operator=operator,
            rows=[LetterRow(letter, now - letter.rejected_at) for letter in chosen[:SHOWN]],
            total=len(letters),
            matching=len(chosen),
            by_code=sorted(by_code.items()),
            by_age=[(name, by_age[name]) for name, _ in (*_AGES, ("older", None))],
            code=code,
            stage=stage,
        )

    @router.post("/dead-letters/replay")
    async def replay(request: Request, operator: Annotated[Operator, Depends(guard)]) -> Response:
        fields = await form(request)
        require_csrf(operator, fields)
        ids: list[uuid.UUID] = []
        for text in fields.get("id", [])[:MAX_REPLAY]:
            try:
                ids.append(uuid.UUID(text))
            except ValueError:
                continue
        for hub_message_id in ids:
            audit("replay", operator, hub_message_id)
        replayed = deps.replay(ids, operator.principal.name) if ids else {}
        return page(
            "replayed.html",
            operator=operator,
            replayed=sorted(replayed.items()),
            missing=[i for i in ids if i not in replayed],
        )

    return router
