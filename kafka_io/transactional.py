"""The transactional consume-process-produce loop every stage reuses.

Per batch: take what has arrived (up to ``batch_size``, waiting only while nothing
has), run ``process`` on each record, then in one transaction
produce all outputs and ``send_offsets_to_transaction`` the consumed positions,
and commit. On an abortable error the transaction is aborted and the consumer
rewound to the last committed offsets, so the batch is processed again and no
output is ever seen twice by ``read_committed`` readers. Fatal errors (for
example, being fenced by a newer instance) stop the loop.

A stage that must see whole batches (delivery: each receiver's records in order,
receivers at once) is a :class:`BatchStage` instead of a per-record ``process``; the
loop commits what it settles the same way.

``process`` returns failures as data (records for a dead-letter topic); if it
raises anyway, ``on_error`` turns the record into output, so one bad record
never stops the partition. An output the broker refuses for what it is (too
large, invalid) would fail every retry of its batch: the batch is then redone
one record per transaction, and the record whose output is refused gets
``on_error(record, RecordRefusedError)`` instead.
"""

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from hubcore.errors import describe
from kafka_io.classify import PermanentKind, permanent_kind
from kafka_io.errors import KafkaLayerError, RecordRefusedError
from kafka_io.placed_records import readable
from kafka_io.records import OutRecord

log = structlog.get_logger(__name__)

Process = Callable[[Message], Sequence[OutRecord]]
OnError = Callable[[Message, Exception], Sequence[OutRecord]]
OnPartitions = Callable[[Consumer, list[TopicPartition]], None]

DEFAULT_BATCH_SIZE = 500
"""Records per transaction at most: large enough to amortise the commit, small enough to redo."""
BATCH_MAX_BYTES = 32 * 1024 * 1024
"""Bytes of consumed values per transaction, about (the records taken last may pass it)."""
_TAKE_AT_ONCE = 16
"""Records taken per step at most while a batch fills."""


class FatalTransactionError(KafkaLayerError):
    """The transactional producer cannot continue (fenced, or a fatal broker error)."""


@dataclass(slots=True)
class Batch:
    """What a :class:`BatchStage` made of a batch: the outputs, and the positions it settled
    (``(topic, partition) -> next offset``); records it leaves unsettled are read again."""

    outputs: list[OutRecord] = field(default_factory=list)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)


class BatchStage(ABC):
    """A stage that handles whole batches; the loop commits each :class:`Batch` in one
    transaction and calls :meth:`aborted` when that transaction is aborted."""

    @abstractmethod
    def process_batch(self, consumer: Consumer, messages: list[Message]) -> Batch:
        """Settle what it can of ``messages``; it must not raise for one bad record."""

    def poll_timeout_s(self, consumer: Consumer, longest_s: float) -> float:
        """How long the next poll may wait (a stage with timed work shortens it)."""
        return longest_s

    def aborted(self, consumer: Consumer) -> None:  # noqa: B027 - most stages keep nothing
        """The batch's transaction was aborted: drop what it changed, before the rewind."""

    def refused(self, message: Message, error: RecordRefusedError) -> Sequence[OutRecord]:
        """The broker refuses what ``message`` produced, for what it is (alone in its batch):
        what to write instead. Without anything, only its offset is committed."""
        return []

    def idle(self) -> None:  # noqa: B027 - most stages have no housekeeping
        """Runs after every poll, with or without records (housekeeping)."""


def produce_record(producer: Producer, record: OutRecord) -> None:
    """Produce ``record`` (to its explicit partition, if any), waiting while the queue is full."""
    kwargs: dict[str, Any] = {
        "value": record.value,
        "key": record.key,
        "headers": list(record.headers),
    }
    if record.partition is not None:
        kwargs["partition"] = record.partition
    while True:
        try:
            producer.produce(record.topic, **kwargs)
            return
        except BufferError:
            producer.poll(0.05)


