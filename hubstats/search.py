"""Finding messages and receivers for the operator console: pages of statuses, per-receiver state.

The store's status tables answer "which messages" (MsgId, hub id, a sender's or
receiver's HER-id, family, type, state, time range); :mod:`hubstats.timeline`
answers "what happened to one". Everything read here is what ``hub.events``
said, so in a split deployment it is as true in the API process as anywhere.
"""

import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hubstats import schema
from hubstats.fold import utc
from hubstats.store import TransportState, transport_state
from schemas.identifiers import MAX_HER_ID
from schemas.vocabulary import EventType

STATES: tuple[TransportState, ...] = (
    "accepted",
    "routed",
    "rejected",
    "duplicate",
    "delivered",
    "delivery_failed",
)


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """What the operator searches for; every given criterion must hold."""

    q: str = ""
    """A MsgId, a hub message id or a sender's or receiver's HER-id."""
    family: str | None = None
    message_type: str | None = None
    state: TransportState | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 25


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One search result: sender → receivers, family/type, received at, state."""

    hub_message_id: uuid.UUID
    msg_id: str | None
    sender_her_id: int | None
    receivers: tuple[int, ...]
    family: str | None
    message_type: str | None
    received_at: datetime | None
    state: TransportState
    reason_code: str | None


@dataclass(frozen=True, slots=True)
class MessagePage:
    """A page of results, newest first; ``more`` when another page follows."""

    rows: tuple[MessageRow, ...]
    page: int
    more: bool


@dataclass(frozen=True, slots=True)
class ReceiverRow:
    """What the events say about delivery to one receiving organisation."""

    receiver_her_id: int
    endpoint_kind: str | None
    """The endpoint kind of its latest attempt."""
    last_success: datetime | None
    failures_since_success: int
    """Retried or failed attempts after the last delivery (a hint of an open breaker)."""
    backlog: int
    """Messages routed to it and neither delivered nor given up."""


def _state_condition(state: TransportState) -> sa.ColumnElement[bool]:
    """The rows :func:`hubstats.store.transport_state` gives ``state``, as SQL."""
    t = schema.message_status.c
    clean = sa.and_(sa.not_(t.duplicate), sa.not_(t.rejected))
    if state == "duplicate":
        return t.duplicate
    if state == "rejected":
        return sa.and_(sa.not_(t.duplicate), t.rejected)
    if state == "delivery_failed":
        return sa.and_(clean, t.delivery_failed > 0)
    unfailed = sa.and_(clean, t.delivery_failed == 0)
    if state == "delivered":
        return sa.and_(unfailed, t.delivered > 0, t.delivered >= t.routed)
    if state == "routed":
        return sa.and_(unfailed, t.routed > 0, sa.or_(t.delivered == 0, t.delivered < t.routed))
    return sa.and_(unfailed, t.routed == 0, t.delivered == 0)


def _text_condition(q: str) -> sa.ColumnElement[bool] | None:
    status, receiving = schema.message_status.c, schema.message_receiver
    q = q.strip()
    if not q:
        return None
    found: list[sa.ColumnElement[bool]] = [status.msg_id == q]
    with contextlib.suppress(ValueError):
        found.append(status.hub_message_id == uuid.UUID(q))
    if q.isascii() and q.isdigit() and len(q) <= 12 and 0 < int(q) <= MAX_HER_ID:
        her_id = int(q)
        found.append(status.sender_her_id == her_id)
        found.append(
            status.hub_message_id.in_(
                sa.select(receiving.c.hub_message_id).where(receiving.c.receiver_her_id == her_id)
            )
        )
    return sa.or_(*found)


def search_messages(engine: sa.Engine, query: MessageQuery) -> MessagePage:
    """The page ``query.page`` (1-based) of matching messages, newest first."""
    page = max(1, query.page)
    texts = (query.q, query.family or "", query.message_type or "")
    if any("\x00" in text for text in texts):  # no column holds NUL (PostgreSQL refuses it)
        return MessagePage(rows=(), page=page, more=False)
    status = schema.message_status
    conditions: list[sa.ColumnElement[bool]] = []
    text = _text_condition(query.q)
    if text is not None:
        conditions.append(text)
    if query.family:
        conditions.append(status.c.family == query.family)
    if query.message_type:
        conditions.append(status.c.message_type == query.message_type)
    if query.state:
        conditions.append(_state_condition(query.state))
    if query.since:
        conditions.append(status.c.received_at >= utc(query.since))
    if query.until:
        conditions.append(status.c.received_at < utc(query.until))
    statement = (
        sa.select(status)
        .where(*conditions)
        .order_by(status.c.received_at.desc(), status.c.hub_message_id)
        .limit(query.page_size + 1)
        .offset((page - 1) * query.page_size)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
        shown = rows[: query.page_size]
        receivers = _receivers_of(conn, [row.hub_message_id for row in shown])
    return MessagePage(
        rows=tuple(_message_row(row, receivers[row.hub_message_id]) for row in shown),
        page=page,
        more=len(rows) > query.page_size,
    )


def _receivers_of(conn: sa.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    found: dict[uuid.UUID, list[int]] = defaultdict(list)
    if ids:
        receiving = schema.message_receiver
        for row in conn.execute(
            sa.select(receiving.c.hub_message_id, receiving.c.receiver_her_id)
            .where(receiving.c.hub_message_id.in_(ids))
            .order_by(receiving.c.is_copy, receiving.c.receiver_her_id)
        ):
            found[row.hub_message_id].append(row.receiver_her_id)
    return found


def _message_row(row: sa.Row[Any], receivers: list[int]) -> MessageRow:
    return MessageRow(
        hub_message_id=row.hub_message_id,
        msg_id=row.msg_id,
        sender_her_id=row.sender_her_id,
        receivers=tuple(receivers),
        family=row.family,
        message_type=row.message_type,
        received_at=None if row.received_at is None else utc(row.received_at),
        state=transport_state(row),
        reason_code=row.reason_code,
    )


def receiver_overview(engine: sa.Engine, limit: int = 200) -> tuple[ReceiverRow, ...]:
    """Each receiving organisation that had a delivery attempt, by HER-id."""
    event, receiving = schema.message_event, schema.message_receiver
    delivered = EventType.DELIVERED.value
    attempts = (delivered, EventType.DELIVERY_RETRIED.value, EventType.DELIVERY_FAILED.value)
    with engine.connect() as conn:
        last_success: dict[int, datetime] = dict(
            conn.execute(
                sa.select(event.c.receiver_her_id, sa.func.max(event.c.occurred_at))
                .where(event.c.stage == delivered, event.c.receiver_her_id.is_not(None))
                .group_by(event.c.receiver_her_id)
            ).all()
        )
        latest: dict[int, tuple[datetime, str | None, str]] = {}
        failures: dict[int, int] = defaultdict(int)
        for her_id, at, kind, stage in conn.execute(
            sa.select(
                event.c.receiver_her_id, event.c.occurred_at, event.c.endpoint_kind, event.c.stage
            )
            .where(event.c.stage.in_(attempts), event.c.receiver_her_id.is_not(None))
            .order_by(event.c.occurred_at)
        ).all():
            latest[her_id] = (at, kind, stage)
            success = last_success.get(her_id)
            if stage != delivered and (success is None or utc(at) > utc(success)):
                failures[her_id] += 1
        backlog: dict[int, int] = dict(
            conn.execute(
                sa.select(receiving.c.receiver_her_id, sa.func.count())
                .where(
                    receiving.c.routed,
                    sa.not_(receiving.c.delivered),
                    sa.not_(receiving.c.failed),
                    sa.not_(receiving.c.rejected),
                )
                .group_by(receiving.c.receiver_her_id)
            ).all()
        )
    her_ids = sorted(set(latest) | set(backlog))[:limit]
    return tuple(
        ReceiverRow(
            receiver_her_id=her_id,
            endpoint_kind=latest[her_id][1] if her_id in latest else None,
            last_success=None if her_id not in last_success else utc(last_success[her_id]),
            failures_since_success=failures[her_id],
            backlog=int(backlog.get(her_id, 0)),
        )
        for her_id in her_ids
    )
