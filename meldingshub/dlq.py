"""The dead-letter topic for operators: list rejected messages and replay selected ones.

A replay goes back to the stage that gave the message up. An ingress or router
dead letter writes the original bytes back to ``hub.inbound`` with the original
ingress metadata (principal, adapter's received-at, transport id) under a new
hub message id that names the original in ``replay_of``; the router treats it
as the same message (not a re-send), so one that now routes is counted once. A
delivery dead letter writes its routed record back to ``hub.outbound`` for its
one receiver, with the original hub message id (so the receiver's idempotency
key is the same) and a fresh ``routed_at`` (so it gets a full retry period);
the other receivers of the message are not sent it again.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_io import DurableProducer, OutRecord, client_config, producer_config, readable
from kafka_io.settings import KafkaSettings
from schemas.avro_errors import AvroDecodeError
from schemas.records import (
    INBOUND_HEADER,
    RejectedMessage,
    RejectStage,
    RoutedMessage,
    decode,
    encode,
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of ``hub.rejected`` with where it sits."""

    partition: int
    offset: int
    message: RejectedMessage


def read_dead_letters(
    kafka: KafkaSettings,
    bootstrap_servers: str,
    timeout_s: float = 10.0,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    newest: int | None = None,
    keep_payload: bool = True,
) -> Iterator[DeadLetter]:
    """Records on the dead-letter topic, oldest first per partition: all of them, those
    written from ``since`` up to ``until`` (record time), or the ``newest`` per partition.

    Senders decide how large dead letters get, so a reader that needs only the metadata
    (a listing) says ``keep_payload=False`` and each document is dropped as it is read.
    """
    config = client_config(kafka, bootstrap_servers)
    topic = kafka.topics.rejected.name
    metadata = AdminClient(config).list_topics(topic, timeout=timeout_s)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        return
    # The end of a partition is where the broker says it is (an EOF event), not its high
    # watermark: Tansu reports one below the last records of a batch.
    consumer = Consumer(
        {
            **config,
            "group.id": "dlq-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        starts = _starts(consumer, topic, list(metadata.topics[topic].partitions), timeout_s,
                         since, newest)  # fmt: skip
        consumer.assign([TopicPartition(topic, p, start) for p, start in starts.items()])
        stop_ms = None if until is None else int(until.timestamp() * 1000)
        # offsets_for_times only saves reading; the records' own times decide
        start_ms = None if since is None else int(since.timestamp() * 1000)
        pending = set(starts)
        # consume() waits out its timeout unless the batch fills: ask often, stop at a deadline
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            batch = readable(consumer.consume(500, 0.1))
            if batch:
                deadline = time.monotonic() + timeout_s  # progress: the deadline is per silence
            for record in batch:
                partition, offset, error = record.partition(), record.offset(), record.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(partition)
                if error is not None or partition not in pending or offset is None:
                    continue
                written_ms = record.timestamp()[1]
                if stop_ms is not None and written_ms > stop_ms:
                    pending.discard(partition)
                    continue
                if start_ms is not None and written_ms < start_ms:
                    continue
                try:
                    rejected = decode(record.value() or b"", RejectedMessage)
                except AvroDecodeError:
                    continue
                if not keep_payload:
                    rejected = replace(rejected, payload=b"")
                yield DeadLetter(partition, offset, rejected)
    finally:
        consumer.close()


def _starts(
    consumer: Consumer,
    topic: str,
    partitions: list[int],
    timeout_s: float,
    since: datetime | None,
    newest: int | None,
) -> dict[int, int]:
    """``partition -> first offset to read``, for the partitions with anything to read."""
    starts = {}
    for p in partitions:
        low, end = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout_s)
        starts[p] = low if newest is None else max(low, end - newest)
    if since is not None:
        at = int(since.timestamp() * 1000)
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, at) for p in partitions], timeout=timeout_s
        )
        # a partition with no record that late has nothing to read
        starts = {
            tp.partition: max(starts[tp.partition], tp.offset) for tp in found if tp.offset >= 0
        }
    return starts


Selector = Callable[[RejectedMessage], bool]


def selector(
    codes: tuple[str, ...] = (),
    ids: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Selector:
    """Select by AppRec code, hub message id and rejection time (all given criteria must hold)."""

    def chosen(message: RejectedMessage) -> bool:
        return (
            (not codes or message.code.value in codes)
            and (not ids or str(message.hub_message_id) in ids)
            and (since is None or message.rejected_at >= since)
            and (until is None or message.rejected_at < until)
        )

    return chosen


Replayed = Callable[[uuid.UUID, uuid.UUID], None]
"""Told ``(original hub id, id it was written back under)`` after each durable write."""


def replay(
    kafka: KafkaSettings,
    bootstrap_servers: str,
    letters: list[DeadLetter],
    on_replayed: Replayed | None = None,
) -> list[uuid.UUID]:
    """Write ``letters`` back to their stage durably; return the hub message ids written
    (new ones for ``hub.inbound``, the original ones for ``hub.outbound``). ``on_replayed``
    notes each on the original's timeline (whoever replays: the console or the CLI)."""
    producer = DurableProducer(producer_config(kafka, bootstrap_servers))
    replayed = []
    try:
        for letter in letters:
            original = letter.message
            if original.stage is RejectStage.DELIVERY and original.routed is not None:
                again = _redeliver(kafka, original.routed)
                if again is not None:
                    producer.send_and_wait(again)
                    replayed.append(original.hub_message_id)
                    if on_replayed is not None:
                        on_replayed(original.hub_message_id, original.hub_message_id)
                continue
            inbound = replace(
                original.ingress,
                hub_message_id=uuid.uuid4(),
                replay_of=original.ingress.replay_of or original.hub_message_id,
            )
            producer.send_and_wait(
                OutRecord(
                    topic=kafka.topics.inbound.name,
                    key=(inbound.principal or "").encode(),
                    value=original.payload,
                    headers=((INBOUND_HEADER, encode(inbound)),),
                )
            )
            replayed.append(inbound.hub_message_id)
            if on_replayed is not None:
                on_replayed(original.hub_message_id, inbound.hub_message_id)
    finally:
        producer.close()
    return replayed


def _redeliver(kafka: KafkaSettings, routed: bytes) -> OutRecord | None:
    """The ``hub.outbound`` record of a delivery dead letter; None when it cannot be read
    (a record delivery could not decode: replaying it would only park it again)."""
    try:
        message = decode(routed, RoutedMessage)
    except AvroDecodeError:
        return None
    fresh = replace(message, routed_at=datetime.now(UTC))
    return OutRecord(
        topic=kafka.topics.outbound.name,
        key=str(fresh.receiver_her_id).encode(),
        value=encode(fresh),
    )
