"""A delivered record the broker refuses for what it is (a receiver's topic that takes smaller
records) is given up with its reason, never retried for ever by the delivery transaction."""

from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from addressregister.index import RegisterIndex
from addressregister.model import EndpointKind
from broker_adapters.delivery.mailbox_store import MailboxStore
from kafka_io.errors import RecordRefusedError
from schemas.records import MessageEvent, RejectedMessage, decode
from schemas.vocabulary import EventType
from tests.broker_adapters.delivery.support import (
    SENDER,
    component,
    hub_topics,
    party,
    produce,
    routed,
)

pytestmark = pytest.mark.integration

TO_TOPIC = 9_600_001


def _first_record(bootstrap: str, topic: str) -> Message:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "refused-test"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        for _ in range(100):
            message = consumer.poll(0.3)
            if message is not None and message.error() is None:
                return message
    finally:
        consumer.close()
    raise AssertionError(f"nothing on {topic}")


def test_a_refused_delivery_record_is_given_up_with_its_reason(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    with hub_topics(kafka_bootstrap, partitions=1) as hub:
        receiver_topic = f"{hub.prefix}.receiver"
        register = RegisterIndex(
            [
                party(TO_TOPIC, EndpointKind.KAFKA, receiver_topic),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        message = routed(TO_TOPIC, 0)
        produce(kafka_bootstrap, hub.outbound, [message])
        consumed = _first_record(kafka_bootstrap, hub.outbound)
        worker = component(hub, kafka_bootstrap, register, mailbox, tmp_path / "outbox")
        instead = worker.refused(consumed, RecordRefusedError("too_large", "refused"))
    by_topic = {record.topic: record for record in instead}
    rejected = decode(by_topic[hub.rejected].value or b"", RejectedMessage)
    assert rejected.hub_message_id == message.hub_message_id
    assert "refuses" in rejected.reason and "too_large" in rejected.reason
    events = [decode(r.value or b"", MessageEvent) for r in instead if r.topic == hub.events]
    assert [e.event_type for e in events][:1] == [EventType.DELIVERY_FAILED]
    assert receiver_topic not in by_topic  # what was refused is not written again
