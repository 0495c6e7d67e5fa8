"""The one place that builds the hub's ``MessageEvent``s and ``RejectedMessage``s.

Every stage (ingress, router, delivery) reports its outcomes here, so an event
or a dead letter has one shape whoever writes it: the same fields from the same
sources, and ids derived from the hub message id (re-processing after an aborted
transaction yields the same records, and readers de-duplicate by id). Pure
functions of values; nothing here knows a transport. A record's position is
passed in as text (``<topic>/<partition>/<offset>``) by whoever read it.
"""

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from addressregister.index import RegisterIndex
from addressregister.results import Resolution
from routing.decision import Rejected
from schemas import shown
from schemas.envelope import Envelope
from schemas.parties import PartyRef
from schemas.records import (
    UNKNOWN_MESSAGE_TYPE,
    DeliveryOutcome,
    InboundMessage,
    MessageEvent,
    RejectedMessage,
    RejectStage,
    RoutedMessage,
    encode,
)
from schemas.vocabulary import (
    AddressingMode,
    AppRecErrorCode,
    AppRecStatus,
    Category,
    EventType,
    Family,
)

# -- the router's events ----------------------------------------------------------------------


def message_event(
    event_type: EventType,
    inbound: InboundMessage,
    envelope: Envelope | None,
    now: datetime,
    register: RegisterIndex | None,
    *,
    label: str | None = None,
    resolution: Resolution | None = None,
    family: Family | None = None,
    message_type: str | None = None,
    sender_category: Category | None = None,
    sender_her_id: int | None = None,
    receiver_category: Category | None = None,
    receiver_her_id: int | None = None,
    addressing_mode: AddressingMode | None = None,
    is_copy: bool = False,
    reason_code: str | None = None,
    reason: str | None = None,
    size_bytes: int | None = None,
    apprec_status: AppRecStatus | None = None,
    apprec_round_trip_ms: int | None = None,
    original_msg_id: str | None = None,
) -> MessageEvent:
    """An event about an inbound message as the router saw it.

    What is not given is taken from the envelope (parties, family, type) and, when
    ``register`` is given, the parties' categories from the register; the id is
    ``uuid5(hub message id, label or event type)``.
    """
    sender_ref = envelope.sender if envelope else None
    receiver_ref = envelope.receiver if envelope else None
    if sender_her_id is None and sender_ref is not None:
        sender_her_id = sender_ref.organisation_her_id
    if resolution is not None:
        receiver_category = resolution.category
        receiver_her_id = resolution.organisation_her_id
        addressing_mode = resolution.addressing_mode
    elif receiver_her_id is None and receiver_ref is not None:
        receiver_her_id = receiver_ref.organisation_her_id
    if register is not None:
        sender_category = sender_category or _category(register, sender_her_id)
        receiver_category = receiver_category or _category(register, receiver_her_id)
    if envelope is not None and envelope.family is Family.APPREC:
        apprec_status = apprec_status or envelope.apprec_status
    return MessageEvent(
        event_id=uuid5(inbound.hub_message_id, label or event_type.value),
        event_type=event_type,
        occurred_at=now,
        hub_message_id=inbound.hub_message_id,
        msg_id=shown.message_id(envelope.msg_id) if envelope else None,
        family=family or (envelope.family if envelope else Family.OTHER),
        message_type=message_type or shown.message_type(envelope),
        message_version=envelope.version if envelope and envelope.version else None,
        sender_her_id=sender_her_id,
        receiver_her_id=receiver_her_id,
        sender_category=sender_category or Category.UKJENT,
        receiver_category=receiver_category or Category.UKJENT,
        addressing_mode=addressing_mode or _mode(receiver_ref),
        is_copy=is_copy,
        reason_code=reason_code,
        reason=reason,
        adapter=inbound.adapter,
        principal=inbound.principal,
        received_at=inbound.received_at,
        size_bytes=inbound.size_bytes if size_bytes is None else size_bytes,
        apprec_status=apprec_status,
        apprec_round_trip_ms=apprec_round_trip_ms,
        original_msg_id=original_msg_id,
        source_system=inbound.source_system,
    )


def router_rejection(
    decision: Rejected, inbound: InboundMessage, payload: bytes, now: datetime
) -> RejectedMessage:
    """The dead letter of a message the router rejected (replayable: it keeps the document)."""
    envelope = decision.envelope
    return RejectedMessage(
        hub_message_id=inbound.hub_message_id,
        code=decision.code,
        reason=decision.reason,
        stage=RejectStage.ROUTER,
        rejected_at=now,
        ingress=inbound,
        payload=payload,
        msg_id=envelope.msg_id if envelope else None,
        family=envelope.family if envelope else None,
        message_type=shown.message_type(envelope) if envelope else None,
        sender_her_id=envelope.sender.organisation_her_id if envelope else None,
    )


