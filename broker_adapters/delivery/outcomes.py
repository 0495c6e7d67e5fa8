"""The ``DeliveryStatus`` record of a delivery outcome (what the status API shows).

Events and dead letters of delivery outcomes come from :mod:`routing.events`.
"""

from datetime import UTC, datetime

from schemas.records import DeliveryOutcome, DeliveryStatus, RoutedMessage


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
