"""The statistics aggregator: a consumer group on ``hub.events`` that fills the store exactly.

Per consumed batch: decode, apply to the store in one database transaction
(event ids make the apply idempotent), and only then commit the Kafka offsets.
A crash between the two re-delivers the batch, which the store recognises, so
at-least-once delivery plus idempotent apply gives exact counts. A database
outage rewinds the consumer to the batch and retries with backoff; an event
that cannot be decoded is counted and skipped, never allowed to stop the
partition (its bytes stay on ``hub.events`` for inspection).
"""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from sqlalchemy.exc import SQLAlchemyError

from hubstats.settings import StatisticsSettings
from hubstats.store import StatisticsStore
from kafka_io import consumer_config, readable
from kafka_io.settings import KafkaSettings
from metrics.live import HubMetrics
from schemas.records import MessageEvent, decode

log = structlog.get_logger(__name__)

Decoder = Callable[[bytes], MessageEvent]

_MAX_BACKOFF_S = 30.0


def _decode_event(data: bytes) -> MessageEvent:
    return decode(data, MessageEvent)


class StatisticsAggregator:
    """Consumes ``hub.events`` into a :class:`StatisticsStore`; a hub component."""

    name = "aggregator"

    def __init__(
        self,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        store: StatisticsStore,
        settings: StatisticsSettings | None = None,
        metrics: HubMetrics | None = None,
        decoder: Decoder = _decode_event,
    ) -> None:
        self.settings = settings or StatisticsSettings()
        self._config = consumer_config(kafka, bootstrap_servers, self.settings.group_id)
        self._topic = kafka.topics.events.name
        self._store = store
        self._metrics = metrics
        self._decode = decoder
        self._assigned = threading.Event()
        self._store_ok = True
        self.applied_batches = 0

    def ready(self) -> bool:
        """Ready once it has partitions and the last write to the store succeeded."""
        return self._assigned.is_set() and self._store_ok

    def run(self, stop: threading.Event) -> None:
        """Aggregate until ``stop`` is set; the last batch is applied and committed first."""
        consumer = Consumer(self._config)
        consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("aggregator started", topic=self._topic, group=self.settings.group_id)
        next_lag = next_prune = 0.0
        backoff = 0.0
        try:
            while not stop.is_set():
                messages = readable(
                    consumer.consume(self.settings.batch_size, self.settings.poll_timeout_s)
                )
                if messages and not self._handle(consumer, messages):
                    backoff = min(_MAX_BACKOFF_S, max(0.5, backoff * 2))
                    stop.wait(backoff)
                    continue
                backoff = 0.0
                now = time.monotonic()
                if self._metrics is not None and now >= next_lag and self._report_lag(consumer):
                    next_lag = now + self.settings.lag_interval_s
                if now >= next_prune:
                    self._prune()
                    next_prune = now + self.settings.prune_interval_s
        finally:
            consumer.close()
            log.info("aggregator stopped", batches=self.applied_batches)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned", component=self.name, count=len(partitions))
        self._assigned.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", component=self.name, count=len(partitions))

    def _handle(self, consumer: Consumer, messages: list[Message]) -> bool:
        """Apply and commit one batch; False when the store failed and the batch must be retried."""
        events: list[MessageEvent] = []
        first: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}
        undecodable = 0
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", component=self.name, error=str(error))
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is None or partition is None or offset is None:
                continue
            first.setdefault((topic, partition), offset)
            last[(topic, partition)] = offset
            value = message.value()
            try:
                if value is None:
                    raise ValueError("empty record")
                events.append(self._decode(value))
            except Exception as exc:  # any unreadable event is skipped, never the whole loop
                undecodable += 1
                log.error(
                    "event cannot be decoded; skipped",
                    partition=partition,
                    offset=offset,
                    error=type(exc).__name__,
                )
        if not last:
            return True
        started = time.perf_counter()
        try:
            result = self._store.apply(events)
        except SQLAlchemyError as exc:
            self._store_ok = False
            log.error(
                "statistics store write failed; retrying the batch",
                error=type(exc).__name__,
                events=len(events),
            )
            for (topic, partition), offset in first.items():
                consumer.seek(TopicPartition(topic, partition, offset))
            return False
        self._store_ok = True
        self.applied_batches += 1
        if self._metrics is not None:
            self._metrics.aggregator_batch.observe(time.perf_counter() - started)
            self._metrics.aggregator_events.labels("applied").inc(result.applied)
            self._metrics.aggregator_events.labels("already_applied").inc(result.already_applied)
            self._metrics.aggregator_events.labels("undecodable").inc(undecodable)
            if self.settings.observe_metrics:
                for event in result.new_events:
                    self._metrics.observe(event)
        self._commit(consumer, last)
        return True

    def _commit(self, consumer: Consumer, last: dict[tuple[str, int], int]) -> None:
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Rebalanced away meanwhile: the next owner re-reads and the store skips it.
            log.warning("offset commit failed", component=self.name, error=str(exc.args[0]))

    def _report_lag(self, consumer: Consumer) -> bool:
        """Set the lag gauge; False when there is nothing to report yet (no partitions)."""
        assert self._metrics is not None
        try:
            assignment = consumer.assignment()
            if not assignment:
                return False
            lag = 0
            for position in consumer.position(assignment):
                _low, high = consumer.get_watermark_offsets(position, timeout=2, cached=False)
                lag += max(0, high - position.offset) if position.offset >= 0 else high
        except KafkaException as exc:
            log.warning("consumer lag unknown", component=self.name, error=str(exc.args[0]))
            return False
        self._metrics.set_consumer_lag(self.settings.group_id, lag)
        return True

    def _prune(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        try:
            removed = self._store.prune(cutoff)
        except SQLAlchemyError as exc:
            log.warning("pruning the statistics store failed", error=type(exc).__name__)
            return
        if removed:
            log.info("processed event ids pruned", removed=removed, before=cutoff.isoformat())