def next_batch(
    consumer: Consumer, max_records: int, timeout_s: float, max_bytes: int = BATCH_MAX_BYTES
) -> list[Message]:
    """What has arrived, up to ``max_records`` and about ``max_bytes`` of values; waits
    (``timeout_s`` at most) only for the first.

    ``consume(n, timeout)`` holds records back until ``n`` arrived or the timeout passed,
    adding the whole timeout to every record at moderate rates. Here the batch is whatever
    is there: small under light load (low latency), full under a backlog (high throughput).
    Records are taken a few at a time (as many as fit at the average size so far) and taking
    stops once ``max_bytes`` is reached, so a backlog of large documents makes short
    batches, not one transaction of gigabytes; a record larger than ``max_bytes`` is a
    batch of its own.
    """
    taken = consumer.consume(1, 0)
    first = taken[0] if taken else consumer.poll(timeout_s)
    if first is None:
        return []
    batch = [first]
    size = len(first.value() or b"")
    while size < max_bytes and len(batch) < max_records:
        fit = (max_bytes - size) // max(size // len(batch), 1)  # records of the average size
        more = consumer.consume(min(max_records - len(batch), _TAKE_AT_ONCE, max(fit, 1)), 0)
        if not more:
            break
        batch.extend(more)
        size += sum(len(m.value() or b"") for m in more)
    return readable(batch)


def commit_transaction(producer: Producer) -> None:
    """Commit the open transaction, retrying what the client marks retriable."""
    while True:
        try:
            producer.commit_transaction(30)
            return
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.retriable():
                time.sleep(0.1)
                continue
            raise


def commit_batch(
    consumer: Consumer,
    producer: Producer,
    outputs: Sequence[OutRecord],
    positions: dict[tuple[str, int], int],
    member: str | None,
) -> None:
    """One transaction: produce ``outputs``, send the consumed ``positions``, commit.

    ``member`` is the consumer's member id when the batch was consumed. If the group
    dropped this member meanwhile (a stalled process), another member may own the
    partitions now and not every broker fences the commit: it is aborted instead.
    Raises :class:`KafkaException`; the caller aborts and rewinds.
    """
    offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
    producer.begin_transaction()
    for record in outputs:
        produce_record(producer, record)
    producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
    if consumer.memberid() != member:
        raise KafkaException(
            KafkaError(
                KafkaError._STATE, "group membership lost during the batch", txn_requires_abort=True
            )
        )
    commit_transaction(producer)


def rewind_to_committed(consumer: Consumer) -> None:
    """Seek every assigned partition back to its committed offset (after an abort)."""
    assignment = consumer.assignment()
    if not assignment:
        return
    for tp in consumer.committed(assignment, timeout=30):
        offset = tp.offset if tp.offset != OFFSET_INVALID else OFFSET_BEGINNING
        try:
            consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
        except KafkaException as exc:  # not fetching yet: it starts from the committed offset
            log.debug("seek skipped", partition=tp.partition, error=str(exc))


def open_transactional(
    consumer_config: dict[str, Any],
    producer_config: dict[str, Any],
    topics: Sequence[str],
    *,
    on_assign: Callable[[Consumer, list[TopicPartition]], None],
    on_revoke: Callable[[Consumer, list[TopicPartition]], None],
) -> tuple[Consumer, Producer]:
    """A consumer subscribed to ``topics`` and a producer ready for transactions."""
    consumer = Consumer(consumer_config)
    producer = Producer(producer_config)
    producer.init_transactions(30)
    consumer.subscribe(list(topics), on_assign=on_assign, on_revoke=on_revoke)
    return consumer, producer


