"""Retry tiers: topics ``hub.delivery.retry.<tier>`` whose records wait until they are due.

A record in a tier topic carries its retry state in headers (the position of
the message on ``hub.outbound``, attempts made, tier, due time). Every record of
a tier waits the same delay, so a partition is in due order: the worker
consumes it, and when the head is not due yet it seeks back to it and pauses
that partition until then (:class:`DueGate`). Nothing else waits: other
partitions, other tiers and ``hub.outbound`` keep flowing.

Retry records go to the same partition number as the message had on
``hub.outbound`` (the topics are co-partitioned and consumed with the range
assignor), so one worker holds everything of a receiver.
"""

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, Message, TopicPartition

from broker_adapters.delivery.settings import DeliverySettings
from kafka_io import headers_of
from kafka_io.settings import TopicSpec

RETRY_HEADER = "meldingshub-delivery-retry"
"""Header with the packed :class:`RetryState`."""

_PACK = struct.Struct(">qiiq")


@dataclass(frozen=True, slots=True)
class RetryState:
    """Where a message is in its retries."""

    seq: int
    """Its offset on ``hub.outbound``: the order of the receiver's messages."""
    attempts: int
    """Hand-over attempts made so far."""
    tier: int
    due_ms: int

    def header(self) -> tuple[str, bytes]:
        """The state as a Kafka header."""
        return RETRY_HEADER, _PACK.pack(self.seq, self.attempts, self.tier, self.due_ms)


def retry_state(message: Message) -> RetryState | None:
    """The retry state of a tier record; None when it has no (valid) header."""
    raw = dict(headers_of(message)).get(RETRY_HEADER)
    if raw is None or len(raw) != _PACK.size:
        return None
    seq, attempts, tier, due_ms = _PACK.unpack(raw)
    return RetryState(seq, attempts, tier, due_ms)


STATUS_RETENTION_MS = 7 * 86_400_000
"""How long ``hub.delivery.status`` keeps a record where the hub creates the topic."""


def delivery_topics(settings: DeliverySettings, partitions: int) -> list[TopicSpec]:
    """The retry tier topics and the backlog changelog, co-partitioned with ``hub.outbound``."""
    specs = [
        TopicSpec(name=settings.retry_topic(tier), partitions=partitions)
        for tier in range(len(settings.retry_tiers))
    ]
    specs.append(
        TopicSpec(
            name=settings.backlog_topic, partitions=partitions, config={"cleanup.policy": "compact"}
        )
    )
    # A feed for outside readers (the hub keeps status in its store): a week, as on Kafka.
    specs.append(
        TopicSpec(
            name=settings.status_topic,
            partitions=3,
            config={"retention.ms": str(STATUS_RETENTION_MS)},
        )
    )
    return specs


class DueGate:
    """Pauses tier partitions whose head is not due, and resumes them when it is."""

    def __init__(self) -> None:
        self._paused: dict[tuple[str, int], int] = {}

    def hold(self, consumer: Consumer, message: Message, due_ms: int) -> None:
        """Pause ``message``'s partition and rewind it to ``message`` until ``due_ms``."""
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            return
        consumer.pause([TopicPartition(topic, partition)])
        consumer.seek(TopicPartition(topic, partition, offset))
        self._paused[(topic, partition)] = due_ms

    def release_due(self, consumer: Consumer, now_ms: int) -> None:
        """Resume every partition whose head is due."""
        due = [key for key, at in self._paused.items() if at <= now_ms]
        if due:
            consumer.resume([TopicPartition(topic, partition) for topic, partition in due])
            for key in due:
                del self._paused[key]

    def wait_s(self, now_ms: int, longest_s: float) -> float:
        """How long the next poll may block before a paused head comes due."""
        if not self._paused:
            return longest_s
        soonest = min(self._paused.values())
        return max(0.0, min(longest_s, (soonest - now_ms) / 1000))

    def forget(self, consumer: Consumer | None, partitions: Iterable[TopicPartition]) -> None:
        """Drop (and resume, when a consumer is given) the pauses of ``partitions``."""
        keys = [(tp.topic, tp.partition) for tp in partitions]
        held = [key for key in keys if key in self._paused]
        for key in held:
            del self._paused[key]
        if consumer is not None and held:
            consumer.resume([TopicPartition(topic, partition) for topic, partition in held])

    def paused(self) -> dict[tuple[str, int], int]:
        """Paused partitions and when their heads are due (for tests and depth metrics)."""
        return dict(self._paused)
