"""Typed records for the hub's Kafka values, one per ``schemas/avro/*.avsc``, with encode/decode.

The dataclasses are the Python face of the Avro schemas: field names equal the
schema's, closed sets are the enums of :mod:`schemas.vocabulary`, timestamps are
timezone-aware ``datetime`` values carried at millisecond precision, and ids the
hub assigns are :class:`uuid.UUID`. ``to_avro``/``from_avro`` do the plain
mapping; :func:`encode`/:func:`decode` (from :mod:`schemas.record_codec`, re-exported
here) frame it with the shared :class:`~schemas.avro_codec.AvroCodec`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final, Self
from uuid import UUID

from schemas.avro_codec import NAMESPACE
from schemas.record_codec import AvroRecord, decode, default_codec, encode
from schemas.vocabulary import (
    AddressingMode,
    AppRecErrorCode,
    AppRecStatus,
    Category,
    EventType,
    Family,
)

__all__ = [
    "INBOUND_HEADER",
    "RECORD_TYPES",
    "UNKNOWN_MESSAGE_TYPE",
    "AvroRecord",
    "DeliveryOutcome",
    "DeliveryStatus",
    "InboundMessage",
    "MessageEvent",
    "PayloadRef",
    "RejectStage",
    "RejectedMessage",
    "RoutedMessage",
    "decode",
    "default_codec",
    "encode",
]

INBOUND_HEADER: Final = "meldingshub-inbound"
"""Kafka header on ``hub.inbound`` that carries the encoded :class:`InboundMessage`."""
UNKNOWN_MESSAGE_TYPE: Final = "UNKNOWN"
"""``MessageEvent.message_type`` of a message that was not classified."""


class RejectStage(StrEnum):
    """The stage that rejected a message (``RejectedMessage.stage``)."""

    INGRESS = "ingress"
    ROUTER = "router"
    DELIVERY = "delivery"


class DeliveryOutcome(StrEnum):
    """Result of one delivery attempt (``DeliveryStatus.outcome``)."""

    DELIVERED = "delivered"
    FAILED = "failed"
    RETRIED = "retried"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_FAMILY: Final = {m.value: m for m in Family}
_CATEGORY: Final = {m.value: m for m in Category}
_MODE: Final = {m.value: m for m in AddressingMode}
_EVENT: Final = {m.value: m for m in EventType}
_STAGE: Final = {m.value: m for m in RejectStage}
_OUTCOME: Final = {m.value: m for m in DeliveryOutcome}
_APPREC_ERROR: Final = {m.value: m for m in AppRecErrorCode}
_APPREC_STATUS: Final = {m.value: m for m in AppRecStatus}


def _millis(value: datetime, field: str) -> int:
    """Milliseconds since the epoch; refuses naive datetimes, which fastavro would read as local."""
    if value.tzinfo is None:
        raise ValueError(f"{field} must be a timezone-aware datetime (UTC), not a naive one")
    return (value - _EPOCH) // _MILLISECOND


def _opt_millis(value: datetime | None, field: str) -> int | None:
    return None if value is None else _millis(value, field)


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """Transport metadata of a received message; in the :data:`INBOUND_HEADER` beside the bytes."""

    AVRO_NAME: ClassVar[str] = f"{NAMESPACE}.InboundMessage"

    hub_message_id: UUID
    adapter: str
    """http, amqp, kafka, file or replay."""
    received_at: datetime
    size_bytes: int
    principal: str | None = None
    transport_message_id: str | None = None
    content_type: str | None = None
    replay_of: UUID | None = None
    """``hub_message_id`` of the rejected message this one replays."""
    source_system: str | None = None
    """The client system as it named itself (MSH API ``nhn-source-system``), sanitised."""

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        return {
            "hub_message_id": self.hub_message_id,
            "adapter": self.adapter,
            "principal": self.principal,
            "received_at": _millis(self.received_at, "received_at"),
            "transport_message_id": self.transport_message_id,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "replay_of": self.replay_of,
            "source_system": self.source_system,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """The record from a decoded Avro value (fields unknown to this version are ignored)."""
        return cls(
            hub_message_id=value["hub_message_id"],
            adapter=value["adapter"],
            principal=value["principal"],
            received_at=value["received_at"],
            transport_message_id=value["transport_message_id"],
            content_type=value["content_type"],
            size_bytes=value["size_bytes"],
            replay_of=value["replay_of"],
            source_system=value.get("source_system"),
        )


@dataclass(frozen=True, slots=True)
class PayloadRef:
    """Claim check: the Kafka record whose value is a routed message's document.

    A document routed to several receivers, or a large one, is kept once (on ``hub.inbound``,
    where it already is) and each receiver's ``RoutedMessage`` names it, so one message costs
    its size once in the router's transaction, not once per receiver.
    """

    topic: str
    partition: int
    offset: int

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedMessage:
    """A message routed to one receiver, with the document; the value on ``hub.outbound``."""

    AVRO_NAME: ClassVar[str] = f"{NAMESPACE}.RoutedMessage"

    hub_message_id: UUID
    family: Family
    message_type: str
    receiver_her_id: int
    """The party that receives: the Kafka key and the delivery target."""
    sender_category: Category
    receiver_category: Category
    addressing_mode: AddressingMode
    ingress: InboundMessage
    routed_at: datetime
    size_bytes: int
    payload: bytes = field(repr=False)
    msg_id: str | None = None
    message_version: str | None = None
    sender_her_id: int | None = None
    """Level-1 organisation of the sender."""
    sender_party_her_id: int | None = None
    """The most specific sender party (service or person when named)."""
    receiver_organisation_her_id: int | None = None
    addressed_her_id: int | None = None
    """The HER-id the envelope named, before resolution."""
    is_copy: bool = False
    ack_requested: bool = False
    apprec_version: str | None = None
    attachment_count: int = 0
    payload_ref: PayloadRef | None = None
    """Where the document is when ``payload`` is empty; delivery fetches it from there."""

    def __repr__(self) -> str:
        """Ids only: the payload may hold patient data."""
        return (
            f"RoutedMessage(hub_message_id={self.hub_message_id}, msg_id={self.msg_id!r}, "
            f"family={self.family.value}, message_type={self.message_type!r}, "
            f"receiver_her_id={self.receiver_her_id}, size_bytes={self.size_bytes})"
        )

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        return {
            "hub_message_id": self.hub_message_id,
            "msg_id": self.msg_id,
            "family": self.family,
            "message_type": self.message_type,
            "message_version": self.message_version,
            "sender_her_id": self.sender_her_id,
            "sender_party_her_id": self.sender_party_her_id,
            "receiver_her_id": self.receiver_her_id,
            "receiver_organisation_her_id": self.receiver_organisation_her_id,
            "addressed_her_id": self.addressed_her_id,
            "sender_category": self.sender_category,
            "receiver_category": self.receiver_category,
            "addressing_mode": self.addressing_mode,
            "is_copy": self.is_copy,
            "ack_requested": self.ack_requested,
            "apprec_version": self.apprec_version,
            "ingress": self.ingress.to_avro(),
            "routed_at": _millis(self.routed_at, "routed_at"),
            "size_bytes": self.size_bytes,
            "attachment_count": self.attachment_count,
            "payload": self.payload,
            "payload_ref": None if self.payload_ref is None else self.payload_ref.to_avro(),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """The record from a decoded Avro value (fields unknown to this version are ignored)."""
        return cls(
            hub_message_id=value["hub_message_id"],
            msg_id=value["msg_id"],
            family=_FAMILY[value["family"]],
            message_type=value["message_type"],
            message_version=value["message_version"],
            sender_her_id=value["sender_her_id"],
            sender_party_her_id=value["sender_party_her_id"],
            receiver_her_id=value["receiver_her_id"],
            receiver_organisation_her_id=value["receiver_organisation_her_id"],
            addressed_her_id=value["addressed_her_id"],
            sender_category=_CATEGORY[value["sender_category"]],
            receiver_category=_CATEGORY[value["receiver_category"]],
            addressing_mode=_MODE[value["addressing_mode"]],
            is_copy=value["is_copy"],
            ack_requested=value["ack_requested"],
            apprec_version=value["apprec_version"],
            ingress=InboundMessage.from_avro(value["ingress"]),
            routed_at=value["routed_at"],
            size_bytes=value["size_bytes"],
            attachment_count=value["attachment_count"],
            payload=value["payload"],
            payload_ref=None if (ref := value.get("payload_ref")) is None else PayloadRef(**ref),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedMessage:
    """A refused message with its reason and raw bytes; the value on ``hub.rejected``."""

    AVRO_NAME: ClassVar[str] = f"{NAMESPACE}.RejectedMessage"

    hub_message_id: UUID
    code: AppRecErrorCode
    reason: str
    """Safe text: element path and rule, never element text."""
    stage: RejectStage
    rejected_at: datetime
    ingress: InboundMessage
    payload: bytes = field(repr=False)
    """The raw document, for replay."""
    msg_id: str | None = None
    family: Family | None = None
    message_type: str | None = None
    sender_her_id: int | None = None
    receiver_her_id: int | None = None
    """Delivery stage: the receiver it was not delivered to (a replay goes to it only)."""
    routed: bytes | None = None
    """Delivery stage: the consumed ``RoutedMessage`` record, replayed as it was."""

    def __repr__(self) -> str:
        """Ids and the code only: the payload may hold patient data."""
        return (
            f"RejectedMessage(hub_message_id={self.hub_message_id}, msg_id={self.msg_id!r}, "
            f"code={self.code.value}, stage={self.stage.value}, reason={self.reason!r})"
        )

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        return {
            "hub_message_id": self.hub_message_id,
            "msg_id": self.msg_id,
            "code": self.code,
            "reason": self.reason,
            "stage": self.stage,
            "family": self.family,
            "message_type": self.message_type,
            "sender_her_id": self.sender_her_id,
            "rejected_at": _millis(self.rejected_at, "rejected_at"),
            "ingress": self.ingress.to_avro(),
            "payload": self.payload,
            "receiver_her_id": self.receiver_her_id,
            "routed": self.routed,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """The record from a decoded Avro value (fields unknown to this version are ignored)."""
        family = value["family"]
        return cls(
            hub_message_id=value["hub_message_id"],
            msg_id=value["msg_id"],
            code=_APPREC_ERROR[value["code"]],
            reason=value["reason"],
            stage=_STAGE[value["stage"]],
            family=None if family is None else _FAMILY[family],
            message_type=value["message_type"],
            sender_her_id=value["sender_her_id"],
            rejected_at=value["rejected_at"],
            ingress=InboundMessage.from_avro(value["ingress"]),
            payload=value["payload"],
            receiver_her_id=value.get("receiver_her_id"),
            routed=value.get("routed"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEvent:
    """One outcome of one message; the value on ``hub.events`` and the source of all statistics.

    It has no payload field, and being slotted it cannot be given one: events
    carry ids, organisation HER-ids, closed-set values and safe reasons only.
    """

    AVRO_NAME: ClassVar[str] = f"{NAMESPACE}.MessageEvent"

    event_id: UUID
    event_type: EventType
    occurred_at: datetime
    hub_message_id: UUID
    family: Family
    message_type: str
    """:data:`UNKNOWN_MESSAGE_TYPE` when not classified."""
    sender_category: Category
    receiver_category: Category
    """``Category.UKJENT`` when the receiver is unknown."""
    addressing_mode: AddressingMode
    adapter: str
    received_at: datetime
    """Ingress time, for latencies."""
    size_bytes: int
    msg_id: str | None = None
    message_version: str | None = None
    sender_her_id: int | None = None
    """Level-1 organisation of the sender."""
    receiver_her_id: int | None = None
    """Level-1 organisation of the receiver."""
    is_copy: bool = False
    reason_code: str | None = None
    reason: str | None = None
    principal: str | None = None
    apprec_status: AppRecStatus | None = None
    apprec_round_trip_ms: int | None = None
    original_msg_id: str | None = None
    endpoint_kind: str | None = None
    attempt: int | None = None
    source_system: str | None = None
    """The sending client system (MSH API ``nhn-source-system``), sanitised."""
    next_attempt_at: datetime | None = None
    """When the next delivery attempt is due (``delivery_retried`` events)."""

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "occurred_at": _millis(self.occurred_at, "occurred_at"),
            "hub_message_id": self.hub_message_id,
            "msg_id": self.msg_id,
            "family": self.family,
            "message_type": self.message_type,
            "message_version": self.message_version,
            "sender_her_id": self.sender_her_id,
            "receiver_her_id": self.receiver_her_id,
            "sender_category": self.sender_category,
            "receiver_category": self.receiver_category,
            "addressing_mode": self.addressing_mode,
            "is_copy": self.is_copy,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "adapter": self.adapter,
            "principal": self.principal,
            "received_at": _millis(self.received_at, "received_at"),
            "size_bytes": self.size_bytes,
            "apprec_status": self.apprec_status,
            "apprec_round_trip_ms": self.apprec_round_trip_ms,
            "original_msg_id": self.original_msg_id,
            "endpoint_kind": self.endpoint_kind,
            "attempt": self.attempt,
            "source_system": self.source_system,
            "next_attempt_at": _opt_millis(self.next_attempt_at, "next_attempt_at"),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """The record from a decoded Avro value (fields unknown to this version are ignored)."""
        status = value["apprec_status"]
        return cls(
            event_id=value["event_id"],
            event_type=_EVENT[value["event_type"]],
            occurred_at=value["occurred_at"],
            hub_message_id=value["hub_message_id"],
            msg_id=value["msg_id"],
            family=_FAMILY[value["family"]],
            message_type=value["message_type"],
            message_version=value["message_version"],
            sender_her_id=value["sender_her_id"],
            receiver_her_id=value["receiver_her_id"],
            sender_category=_CATEGORY[value["sender_category"]],
            receiver_category=_CATEGORY[value["receiver_category"]],
            addressing_mode=_MODE[value["addressing_mode"]],
            is_copy=value["is_copy"],
            reason_code=value["reason_code"],
            reason=value["reason"],
            adapter=value["adapter"],
            principal=value["principal"],
            received_at=value["received_at"],
            size_bytes=value["size_bytes"],
            apprec_status=None if status is None else _APPREC_STATUS[status],
            apprec_round_trip_ms=value["apprec_round_trip_ms"],
            original_msg_id=value["original_msg_id"],
            endpoint_kind=value["endpoint_kind"],
            attempt=value["attempt"],
            source_system=value.get("source_system"),
            next_attempt_at=value.get("next_attempt_at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStatus:
    """Result of one attempt to deliver a routed message to its receiver's endpoint."""

    AVRO_NAME: ClassVar[str] = f"{NAMESPACE}.DeliveryStatus"

    hub_message_id: UUID
    receiver_her_id: int
    endpoint_kind: str
    outcome: DeliveryOutcome
    attempt: int
    """Starting at 1."""
    occurred_at: datetime
    msg_id: str | None = None
    reason: str | None = None
    next_attempt_at: datetime | None = None

    def to_avro(self) -> dict[str, Any]:
        """The value as the Avro schema names it."""
        return {
            "hub_message_id": self.hub_message_id,
            "msg_id": self.msg_id,
            "receiver_her_id": self.receiver_her_id,
            "endpoint_kind": self.endpoint_kind,
            "outcome": self.outcome,
            "attempt": self.attempt,
            "reason": self.reason,
            "occurred_at": _millis(self.occurred_at, "occurred_at"),
            "next_attempt_at": _opt_millis(self.next_attempt_at, "next_attempt_at"),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """The record from a decoded Avro value (fields unknown to this version are ignored)."""
        return cls(
            hub_message_id=value["hub_message_id"],
            msg_id=value["msg_id"],
            receiver_her_id=value["receiver_her_id"],
            endpoint_kind=value["endpoint_kind"],
            outcome=_OUTCOME[value["outcome"]],
            attempt=value["attempt"],
            reason=value["reason"],
            occurred_at=value["occurred_at"],
            next_attempt_at=value["next_attempt_at"],
        )


RECORD_TYPES: Final[tuple[type[AvroRecord], ...]] = (
    InboundMessage,
    RoutedMessage,
    RejectedMessage,
    MessageEvent,
    DeliveryStatus,
)