def abort_and_rewind(
    consumer: Consumer,
    producer: Producer,
    exc: KafkaException,
    name: str,
    *,
    before_rewind: Callable[[], None] | None = None,
) -> None:
    """After a failed commit: stop on a fatal error (:class:`FatalTransactionError`);
    otherwise abort, let the caller drop what the batch changed (``before_rewind``) and
    rewind to the committed offsets, so the batch is redone."""
    error: KafkaError = exc.args[0]
    if error.fatal():
        raise FatalTransactionError(f"{name}: {error}") from exc
    log.warning("transaction aborted, rewinding", loop=name, error=str(error))
    producer.abort_transaction(30)
    if before_rewind is not None:
        before_rewind()
    rewind_to_committed(consumer)


def _permanent(exc: KafkaException) -> PermanentKind | None:
    """The kind of a permanent, non-fatal error about a record; ``None`` otherwise."""
    error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    if error is None or error.fatal():
        return None
    return permanent_kind(error)


def _reraise(_message: Message, exc: Exception) -> Sequence[OutRecord]:
    raise exc


class TransactionalLoop:
    """Exactly-once processing from ``topics`` to whatever ``process`` returns."""

    def __init__(
        self,
        *,
        name: str,
        consumer_config: dict[str, Any],
        producer_config: dict[str, Any],
        topics: Sequence[str],
        process: Process | BatchStage,
        on_error: OnError = _reraise,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_timeout_s: float = 0.1,
        on_assign: OnPartitions | None = None,
        on_revoke: OnPartitions | None = None,
        consume_while: Callable[[], bool] | None = None,
    ) -> None:
        self.name = name
        self._consume_while = consume_while
        self._consumer_config = consumer_config
        self._producer_config = dict(producer_config)
        self._producer_config.setdefault(
            "transactional.id", f"{consumer_config['group.id']}-{uuid.uuid4().hex[:12]}"
        )
        self._topics = list(topics)
        self._process = process
        self._on_error = on_error
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._assign_hook = on_assign
        self._revoke_hook = on_revoke
        self.committed_batches = 0
        self.assigned = threading.Event()
        self.holding = threading.Event()
        """Set while ``consume_while`` holds consumption."""
        self._one_by_one = 0
        """Transactions still to run with one record each, to find a refused output."""

    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set; no transaction is left open when it returns."""
        self.assigned.clear()  # a restart is ready again only once it has partitions
        consumer, producer = open_transactional(
            self._consumer_config,
            self._producer_config,
            self._topics,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
        )
        log.info("transactional loop started", loop=self.name, topics=self._topics)
        held = False
        try:
            while not stop.is_set():
                if self._consume_while is not None and not self._consume_while():
                    if not held:
                        log.warning("consumption held: a dependency is not ready", loop=self.name)
                    held = True
                    self.holding.set()
                    stop.wait(0.2)  # nothing is read, so nothing waits in a batch meanwhile
                    continue
                if held:
                    log.info("consumption resumed", loop=self.name)
                    held = False
                    self.holding.clear()
                stage = self._process if isinstance(self._process, BatchStage) else None
                size = 1 if self._one_by_one else self._batch_size
                wait_s = self._poll_timeout_s
                if stage is not None:
                    wait_s = stage.poll_timeout_s(consumer, wait_s)
                messages = next_batch(consumer, size, wait_s)
                if messages and stage is not None:
                    self._handle_stage_batch(stage, consumer, producer, messages)
                elif messages:
                    self._handle_batch(consumer, producer, messages)
                if stage is not None:
                    stage.idle()
        finally:
            consumer.close()
            producer.flush(5)
            producer.close()
            log.info("transactional loop stopped", loop=self.name, batches=self.committed_batches)

    def ready(self) -> bool:
        """Whether partitions were assigned since ``run`` started (the components' readiness)."""
        return self.assigned.is_set()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned", loop=self.name, count=len(partitions))
        if self._assign_hook is not None:
            self._assign_hook(consumer, partitions)
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", loop=self.name, count=len(partitions))
        if self._revoke_hook is not None:
            self._revoke_hook(consumer, partitions)

    def _handle_stage_batch(
        self, stage: BatchStage, consumer: Consumer, producer: Producer, messages: list[Message]
    ) -> None:
        member = consumer.memberid()
        batch = stage.process_batch(consumer, messages)
        if not batch.positions:
            return
        if self._one_by_one:
            self._one_by_one -= 1
        try:
            commit_batch(consumer, producer, batch.outputs, batch.positions, member)
            self.committed_batches += 1
        except KafkaException as exc:
            kind = _permanent(exc)
            if kind is None:
                self._recover(consumer, producer, exc)  # the stage drops what the batch changed
                return
            producer.abort_transaction(30)
            stage.aborted(consumer)
            self._refused_in(consumer, producer, messages, kind, batch.positions, member)

    def _refused_in(
        self,
        consumer: Consumer,
        producer: Producer,
        messages: list[Message],
        kind: PermanentKind,
        positions: dict[tuple[str, int], int],
        member: str | None,
    ) -> None:
        """A batch whose output the broker refuses (its transaction aborted): redo it one record
        per transaction, or, alone already, settle the record another way."""
        consumed = [m for m in messages if m.error() is None]
        if len(consumed) > 1:
            log.warning("the broker refuses an output; redoing one by one", loop=self.name)
            self._one_by_one = len(consumed)
            rewind_to_committed(consumer)
        else:
            self._refuse(consumer, producer, consumed[0], kind, positions, member)

    def _handle_batch(
        self, consumer: Consumer, producer: Producer, messages: list[Message]
    ) -> None:
        process = self._process
        assert not isinstance(process, BatchStage)
        member = consumer.memberid()
        outputs: list[OutRecord] = []
        positions: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", loop=self.name, error=str(error))
                continue
            try:
                outputs.extend(process(message))
            except Exception as exc:
                # The type and place only: an exception's message may quote the document.
                log.error(
                    "record processing failed",
                    loop=self.name,
                    offset=message.offset(),
                    error=describe(exc),
                )
                outputs.extend(self._on_error(message, exc))
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is not None and partition is not None and offset is not None:
                positions[(topic, partition)] = offset + 1
        if not positions:
            return
        if self._one_by_one:
            self._one_by_one -= 1
        try:
            commit_batch(consumer, producer, outputs, positions, member)
            self.committed_batches += 1
        except KafkaException as exc:
            kind = _permanent(exc)
            if kind is None:
                self._recover(consumer, producer, exc)
                return
            producer.abort_transaction(30)
            self._refused_in(consumer, producer, messages, kind, positions, member)

    def _refuse(
        self,
        consumer: Consumer,
        producer: Producer,
        message: Message,
        kind: PermanentKind,
        positions: dict[tuple[str, int], int],
        member: str | None,
    ) -> None:
        """Commit ``on_error``'s (or the stage's) records for ``message`` instead of its
        refused outputs.

        If the broker refuses those too, only the offset is committed (and logged): a
        record nothing can be written for must not stop its partition for ever.
        """
        refusal = RecordRefusedError(kind, f"the broker refuses this record's output ({kind})")
        if isinstance(self._process, BatchStage):
            instead = list(self._process.refused(message, refusal))
        else:
            instead = list(self._on_error(message, refusal))
        for outputs in (instead, []):
            try:
                commit_batch(consumer, producer, outputs, positions, member)
                self.committed_batches += 1
                if not outputs:
                    log.error(
                        "record skipped: the broker refuses even its dead letter",
                        loop=self.name,
                        offset=message.offset(),
                    )
                return
            except KafkaException as exc:
                if _permanent(exc) is None:
                    self._recover(consumer, producer, exc)
                    return
                producer.abort_transaction(30)

    def _recover(self, consumer: Consumer, producer: Producer, exc: KafkaException) -> None:
        stage = self._process if isinstance(self._process, BatchStage) else None
        before = None if stage is None else (lambda: stage.aborted(consumer))
        abort_and_rewind(consumer, producer, exc, self.name, before_rewind=before)
