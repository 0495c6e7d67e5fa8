"""The records a delivery outcome produces: ``MessageEvent``, ``DeliveryStatus``, the
``RejectedMessage`` of a message given up, and the routed event of the hub's X99 AppRec.

Pure functions of the routed message; ids are derived from the hub message id,
the receiver and (for retries) the consumed record, so re-processing after an
aborted transaction produces the same records.
"""

from datetime import UTC, datetime
from uuid import UUID, uuid5

from schemas.records import (
    DeliveryOutcome,
    DeliveryStatus,
    MessageEvent,
    RejectedMessage,
    RejectStage,
    RoutedMessage,
    encode,
)
from schemas.vocabulary import AddressingMode, AppRecError, AppRecStatus, EventType, Family

_EVENT_OF = {
    DeliveryOutcome.DELIVERED: EventType.DELIVERED,
    DeliveryOutcome.FAILED: EventType.DELIVERY_FAILED,
    DeliveryOutcome.RETRIED: EventType.DELIVERY_RETRIED,
}


def event_id(message: RoutedMessage, outcome: DeliveryOutcome, label: str = "") -> UUID:
    """A stable id: one ``delivered``/``failed`` per message and receiver, retries by label."""
    return uuid5(message.hub_message_id, f"{outcome.value}:{message.receiver_her_id}:{label}")


def delivery_event(
    message: RoutedMessage,
    outcome: DeliveryOutcome,
    now: datetime,
    *,
    endpoint_kind: str | None,
    attempt: int,
    reason: str | None = None,
    label: str = "",
) -> MessageEvent:
    """The event of one outcome; ``receiver_her_id`` is the receiver's organisation."""
    return MessageEvent(
        event_id=event_id(message, outcome, label),
        event_type=_EVENT_OF[outcome],
        occurred_at=now,
        hub_message_id=message.hub_message_id,
        msg_id=message.msg_id,
        family=message.family,
        message_type=message.message_type,
        message_version=message.message_version,
        sender_her_id=message.sender_her_id,
        receiver_her_id=message.receiver_organisation_her_id or message.receiver_her_id,
        sender_category=message.sender_category,
        receiver_category=message.receiver_category,
        addressing_mode=message.addressing_mode,
        is_copy=message.is_copy,
        reason_code=AppRecError.X99.value if outcome is DeliveryOutcome.FAILED else None,
        reason=reason,
        adapter=message.ingress.adapter,
        principal=message.ingress.principal,
        received_at=message.ingress.received_at,
        size_bytes=message.size_bytes,
        endpoint_kind=endpoint_kind,
        attempt=attempt,
        source_system=message.ingress.source_system,
    )


def delivery_status(
    message: RoutedMessage,
    outcome: DeliveryOutcome,
    now: datetime,
    *,
    endpoint_kind: str | None,
    attempt: int,
    reason: str | None = None,
    next_attempt_ms: int | None = None,
) -> DeliveryStatus:
    """The ``DeliveryStatus`` of one outcome."""
    return DeliveryStatus(
        hub_message_id=message.hub_message_id,
        msg_id=message.msg_id,
        receiver_her_id=message.receiver_her_id,
        endpoint_kind=endpoint_kind or "none",
        outcome=outcome,
        attempt=attempt,
        reason=reason,
        occurred_at=now,
        next_attempt_at=(
            None if next_attempt_ms is None else datetime.fromtimestamp(next_attempt_ms / 1000, UTC)
        ),
    )


def given_up(message: RoutedMessage, reason: str, now: datetime) -> RejectedMessage:
    """The dead-letter record of a message the hub could not deliver (replayable)."""
    return RejectedMessage(
        hub_message_id=message.hub_message_id,
        msg_id=message.msg_id,
        code=AppRecError.X99,
        reason=f"not delivered to HER-id {message.receiver_her_id}: {reason}",
        stage=RejectStage.DELIVERY,
        rejected_at=now,
        ingress=message.ingress,
        payload=message.payload,
        family=message.family,
        message_type=message.message_type,
        sender_her_id=message.sender_her_id,
        receiver_her_id=message.receiver_her_id,
        routed=encode(message),
    )


def apprec_routed_event(
    apprec: RoutedMessage, original: RoutedMessage, now: datetime
) -> MessageEvent:
    """The ``routed`` event of the hub's X99 AppRec, as the router writes for its own AppRecs."""
    return MessageEvent(
        event_id=uuid5(apprec.hub_message_id, "hub-apprec"),
        event_type=EventType.ROUTED,
        occurred_at=now,
        hub_message_id=apprec.hub_message_id,
        msg_id=apprec.msg_id,
        family=Family.APPREC,
        message_type="APPREC",
        message_version=apprec.message_version,
        sender_her_id=apprec.sender_her_id,
        receiver_her_id=apprec.receiver_organisation_her_id,
        sender_category=apprec.sender_category,
        receiver_category=apprec.receiver_category,
        addressing_mode=AddressingMode.ORGANISATION,
        reason_code=AppRecError.X99.value,
        adapter=apprec.ingress.adapter,
        received_at=apprec.ingress.received_at,
        size_bytes=apprec.size_bytes,
        apprec_status=AppRecStatus.REJECTED,
        original_msg_id=original.msg_id,
    )
