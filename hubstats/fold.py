"""Folds a batch of events into the deltas the store adds: pure, no database.

A batch of ten thousand events becomes a few hundred count increments, one
status change per message and the AppRecs seen, so the store writes each
batch with a handful of set-based upserts instead of one statement per event.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from hubstats.schema import ID_LENGTH
from schemas.outcomes import Outcome, clean_message_type, clean_reason_code, outcome_of
from schemas.records import MessageEvent
from schemas.vocabulary import EventType

CountKey = tuple[date, str, str, str, str, str, str]
"""day, family, message_type, sender_category, receiver_category, addressing_mode, outcome."""

SenderKey = tuple[date, int, str, str]
"""day, sender HER-id (level-1 organisation), family, message_type."""


@dataclass(slots=True)
class StatusDelta:
    """What a batch changes in one message's status row."""

    hub_message_id: UUID
    msg_id: str | None = None
    principal: str | None = None
    sender_her_id: int | None = None
    family: str | None = None
    message_type: str | None = None
    received_at: datetime | None = None
    accepted: bool = False
    duplicate: bool = False
    rejected: bool = False
    reason_code: str | None = None
    routed: int = 0
    delivered: int = 0
    delivery_failed: int = 0
    delivery_retried: int = 0


@dataclass(frozen=True, slots=True)
class AppRecRow:
    """A receiver's AppRec to an original message, as the status read joins it."""

    original_msg_id: str
    original_sender_her_id: int
    apprec_sender_her_id: int
    apprec_status: str
    reason_code: str | None
    round_trip_ms: int | None
    received_at: datetime


@dataclass(slots=True)
class ReceiverDelta:
    """What a batch says about one message's delivery to one receiving organisation."""

    is_copy: bool = False
    routed: bool = False
    delivered: bool = False
    failed: bool = False
    rejected: bool = False


@dataclass(slots=True)
class Deltas:
    """Everything one batch adds to the store."""

    counts: Counter[CountKey] = field(default_factory=Counter)
    senders: Counter[SenderKey] = field(default_factory=Counter)
    statuses: dict[UUID, StatusDelta] = field(default_factory=dict)
    apprecs: dict[tuple[str, int, int], AppRecRow] = field(default_factory=dict)
    receivers: dict[tuple[UUID, int], ReceiverDelta] = field(default_factory=dict)


def _fit(value: str | None, length: int) -> str | None:
    """An id that does not fit its column is dropped rather than cut (a cut id matches nothing)."""
    return value if value is not None and len(value) <= length else None


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def fold(events: Iterable[MessageEvent], zone: ZoneInfo) -> Deltas:
    """The deltas of ``events``, each new to the store (the caller keeps it idempotent)."""
    deltas = Deltas()
    for event in events:
        outcome = outcome_of(
            event.event_type, is_copy=event.is_copy, apprec_status=event.apprec_status
        )
        # A message counts on the day the hub received it, whenever its outcomes happen.
        day = utc(event.received_at).astimezone(zone).date()
        deltas.counts[
            (
                day,
                event.family.value,
                clean_message_type(event.message_type),
                event.sender_category.value,
                event.receiver_category.value,
                event.addressing_mode.value,
                outcome.value,
            )
        ] += 1
        sender = event.sender_her_id
        if outcome is Outcome.ROUTED and sender is not None:
            deltas.senders[
                (day, sender, event.family.value, clean_message_type(event.message_type))
            ] += 1
        _fold_status(deltas, event, outcome)
    return deltas


def _fold_status(deltas: Deltas, event: MessageEvent, outcome: Outcome) -> None:
    if event.event_type is EventType.APPREC_ROUTED:
        original_sender = event.receiver_her_id
        original = _fit(event.original_msg_id, ID_LENGTH)
        if original and original_sender is not None and event.apprec_status is not None:
            answering = event.sender_her_id or 0
            key = (original, original_sender, answering)
            deltas.apprecs.setdefault(
                key,
                AppRecRow(
                    original_msg_id=original,
                    original_sender_her_id=original_sender,
                    apprec_sender_her_id=answering,
                    apprec_status=event.apprec_status.value,
                    reason_code=clean_reason_code(event.reason_code),
                    round_trip_ms=event.apprec_round_trip_ms,
                    received_at=utc(event.occurred_at),
                ),
            )
    _fold_receiver(deltas, event, outcome)
    status = deltas.statuses.get(event.hub_message_id)
    if status is None:
        status = deltas.statuses[event.hub_message_id] = StatusDelta(event.hub_message_id)
    status.msg_id = status.msg_id or _fit(event.msg_id, ID_LENGTH)
    status.principal = status.principal or _fit(event.principal, ID_LENGTH)
    status.sender_her_id = status.sender_her_id or event.sender_her_id
    if event.event_type is not EventType.ACCEPTED:  # classified by the router, not at ingress
        status.family = event.family.value
        status.message_type = clean_message_type(event.message_type)
    status.received_at = status.received_at or utc(event.received_at)
    if outcome is Outcome.ACCEPTED:
        status.accepted = True
    elif outcome is Outcome.DUPLICATE:
        status.duplicate = True
    elif outcome is Outcome.REJECTED:
        status.rejected = True
        status.reason_code = clean_reason_code(event.reason_code)
    elif outcome in (Outcome.ROUTED, Outcome.ROUTED_COPY):
        status.routed += 1
    elif outcome is Outcome.DELIVERED:
        status.delivered += 1
    elif outcome is Outcome.DELIVERY_FAILED:
        status.delivery_failed += 1
        status.reason_code = status.reason_code or clean_reason_code(event.reason_code)
    elif outcome is Outcome.DELIVERY_RETRIED:
        status.delivery_retried += 1


def _fold_receiver(deltas: Deltas, event: MessageEvent, outcome: Outcome) -> None:
    """Per-receiver flags; a rejected copy's event names the main receiver, so it is left out."""
    receiver = event.receiver_her_id
    if receiver is None:
        return
    flag = {
        Outcome.ROUTED: "routed",
        Outcome.ROUTED_COPY: "routed",
        Outcome.DELIVERED: "delivered",
        Outcome.DELIVERY_FAILED: "failed",
        Outcome.REJECTED: "rejected",
    }.get(outcome, "routed" if event.event_type is EventType.APPREC_ROUTED else None)
    if flag is None or (flag == "rejected" and event.is_copy):
        return
    delta = deltas.receivers.setdefault((event.hub_message_id, receiver), ReceiverDelta())
    delta.is_copy = delta.is_copy or event.is_copy
    setattr(delta, flag, True)
