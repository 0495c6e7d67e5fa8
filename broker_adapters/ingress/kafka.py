"""Kafka ingress: each principal's producers write raw documents to its own topic; copied once.

The principal is learnt from the connection, never from the data: a principal
with a ``kafka_principal`` (its KafkaUser) writes ``hub.ingress.<name>``, and
only that user may (ACLs generated in ``deploy/k8s``). The adapter subscribes to
every such topic, screens each record like every other transport and, in one
Kafka transaction with the consumed offsets, writes accepted ones to
``hub.inbound`` (key: the sender's organisation, header: the encoded metadata)
and refused ones to ``hub.rejected`` with the reason, so nothing is lost and
nothing copied twice. A record on the topic of a principal that is not (or no
longer) configured for Kafka is refused.
"""

import re
import threading
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
from confluent_kafka import Message

from access.principals_file import PrincipalsFile
from broker_adapters.ingress.base import IngressAdapter, RefusalReason, Refused, Submission
from broker_adapters.ingress.gate import IngressGate
from broker_adapters.ingress.settings import IngressSettings
from kafka_io import (
    OutRecord,
    TransactionalLoop,
    client_config,
    consumer_config,
    ensure_topics,
    producer_config,
)
from kafka_io.settings import KafkaSettings, TopicSpec
from routing.events import ingress_refusal
from schemas.records import (
    INBOUND_HEADER,
    InboundMessage,
    encode,
)
from schemas.vocabulary import AppRecErrorCode

log = structlog.get_logger(__name__)

REJECT_CODES: dict[RefusalReason, AppRecErrorCode] = {
    RefusalReason.NOT_XML: AppRecErrorCode.T01,
    RefusalReason.TOO_LARGE: AppRecErrorCode.T99,
    RefusalReason.SENDER_NOT_ALLOWED: AppRecErrorCode.X99,
    RefusalReason.UNAUTHENTICATED: AppRecErrorCode.X99,
    RefusalReason.UNPROCESSABLE: AppRecErrorCode.X99,
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
    transport = "kafka"

    def __init__(
        self,
        gate: IngressGate,
        principals: PrincipalsFile,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        settings: IngressSettings,
    ) -> None:
        self._gate = gate
        self._principals = principals
        self._inbound = kafka.topics.inbound.name
        self._rejected = kafka.topics.rejected.name
        self._admin = client_config(kafka, bootstrap_servers)
        self._partitions = settings.kafka_partitions
        self._prefix = settings.kafka_topic_prefix
        consumer = consumer_config(kafka, bootstrap_servers, settings.kafka_group_id)
        # New principals' topics are found by the pattern at the next metadata refresh.
        consumer["topic.metadata.refresh.interval.ms"] = int(settings.kafka_discovery_s * 1000)
        self._loop = TransactionalLoop(
            name=self.name,
            consumer_config=consumer,
            producer_config=producer_config(
                kafka, bootstrap_servers, f"{settings.kafka_group_id}-{kafka.instance_id}"
            ),
            topics=["^" + re.escape(settings.kafka_topic_prefix) + ".+"],
            process=self.process,
            on_error=self.unprocessable,
        )

    def ensure_principal_topics(self) -> None:
        """Create the ingress topic of every principal allowed to use Kafka (idempotent)."""
        topics = [
            TopicSpec(name=p.kafka_topic(self._prefix), partitions=self._partitions)
            for p in self._principals.current()
            if p.kafka_principal
        ]
        if topics:
            ensure_topics(self._admin, topics)

    def run(self, stop: threading.Event) -> None:
        """Copy until stopped."""
        self.ensure_principal_topics()
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
        topic = message.topic() or ""
        principal = self._principals.current().for_kafka_topic(topic, self._prefix)
        if principal is not None and not principal.kafka_principal:
            principal = None  # not (or no longer) allowed to send over Kafka
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
                "the topic belongs to no principal configured for Kafka ingress",
            )
            self._gate.count_refused("kafka", refused)
            return [self._dead_letter(inbound, raw, refused)]
        submission = Submission(
            raw=raw, principal=principal, adapter="kafka", received_at=received_at
        )
        screened = self._gate.screen_for_copy(submission)
        if isinstance(screened, Refused):
            self._gate.count_refused("kafka", screened)
            return [self._dead_letter(inbound, raw, screened)]
        self._gate.count_accepted("kafka", len(raw))
        return [self._copy(inbound, screened, raw)]

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

    def _copy(self, inbound: InboundMessage, key: bytes, raw: bytes) -> OutRecord:
        return OutRecord(
            topic=self._inbound,
            key=key,
            value=raw,
            headers=((INBOUND_HEADER, encode(inbound)),),
        )

    def _dead_letter(self, inbound: InboundMessage, raw: bytes, refused: Refused) -> OutRecord:
        log.info(
            "kafka ingress record refused",
            reason=refused.reason.value,
            position=inbound.transport_message_id,
        )
        rejected = ingress_refusal(
            inbound,
            REJECT_CODES.get(refused.reason, AppRecErrorCode.X99),
            refused.detail,
            raw,
            datetime.now(UTC),
        )
        key = (inbound.principal or "").encode("utf-8")
        return OutRecord(topic=self._rejected, key=key, value=encode(rejected))