def internal_error(
    inbound: InboundMessage, code: AppRecErrorCode, reason: str, payload: bytes, now: datetime
) -> tuple[RejectedMessage, MessageEvent]:
    """The dead letter and ``rejected`` event of a record the router failed on (a bug or
    a refused output, not bad input): parked for a replay after a fix."""
    rejected = _bare_dead_letter(RejectStage.ROUTER, inbound, code, reason, payload, now)
    event = MessageEvent(
        event_id=uuid5(inbound.hub_message_id, "internal-error"),
        event_type=EventType.REJECTED,
        occurred_at=now,
        hub_message_id=inbound.hub_message_id,
        family=Family.OTHER,
        message_type=UNKNOWN_MESSAGE_TYPE,
        sender_category=Category.UKJENT,
        receiver_category=Category.UKJENT,
        addressing_mode=AddressingMode.NONE,
        adapter=inbound.adapter,
        principal=inbound.principal,
        received_at=inbound.received_at,
        size_bytes=inbound.size_bytes,
        reason_code=code.value,
        reason=reason,
    )
    return rejected, event


# -- ingress ----------------------------------------------------------------------------------


def ingress_refusal(
    inbound: InboundMessage, code: AppRecErrorCode, reason: str, payload: bytes, now: datetime
) -> RejectedMessage:
    """The dead letter of a record an ingress adapter refused (not a message it can accept)."""
    return _bare_dead_letter(RejectStage.INGRESS, inbound, code, reason, payload, now)


def _bare_dead_letter(
    stage: RejectStage,
    inbound: InboundMessage,
    code: AppRecErrorCode,
    reason: str,
    payload: bytes,
    now: datetime,
) -> RejectedMessage:
    """A dead letter that knows nothing of the document beyond its ingress metadata."""
    return RejectedMessage(
        hub_message_id=inbound.hub_message_id,
        code=code,
        reason=reason,
        stage=stage,
        rejected_at=now,
        ingress=inbound,
        payload=payload,
    )


# -- delivery ---------------------------------------------------------------------------------

_DELIVERY_EVENT = {
    DeliveryOutcome.DELIVERED: EventType.DELIVERED,
    DeliveryOutcome.FAILED: EventType.DELIVERY_FAILED,
    DeliveryOutcome.RETRIED: EventType.DELIVERY_RETRIED,
}


def delivery_event_id(message: RoutedMessage, outcome: DeliveryOutcome, label: str = "") -> UUID:
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
    next_attempt_at: datetime | None = None,
) -> MessageEvent:
    """The event of one delivery outcome; ``receiver_her_id`` is the receiver's organisation."""
    return MessageEvent(
        event_id=delivery_event_id(message, outcome, label),
        event_type=_DELIVERY_EVENT[outcome],
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
        reason_code=AppRecErrorCode.X99.value if outcome is DeliveryOutcome.FAILED else None,
        reason=reason,
        adapter=message.ingress.adapter,
        principal=message.ingress.principal,
        received_at=message.ingress.received_at,
        size_bytes=message.size_bytes,
        endpoint_kind=endpoint_kind,
        attempt=attempt,
        source_system=message.ingress.source_system,
        next_attempt_at=next_attempt_at,
    )


def given_up(message: RoutedMessage, reason: str, now: datetime) -> RejectedMessage:
    """The dead letter of a message the hub could not deliver (replayable to that receiver)."""
    return RejectedMessage(
        hub_message_id=message.hub_message_id,
        msg_id=message.msg_id,
        code=AppRecErrorCode.X99,
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
    """The ``routed`` event of the X99 AppRec delivery sends when it gives a message up."""
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
        reason_code=AppRecErrorCode.X99.value,
        adapter=apprec.ingress.adapter,
        received_at=apprec.ingress.received_at,
        size_bytes=apprec.size_bytes,
        apprec_status=AppRecStatus.REJECTED,
        original_msg_id=original.msg_id,
    )


def unreadable_record(where: str, payload: bytes, reason: str, now: datetime) -> RejectedMessage:
    """The dead letter of a record delivery cannot read, named by its position ``where``
    (the id is derived from it, so a redone batch writes the same record)."""
    record_id = uuid5(NAMESPACE_URL, f"kafka:{where}")
    return RejectedMessage(
        hub_message_id=record_id,
        code=AppRecErrorCode.X99,
        reason=reason[:200],
        stage=RejectStage.DELIVERY,
        rejected_at=now,
        ingress=InboundMessage(
            hub_message_id=record_id,
            adapter="kafka",
            received_at=now,
            size_bytes=len(payload),
            transport_message_id=where,
        ),
        payload=payload,
        routed=payload,
    )


def _category(register: RegisterIndex, her_id: int | None) -> Category | None:
    if her_id is None or her_id not in register:
        return None
    return register.category(her_id)


def _mode(ref: PartyRef | None) -> AddressingMode:
    if ref is None:
        return AddressingMode.NONE
    if ref.person_her_id is not None:
        return AddressingMode.PERSON
    if ref.service_her_id is not None:
        return AddressingMode.SERVICE
    if ref.organisation_her_id is not None:
        return AddressingMode.ORGANISATION
    return AddressingMode.NONE
