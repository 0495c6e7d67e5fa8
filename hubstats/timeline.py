"""Every event of a message's life, one row each: the operator console's timeline.

The aggregator writes a row per new event in the same transaction as the counts
(:meth:`hubstats.store.StatisticsStore.apply` calls :func:`write_events`), so
the timeline and the statistics agree. A replay started from the console is
recorded here too (:func:`record_replay`): ``hub.events`` has no replay event,
and an operator wants to see who replayed what, and under which new id.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from addressregister.kinds import EndpointKind
from hubstats import schema
from hubstats.fold import utc
from schemas.outcomes import clean_message_type, clean_reason_code
from schemas.records import MessageEvent
from schemas.vocabulary import EventType

REPLAYED = "replayed"
"""The stage of a replay row (not an :class:`EventType`: the hub writes no such event)."""

ADAPTERS = frozenset({"http", "amqp", "kafka", "file", "hub"})
"""The ingress adapters events name (``hub``: a message the hub wrote itself, an AppRec)."""
_KINDS = frozenset(kind.value for kind in EndpointKind)

Insert = Callable[[sa.Table], Any]
"""The dialect's ``INSERT`` construct (it has ``on_conflict_do_nothing``)."""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One step of a message's life as the console shows it."""

    stage: str
    occurred_at: datetime
    since_previous: timedelta | None
    """Time since the step before it (``None`` for the first)."""
    hub_message_id: uuid.UUID
    receiver_her_id: int | None
    is_copy: bool
    reason_code: str | None
    adapter: str | None
    principal: str | None
    endpoint_kind: str | None
    attempt: int | None
    next_attempt_at: datetime | None
    """When a retried delivery is tried next."""
    apprec_status: str | None
    related_hub_message_id: uuid.UUID | None


def _fit(value: str | None, length: int) -> str | None:
    return value if value is not None and len(value) <= length else None


def _row(event: MessageEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "hub_message_id": event.hub_message_id,
        "stage": event.event_type.value,
        "occurred_at": utc(event.occurred_at),
        "msg_id": _fit(event.msg_id, schema.ID_LENGTH),
        "family": event.family.value,
        "message_type": clean_message_type(event.message_type),
        "sender_her_id": event.sender_her_id,
        "receiver_her_id": event.receiver_her_id,
        "is_copy": event.is_copy,
        "reason_code": clean_reason_code(event.reason_code),
        "adapter": event.adapter if event.adapter in ADAPTERS else None,
        "principal": _fit(event.principal, schema.ID_LENGTH),
        "endpoint_kind": event.endpoint_kind if event.endpoint_kind in _KINDS else None,
        "attempt": event.attempt,
        "next_attempt_at": utc(event.next_attempt_at) if event.next_attempt_at else None,
        "apprec_status": event.apprec_status.value if event.apprec_status else None,
        "original_msg_id": _fit(event.original_msg_id, schema.ID_LENGTH),
        "related_hub_message_id": None,
    }


def write_events(conn: sa.Connection, insert: Insert, events: Sequence[MessageEvent]) -> None:
    """Add a row per event (the caller passes only events new to the store)."""
    if events:
        table = schema.message_event
        conn.execute(insert(table).on_conflict_do_nothing(), [_row(e) for e in events])


def record_replay(
    engine: sa.Engine,
    original: uuid.UUID,
    replayed_as: uuid.UUID,
    operator: str,
    at: datetime,
) -> None:
    """Note on ``original``'s timeline that ``operator`` replayed it as ``replayed_as`` (the
    same id for a delivery dead letter, a new one for a router or ingress one)."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    row = {
        "event_id": uuid.uuid5(original, f"replay:{replayed_as}:{at.isoformat()}"),
        "hub_message_id": original,
        "stage": REPLAYED,
        "occurred_at": utc(at),
        "is_copy": False,
        "principal": _fit(operator, schema.ID_LENGTH),
        "related_hub_message_id": replayed_as,
    }
    with engine.begin() as conn:
        conn.execute(insert(schema.message_event).on_conflict_do_nothing(), [row])


def timeline(engine: sa.Engine, hub_message_id: uuid.UUID) -> tuple[TimelineEntry, ...]:
    """The message's events oldest first, with the AppRecs its receivers sent back to it."""
    table = schema.message_event
    with engine.connect() as conn:
        rows = list(
            conn.execute(sa.select(table).where(table.c.hub_message_id == hub_message_id)).all()
        )
        first = next((r for r in rows if r.msg_id and r.sender_her_id is not None), None)
        if first is not None:
            rows += conn.execute(
                sa.select(table).where(
                    table.c.stage == EventType.APPREC_ROUTED.value,
                    table.c.original_msg_id == first.msg_id,
                    table.c.receiver_her_id == first.sender_her_id,
                )
            ).all()
    return _entries(rows)


def _entries(rows: Iterable[sa.Row[Any]]) -> tuple[TimelineEntry, ...]:
    entries: list[TimelineEntry] = []
    previous: datetime | None = None
    for row in sorted(rows, key=lambda r: (utc(r.occurred_at), _ORDER.get(r.stage, 9))):
        at = utc(row.occurred_at)
        apprec = row.stage == EventType.APPREC_ROUTED.value
        entries.append(
            TimelineEntry(
                stage=row.stage,
                occurred_at=at,
                since_previous=None if previous is None else at - previous,
                hub_message_id=row.hub_message_id,
                # an AppRec's event names the original sender as receiver; show who answered
                receiver_her_id=row.sender_her_id if apprec else row.receiver_her_id,
                is_copy=row.is_copy,
                reason_code=row.reason_code,
                adapter=row.adapter,
                principal=row.principal,
                endpoint_kind=row.endpoint_kind,
                attempt=row.attempt,
                next_attempt_at=utc(row.next_attempt_at) if row.next_attempt_at else None,
                apprec_status=row.apprec_status,
                related_hub_message_id=row.related_hub_message_id,
            )
        )
        previous = at
    return tuple(entries)


_ORDER = {
    EventType.ACCEPTED.value: 0,
    EventType.DUPLICATE.value: 1,
    EventType.REJECTED.value: 1,
    EventType.ROUTED.value: 1,
    EventType.DELIVERY_RETRIED.value: 2,
    EventType.DELIVERY_FAILED.value: 3,
    EventType.DELIVERED.value: 3,
    EventType.APPREC_ROUTED.value: 4,
    REPLAYED: 5,
}
"""Steps of the same millisecond in the order they happen."""
