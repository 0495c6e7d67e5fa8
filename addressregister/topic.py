"""Reading and writing the compacted topic ``addressregister.parties``.

The reader assigns every partition from the beginning (no consumer group: a
materialised view needs no offsets and must not wait for a group to form),
reads up to the end offsets it saw at start, and then keeps returning changes.
The writer publishes upserts and tombstones with the durable producer and
fails loudly when the broker did not take every record.
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from addressregister.errors import RegisterUnavailableError
from addressregister.model import CommunicationParty
from addressregister.wire import (
    BadPartyRecordError,
    decode_party,
    encode_party,
    her_id_of_key,
    party_key,
)
from kafka_io import DurableProducer, OutRecord, client_config, readable
from kafka_io.errors import DeliveryFailedError
from kafka_io.settings import KafkaSettings
from schemas.avro_codec import AvroCodec

log = structlog.get_logger(__name__)

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Change:
    """One record of the topic: a party (upsert) or None (tombstone) for a HER-id."""

    her_id: int
    party: CommunicationParty | None


class PartyTopicReader:
    """A group-less consumer of the parties topic; not thread-safe (one owner thread)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        topic: str | None = None,
        codec: AvroCodec | None = None,
        on_bad_record: Callable[[], None] | None = None,
    ) -> None:
        self.topic = topic or kafka.topics.parties.name
        self._codec = codec
        self._on_bad_record = on_bad_record
        config: dict[str, Any] = client_config(kafka, bootstrap_servers)
        config.update(
            {
                # librdkafka wants a group id even for assign(); it never joins the group.
                "group.id": f"meldingshub-register-view-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
                "fetch.message.max.bytes": 8 * 1024 * 1024,
            }
        )
        self._consumer = Consumer(config)
        self._partitions: list[int] = []

    def assign(self, timeout_s: float) -> dict[int, int]:
        """Assign every partition from its beginning; return each partition's end offset now."""
        deadline = time.monotonic() + timeout_s
        last_error = "topic not found"
        while True:
            try:
                metadata = self._consumer.list_topics(
                    self.topic, timeout=max(0.1, min(2.0, deadline - time.monotonic()))
                )
                topic = metadata.topics.get(self.topic)
                if topic is not None and topic.error is None and topic.partitions:
                    break
                if topic is not None and topic.error is not None:
                    last_error = str(topic.error)
            except KafkaException as exc:
                last_error = str(exc)
            if time.monotonic() >= deadline:
                raise RegisterUnavailableError(
                    f"cannot read topic {self.topic} within {timeout_s:g} s ({last_error}); "
                    "is the broker reachable and the topic created?"
                )
            time.sleep(0.1)
        self._partitions = sorted(topic.partitions)
        ends: dict[int, int] = {}
        for partition in self._partitions:
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=max(0.5, deadline - time.monotonic())
            )
            ends[partition] = high
        self._consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in self._partitions]
        )
        return ends

    def read_to_end(
        self, timeout_s: float, progress: Progress | None = None
    ) -> dict[int, CommunicationParty]:
        """The state of the topic up to the end offsets it has now (compaction applied by us)."""
        deadline = time.monotonic() + timeout_s
        ends = self.assign(timeout_s)
        state: dict[int, CommunicationParty] = {}
        pending = {p for p, end in ends.items() if end > 0}
        while pending:
            if time.monotonic() >= deadline:
                raise RegisterUnavailableError(
                    f"topic {self.topic} not read to its end within {timeout_s:g} s"
                )
            messages = readable(self._consumer.consume(5000, 0.2))
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(message.partition() or 0)  # at the end offset or later
                    else:
                        log.warning("register topic read error", error=str(error))
                    continue
                change = self._change(message)
                if change is not None:
                    _apply(state, change)
                partition, offset = message.partition(), message.offset()
                if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                    pending.discard(partition)
            if progress is not None and messages:
                progress(len(messages))
        return state

    def poll(self, timeout_s: float, max_records: int = 5000) -> list[Change]:
        """Changes that arrived since the last call (waits up to ``timeout_s`` for the first)."""
        changes: list[Change] = []
        for message in readable(self._consumer.consume(max_records, timeout_s)):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("register topic read error", error=str(error))
                continue
            change = self._change(message)
            if change is not None:
                changes.append(change)
        return changes

    def close(self) -> None:
        """Leave the topic (no offsets to commit)."""
        self._consumer.close()

    def _change(self, message: Message) -> Change | None:
        try:
            her_id = her_id_of_key(message.key())
            value = message.value()
            if value is None:
                return Change(her_id, None)
            party = decode_party(value, self._codec)
            if party.her_id != her_id:
                raise BadPartyRecordError(f"record key {her_id} differs from its party's HER-id")
        except BadPartyRecordError as exc:
            log.warning(
                "skipping unreadable register record",
                partition=message.partition(),
                offset=message.offset(),
                error=str(exc),
            )
            if self._on_bad_record is not None:
                self._on_bad_record()
            return None
        return Change(her_id, party)


def _apply(state: dict[int, CommunicationParty], change: Change) -> None:
    if change.party is None:
        state.pop(change.her_id, None)
    else:
        state[change.her_id] = change.party


def apply_changes(state: dict[int, CommunicationParty], changes: Iterable[Change]) -> None:
    """Apply topic changes to a HER-id -> party mapping (last record per key wins)."""
    for change in changes:
        _apply(state, change)


def read_parties(
    kafka: KafkaSettings,
    bootstrap_servers: str,
    topic: str | None = None,
    *,
    timeout_s: float = 60.0,
    codec: AvroCodec | None = None,
    progress: Progress | None = None,
) -> dict[int, CommunicationParty]:
    """The current content of the parties topic, read once."""
    reader = PartyTopicReader(kafka, bootstrap_servers, topic, codec)
    try:
        return reader.read_to_end(timeout_s, progress)
    finally:
        reader.close()


def publish_changes(
    producer: DurableProducer,
    topic: str,
    upserts: Iterable[CommunicationParty] = (),
    removals: Iterable[int] = (),
    *,
    codec: AvroCodec | None = None,
    progress: Progress | None = None,
    timeout_s: float = 60.0,
) -> int:
    """Publish upserts and tombstones; return how many records the broker took.

    Raises :class:`DeliveryFailedError` naming how many records were not written.
    """
    failures: list[str] = []
    lock = threading.Lock()

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            with lock:
                failures.append(str(error))

    sent = 0
    records = [
        *(OutRecord(topic, encode_party(p, codec), party_key(p.her_id)) for p in upserts),
        *(OutRecord(topic, None, party_key(her_id)) for her_id in removals),
    ]
    for record in records:
        producer.send(record, on_delivery)
        sent += 1
        if progress is not None and sent % 500 == 0:
            progress(500)
    undelivered = producer.flush(timeout_s)
    if progress is not None and sent % 500:
        progress(sent % 500)
    if failures or undelivered:
        raise DeliveryFailedError(
            f"{len(failures) + undelivered} of {sent} register records were not written to "
            f"{topic} (first error: {failures[0] if failures else 'timeout'}); run the import again"
        )
    return sent
