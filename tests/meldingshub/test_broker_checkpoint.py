"""The embedded broker's checkpoint keeps what is still needed, at its offsets, and no more.

A broker of its own is filled, checkpointed, and the checkpoint restored into a second,
empty broker, as the hub does when it restarts its embedded broker.
"""

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kafka_io import readable
from kafka_io.changelog import ChangelogState
from kafka_io.table import TimedTable
from meldingshub import broker_checkpoint
from meldingshub.cold_store import ColdStore
from meldingshub.embedded_broker import EmbeddedBroker, free_port
from schemas.records import PayloadRef, RoutedMessage, encode
from tests.broker_adapters.delivery.support import routed

pytestmark = pytest.mark.integration

INBOUND = "in"
NOW_MS = 1_800_000_000_000


@pytest.fixture
def brokers() -> Iterator[tuple[EmbeddedBroker, EmbeddedBroker]]:
    first, second = EmbeddedBroker(port=free_port()), EmbeddedBroker(port=free_port())
    with first, second:
        yield first, second


def _config(broker: EmbeddedBroker) -> dict[str, Any]:
    return {"bootstrap.servers": broker.bootstrap_servers}


def _create(broker: EmbeddedBroker, name: str, partitions: int, **config: str) -> None:
    admin = AdminClient(_config(broker))
    new = NewTopic(name, partitions, replication_factor=-1, config=config)
    for future in admin.create_topics([new]).values():
        future.result(10)


def _write(
    broker: EmbeddedBroker,
    topic: str,
    records: list[tuple[bytes | None, bytes | None]],
    partition: int = 0,
    timestamp_ms: int | None = None,
) -> None:
    producer = Producer({**_config(broker), "enable.idempotence": True, "linger.ms": 0})
    for key, value in records:
        producer.produce(
            topic, key=key, value=value, partition=partition, timestamp=timestamp_ms or 0
        )
        producer.flush(10)  # one batch each, as the hub's writers mostly make them
    assert producer.flush(10) == 0


def _commit(broker: EmbeddedBroker, group: str, topic: str, partition: int, offset: int) -> None:
    admin = AdminClient(_config(broker))
    wanted = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition, offset)])
    for future in admin.alter_consumer_group_offsets([wanted]).values():
        future.result(10)


def _committed(broker: EmbeddedBroker, group: str) -> dict[tuple[str, int], int]:
    admin = AdminClient(_config(broker))
    found = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    result = next(iter(found.values())).result(10)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []}


def _read(broker: EmbeddedBroker, topic: str, partition: int = 0) -> list[Message]:
    consumer = Consumer(
        {
            **_config(broker),
            "group.id": "checkpoint-test-reader",
            "enable.auto.commit": False,  # a reader that commits would keep a topic in the broker
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, partition, 0)])
    found: list[Message] = []
    try:
        while True:
            message = consumer.poll(10)
            assert message is not None, f"no end of {topic} within 10 s"
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                return readable(found)
            found.append(message)
    finally:
        consumer.close()


def _offsets_and_values(messages: list[Message]) -> list[tuple[int | None, bytes | None]]:
    return [(m.offset(), m.value()) for m in messages]


def _routed_documents(broker: EmbeddedBroker) -> RoutedMessage:
    """Three documents on ``INBOUND``, all read by the router, and a routed message whose
    claim check names the second."""
    _create(broker, INBOUND, 1)
    _write(broker, INBOUND, [(None, b"doc%d" % n) for n in range(3)])
    _commit(broker, "router", INBOUND, 0, 3)
    return dataclasses.replace(
        routed(9_700_001, 1), payload=b"", payload_ref=PayloadRef(INBOUND, 0, 1)
    )


