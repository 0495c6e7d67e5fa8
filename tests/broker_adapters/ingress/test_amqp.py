"""AMQP ingress through the real RabbitMQ: ack after the durable write; bad ones to _error."""

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pika
import pytest
from prometheus_client import CollectorRegistry

import meldingshub.embedded_broker as embedded
from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate, IngressSettings
from broker_adapters.ingress.amqp import AmqpIngress
from kafka_io import ensure_topics
from kafka_io.settings import KafkaSettings
from meldingshub.embedded_broker import EmbeddedBroker, free_port
from metrics.ingress import IngressMetrics
from tests.broker_adapters.ingress.support import (
    inbound_meta,
    msghead_samples,
    sender_ids,
    sender_organisation,
    with_new_msg_id,
)
from tests.support.corpus_register import Sample
from tests.support.kafka import read_all
from tests.support.waiting import running, wait_for

pytestmark = pytest.mark.integration

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass(frozen=True)
class Queues:
    inbound: str
    error: str


@pytest.fixture
def queues() -> Iterator[Queues]:
    """uuid-named inbound and error queues, deleted afterwards."""
    names = Queues(f"test-{uuid.uuid4().hex[:10]}_async", f"test-{uuid.uuid4().hex[:10]}_error")
    yield names
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    channel = connection.channel()
    for queue in (names.inbound, names.error):
        channel.queue_delete(queue)
    connection.close()


def principals(samples: list[Sample], queues: Queues) -> PrincipalsFile:
    return PrincipalsFile.fixed(
        Principals(
            [
                Principal(
                    "epj",
                    frozenset(sender_ids(samples)),
                    amqp_inbound_queue=queues.inbound,
                    amqp_error_queue=queues.error,
                )
            ]
        )
    )


def publish(queue: str, bodies: Sequence[tuple[str, bytes, Mapping[str, object]]]) -> None:
    """Publish ``(message_id, body, headers)`` persistently, with publisher confirms."""
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    channel.confirm_delivery()
    for message_id, body, headers in bodies:
        channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(
                message_id=message_id,
                content_type="application/xml",
                headers=dict(headers),
                delivery_mode=pika.DeliveryMode.Persistent,
            ),
        )
    connection.close()


def ready_count(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    count = int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    connection.close()
    return count


def drain(queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    channel = connection.channel()
    got = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        got.append((properties, body))
    connection.close()
    return got


def test_good_messages_reach_hub_inbound_and_bad_ones_the_error_queue(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    topic_factory: object,
    samples: list[Sample],
    register_view: StaticRegister,
    queues: Queues,
) -> None:
    inbound_topic = topic_factory("inbound", partitions=3)  # type: ignore[operator]
    kafka = kafka_settings.model_copy(
        update={
            "topics": kafka_settings.topics.model_copy(
                update={
                    "inbound": kafka_settings.topics.inbound.model_copy(
                        update={"name": inbound_topic}
                    )
                }
            )
        }
    )
    template = msghead_samples(samples)[0]
    good = {f"good-{i}": with_new_msg_id(template.raw)[0] for i in range(20)}
    sender = template.envelope.sender.organisation_her_id
    bad = {
        "not-xml": (b"<MsgHead><unclosed>", {}),
        "spoofed": (template.raw, {"fromHerId": str(999_999_999)}),
    }
    publish(
        queues.inbound,
        [(mid, body, {"fromHerId": str(sender)}) for mid, body in good.items()]
        + [(mid, body, headers) for mid, (body, headers) in bad.items()],
    )
    registry = CollectorRegistry()
    gate = IngressGate.create(
        kafka, kafka_bootstrap, IngressSettings(), register_view, IngressMetrics(registry)
    )
    try:
        with running(
            AmqpIngress(gate, principals(samples, queues), RABBITMQ, prefetch=8), until_ready=True
        ):
            records = read_all(kafka_bootstrap, inbound_topic, len(good), 30)
            wait_for(lambda: ready_count(queues.error) == 2, 15, "refusals not on the error queue")
            wait_for(lambda: ready_count(queues.inbound) == 0, 15, "inbound queue not drained")
    finally:
        gate.close()

    # The adapter's connection is closed: anything it had not acked would be back in the queue.
    assert ready_count(queues.inbound) == 0
    by_id = {}
    for record in records:
        meta = inbound_meta(record)
        assert meta.adapter == "amqp" and meta.principal == "epj"
        assert record.key() == str(sender_organisation(record.value())).encode()
        by_id[meta.transport_message_id] = record.value()
    assert by_id == good
    errors = {props.message_id: (props, body) for props, body in drain(queues.error)}
    assert set(errors) == {"not-xml", "spoofed"}
    assert errors["not-xml"][0].headers["errorCondition"] == "transport:not-well-formed-xml"
    assert errors["spoofed"][0].headers["errorCondition"] == "abuse:spoofing-attack"
    assert all(body == bad[mid][0] for mid, (_props, body) in errors.items())
    assert errors["spoofed"][0].headers["errorDescription"]
    assert registry.get_sample_value(
        "meldingshub_ingress_accepted_total", {"adapter": "amqp"}
    ) == len(good)


@pytest.mark.slow
def test_a_delivery_is_not_acked_while_kafka_cannot_take_it(
    samples: list[Sample],
    register_view: StaticRegister,
    queues: Queues,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    bootstrap = broker.bootstrap_servers
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    ensure_topics({"bootstrap.servers": bootstrap}, kafka.topics.all())
    body = with_new_msg_id(msghead_samples(samples)[0].raw)[0]
    settings = IngressSettings(write_timeout_s=1.5, retry_after_s=1)
    source = principals(samples, queues)
    try:
        broker.stop()
        publish(queues.inbound, [("only", body, {})])
        registry = CollectorRegistry()
        gate = IngressGate.create(
            kafka, bootstrap, settings, register_view, IngressMetrics(registry)
        )
        try:
            with running(AmqpIngress(gate, source, RABBITMQ), until_ready=True):
                wait_for(
                    lambda: registry.get_sample_value(
                        "meldingshub_ingress_refused_total",
                        {"adapter": "amqp", "reason": "broker_unavailable"},
                    ),
                    20,
                    "the write to the stopped broker did not fail",
                )
        finally:
            gate.close()
        # Not acked, not dead-lettered, not lost: back in the queue for the next try.
        assert ready_count(queues.inbound) == 1
        assert ready_count(queues.error) == 0

        monkeypatch.setattr(embedded, "_ensure_port_free", lambda _host, _port: None)
        broker.start()
        ensure_topics({"bootstrap.servers": bootstrap}, kafka.topics.all())
        gate = IngressGate.create(kafka, bootstrap, settings, register_view)
        started = time.monotonic()
        try:
            with running(AmqpIngress(gate, source, RABBITMQ), until_ready=True):
                records = read_all(bootstrap, kafka.topics.inbound.name, 1, 30)
                wait_for(lambda: ready_count(queues.inbound) == 0, 15, "not acked after write")
        finally:
            gate.close()
        assert time.monotonic() - started < 30
        assert [r.value() for r in records] == [body]
        assert ready_count(queues.inbound) == 0
    finally:
        broker.stop()
