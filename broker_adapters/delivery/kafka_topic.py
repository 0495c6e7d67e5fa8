"""Kafka endpoint: the receiver's own topic (``hub.deliver.<herid>``), inside the delivery
transaction, so a receiver that reads ``read_committed`` sees every message exactly once.

Meant for large receivers such as a health trust's integration engine. The
topic is created on first use; the record is returned, not produced, so the
worker writes it together with the consumed offsets.
"""

import re
from typing import Any

from confluent_kafka import KafkaException

from addressregister.model import EndpointKind
from broker_adapters.delivery.base import Attempt, DeliveryEndpoint, Failed, HandedOver, Handover
from kafka_io import OutRecord, ensure_topics
from kafka_io.errors import KafkaLayerError
from kafka_io.settings import TopicSpec

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class KafkaTopicEndpoint(DeliveryEndpoint):
    """Turns a delivery into a record for the receiver's topic."""

    kind = EndpointKind.KAFKA
    transactional = True

    def __init__(self, admin_config: dict[str, Any], prefix: str, partitions: int = 1) -> None:
        self._admin_config = admin_config
        self._prefix = prefix
        self._partitions = partitions
        self._known: set[str] = set()

    def topic_for(self, handover: Handover) -> str:
        """The register's topic, or ``<prefix>.<herid>`` when the entry names none."""
        return handover.address or f"{self._prefix}.{handover.receiver_her_id}"

    def deliver(self, handover: Handover) -> Attempt:
        """Return the record to produce in the transaction."""
        topic = self.topic_for(handover)
        if not _TOPIC.match(topic):
            return Failed("Kafka endpoint address is not a valid topic name", permanent=True)
        if topic not in self._known:
            try:
                ensure_topics(
                    self._admin_config, [TopicSpec(name=topic, partitions=self._partitions)]
                )
            except (KafkaLayerError, KafkaException) as exc:
                return Failed(f"cannot create the receiver's topic ({type(exc).__name__})")
            self._known.add(topic)
        message = handover.message
        headers = [
            ("hub-message-id", str(message.hub_message_id).encode()),
            ("msg-id", handover.message_id.encode()),
            ("toHerId", str(handover.receiver_her_id).encode()),
            ("idempotency-key", handover.idempotency_key.encode()),
            ("content-type", b"application/xml"),
        ]
        if message.sender_her_id is not None:
            headers.append(("fromHerId", str(message.sender_her_id).encode()))
        record = OutRecord(
            topic=topic,
            key=str(handover.receiver_her_id).encode(),
            value=message.payload,
            headers=tuple(headers),
        )
        return HandedOver(records=(record,))
