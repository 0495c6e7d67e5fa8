"""The followed view of a compacted topic: a look-up that must see what was just committed does;
and the router's state reads what a checkpoint kept on disk before its topics."""

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Message, Producer

from kafka_io.changelog import ChangelogState
from kafka_io.cold import ColdRecord
from kafka_io.table import TimedTable
from tests.conftest import TopicFactory
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def _entry(value: bytes) -> tuple[int, str]:
    stamp, _, text = value.decode().partition("|")
    return int(stamp), text


def _now_ms() -> int:
    return int(time.time() * 1000)


def commit(bootstrap: str, topic: str, records: dict[bytes, str]) -> None:
    """``records`` in one transaction, as the router writes its correlation entries."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"table-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    for key, text in records.items():
        producer.produce(topic, key=key, value=f"{_now_ms()}|{text}".encode())
    producer.commit_transaction(30)


@contextmanager
def following(table: TimedTable) -> Iterator[TimedTable]:
    table.start()
    try:
        yield table
    finally:
        table.stop()


def test_a_key_committed_just_before_the_look_up_is_found_while_the_view_trails(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """The view reads nothing until the look-up has missed and asked where the topic ends:
    ``get_committed`` must wait for it and find the key (``get`` alone reports it absent)."""
    topic = topic_factory("sent", partitions=3, **{"cleanup.policy": "compact"})
    table = TimedTable({"bootstrap.servers": kafka_bootstrap}, topic, _entry, HOUR_MS, tmp_path)
    asked = threading.Event()
    apply, end_offsets = table._apply, table._end_offsets

    def trailing(messages: list[Message]) -> None:
        if messages:
            asked.wait(60)
        apply(messages)

    def end_offsets_and_tell(deadline: float) -> dict[int, int] | None:
        ends = end_offsets(deadline)
        asked.set()
        return ends

    table._apply = trailing  # type: ignore[method-assign]
    table._end_offsets = end_offsets_and_tell  # type: ignore[method-assign]
    try:
        with following(table):
            commit(kafka_bootstrap, topic, {b"59|msg-1": "62,56704"})
            assert table.get(b"59|msg-1", _now_ms()) is None
            found = table.get_committed(b"59|msg-1", _now_ms(), timeout_s=30)
    finally:
        asked.set()
    assert found is not None and found[1] == "62,56704"


def test_a_key_not_in_the_topic_is_absent_without_waiting_out_the_timeout(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """Once the view has read past the last transaction's commit marker it is not behind:
    a miss then costs a look at the end offsets, not the catch-up timeout."""
    topic = topic_factory("sent", partitions=3, **{"cleanup.policy": "compact"})
    table = TimedTable({"bootstrap.servers": kafka_bootstrap}, topic, _entry, HOUR_MS, tmp_path)
    with following(table):
        commit(kafka_bootstrap, topic, {f"59|msg-{i}".encode(): "62" for i in range(5)})
        wait_for(lambda: table.get(b"59|msg-4", _now_ms()), 30, "the committed keys in the view")
        started = time.monotonic()
        assert table.get_committed(b"59|msg-unknown", _now_ms(), timeout_s=30) is None
        assert table.get_committed(b"59|msg-0", _now_ms(), timeout_s=30) is not None
    assert time.monotonic() - started < 10


class ListedCold:
    """What a checkpoint moved off the broker, as the cold store hands it out."""

    def __init__(self, topic: str, records: list[ColdRecord]) -> None:
        self.topic, self.records = topic, records
        self.asked: list[dict[int, int]] = []

    def read(self, topic: str, starts: Mapping[int, int]) -> Iterator[ColdRecord]:
        """All it has of a partition asked from 0; nothing of one asked from further on
        (what a checkpoint moves here since is not in these tests)."""
        assert topic == self.topic
        self.asked.append(dict(starts))
        return iter([r for r in self.records if starts.get(r[0]) == 0])


def test_the_view_reads_the_cold_records_first_then_the_topic(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """After a checkpoint of the embedded broker the correlation window's older entries are
    on disk: the view has them, and what the topic holds since is newer."""
    topic = topic_factory("sent", partitions=3, **{"cleanup.policy": "compact"})
    now = _now_ms()
    cold = ListedCold(
        topic,
        [
            (0, b"59|old", f"{now}|62".encode()),
            (1, b"59|both", f"{now}|on disk".encode()),
            (2, b"59|expired", f"{now - 2 * HOUR_MS}|62".encode()),
        ],
    )
    commit(kafka_bootstrap, topic, {b"59|both": "in the topic"})
    table = TimedTable(
        {"bootstrap.servers": kafka_bootstrap}, topic, _entry, HOUR_MS, tmp_path, cold=cold
    )
    with following(table):
        assert table.loaded.is_set()
        assert cold.asked == [{0: 0, 1: 0, 2: 0}]
        assert table.get(b"59|old", _now_ms()) == (now, "62")
        assert table.get_committed(b"59|both", _now_ms(), timeout_s=30) is not None
        assert table.get(b"59|both", _now_ms())[1] == "in the topic"  # type: ignore[index]
        assert table.get(b"59|expired", _now_ms()) is None


def test_a_changelog_restores_its_cold_records_before_the_topic(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """The de-duplication window of an input partition: on disk first, then its changelog."""
    topic = topic_factory("dedup", partitions=2, **{"cleanup.policy": "compact"})
    now = _now_ms()
    cold = ListedCold(
        topic,
        [
            (0, b"59|a", f"{now}|first".encode()),
            (0, b"59|b", f"{now}|on disk".encode()),
            (1, b"59|c", f"{now}|other partition".encode()),
        ],
    )
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, key=b"59|b", value=f"{now}|in the topic".encode(), partition=0)
    assert producer.flush(30) == 0
    state = ChangelogState({"bootstrap.servers": kafka_bootstrap}, topic, HOUR_MS, tmp_path, cold)
    try:
        assert state.restore([0]) == 3
        assert cold.asked == [{0: 0}]
        assert state.get(0, "59|a", _now_ms()) == "first"
        assert state.get(0, "59|b", _now_ms()) == "in the topic"
        assert state.get(1, "59|c", _now_ms()) is None  # not this router's partition
    finally:
        state.close()


def test_a_restarted_view_reads_on_from_where_it_was(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """The router restarts at every checkpoint of the embedded broker: its view keeps what it
    had and reads only what came since, from disk and then from the topic."""
    topic = topic_factory("sent", partitions=1, **{"cleanup.policy": "compact"})
    cold = ListedCold(topic, [(0, b"59|old", f"{_now_ms()}|on disk".encode())])
    table = TimedTable(
        {"bootstrap.servers": kafka_bootstrap}, topic, _entry, HOUR_MS, tmp_path, cold=cold
    )
    try:
        commit(kafka_bootstrap, topic, {b"59|first": "1"})
        with following(table):
            assert table.get_committed(b"59|first", _now_ms(), timeout_s=30) is not None
        commit(kafka_bootstrap, topic, {b"59|while stopped": "2"})
        with following(table):
            assert table.loaded.is_set()
            assert table.get(b"59|while stopped", _now_ms()) is not None
            assert table.get(b"59|old", _now_ms()) is not None
        assert cold.asked == [{0: 0}, {0: 2}]  # the first commit and its marker were read
    finally:
        table.close()


def test_a_changelog_assigned_again_reads_on_from_where_it_was(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """Assigned again (a restart, a rebalance back), a partition is not read from the start:
    only what was written since, by this router or another."""
    topic = topic_factory("dedup", partitions=1, **{"cleanup.policy": "compact"})
    producer = Producer({"bootstrap.servers": kafka_bootstrap})

    def write(key: bytes, text: str) -> None:
        producer.produce(topic, key=key, value=f"{_now_ms()}|{text}".encode(), partition=0)
        assert producer.flush(30) == 0

    cold = ListedCold(topic, [(0, b"59|on disk", f"{_now_ms()}|0".encode())])
    state = ChangelogState({"bootstrap.servers": kafka_bootstrap}, topic, HOUR_MS, tmp_path, cold)
    try:
        write(b"59|a", "1")
        write(b"59|b", "2")
        assert state.restore([0]) == 3
        write(b"59|a", "3")  # another router, while the partition was elsewhere
        assert state.restore([0]) == 1
        assert state.restore([0]) == 0
        assert cold.asked == [{0: 0}, {0: 2}, {0: 3}]
        assert state.get(0, "59|a", _now_ms()) == "3"
        assert state.get(0, "59|b", _now_ms()) == "2"
        assert state.get(0, "59|on disk", _now_ms()) == "0"
    finally:
        state.close()


class EndlessCold:
    """A cold store with more than any stop waits for: a week of a window, read slowly."""

    def __init__(self) -> None:
        self.read_any = threading.Event()

    def read(self, topic: str, starts: Mapping[int, int]) -> Iterator[ColdRecord]:
        stamp = f"{_now_ms()}|62".encode()
        for n in range(100_000_000):
            self.read_any.set()
            if n % 1000 == 0:
                time.sleep(0.001)
            yield (0, b"59|msg-%d" % n, stamp)


def test_a_view_stopped_while_it_reads_the_cold_records_stops_and_starts_alone(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """Stopping waits for the follower, which looks at its stop between batches; a view
    started again never has two followers moving its positions."""
    topic = topic_factory("sent", partitions=1, **{"cleanup.policy": "compact"})
    cold = EndlessCold()
    table = TimedTable(
        {"bootstrap.servers": kafka_bootstrap}, topic, _entry, HOUR_MS, tmp_path, cold=cold
    )

    def followers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == f"table-{topic}" and t.is_alive()]

    try:
        table.start(timeout_s=0.5)  # the router's start gave up waiting
        assert cold.read_any.is_set() and not table.loaded.is_set()
        table.stop()
        assert followers() == []
        table.start(timeout_s=0.5)
        assert len(followers()) == 1
    finally:
        table.close()
    assert followers() == []
