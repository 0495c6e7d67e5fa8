"""The router's transport-level rejections of AMQP messages reach the sender's error queue
(real Kafka-protocol broker and real RabbitMQ): T10 and spoofing do, with the profile's
error message; a fault of content (E21) and a message that came over HTTP do not."""

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
from confluent_kafka import Producer

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from broker_adapters.ingress.amqp_errors import AmqpRejectionReporter, error_condition
from kafka_io.settings import KafkaSettings, TopicSpec
from routing.decision import Rejected
from routing.pipeline import decide
from schemas.reader import MessageReader
from schemas.records import InboundMessage, RejectedMessage, encode
from schemas.settings import SchemaSettings
from schemas.vocabulary import SPOOFING_REASON_PREFIX, AppRecErrorCode, Family
from tests.routing.test_hub_apprec import HUB, OPEN, OWN_REGISTER, SENDER, builder, synthetic
from tests.support.waiting import running, wait_for

pytestmark = pytest.mark.integration

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
NOW = datetime.now(UTC)


def rejection(raw: bytes, adapter: str, transport_id: str) -> RejectedMessage:
    """What the router writes to ``hub.rejected`` for ``raw`` received through ``adapter``."""
    meta = InboundMessage(
        hub_message_id=uuid.uuid4(),
        adapter=adapter,
        principal="epj",
        received_at=NOW,
        size_bytes=len(raw),
        transport_message_id=transport_id,
    )
    read = MessageReader(SchemaSettings()).read(raw)
    decision = decide(read, meta, OWN_REGISTER, OPEN, lambda _key: None, NOW)
    assert isinstance(decision, Rejected), decision
    rejected = builder().build(decision, meta, raw, OWN_REGISTER, NOW).rejected
    assert rejected is not None
    return rejected


def unknown_type() -> bytes:
    return synthetic("DIALOG_NOTAT", Family.DIALOG, "1.1").replace(
        b"http://www.kith.no/xmlstds/dialog/2013-01-23", b"http://example.org/ukjent/2020-01-01"
    )


def unknown_receiver() -> bytes:
    return synthetic("DIALOG_NOTAT", Family.DIALOG, "1.1").replace(b"7100010", b"7199999")


@pytest.fixture
def error_queue() -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}_error"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    connection.channel().queue_delete(name)
    connection.close()


def drain(queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    found = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        found.append((properties, body))
    connection.close()
    return found


def ready_count(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    count = connection.channel().queue_declare(queue, durable=True).method.message_count
    connection.close()
    return int(count)


def test_router_rejections_of_amqp_messages_reach_the_senders_error_queue(
    kafka_settings: KafkaSettings, kafka_bootstrap: str, topic_factory: Any, error_queue: str
) -> None:
    topic = topic_factory("rejected", partitions=1)
    kafka = kafka_settings.model_copy(deep=True)
    kafka.topics.rejected = TopicSpec(name=topic, partitions=1)
    content = rejection(unknown_receiver(), "amqp", "msg-content")
    over_http = rejection(unknown_type(), "http", "msg-http")
    unsupported = rejection(unknown_type(), "amqp", "msg-unknown-type")
    spoofed = replace(
        unsupported,
        hub_message_id=uuid.uuid4(),
        code=AppRecErrorCode.X99,
        reason=SPOOFING_REASON_PREFIX + "organisation 1 is not the principal's",
    )
    stale = replace(unsupported, hub_message_id=uuid.uuid4(), rejected_at=NOW - timedelta(days=2))
    assert content.code is AppRecErrorCode.E21 and error_condition(content) is None
    assert over_http.code is AppRecErrorCode.T10 and error_condition(over_http) is None
    assert unsupported.code is AppRecErrorCode.T10
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    # In order on one partition: when the last one has arrived, the others were handled.
    for record in (content, over_http, stale, spoofed, unsupported):
        producer.produce(topic, key=str(SENDER).encode(), value=encode(record))
    assert producer.flush(30) == 0
    principals = PrincipalsFile.fixed(
        Principals(
            [
                Principal(
                    "epj", frozenset({SENDER}), amqp_inbound_queue="x", amqp_error_queue=error_queue
                )
            ]
        )
    )
    reporter = AmqpRejectionReporter(
        principals, kafka, kafka_bootstrap, RABBITMQ, HUB, group_id=f"g-{uuid.uuid4().hex[:8]}"
    )
    with running(reporter):
        wait_for(lambda: ready_count(error_queue) >= 2, 30, "the error messages")
        wait_for(reporter.ready, 10, "the reporter to commit")
    errors = drain(error_queue)
    assert len(errors) == 2, [p.headers for p, _b in errors]
    (spoof_props, spoof_body), (props, body) = errors
    assert spoof_props.headers["errorCondition"] == "abuse:spoofing-attack"
    assert body == b"" and spoof_body == b""  # the profile's error message has no payload
    assert props.message_id == "msg-unknown-type"
    headers = props.headers
    assert headers["errorCondition"] == "transport:unsupported-message"
    assert headers["originalMessageId"] == "msg-unknown-type"
    assert headers["errorConditionData"] == f"T10;{unsupported.hub_message_id};"
    assert headers["errorDescription"] == unsupported.reason
    assert (headers["fromHerId"], headers["toHerId"]) == (HUB, SENDER)
    assert datetime.fromisoformat(headers["receiverTimeStamp"]) >= NOW
    # the committed offsets hold: a restarted reporter sends nothing again
    with running(
        AmqpRejectionReporter(principals, kafka, kafka_bootstrap, RABBITMQ, HUB, reporter._group_id)
    ):
        producer.produce(topic, key=str(SENDER).encode(), value=encode(unsupported))
        assert producer.flush(30) == 0
        wait_for(lambda: ready_count(error_queue) >= 1, 30, "the new error message")
    assert len(drain(error_queue)) == 1
