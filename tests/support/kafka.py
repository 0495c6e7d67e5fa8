"""Helpers for tests that read topics back: drain a topic without a consumer group."""

import time

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient

ProducedHeaders = list[tuple[str, str | bytes | None]]
"""Record headers as ``Producer.produce`` takes them (a list, so the element type must match)."""


def read_all(
    bootstrap: str,
    topic: str,
    expected: int,
    timeout_s: float = 30.0,
    isolation: str = "read_committed",
) -> list[Message]:
    """Read every partition of ``topic`` from the start until ``expected`` records or timeout.

    After ``expected`` records are in, it keeps reading for a short while so that
    extra (duplicate) records would be seen too.
    """
    partitions = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    count = len(partitions.topics[topic].partitions)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "reader",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "log_level": 3,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(count)])
    records: list[Message] = []
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.2):
                if message.error() is None:
                    records.append(message)
            if len(records) >= expected:
                settle_until = settle_until or time.monotonic() + 1.0
                if time.monotonic() >= settle_until:
                    break
    finally:
        consumer.close()
    return records
