"""Kafka ingress: native producers write raw documents to an ingress topic; copied exactly once.

Each record carries its producer's principal in a header (in production the
SASL principal, which the principals file maps through ``kafka_principal``).
The adapter screens each record like every other transport and, in one Kafka
transaction with the consumed offsets, writes accepted ones to ``hub.inbound``
(key: principal, header: the encoded metadata) and refused ones to
``hub.rejected`` with the reason, so nothing is lost and nothing copied twice.
"""

import threading
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
from confluent_kafka import Message

from broker_adapters.ingress.base import IngressAdapter, RefusalReason, Refused, Submission
from broker_adapters.ingress.gate import IngressGate
from broker_adapters.ingress.settings import IngressSettings
from broker_adapters.kafka import (
    OutRecord,
    TransactionalLoop,
    consumer_config,
    headers_of,
    producer_config,
)
from broker_adapters.kafka.settings import KafkaSettings
from routing.principals import Principal, PrincipalsFile
from schemas.records import (
    INBOUND_HEADER,
    InboundMessage,
    RejectedMessage,
    RejectStage,
    encode,
)
from schemas.vocabulary import AppRecError

log = structlog.get_logger(__name__)

REJECT_CODES: dict[RefusalReason, AppRecError] = {
    RefusalReason.NOT_XML: AppRecError.T01,
    RefusalReason.TOO_LARGE: AppRecError.T99,
    RefusalReason.SENDER_NOT_ALLOWED: AppRecError.X99,
    RefusalReason.UNAUTHENTICATED: AppRecError.X99,
    RefusalReason.UNPROCESSABLE: AppRecError.X99,
}
"""AppRec error codes (kodeverk 8221) for the dead-letter record of each refusal."""


def _position(message: Message) -> str:
    return f"{message.topic()}/{message.partition()}/{message.offset()}"


def copy_id(message: Message) -> UUID:
    """The hub id of a copied record: derived from its position, so a re-run gives the same id."""
    return uuid5(NAMESPACE_URL, f"kafka:{_position(message)}")


class KafkaIngress(IngressAdapter):
    """Transactional copy from the ingress topic to ``hub.inbound`` (and ``hub.rejected``)."""

    name = "ingress-kafka"

    def __init__(
        self,
        gate: IngressGate,
        principals: PrincipalsFile,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        settings: IngressSettings,
        instance_id: str,
    ) -> None:
        self._gate = gate
        self._principals = principals
        self._header = settings.kafka_principal_header
        self._inbound = kafka.topics.inbound.name
        self._rejected = kafka.topics.rejected.name
        self._loop = TransactionalLoop(
            name=self.name,
            consumer_config=consumer_config(kafka, bootstrap_servers, settings.kafka_group_id),
            producer_config=producer_config(
                kafka, bootstrap_servers, f"{settings.kafka_group_id}-{instance_id}"
            ),
            topics=[settings.kafka_topic],
            process=self.process,
            on_error=self.unprocessable,
        )

    def run(self, stop: threading.Event) -> None:
        """Copy until stopped."""
        self._loop.run(stop)

    def ready(self) -> bool:
        """Ready once the consumer group gave this copy its partitions."""
        return self._loop.assigned.is_set()

    def process(self, message: Message) -> list[OutRecord]:
        """The record(s) one ingress record becomes: an inbound copy or a dead-letter record."""
        raw = message.value() or b""
        timestamp_ms = message.timestamp()[1]
        received_at = (
            datetime.fromtimestamp(timestamp_ms / 1000, UTC)
            if timestamp_ms > 0
            else datetime.now(UTC)
        )
        named = dict(headers_of(message)).get(self._header)
        producer = named.decode("utf-8", "replace") if named else None
        principal = self._principals.current().for_kafka_principal(producer)
        inbound = InboundMessage(
            hub_message_id=copy_id(message),
            adapter="kafka",
            principal=principal.name if principal else None,
            received_at=received_at,
            size_bytes=len(raw),
            transport_message_id=_position(message),
        )
        self._gate.count_received("kafka")
        if principal is None:
            refused = Refused(
                RefusalReason.UNAUTHENTICATED,
                f"the {self._header!r} header names no configured kafka_principal",
            )
            self._gate.count_refused("kafka", refused)
            return [self._dead_letter(inbound, raw, refused)]
        refused_or_none = self._gate.screen(
            Submission(raw=raw, principal=principal, adapter="kafka", received_at=received_at)
        )
        if refused_or_none is not None:
            self._gate.count_refused("kafka", refused_or_none)
            return [self._dead_letter(inbound, raw, refused_or_none)]
        self._gate.count_accepted("kafka", len(raw))
        return [self._copy(inbound, principal, raw)]

    def unprocessable(self, message: Message, exc: Exception) -> list[OutRecord]:
        """A record ``process`` failed on unexpectedly: dead-letter it, so the copy goes on."""
        raw = message.value() or b""
        inbound = InboundMessage(
            hub_message_id=copy_id(message),
            adapter="kafka",
            principal=None,
            received_at=datetime.now(UTC),
            size_bytes=len(raw),
            transport_message_id=_position(message),
        )
        refused = Refused(
            RefusalReason.UNPROCESSABLE,
            f"the hub could not screen this record ({type(exc).__name__}); it was not accepted",
        )
        self._gate.count_refused("kafka", refused)
        return [self._dead_letter(inbound, raw, refused)]

    def _copy(self, inbound: InboundMessage, principal: Principal, raw: bytes) -> OutRecord:
        return OutRecord(
            topic=self._inbound,
            key=principal.name.encode("utf-8"),
            value=raw,
            headers=((INBOUND_HEADER, encode(inbound)),),
        )

    def _dead_letter(self, inbound: InboundMessage, raw: bytes, refused: Refused) -> OutRecord:
        log.info(
            "kafka ingress record refused",
            reason=refused.reason.value,
            position=inbound.transport_message_id,
        )
        rejected = RejectedMessage(
            hub_message_id=inbound.hub_message_id,
            code=REJECT_CODES.get(refused.reason, AppRecError.X99),
            reason=refused.detail,
            stage=RejectStage.INGRESS,
            rejected_at=datetime.now(UTC),
            ingress=inbound,
            payload=raw,
        )
        key = (inbound.principal or "").encode("utf-8")
        return OutRecord(topic=self._rejected, key=key, value=encode(rejected))
