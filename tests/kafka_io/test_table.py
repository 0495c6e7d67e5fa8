"""The followed view of a compacted topic: a look-up that must see what was just committed does."""

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Message, Producer

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
