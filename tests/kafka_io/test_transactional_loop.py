"""The transactional loop through a real broker: exactly once, keyed, restartable, poison-safe."""

from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from kafka_io import (
    OutRecord,
    TransactionalLoop,
    consumer_config,
    headers_of,
    producer_config,
)
from kafka_io.settings import KafkaSettings, TopicSettings, TopicSpec
from kafka_io.transactional import next_batch
from tests.conftest import TopicFactory
from tests.support.kafka import read_all
from tests.support.waiting import running

pytestmark = pytest.mark.integration


RECEIVER_HEADER = "receiver-id"


def key_by_receiver(outbound: str) -> Callable[[Message], list[OutRecord]]:
    """A process step that moves a record to ``outbound`` keyed by its receiver header."""

    def process(message: Message) -> list[OutRecord]:
        headers = headers_of(message)
        return [
            OutRecord(
                topic=outbound,
                key=dict(headers).get(RECEIVER_HEADER),
                value=message.value(),
                headers=headers,
            )
        ]

    return process


def mover(settings: KafkaSettings, bootstrap: str, group: str) -> TransactionalLoop:
    return TransactionalLoop(
        name="mover",
        consumer_config=consumer_config(settings, bootstrap, group),
        producer_config=producer_config(settings, bootstrap),
        topics=[settings.topics.inbound.name],
        process=key_by_receiver(settings.topics.outbound.name),
    )


def produce(bootstrap: str, topic: str, count: int, start: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(start, start + count):
        producer.produce(
            topic,
            value=f"<msg n='{i}'/>".encode(),
            headers=[(RECEIVER_HEADER, str(80000 + i % 7).encode())],
        )
    assert producer.flush(30) == 0


def hub_settings(bootstrap: str, inbound: str, outbound: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        topics=TopicSettings(
            inbound=TopicSpec(name=inbound, partitions=3),
            outbound=TopicSpec(name=outbound, partitions=3),
        ),
    )


def test_record_arrives_exactly_once_keyed_by_receiver(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    inbound, outbound = topic_factory("inbound", 3), topic_factory("outbound", 3)
    router = mover(
        hub_settings(kafka_bootstrap, inbound, outbound), kafka_bootstrap, f"g-{inbound}"
    )
    produce(kafka_bootstrap, inbound, 200)
    with running(router):
        records = read_all(kafka_bootstrap, outbound, expected=200, timeout_s=60)
    values = sorted(r.value() or b"" for r in records)
    assert values == sorted(f"<msg n='{i}'/>".encode() for i in range(200))
    for record in records:
        assert record.key() == dict(record.headers() or [])[RECEIVER_HEADER]


def test_restart_continues_from_committed_offsets_without_duplicates(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    inbound, outbound = topic_factory("inbound", 3), topic_factory("outbound", 3)
    settings = hub_settings(kafka_bootstrap, inbound, outbound)
    produce(kafka_bootstrap, inbound, 100)
    with running(mover(settings, kafka_bootstrap, f"g-{inbound}")):
        assert len(read_all(kafka_bootstrap, outbound, expected=100, timeout_s=60)) == 100
    produce(kafka_bootstrap, inbound, 100, start=100)
    with running(mover(settings, kafka_bootstrap, f"g-{inbound}")):
        records = read_all(kafka_bootstrap, outbound, expected=200, timeout_s=60)
    assert len(records) == 200
    assert len({r.value() for r in records}) == 200


def test_failing_record_becomes_dead_letter_and_the_rest_flows(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    inbound, outbound, dead = topic_factory("in"), topic_factory("out"), topic_factory("dlq")
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)

    def process(message: Message) -> list[OutRecord]:
        if b"poison" in (message.value() or b""):
            raise ValueError("cannot handle this record")
        return [OutRecord(topic=outbound, value=message.value())]

    def on_error(message: Message, exc: Exception) -> list[OutRecord]:
        return [
            OutRecord(
                topic=dead, value=message.value(), headers=(("error", type(exc).__name__.encode()),)
            )
        ]

    loop = TransactionalLoop(
        name="test",
        consumer_config=consumer_config(settings, kafka_bootstrap, f"g-{inbound}"),
        producer_config=producer_config(settings, kafka_bootstrap),
        topics=[inbound],
        process=process,
        on_error=on_error,
    )
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for value in (b"one", b"poison", b"two"):
        producer.produce(inbound, value=value)
    assert producer.flush(10) == 0
    with running(loop):
        good = read_all(kafka_bootstrap, outbound, expected=2, timeout_s=60)
        bad = read_all(kafka_bootstrap, dead, expected=1, timeout_s=30)
    assert sorted(r.value() or b"" for r in good) == [b"one", b"two"]
    assert [(r.value(), dict(r.headers() or [])["error"]) for r in bad] == [
        (b"poison", b"ValueError")
    ]


def test_batches_are_bounded_by_bytes_and_a_larger_record_is_a_batch_of_its_own(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """A backlog of large documents makes short transactions, not one of gigabytes."""
    topic = topic_factory("bytes")
    kib = 1024
    sizes = [256 * kib] * 12 + [2048 * kib] + [256 * kib] * 4
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 8 << 20})
    for n, size in enumerate(sizes):
        producer.produce(topic, value=bytes([n]) * size)
    assert producer.flush(30) == 0
    consumer = Consumer(consumer_config(KafkaSettings(), kafka_bootstrap, f"g-{topic}"))
    consumer.assign([TopicPartition(topic, 0, 0)])
    batches: list[list[int]] = []
    try:
        while sum(map(len, batches)) < len(sizes):
            batch = next_batch(consumer, 500, 10.0, max_bytes=1024 * kib)
            assert batch, "records stopped arriving"
            batches.append([len(m.value() or b"") for m in batch])
    finally:
        consumer.close()
    assert [size for batch in batches for size in batch] == sizes  # all, in order
    for taken in batches:  # the budget, passed by the last record taken at most
        assert sum(taken[:-1]) < 1024 * kib, batches
    assert [2048 * kib] in batches or any(b[-1] == 2048 * kib for b in batches)
    assert max(len(b) for b in batches) <= 4
