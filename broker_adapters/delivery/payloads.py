"""Redeems claim checks: reads a routed message's document from the record that holds it.

The router writes a document routed to several receivers (or a large one) once: it stays
on its ``hub.inbound`` record and every receiver's ``RoutedMessage`` carries a
:class:`~schemas.records.PayloadRef` instead. Delivery reads it here just before the
endpoint call, so what one message costs in a transaction is its size once, and what
delivery holds at a time is bounded by its calls and this module's small cache (the copies
of one message are handed the same bytes object).
"""

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any
from uuid import UUID

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from broker_adapters.delivery.errors import DeliveryError
from hubcore.errors import describe
from kafka_io import is_filler
from schemas.avro_errors import AvroDecodeError
from schemas.records import INBOUND_HEADER, InboundMessage, PayloadRef, RoutedMessage, decode

log = structlog.get_logger(__name__)

CACHE_BYTES = 64 * 1024 * 1024
"""Documents kept after a read, so the copies of one message are read once; the latest
read is kept even when it is larger."""


class PayloadUnavailableError(DeliveryError):
    """The document a claim check names could not be read.

    ``permanent``: it is gone (the topic's retention passed, or the record is not there);
    otherwise the broker did not answer in time and a later attempt may succeed.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class PayloadFetcher:
    """One consumer that reads single records by position; one read at a time."""

    def __init__(
        self, consumer_config: dict[str, Any], documents_topic: str, timeout_s: float = 10.0
    ) -> None:
        """``documents_topic``: the one topic a claim check may name (``hub.inbound``); a
        record naming any other (say, ``hub.outbound``, which holds other receivers'
        documents inline) is refused, whoever wrote it."""
        self._config = {
            **consumer_config,
            # Only assign() is used; nothing is committed, and a position that is gone
            # is reported rather than silently moved to another record.
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
            "isolation.level": "read_committed",
            # Little read-ahead: the next records on the partition are not what is wanted.
            # (the broker still returns one record larger than these).
            "queued.max.messages.kbytes": 1024,
            "fetch.message.max.bytes": 1024 * 1024,
            "fetch.max.bytes": 1024 * 1024,
        }
        self._documents_topic = documents_topic
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._cache: OrderedDict[PayloadRef, bytes] = OrderedDict()
        self._cached_bytes = 0
        self._known: set[tuple[str, int]] = set()
        self.reads = 0
        """Records read from the broker (not from the cache): for tests and benchmarks."""

    def resolve(self, message: RoutedMessage) -> RoutedMessage:
        """``message`` with its document in ``payload``; unchanged when it carries it."""
        ref = message.payload_ref
        if ref is None:
            return message
        return replace(message, payload=self.read(ref, message.hub_message_id), payload_ref=None)

    def read(self, ref: PayloadRef, hub_message_id: UUID | None = None) -> bytes:
        """The value of the record ``ref`` names. Raises :class:`PayloadUnavailableError`
        and nothing else, whatever the client does, so every delivery path settles.

        With ``hub_message_id``, a record whose ingress header names another message is
        refused: a claim check that came to name the wrong record must never hand one
        patient's document to another message's receiver.
        """
        if ref.topic != self._documents_topic:
            raise PayloadUnavailableError(
                f"a claim check may name only {self._documents_topic}, not {ref.topic[:100]}",
                permanent=True,
            )
        with self._lock:
            cached = self._cache.get(ref)
            if cached is not None:
                self._cache.move_to_end(ref)
                return cached
            try:
                value = self._fetch(ref, hub_message_id)
            except PayloadUnavailableError:
                raise
            except Exception as exc:  # the client failed: a fresh one next time, retry later
                self._drop_consumer()
                raise PayloadUnavailableError(
                    f"reading the document failed ({describe(exc)})", permanent=False
                ) from exc
            self.reads += 1
            self._remember(ref, value)
            return value

    def close(self) -> None:
        """Close the consumer (a later read opens a new one)."""
        with self._lock:
            self._drop_consumer()
            self._cache.clear()
            self._cached_bytes = 0

    def _drop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close()

    def _fetch(self, ref: PayloadRef, hub_message_id: UUID | None) -> bytes:
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        consumer = self._consumer
        self._check_exists(consumer, ref)
        consumer.assign([TopicPartition(ref.topic, ref.partition, ref.offset)])
        deadline = time.monotonic() + self._timeout_s
        try:
            while (left := deadline - time.monotonic()) > 0:
                found = consumer.poll(min(left, 0.5))
                if found is None:
                    continue
                error = found.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    if error.code() in (
                        KafkaError._AUTO_OFFSET_RESET,
                        KafkaError.OFFSET_OUT_OF_RANGE,
                    ):
                        raise PayloadUnavailableError(
                            f"the document is no longer on {ref.topic} (retention passed)",
                            permanent=True,
                        )
                    raise PayloadUnavailableError(
                        f"reading the document failed ({error.name()})", permanent=False
                    )
                if found.topic() != ref.topic or found.partition() != ref.partition:
                    continue
                offset = found.offset()
                if offset == ref.offset:
                    _check_found(found, hub_message_id, ref.topic)
                    return found.value() or b""
                if offset is not None and offset > ref.offset:
                    raise PayloadUnavailableError(
                        f"the document's record is not on {ref.topic} (compacted or aborted)",
                        permanent=True,
                    )
            raise PayloadUnavailableError(
                f"reading the document from {ref.topic} timed out", permanent=False
            )
        finally:
            consumer.unassign()

    def _check_exists(self, consumer: Consumer, ref: PayloadRef) -> None:
        """A partition that does not exist is a permanent failure, not a long wait."""
        if (ref.topic, ref.partition) in self._known:
            return
        try:
            metadata = consumer.list_topics(ref.topic, timeout=self._timeout_s)
        except KafkaException as exc:
            raise PayloadUnavailableError(
                f"the broker did not describe {ref.topic} ({exc.args[0].name()})", permanent=False
            ) from exc
        topic = metadata.topics.get(ref.topic)
        if topic is None or topic.error is not None or ref.partition not in topic.partitions:
            raise PayloadUnavailableError(
                f"the document's partition {ref.topic}/{ref.partition} does not exist",
                permanent=True,
            )
        self._known.add((ref.topic, ref.partition))

    def _remember(self, ref: PayloadRef, value: bytes) -> None:
        self._cache[ref] = value
        self._cached_bytes += len(value)
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped)


def _check_found(found: Message, hub_message_id: UUID | None, topic: str) -> None:
    """Refuse a checkpoint filler, and a record that belongs to another message."""
    if is_filler(found):
        raise PayloadUnavailableError(
            f"the document's record is not on {topic} (not kept)", permanent=True
        )
    if hub_message_id is None:
        return
    headers = found.headers()
    header = dict(headers).get(INBOUND_HEADER) if isinstance(headers, list) else None
    if not isinstance(header, bytes):
        return  # written without the ingress header (not by this hub's ingress)
    try:
        written_for = decode(header, InboundMessage).hub_message_id
    except AvroDecodeError:
        return
    if written_for != hub_message_id:
        raise PayloadUnavailableError(
            f"the claim check names a record of another message on {topic}", permanent=True
        )