def test_checkpoint_keeps_what_is_needed_at_its_offsets(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    old, new = brokers
    # A topic a group reads: what it has read goes, what it has not stays.
    _create(old, "work", 2)
    _write(old, "work", [(b"w", b"w%d" % n) for n in range(5)], partition=0)
    _write(old, "work", [(b"w", b"p1-%d" % n) for n in range(2)], partition=1)
    _commit(old, "workers", "work", 0, 3)
    # A table: the newest value of each key; a key whose newest is a tombstone is gone.
    # A retention does not expire a compact-only topic's entries (the register).
    _create(old, "table", 1, **{"cleanup.policy": "compact", "retention.ms": "60000"})
    _write(old, "table", [(b"a", b"a1"), (b"b", b"b1"), (b"a", b"a2"), (b"c", b"c1"), (b"c", None)])
    _write(old, "table", [(b"d", b"d1")], timestamp_ms=NOW_MS // 2)
    # Dead letters nobody reads by group: all of them.
    _create(old, "dead", 1)
    _write(old, "dead", [(None, b"d0"), (None, b"d1")])
    # A stream with a retention: what has expired goes.
    _create(old, "status", 1, **{"retention.ms": "60000"})
    _write(old, "status", [(None, b"old")], timestamp_ms=NOW_MS // 2)
    _write(old, "status", [(None, b"new")])
    # A window (the router's de-duplication): newest per key, and expired entries go too.
    _create(old, "window", 1, **{"cleanup.policy": "compact,delete", "retention.ms": "60000"})
    _write(old, "window", [(b"x", b"x1")], timestamp_ms=NOW_MS // 2)
    _write(old, "window", [(b"y", b"y1"), (b"y", b"y2"), (b"z", b"z1")])
    # z's newest entry has expired: z is gone, its older value does not come back.
    _write(old, "window", [(b"z", b"z2")], timestamp_ms=NOW_MS // 2)
    # Documents: the router has read them all, but a routed message that is still to be
    # delivered names one of them (a claim check).
    claim = _routed_documents(old)
    _create(old, "out", 1)
    _write(old, "out", [(b"9700001", encode(claim))])
    _commit(old, "delivery", "out", 0, 0)

    path = tmp_path / "checkpoint.sqlite"
    saved = broker_checkpoint.save(_config(old), path, INBOUND)
    assert saved.kept_by_topic == {
        "work": 4,  # offsets 3 and 4 of partition 0, both of partition 1
        "table": 3,
        "dead": 2,
        "status": 1,
        "window": 1,
        INBOUND: 1,
        "out": 1,
    }
    assert path.stat().st_mode & 0o777 == 0o600  # documents inside: the owner only
    restored = broker_checkpoint.restore(_config(new), new.host, new.port, path, INBOUND)
    assert restored.records_kept == saved.records_kept == 13

    assert _offsets_and_values(_read(new, "work")) == [(3, b"w3"), (4, b"w4")]
    assert _offsets_and_values(_read(new, "work", 1)) == [(0, b"p1-0"), (1, b"p1-1")]
    assert [(m.key(), m.value()) for m in _read(new, "table")] == [
        (b"b", b"b1"),
        (b"a", b"a2"),
        (b"d", b"d1"),
    ]
    assert _offsets_and_values(_read(new, "dead")) == [(0, b"d0"), (1, b"d1")]
    assert [m.value() for m in _read(new, "status")] == [b"new"]
    assert [(m.key(), m.value()) for m in _read(new, "window")] == [(b"y", b"y2")]
    assert _offsets_and_values(_read(new, INBOUND)) == [(1, b"doc1")]
    assert [m.value() for m in _read(new, "out")] == [encode(claim)]
    # Groups go on where they were; a group with nothing left to read starts at the end.
    assert _committed(new, "workers")[("work", 0)] == 3
    assert _committed(new, "delivery")[("out", 0)] == 0
    assert _committed(new, "router")[(INBOUND, 0)] == 3
    # And a writer carries on after the last offset the old broker gave.
    _write(new, INBOUND, [(None, b"doc3")])
    assert _offsets_and_values(_read(new, INBOUND)) == [(1, b"doc1"), (3, b"doc3")]


def test_a_restored_broker_checkpoints_to_the_same(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """Fillers are not carried over: a second checkpoint keeps the same records."""
    old, new = brokers
    _create(old, "work", 1)
    _write(old, "work", [(None, b"w%d" % n) for n in range(6)])
    _commit(old, "workers", "work", 0, 4)
    first = broker_checkpoint.save(_config(old), tmp_path / "one.sqlite", INBOUND)
    broker_checkpoint.restore(_config(new), new.host, new.port, tmp_path / "one.sqlite", INBOUND)
    second = broker_checkpoint.save(_config(new), tmp_path / "two.sqlite", INBOUND)
    assert first.kept_by_topic == second.kept_by_topic == {"work": 2}
    assert second.records_read == 2


def _resume(broker: EmbeddedBroker, group: str, topic: str, count: int) -> list[Message]:
    """Up to ``count`` records a member of ``group`` reads from its committed offset on."""
    consumer = Consumer(
        {
            **_config(broker),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    start = _committed(broker, group).get((topic, 0), OFFSET_BEGINNING)
    consumer.assign([TopicPartition(topic, 0, start)])  # as a member resumes
    found: list[Message] = []
    try:
        while len(found) < count:
            message = consumer.poll(10)
            assert message is not None, f"no end of {topic} within 10 s"
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                break
            found.extend(readable([message]))
    finally:
        consumer.close()
    return found


def test_a_group_that_first_commits_after_a_restore_resumes_where_it_committed(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """A topic no group had committed on yet (a retry tier, a new receiver's topic) is
    read by a group after the restore: once it has committed part way, it resumes there."""
    old, new = brokers
    _create(old, "tier", 1)
    _write(old, "tier", [(None, b"t%d" % n) for n in range(10)])
    path = tmp_path / "checkpoint.sqlite"
    broker_checkpoint.save(_config(old), path, INBOUND)
    broker_checkpoint.restore(_config(new), new.host, new.port, path, INBOUND)

    first = _resume(new, "late", "tier", 3)
    assert _offsets_and_values(first) == [(0, b"t0"), (1, b"t1"), (2, b"t2")]
    _commit(new, "late", "tier", 0, 3)  # it has handled three
    assert _offsets_and_values(_resume(new, "late", "tier", 100)) == [
        (n, b"t%d" % n) for n in range(3, 10)
    ]


def test_dead_letters_stay_whole_though_a_group_has_read_them(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """The AMQP rejection reporter commits on the dead-letter topic; the operator's dead
    letter listing and replay read it whole from the start, without a group. What the
    reporter has read is still the only copy of an undelivered message."""
    old, new = brokers
    _create(old, "dead", 1)
    _write(old, "dead", [(None, b"d%d" % n) for n in range(3)])
    _commit(old, "amqp-errors", "dead", 0, 3)  # the reporter has told every sender
    path = tmp_path / "checkpoint.sqlite"
    saved = broker_checkpoint.save(_config(old), path, INBOUND, whole_topics={"dead"})
    assert saved.kept_by_topic == {"dead": 3}
    broker_checkpoint.restore(_config(new), new.host, new.port, path, INBOUND)
    assert _offsets_and_values(_read(new, "dead")) == [(n, b"d%d" % n) for n in range(3)]
    assert _committed(new, "amqp-errors")[("dead", 0)] == 3


def test_the_checkpoint_is_readable_by_its_owner_only(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """It holds patients' documents, like the broker it was read from."""
    old, _new = brokers
    _create(old, "dead", 1)
    _write(old, "dead", [(None, b"a document")])
    path = tmp_path / "embedded-broker" / "checkpoint.sqlite"
    broker_checkpoint.save(_config(old), path, INBOUND)
    assert path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0


def test_claim_checks_are_read_only_where_the_hub_writes_them(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """A record on an ingress topic that looks like a routed message names nothing: an
    outside producer cannot make the checkpoint keep (or decode) what it likes."""
    old, _new = brokers
    forged = _routed_documents(old)
    _create(old, "ingress.outside", 1)
    _write(old, "ingress.outside", [(None, encode(forged))])
    saved = broker_checkpoint.save(
        _config(old), tmp_path / "checkpoint.sqlite", INBOUND, claim_topics={"out"}
    )
    assert INBOUND not in saved.kept_by_topic
    assert saved.kept_by_topic["ingress.outside"] == 1


def _ends(broker: EmbeddedBroker, topic: str) -> int:
    consumer = Consumer({**_config(broker), "group.id": "checkpoint-test-ends"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), 10)[1])
    finally:
        consumer.close()


def test_cold_topics_are_restored_to_disk_and_only_their_offsets_to_the_broker(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """The router's windows and the delivery status are read from the start or not at all:
    a restore puts them in the cold store, so the broker's floor does not rise with them.
    The next checkpoint adds what was written since, and its tombstones and retention reach
    what the store already holds."""
    old, new = brokers
    window = {"cleanup.policy": "compact,delete", "retention.ms": "60000"}
    _create(old, "window", 1, **window)
    _write(old, "window", [(b"x", b"x1")], timestamp_ms=NOW_MS // 2)  # expired
    _write(old, "window", [(b"y", b"y1"), (b"y", b"y2"), (b"z", b"z1")])
    _create(old, "status", 1, **{"retention.ms": "60000"})
    _write(old, "status", [(b"s", b"old")], timestamp_ms=NOW_MS // 2)
    _write(old, "status", [(b"s", b"new")])
    cold = ColdStore(tmp_path / "embedded-broker" / "cold.sqlite")

    path = tmp_path / "one.sqlite"
    saved = broker_checkpoint.save(_config(old), path, INBOUND, cold_topics={"window", "status"})
    restored = broker_checkpoint.restore(_config(new), new.host, new.port, path, INBOUND, cold)
    assert restored.records_cold == saved.records_kept == 3
    assert _read(new, "window") == [] and _read(new, "status") == []  # fillers only
    assert _ends(new, "window") == 4 and _ends(new, "status") == 2  # every offset still holds
    assert list(cold.read("window", {0: 0})) == [(0, b"y", b"y2"), (0, b"z", b"z1")]
    assert list(cold.read("status", {0: 0})) == [(0, b"s", b"new")]
    assert cold.path.stat().st_mode & 0o077 == 0

    _write(new, "window", [(b"y", b"y3"), (b"z", None), (b"w", b"w1")])
    assert _offsets_and_values(_read(new, "window")) == [(4, b"y3"), (5, None), (6, b"w1")]
    # s's "new" falls out of the window by the second checkpoint; "newer" stays.
    _write(new, "status", [(b"s", b"newer")])
    _age(cold, "status", 120_000)
    with EmbeddedBroker(port=free_port()) as third:
        path = tmp_path / "two.sqlite"
        broker_checkpoint.save(_config(new), path, INBOUND, cold_topics={"window", "status"})
        broker_checkpoint.restore(_config(third), third.host, third.port, path, INBOUND, cold)
        assert _read(third, "window") == []
    assert list(cold.read("window", {0: 0})) == [(0, b"y", b"y3"), (0, b"w", b"w1")]
    assert list(cold.read("status", {0: 0})) == [(0, b"s", b"newer")]


def _age(cold: ColdStore, topic: str, by_ms: int) -> None:
    """Make what the cold store holds of ``topic`` older, as time would."""
    db = sqlite3.connect(cold.path)
    with db:
        db.execute("UPDATE record SET timestamp = timestamp - ? WHERE topic = ?", (by_ms, topic))
    db.close()


def test_a_cold_topic_some_group_reads_stays_in_the_broker(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """``hub.delivery.status`` is a feed for outside readers: one that reads it with a group
    finds what it has not read yet in the broker after a checkpoint, not only fillers."""
    old, new = brokers
    _create(old, "status", 1, **{"retention.ms": "60000"})
    _write(old, "status", [(b"s", b"outcome %d" % n) for n in range(3)])
    _commit(old, "monitoring", "status", 0, 1)
    cold = ColdStore(tmp_path / "cold.sqlite")
    path = tmp_path / "checkpoint.sqlite"
    broker_checkpoint.save(_config(old), path, INBOUND, cold_topics={"status"})
    restored = broker_checkpoint.restore(_config(new), new.host, new.port, path, INBOUND, cold)
    assert restored.records_cold == 0
    assert list(cold.read("status", {0: 0})) == []
    assert _offsets_and_values(_resume(new, "monitoring", "status", 10)) == [
        (1, b"outcome 1"),
        (2, b"outcome 2"),
    ]


def _entry(value: bytes) -> tuple[int, str]:
    stamp, _, text = value.decode().partition("|")
    return int(stamp), text


def test_readers_of_the_windows_read_on_across_checkpoints_from_disk_then_broker(
    brokers: tuple[EmbeddedBroker, EmbeddedBroker], tmp_path: Path
) -> None:
    """The router's views read on from where they were: what was written after that and
    then moved to disk by a checkpoint comes from the cold store, nothing twice, nothing lost."""
    old, new = brokers
    window = {"cleanup.policy": "compact,delete", "retention.ms": str(7 * 86_400_000)}
    _create(old, "dedup", 1, **window)
    _create(old, "sent", 1, **window)
    now = str(int(time.time() * 1000)).encode()
    cold = ColdStore(tmp_path / "embedded-broker" / "cold.sqlite")
    _write(old, "dedup", [(b"k1", now + b"|h1")])
    _write(old, "sent", [(b"s1", now + b"|r1")])
    state = ChangelogState(_config(old), "dedup", 3_600_000, tmp_path / "state", cold)
    table = TimedTable(_config(old), "sent", _entry, 3_600_000, tmp_path / "state", cold=cold)
    try:
        assert state.restore([0]) == 1
        table.start(30)
        table.stop()
        _write(old, "dedup", [(b"k2", now + b"|h2")])  # after the views' positions
        _write(old, "sent", [(b"s2", now + b"|r2")])
        path = tmp_path / "one.sqlite"
        broker_checkpoint.save(_config(old), path, INBOUND, cold_topics={"dedup", "sent"})
        broker_checkpoint.restore(_config(new), new.host, new.port, path, INBOUND, cold)
        for reader in (state, table):  # the hub's new broker listens where the old one did
            reader._config["bootstrap.servers"] = new.bootstrap_servers
        assert state.restore([0]) == 1  # k2, from disk; k1 not again
        assert state.get(0, "k1", int(now)) == "h1" and state.get(0, "k2", int(now)) == "h2"
        table.start(30)
        assert table.get(b"s1", int(now)) == (int(now), "r1")
        assert table.get(b"s2", int(now)) == (int(now), "r2")
        table.stop()
        _write(new, "dedup", [(b"k3", now + b"|h3")])
        assert state.restore([0]) == 1
    finally:
        table.close()
        state.close()
