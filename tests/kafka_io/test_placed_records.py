"""Records written back at the offsets they had, on the embedded broker (Tansu).

These run against a broker of their own: placed writes are what the embedded broker's
checkpoint does to a new, empty broker, never to a shared one.
"""

from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kafka_io import is_filler, readable
from kafka_io.placed_records import (
    FILLER_HEADER,
    PlacedRecord,
    PlacedWriteError,
    PlacedWriter,
    batches,
)
from meldingshub.embedded_broker import EmbeddedBroker, free_port

pytestmark = pytest.mark.integration

OFFSETS = [5, 6, 10, 20]
END = 25


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker(port=free_port())
    with embedded:
        yield embedded


def _topic(broker: EmbeddedBroker, name: str, partitions: int = 1) -> str:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(name, partitions, replication_factor=-1)]).values():
        future.result(10)
    return name


def _record(offset: int) -> PlacedRecord:
    return PlacedRecord(
        offset,
        b"k%d" % offset,
        b"v%d" % offset,
        [("h", b"x"), ("none", None)],
        1_700_000_000_000 + offset,
    )


def _read(broker: EmbeddedBroker, topic: str, start: int) -> list[Message]:
    """Records from ``start`` to the partition's end (each read once, as a reader sees them)."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": "placed-reader",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "auto.offset.reset": "error",
        }
    )
    consumer.assign([TopicPartition(topic, 0, start)])
    found: list[Message] = []
    try:
        while len(found) < 10_000:
            message = consumer.poll(10)
            assert message is not None, f"no end of {topic} within 10 s"
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                return found
            found.append(message)
    finally:
        consumer.close()
    raise AssertionError("read past any sensible end: the partition is read again and again")


def test_layout_starts_and_ends_each_partition_with_a_record() -> None:
    laid = list(batches([_record(o) for o in OFFSETS], END))
    assert [offset for offset, _batch in laid] == [0, 5, 6, 10, 20, 24]
    assert list(batches([], 0)) == []
    assert [offset for offset, _b in batches([], 7)] == [0, 6]
    assert [offset for offset, _b in batches([_record(0)], 1)] == [0]
    assert [o for o, _b in batches([_record(o) for o in range(1, 3000, 2)], 3000, pack=True)] == [
        0,
        1999,
        2999,
    ]  # 1,000 records a batch; the last record alone
    with pytest.raises(ValueError, match="out of order"):
        list(batches([_record(6), _record(5)], END))
    with pytest.raises(ValueError, match="past"):
        list(batches([_record(25)], END))


def test_records_keep_their_offsets_and_content(broker: EmbeddedBroker) -> None:
    topic = _topic(broker, "placed-single")
    with PlacedWriter(broker.host, broker.port) as writer:
        writer.rebuild(topic, 0, [_record(o) for o in OFFSETS], END)

    everything = _read(broker, topic, 0)
    assert [m.offset() for m in everything] == [0, *OFFSETS, END - 1]
    assert [is_filler(m) for m in everything] == [True, False, False, False, False, True]
    assert [m.offset() for m in readable(everything)] == OFFSETS
    ten = readable(everything)[2]
    assert (ten.key(), ten.value(), ten.timestamp()[1]) == (b"k10", b"v10", 1_700_000_000_010)
    assert ten.headers() == [("h", b"x"), ("none", None)]
    # Read by position, as a claim check or a committed offset does: the record asked for,
    # or, from inside a gap, the next one.
    assert [m.offset() for m in _read(broker, topic, 10)] == [10, 20, 24]
    assert [m.offset() for m in _read(broker, topic, 7)] == [10, 20, 24]
    assert [m.offset() for m in _read(broker, topic, 21)] == [24]
    # New writes continue at the old end, never on an offset something may still name.
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True})
    producer.produce(topic, value=b"after", partition=0)
    producer.flush(10)
    assert [(m.offset(), m.value()) for m in readable(_read(broker, topic, 21))] == [
        (END, b"after")
    ]


def test_packed_partitions_read_whole_from_the_start(broker: EmbeddedBroker) -> None:
    topic = _topic(broker, "placed-packed")
    offsets = list(range(2, 9000, 3))
    with PlacedWriter(broker.host, broker.port) as writer:
        written = writer.rebuild(topic, 0, [_record(o) for o in offsets], 9005, pack=True)
    assert written == 5  # 3,002 records with the fillers: four batches and the last alone
    found = readable(_read(broker, topic, 0))
    assert [m.offset() for m in found] == offsets
    assert found[-1].value() == b"v%d" % offsets[-1]


def test_an_empty_partition_moves_to_its_end(broker: EmbeddedBroker) -> None:
    topic = _topic(broker, "placed-empty")
    with PlacedWriter(broker.host, broker.port) as writer:
        writer.rebuild(topic, 0, [], 7)
    found = _read(broker, topic, 0)
    assert [m.offset() for m in found] == [0, 6]
    assert all(m.headers() == [(FILLER_HEADER, b"")] for m in found)
    assert readable(found) == []


def test_a_partition_that_is_not_empty_is_refused(broker: EmbeddedBroker) -> None:
    topic = _topic(broker, "placed-taken")
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    producer.produce(topic, value=b"already here", partition=0)
    producer.flush(10)
    with (
        PlacedWriter(broker.host, broker.port) as writer,
        pytest.raises(PlacedWriteError, match="was placed at 1"),
    ):
        writer.rebuild(topic, 0, [_record(5)], 10)
